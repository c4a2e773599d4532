"""Sentence-pair datasets (``dates``, ``multi30k``, ``pairs:PATH``) for ``nnatlas train``.

The trainer feeds a model ONE input tensor and compares its logits with ONE target tensor, so
each pair becomes fixed-length tensors:

- ``x = [src (S) | tgt_in (T)]``: the source padded with <pad> to the longest source S of all
  splits, then ``[<bos>, y1 .. yn]`` padded to T (the longest target + 1);
- ``y = [y1 .. yn, <eos>]`` with its padding set to :data:`IGNORE_INDEX` (-100, the default
  ``ignore_index`` of ``torch.nn.CrossEntropyLoss``), so padding counts in neither the loss
  nor the metrics (:class:`~nnatlas.train.MetricAccumulator` skips it too).

:class:`TeacherForced` splits ``x`` again and runs the zoo's ``Seq2Seq`` with teacher forcing.
The vocabularies are not saved: they are rebuilt deterministically from the dataset, as for the
text classifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnatlas.data.vocab import PAD_ID
from nnatlas.train.metrics import IGNORE_INDEX  # torch.nn.CrossEntropyLoss's default ignore_index

PAIR_TOKENIZER = {"dates": "char"}  # others (multi30k, pairs:PATH) are word-tokenized
PAIR_MAX_LEN = 50  # tokens kept per side
WORD_MIN_FREQ = 2  # words seen once in training become <unk> (halves Multi30k's vocabularies)


@dataclass
class PairData:
    """Splits of a pair dataset as ``Split(x (N, S + T), y (N, T))`` tensors.

    Attributes:
        classes: the target vocabulary (index -> token): what each logit predicts.
        encoded: the :class:`~nnatlas.data.translation.TranslationData` (vocabularies,
            tokenizer), which ``predict`` uses to encode a new source sentence.
        src_len: S, the source part of ``x``.
    """

    train: Any
    val: Any
    test: Any
    classes: list[str]
    encoded: Any
    src_len: int


def load_pair_splits(data: str, root: str | None, val_fraction: float, seed: int) -> PairData:
    """Load, tokenize and encode a pair dataset into fixed-length teacher-forcing tensors."""
    from nnatlas.data import encode_pairs, load_translation_pairs
    from nnatlas.data.images import Split
    from nnatlas.data.sequence import collate_pairs

    options: dict[str, Any] = {}
    if data == "dates":
        options["seed"] = seed
    elif data.startswith("pairs:"):
        options.update(seed=seed, val_fraction=val_fraction)
    raw = load_translation_pairs(data, root=root, **options)
    tokenizer = PAIR_TOKENIZER.get(data, "word")
    min_freq = WORD_MIN_FREQ if tokenizer == "word" else 1
    encoded = encode_pairs(raw, tokenizer=tokenizer, min_freq=min_freq, max_len=PAIR_MAX_LEN)
    parts = [encoded.train, encoded.val, encoded.test]
    src_len = max(int(p.src_lengths.max()) for p in parts if len(p))
    tgt_len = max(max(len(t) for t in p.tgt) for p in parts if len(p)) + 1  # + <bos> / <eos>
    splits = []
    for part in parts:
        if not len(part):
            splits.append(Split(torch.zeros(0, src_len + tgt_len, dtype=torch.int64),
                                torch.zeros(0, tgt_len, dtype=torch.int64)))  # fmt: skip
            continue
        src, _, tgt_in, tgt_out = collate_pairs(list(zip(part.src, part.tgt, strict=True)))
        x = torch.cat([_pad_to(src, src_len), _pad_to(tgt_in, tgt_len)], dim=1)
        y = _pad_to(tgt_out, tgt_len)
        splits.append(Split(x, y.masked_fill(y == PAD_ID, IGNORE_INDEX)))
    return PairData(*splits, list(encoded.tgt_vocab.itos), encoded, src_len)


def _pad_to(ids: torch.Tensor, length: int) -> torch.Tensor:
    """Right-pad (N, L) ids with <pad> to (N, length)."""
    return nn.functional.pad(ids, (0, length - ids.shape[1]), value=PAD_ID)


class TeacherForced(nn.Module):
    """A ``Seq2Seq`` behind the trainer's one-tensor interface.

    Args:
        seq2seq: the zoo model (its weights are this module's ``seq2seq.*`` state).
        src_len: S, how many leading columns of ``x`` are the source.

    Shape:
        x: (N, S + T) int64 ``[src | tgt_in]`` -> logits (N, T, tgt_vocab_size)
    """

    def __init__(self, seq2seq: nn.Module, src_len: int) -> None:
        super().__init__()
        self.seq2seq = seq2seq
        self.src_len = src_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        src, tgt_in = x[:, : self.src_len], x[:, self.src_len :]
        src_lengths = (src != PAD_ID).sum(dim=1)  # (N,)
        # Decode only up to the batch's longest target: the later columns are padding in every
        # row, so their targets are all ignored and their logits can stay 0.
        steps = int((tgt_in != PAD_ID).sum(dim=1).max())
        src = src[:, : int(src_lengths.max())]
        logits = self.seq2seq(src, tgt_in[:, :steps], src_lengths=src_lengths)  # (N, steps, V)
        return nn.functional.pad(logits, (0, 0, 0, tgt_in.shape[1] - steps))  # (N, T, V)


def translate(model: TeacherForced, encoded: Any, text: str, max_len: int) -> str:
    """The greedy translation of one source sentence, as text.

    Args:
        model: a trained :class:`TeacherForced` (on the CPU).
        encoded: the run's :class:`~nnatlas.data.translation.TranslationData`.
        max_len: the most target tokens to emit.
    """
    src = encoded.encode_source(text)  # (S,); an empty text becomes one <unk>
    model.eval()
    out = model.seq2seq.greedy_decode(src.unsqueeze(0), max_len=max_len)  # (1, L)
    return encoded.decode_target(out[0])
