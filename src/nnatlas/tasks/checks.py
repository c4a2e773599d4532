"""Model-data checks before training: what the run should know about its data and its model.

Each check returns sentences for the run's header (a warning says the fix); none stops a run,
since each may be what the user wants. They look at the prepared tensors, so they work for any
task: duplicate examples across splits (a leak that inflates the test score), strong class
imbalance (with the accuracy of always answering the majority class), and a model much larger
than its dataset.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from nnatlas.tasks.base import Prepared

IMBALANCE = 0.7  # a majority class above this share of the training split is worth a word
PARAMETERS_PER_EXAMPLE = 1000  # above this, a model can memorize its training set easily


def _row_hashes(x: Any) -> set[bytes]:
    """One short digest per example of a tensor (images rounded to 8 bits first, so a JPEG's
    float pixels compare exactly)."""
    array = x.detach().cpu().numpy()
    if array.dtype.kind == "f":
        array = np.round(array * 255).astype(np.int16)
    rows = array.reshape(len(array), -1)
    return {hashlib.blake2b(row.tobytes(), digest_size=12).digest() for row in rows}


def duplicates_across_splits(prepared: Prepared) -> list[str]:
    """Examples that appear in two splits (the same image or text in train and test)."""
    parts = {"train": prepared.train, "val": prepared.val, "test": prepared.test}
    hashes = {name: _row_hashes(part[0]) for name, part in parts.items() if part is not None}
    notes = []
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        if a in hashes and b in hashes:
            shared = len(hashes[a] & hashes[b])
            if shared:
                notes.append(
                    f"warning: {shared} example(s) of the {b} split also appear in {a}: the "
                    f"{b} score flatters the model (remove the duplicates from the files)"
                )
    return notes


def class_imbalance(prepared: Prepared) -> list[str]:
    """A majority class above :data:`IMBALANCE` of the training labels, with its baseline."""
    labels = prepared.train[-1]
    if labels.dim() != 1 or labels.dtype.is_floating_point or len(labels) == 0:
        return []
    counts = np.bincount(labels.numpy())
    share = counts.max() / counts.sum()
    if share <= IMBALANCE:
        return []
    classes = prepared.record.get("classes", [])
    majority = classes[int(counts.argmax())] if classes else int(counts.argmax())
    test_labels = prepared.test[-1].numpy()
    baseline = float((test_labels == int(counts.argmax())).mean()) if len(test_labels) else share
    return [
        f"warning: {share:.0%} of the training examples are {majority!r}: always answering it "
        f"scores {baseline:.4f} on the test split; judge the model by ROC-AUC or per-class "
        "recall (eval --report), or weight the classes"
    ]


def model_size(prepared: Prepared, trainable: int, pretrained: bool = False) -> list[str]:
    """A model with many more trainable parameters than training examples; ``pretrained``: the
    weights start from a pretrained backbone (fine-tuning), so the advice is another."""
    examples = len(prepared.train[0])
    if not examples or trainable / examples <= PARAMETERS_PER_EXAMPLE:
        return []
    found = (
        f"warning: {trainable:,} trainable parameters for {examples:,} training examples "
        f"({trainable // examples:,} per example): it can memorize them; "
    )
    if pretrained:
        return [
            found + "fine-tuning keeps them near the pretrained values only with a small "
            "backbone rate and few epochs; the features strategy trains the head alone"
        ]
    return [
        found + "prefer a smaller model, transfer learning (nnatlas transfer, strategy "
        "features) or regularization (--weight-decay, dropout, --augment)"
    ]


def model_data_checks(prepared: Prepared, trainable: int, pretrained: bool = False) -> list[str]:
    """Every check's findings, for the run's header (``pretrained``: see :func:`model_size`)."""
    return [
        *duplicates_across_splits(prepared),
        *class_imbalance(prepared),
        *model_size(prepared, trainable, pretrained),
    ]
