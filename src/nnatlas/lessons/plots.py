"""Small matplotlib helpers the lessons share: curves and bars written as PNG files.

The richer plots (decision boundaries, filters, gradient flow, gates) come from
:mod:`nnatlas.inspect`; these cover a lesson's own comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnatlas.files import atomic_target


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_target(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def curves(
    path: str | Path,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    log_y: bool = False,
) -> Path:
    """One line per ``label: (x, y)`` on shared axes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for label, (x, y) in series.items():
        ax.plot(list(x), list(y), label=label, linewidth=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _save(fig, Path(path))


def bars(
    path: str | Path,
    values: Mapping[str, float],
    *,
    ylabel: str,
    title: str = "",
    log_y: bool = False,
) -> Path:
    """One bar per ``label: value``, the value written above it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    labels, heights = list(values), [float(v) for v in values.values()]
    drawn = ax.bar(labels, heights, color="#4c78a8")
    ax.bar_label(drawn, labels=[f"{h:.3g}" for h in heights], fontsize=8)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=20 if len(labels) > 4 else 0)
    return _save(fig, Path(path))


def images(
    path: str | Path,
    pictures: Mapping[str, Any],
    *,
    title: str = "",
    columns: int = 6,
) -> Path:
    """A grid of 2-D arrays (gray) with their labels above them; any value range."""
    import numpy as np

    plt = _pyplot()
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.7 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (label, picture) in zip(axes.ravel(), pictures.items(), strict=False):
        ax.imshow(np.asarray(picture, dtype=np.float64), cmap="gray", interpolation="nearest")
        ax.set_title(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, Path(path))
