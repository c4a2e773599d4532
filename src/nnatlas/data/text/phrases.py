"""A validation split for a phrase-level training set (SST): whole sentences, held out.

SST-2's 67,349 training examples are the phrases of about 6,900 sentences, each phrase a span of
its sentence's tokens ("the film", "is n't funny", the whole sentence ...), while its dev and
test sets are whole sentences. Holding out a random 10% of the phrases puts parts of nearly every
validation example into training: validation accuracy then reads about 0.93 against about 0.84
on dev, and cannot tell one epoch from another. Here validation is a share of the sentences,
like dev, and training keeps only the phrases that are spans of the sentences it keeps.

The sentences are recovered from the phrases themselves: taken longest first, a phrase that is
no span of a longer one is a sentence (a "root"). A phrase that also occurs inside a training
sentence stays in training even when it is part of a validation sentence as well (dev sentences
share phrases such as "the film" with training too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnatlas.data.images.splits import stratified_split
from nnatlas.data.text.readers import LabeledTexts


@dataclass(frozen=True)
class SentenceSplit:
    """What :func:`carve_sentences` did. ``sentences``: roots found in train; ``held_out``:
    those moved to validation; ``dropped``: phrases that are parts of held-out sentences
    only, left out of training."""

    sentences: int
    held_out: int
    dropped: int

    def describe(self) -> str:
        return (
            f"validation: {self.held_out:,} of the {self.sentences:,} training sentences, held "
            f"out whole; their {self.dropped:,} phrases that no training sentence contains are "
            "left out of training (a random split of the phrases would train on parts of the "
            "validation sentences)"
        )


def _spans(tokens: tuple[str, ...]) -> set[int]:
    """Hashes of every contiguous token span (n (n + 1) / 2 of them)."""
    n = len(tokens)
    return {hash(tokens[a:b]) for a in range(n) for b in range(a + 1, n + 1)}


def sentence_roots(tokens: Sequence[tuple[str, ...]]) -> list[int]:
    """Indices of the texts that are no span of a longer text: the sentences, in the order
    of ``tokens``.

    Shape: tokens (N,) token tuples -> (S,) indices, S <= N
    """
    covered: set[int] = set()
    roots = []
    for i in sorted(range(len(tokens)), key=lambda i: (-len(tokens[i]), i)):
        if tokens[i] and hash(tokens[i]) not in covered:
            roots.append(i)
            covered |= _spans(tokens[i])
    return sorted(roots)


def carve_sentences(
    split: LabeledTexts, fraction: float, seed: int
) -> tuple[LabeledTexts, LabeledTexts, SentenceSplit]:
    """``(train, validation, what was done)``: ``fraction`` of the sentences (stratified by
    label, seeded) become validation; training keeps the phrases found in the other sentences.
    """
    tokens = [tuple(text.split()) for text in split.texts]  # SST's files are tokenized already
    roots = sentence_roots(tokens)
    if fraction == 0 or len(roots) < 2:
        return split, split.subset([]), SentenceSplit(len(roots), 0, 0)
    labels = np.asarray([split.labels[i] for i in roots])
    keep, held = stratified_split(labels, fraction, seed)
    kept_spans: set[int] = set()
    for r in keep.tolist():
        kept_spans |= _spans(tokens[roots[r]])
    train = [i for i, t in enumerate(tokens) if t and hash(t) in kept_spans]
    validation = sorted(roots[r] for r in held.tolist())
    dropped = len(tokens) - len(train) - len(validation)
    report = SentenceSplit(len(roots), len(validation), dropped)
    return split.subset(train), split.subset(validation), report
