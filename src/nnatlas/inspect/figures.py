"""Every plot of :mod:`nnatlas.inspect` is a PNG with its numbers as JSON beside it.

:func:`figure` opens a matplotlib figure (Agg backend: no display needed); :func:`save` writes
the PNG and ``<same name>.json`` atomically (a reader never sees half a file) and returns a
:class:`Figure`, which keeps the numbers too, so a caller (or a test) can check what was drawn.
NumPy arrays become lists and NaN/infinity become ``null``: the JSON is standard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.errors import NnatlasError


class InspectError(NnatlasError, ValueError):
    """A model, input or option a probe cannot take; the message says what it needs instead."""


@dataclass
class Figure:
    """A written plot: the PNG, the JSON beside it and the numbers that JSON holds."""

    png: Path
    json: Path
    data: dict[str, Any]


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def figure(columns: int = 1, rows: int = 1, size: tuple[float, float] = (5.0, 3.6)) -> Any:
    """``(fig, axes)`` with ``axes`` a 2-D array of ``rows x columns``; ``size`` is per panel."""
    plt = pyplot()
    width, height = size
    return plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)


def plain(value: Any) -> Any:
    """``value`` with arrays as lists, NumPy scalars as numbers, NaN and infinities as None."""
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def save(fig: Any, path: str | Path, data: dict[str, Any]) -> Figure:
    """Write ``fig`` as PNG at ``path`` and ``data`` as JSON beside it; close the figure."""
    import matplotlib.pyplot as plt

    from nnatlas.files import atomic_target, write_json

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InspectError(f"{path}: plots are written as PNG; give a path ending in .png")
    try:
        fig.tight_layout()
        with atomic_target(path, suffix=".tmp.png") as tmp:  # savefig picks the format by suffix
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    numbers = plain(data)
    json_path = write_json(path.with_suffix(".json"), numbers)
    return Figure(path, json_path, numbers)


def image_grid(count: int, columns: int | None = None) -> tuple[int, int]:
    """``(rows, columns)`` of a near-square grid holding ``count`` small images."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / columns)), columns


def displayable(image: np.ndarray, mean: Any = None, std: Any = None) -> np.ndarray:
    """A (C, H, W) model input as an (H, W) or (H, W, 3) picture in [0, 1].

    With the run's normalization (``mean``, ``std`` per channel) the pixels are un-normalized;
    without it the image is stretched to its own range.
    """
    x = np.asarray(image, dtype=np.float64)
    if mean is not None and std is not None:
        x = x * np.asarray(std, dtype=np.float64)[:, None, None]
        x = x + np.asarray(mean, dtype=np.float64)[:, None, None]
    else:
        low, high = x.min(), x.max()
        x = (x - low) / (high - low) if high > low else np.zeros_like(x)
    x = np.clip(x, 0.0, 1.0)
    return x[0] if x.shape[0] == 1 else x[:3].transpose(1, 2, 0)
