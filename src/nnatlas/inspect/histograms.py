"""Per-layer histograms of the weights, the activations and the gradients of one batch.

One row per layer that has a weight (a Linear, a convolution, an embedding, a recurrent
layer), three columns: its weight values, its output values on the batch and the gradient of
its weight. Saturated sigmoids pile up at 0 and 1, dead ReLUs at 0, and a gradient that
vanishes with depth narrows row by row (Glorot & Bengio 2010 drew the same picture).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.figures import Figure, figure, save
from nnatlas.inspect.gradflow import measure_gradients


def histogram(values: np.ndarray, bins: int) -> dict[str, Any]:
    """Counts, bin edges and summary numbers of an array's values (finite ones)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return {"counts": [], "edges": [], "size": 0}
    counts, edges = np.histogram(flat, bins=bins)
    return {
        "counts": counts,
        "edges": edges,
        "size": int(flat.size),
        "mean": float(flat.mean()),
        "std": float(flat.std()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "norm": float(np.linalg.norm(flat)),
    }


def _spread(items: list[str], most: int) -> list[str]:
    """At most ``most`` items, evenly spread from the first to the last."""
    if len(items) <= most:
        return items
    index = np.unique(np.linspace(0, len(items) - 1, most).round().astype(int))
    return [items[i] for i in index]


def plot_histograms(
    model: Any,
    batch: Sequence[Any],
    path: str | Path,
    step: Any = None,
    bins: int = 40,
    max_layers: int = 12,
    title: str | None = None,
) -> Figure:
    """Weights, activations and gradients per layer for one batch (either engine).

    Args:
        batch: what the step takes, e.g. ``(x, y)``.
        step: the task's step (default: classification), for the loss the gradients are of.
        max_layers: rows drawn, spread from the first layer to the last (all are in the JSON).
    """
    from nnatlas.inspect.engines import probe

    record = measure_gradients(model, batch, step)
    values = dict(probe(model).parameters(model))
    weights = [name for name, grad in record.grads.items() if grad.ndim >= 2]
    layers = []
    for name in weights:
        module = name.rsplit(".", 1)[0] if "." in name else ""
        output = record.activations.get(module)
        layers.append(
            {
                "layer": name,
                "weights": histogram(values[name], bins),
                "activations": None if output is None else histogram(output, bins),
                "gradients": histogram(record.grads[name], bins),
            }
        )
    shown = _spread(weights, max_layers)
    rows = [row for row in layers if row["layer"] in shown]
    fig, axes = figure(columns=3, rows=max(1, len(rows)), size=(3.4, 1.6))
    for r, row in enumerate(rows):
        for c, kind in enumerate(("weights", "activations", "gradients")):
            ax = axes[r, c]
            h = row[kind]
            if h is None or not h["size"]:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", fontsize=7)
                ax.set_axis_off()
                continue
            edges = np.asarray(h["edges"])
            ax.stairs(h["counts"], edges, fill=True, alpha=0.7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            if r == 0:
                ax.set_title(kind, fontsize=9)
            if c == 0:
                ax.set_ylabel(
                    row["layer"].removesuffix(".weight"),
                    fontsize=7,
                    rotation=0,
                    ha="right",
                    va="center",
                )
            ax.text(
                0.98,
                0.9,
                f"std {h['std']:.2g}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=6,
            )
    if title:
        fig.suptitle(title)
    return save(fig, path, {"loss": record.loss, "bins": bins, "layers": layers})
