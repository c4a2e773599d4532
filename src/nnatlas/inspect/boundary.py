"""The decision boundary of a classifier of 2-D points (moons, circles, spirals, xor).

The model is evaluated on a grid that covers the points with a margin; each grid cell is
coloured by the predicted class and shaded by its probability, and the points are drawn on
top in their true class's colour. What a hidden layer buys shows at a glance: a linear model
draws straight lines, an MLP bends them around the moons.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, figure, save


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax. Shape: (N, C) -> (N, C)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def boundary_grid(
    x: np.ndarray, resolution: int, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid's x and y coordinates (resolution,) each and its points (resolution**2, 2),
    row by row (y major)."""
    low, high = x.min(axis=0) - margin, x.max(axis=0) + margin
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    gx, gy = np.meshgrid(xs, ys)  # (res, res) each
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1)


def plot_decision_boundary(
    model: Any,
    x: Any,
    y: Any,
    path: str | Path,
    classes: Sequence[str] | None = None,
    resolution: int = 150,
    margin: float = 0.5,
    title: str | None = None,
) -> Figure:
    """Predicted class over the plane, with the points.

    Args:
        model: a classifier of 2-D inputs (either engine), logits (N, C).
        x: (N, 2) points; y: (N,) their classes.
        resolution: grid cells per axis.
        margin: how far the grid reaches beyond the points, in input units.

    The JSON holds the grid's axes, the predicted class of every cell (resolution x
    resolution, rows along y) and the accuracy on the points.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise InspectError(
            f"a decision boundary is drawn for 2-D points (N, 2); got inputs of shape {x.shape}"
        )
    engine = probe(model)
    xs, ys, grid = boundary_grid(x, resolution, margin)
    probs = softmax(engine.logits(model, grid.astype(np.float32)))  # (res*res, C)
    predicted = probs.argmax(axis=1).reshape(resolution, resolution)
    confidence = probs.max(axis=1).reshape(resolution, resolution)
    point_pred = engine.logits(model, x.astype(np.float32)).argmax(axis=1)
    num_classes = probs.shape[1]
    names = list(classes) if classes is not None else [str(c) for c in range(num_classes)]
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")
    fig, axes = figure(size=(5.0, 4.4))
    ax = axes[0, 0]
    rgb = np.array([colours(c % 10)[:3] for c in range(num_classes)])[predicted]  # (res, res, 3)
    shade = 0.35 + 0.4 * (confidence - 1.0 / num_classes) / (1.0 - 1.0 / num_classes)
    image = 1.0 - shade[..., None] * (1.0 - rgb)  # towards white where the model is unsure
    ax.imshow(image, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="auto")
    for c in range(num_classes):
        rows = y == c
        ax.scatter(
            x[rows, 0],
            x[rows, 1],
            s=10,
            color=colours(c % 10),
            edgecolor="black",
            linewidth=0.3,
            label=names[c],
        )
    accuracy = float((point_pred == y).mean()) if len(y) else float("nan")
    ax.set_title(title or f"decision boundary (accuracy {accuracy:.3f} on these points)")
    ax.legend(fontsize=8, loc="best")
    return save(
        fig,
        path,
        {
            "x": xs,
            "y": ys,
            "classes": names,
            "predicted": predicted,
            "accuracy": accuracy,
            "points": len(y),
        },
    )
