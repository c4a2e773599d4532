"""Seq2seq attention matrices: which source token each output token read.

The decoder of the zoo's ``seq2seq`` returns its attention weights at every step (Bahdanau's
additive or Luong's multiplicative scores, softmaxed over the source); decoding a sentence
greedily and stacking them gives the matrix of Bahdanau, Cho & Bengio 2015 (arXiv 1409.0473,
Fig. 3): output tokens down, source tokens across, each row summing to 1. For dates
("september 27, 1994" -> "1994-09-27") the year's digits read the year, the month's digits
the month's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, figure, save


def plot_attention(
    model: Any,
    src: Any,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    path: str | Path,
    max_len: int = 60,
    title: str | None = None,
) -> Figure:
    """Decode one source sentence greedily and draw its attention matrix.

    Args:
        model: the zoo's ``Seq2Seq`` (with attention) or its NumPy twin.
        src: (1, S) source token ids, as the run's vocabulary encodes them.
        source_tokens: a label per source id (S,).
        target_tokens: the target vocabulary, by id (its ``itos``).
        max_len: decoding stops at ``<eos>`` or after this many tokens.

    The JSON holds the source and output tokens and the weights (output steps x source).
    """
    src = np.asarray(src)
    if src.ndim != 2 or src.shape[0] != 1:
        raise InspectError(f"attention is drawn for one source sentence (1, S); got {src.shape}")
    if len(source_tokens) != src.shape[1]:
        raise InspectError(f"{len(source_tokens)} source tokens for {src.shape[1]} ids")
    ids, weights = probe(model).decode_with_attention(model, src, max_len)
    output = [target_tokens[i] if 0 <= i < len(target_tokens) else f"#{i}" for i in ids]
    fig, axes = figure(
        size=(max(3.5, 0.3 * len(source_tokens) + 1.5), max(3.0, 0.3 * len(output) + 1.2))
    )
    ax = axes[0, 0]
    image = ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(len(output)), output, fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(title or "attention weights (each row sums to 1)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return save(
        fig,
        path,
        {"source": list(source_tokens), "output": output, "output_ids": ids, "weights": weights},
    )
