"""The confusion matrix with the most-confused examples shown beside it.

Which classes a model mixes up says more than its accuracy: a Fashion-MNIST model confuses
shirts with T-shirts, not with boots. Beside the matrix (rows normalized to recall, counts
written in) are the examples of the most-confused pairs of classes that the model got wrong
most confidently: the images for an image classifier, the texts for a text classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.boundary import softmax
from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, displayable, pyplot, save


def predict_all(model: Any, inputs: Sequence[Any], batch_size: int = 256) -> np.ndarray:
    """Class probabilities of every example, batch by batch. Shape: -> (N, C)."""
    engine = probe(model)
    n = len(inputs[0])
    parts = [
        softmax(engine.logits(model, *(np.asarray(x[i : i + batch_size]) for x in inputs)))
        for i in range(0, n, batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``counts[t, p]``: examples of true class t predicted p. Shape: -> (C, C) int64."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def most_confused(counts: np.ndarray, pairs: int) -> list[tuple[int, int, int]]:
    """The ``pairs`` largest off-diagonal cells as ``(true, predicted, count)``, count > 0."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:pairs]
    cells = [(int(i // off.shape[1]), int(i % off.shape[1])) for i in order]
    return [(t, p, int(off[t, p])) for t, p in cells if off[t, p] > 0]


def plot_confusion(
    model: Any,
    inputs: Sequence[Any],
    targets: Any,
    classes: Sequence[str],
    path: str | Path,
    pairs: int = 3,
    per_pair: int = 4,
    describe: Callable[[int], str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    split: str = "test",
    batch_size: int = 256,
) -> Figure:
    """Predict every example, draw the confusion matrix and the most-confused examples.

    Args:
        inputs: the model's inputs for the whole split, e.g. ``(x,)``; images (N, C, H, W) are
            drawn, other inputs are named by ``describe(index)`` (a text's tokens) when given.
        targets: (N,) true classes. classes: the class names, in the logits' order.
        pairs: the most-confused (true, predicted) pairs shown.
        per_pair: examples shown per pair: its most confident mistakes.
        mean, std: the run's normalization, to draw images as they looked.
        split: the split's name; examples are named ``SPLIT:INDEX`` (``nnatlas predict RUN
            test:17`` shows one again).

    The JSON holds the counts (rows: true class, columns: predicted), the accuracy, the pairs
    and the examples shown.
    """
    truth = np.asarray(targets).astype(np.int64)
    if len(truth) == 0:
        raise InspectError("no examples: the confusion matrix needs a non-empty split")
    probs = predict_all(model, inputs, batch_size)
    if probs.shape[1] != len(classes):
        raise InspectError(f"the model predicts {probs.shape[1]} classes; {len(classes)} named")
    predicted = probs.argmax(axis=1)
    counts = confusion_matrix(truth, predicted, len(classes))
    confused = most_confused(counts, pairs)
    examples = []
    for t, p, _ in confused:
        rows = np.flatnonzero((truth == t) & (predicted == p))
        rows = rows[np.argsort(-probs[rows, p], kind="stable")][:per_pair]
        for row in rows.tolist():
            item = {
                "example": f"{split}:{row}",
                "index": row,
                "true": classes[t],
                "predicted": classes[p],
                "confidence": float(probs[row, p]),
            }
            if describe is not None:
                item["text"] = describe(row)
            examples.append(item)
    images = np.asarray(inputs[0]).ndim == 4
    fig = _draw(
        counts,
        classes,
        confused,
        examples,
        inputs[0] if images else None,
        mean,
        std,
        f"{split} split: accuracy {float((predicted == truth).mean()):.4f}",
    )
    return save(
        fig,
        path,
        {
            "classes": list(classes),
            "rows": "true class",
            "columns": "predicted class",
            "counts": counts,
            "accuracy": float((predicted == truth).mean()),
            "most_confused": [
                {"true": classes[t], "predicted": classes[p], "count": c} for t, p, c in confused
            ],
            "examples": examples,
        },
    )


def _draw(
    counts: np.ndarray,
    classes: Sequence[str],
    confused: list[tuple[int, int, int]],
    examples: list[dict[str, Any]],
    images: Any,
    mean: Any,
    std: Any,
    title: str,
) -> Any:
    plt = pyplot()
    per_pair = max(
        [
            sum(e["true"] == classes[t] and e["predicted"] == classes[p] for e in examples)
            for t, p, _ in confused
        ]
        or [1]
    )
    size = max(3.5, 0.45 * len(classes) + 2)
    side = 1.3 * per_pair if images is not None else 5.5
    fig = plt.figure(figsize=(size + 1 + side, max(size, 1.4 * max(len(confused), 1) + 0.8)))
    ratios = [size + 1] + [side / per_pair] * per_pair  # the matrix, then one column per example
    grid = fig.add_gridspec(max(len(confused), 1), 1 + per_pair, width_ratios=ratios)
    ax = fig.add_subplot(grid[:, 0])
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    if len(classes) <= 20:
        for t in ticks:
            for p in ticks:
                colour = "white" if recall[t, p] > 0.5 else "black"
                ax.text(p, t, str(counts[t, p]), ha="center", va="center", color=colour, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for r, (t, p, count) in enumerate(confused):
        shown = [e for e in examples if e["true"] == classes[t] and e["predicted"] == classes[p]]
        if images is None:
            text_ax = fig.add_subplot(grid[r, 1:])
            text_ax.set_axis_off()
            lines = [f"{classes[t]} -> {classes[p]} ({count} examples)"]
            lines += [
                f"{e['example']} ({e['confidence']:.2f}): {e.get('text', '')[:70]}" for e in shown
            ]
            text_ax.text(0, 0.95, "\n".join(lines), va="top", fontsize=7, family="monospace")
            continue
        for c, e in enumerate(shown):
            cell = fig.add_subplot(grid[r, 1 + c])
            picture = displayable(np.asarray(images[e["index"]]), mean, std)
            cell.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
            cell.set_axis_off()
            head = f"{classes[t]} -> {classes[p]}\n" if c == 0 else "\n"
            cell.set_title(f"{head}{e['example']} p={e['confidence']:.2f}", fontsize=6)
    return fig
