"""First-layer filters and the feature maps of one input.

The first convolution is the only one whose filters can be looked at as pictures: they act
on pixels, and a trained network's become edge and colour detectors (Krizhevsky et al.
2012, Fig. 3; Zeiler & Fergus 2014). Deeper layers are shown by what they output for an
input, their feature maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, displayable, figure, image_grid, save


def _filter_image(kernel: np.ndarray) -> np.ndarray:
    """One filter (C_in, kh, kw) as a picture: RGB for 3 input channels, else their mean,
    stretched to [0, 1] on its own range."""
    k = kernel if kernel.shape[0] == 3 else kernel.mean(axis=0, keepdims=True)
    return displayable(k)


def plot_filters(
    model: Any, path: str | Path, layer: str | None = None, title: str | None = None
) -> Figure:
    """The filters of the first convolution (or of the convolution ``layer``), one tile each.

    The JSON holds the layer's name, the weight's shape (C_out, C_in, kh, kw) and its values.
    """
    engine = probe(model)
    if layer is None:
        name, weight = engine.first_conv(model)
    else:
        found = dict(engine.parameters(model)).get(f"{layer}.weight")
        if found is None or found.ndim != 4:
            raise InspectError(f"{layer!r} is not a convolution of this model (no 4-D weight)")
        name, weight = layer, found
    weight = np.asarray(weight, dtype=np.float64)
    rows, columns = image_grid(weight.shape[0])
    fig, axes = figure(columns=columns, rows=rows, size=(0.9, 0.9))
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i < weight.shape[0]:
            picture = _filter_image(weight[i])
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, interpolation="nearest")
    fig.suptitle(title or f"{name}: {weight.shape[0]} filters {weight.shape[2]}x{weight.shape[3]}")
    return save(fig, path, {"layer": name, "shape": list(weight.shape), "weights": weight})


def plot_feature_maps(
    model: Any,
    x: Any,
    path: str | Path,
    layer: str | None = None,
    max_maps: int = 32,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """The input and the first ``max_maps`` channels a layer outputs for it.

    Args:
        x: one image (1, C, H, W), preprocessed as the model was trained (normalized).
        layer: a module name (default: the first module that outputs a (N, C, H, W) map,
            the first convolution).
        mean, std: the run's normalization, to show the input as it looked.

    The JSON holds the layer, the map's shape and, per channel shown, its values.
    """
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[0] != 1:
        raise InspectError(f"feature maps are drawn for one image (1, C, H, W); got {x.shape}")
    name, maps = probe(model).feature_maps(model, x, layer)
    maps = np.asarray(maps[0], dtype=np.float64)  # (C, h, w)
    shown = min(max_maps, maps.shape[0])
    rows, columns = image_grid(shown + 1)
    fig, axes = figure(columns=columns, rows=rows, size=(1.2, 1.2))
    cells = axes.ravel()
    for ax in cells:
        ax.set_axis_off()
    picture = displayable(x[0], mean, std)
    cells[0].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    cells[0].set_title("input", fontsize=7)
    for c in range(shown):
        cells[c + 1].imshow(maps[c], cmap="viridis")
        cells[c + 1].set_title(str(c), fontsize=6)
    fig.suptitle(title or f"{name}: {shown} of {maps.shape[0]} feature maps")
    return save(
        fig,
        path,
        {"layer": name, "shape": list(maps.shape), "shown": shown, "maps": maps[:shown]},
    )
