"""Where a CNN looks: saliency maps and Grad-CAM.

- **Saliency** (Simonyan, Vedaldi & Zisserman 2014, arXiv 1312.6034): the gradient of the
  class score with respect to the input pixels, its largest magnitude over the channels.
- **Grad-CAM** (Selvaraju et al. 2017, arXiv 1610.02391): weight each channel k of the last
  convolutional map A by the spatial mean of d score / d A_k, sum and keep the positive part,
  ``ReLU(sum_k alpha_k A_k)``; coarse (the map's resolution) but class-specific.

The score is the pre-softmax logit of the chosen class (the predicted one by default), as in
both papers. Both engines compute the same maps for the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, displayable, figure, save


def _one_image(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[0] != 1:
        raise InspectError(f"saliency and Grad-CAM take one image (1, C, H, W); got {x.shape}")
    return x


def saliency_and_cam(
    model: Any, x: Any, target: int | None = None, layer: str | None = None
) -> dict[str, Any]:
    """The numbers both plots draw, for one image.

    Returns:
        ``class`` (the explained class), ``score`` (its logit), ``probabilities`` (C,),
        ``saliency`` (H, W) = max_c |d score / d x|, ``layer`` (Grad-CAM's), ``weights``
        alpha (K,), ``cam`` (h, w) = ReLU(sum_k alpha_k A_k).
    """
    x = _one_image(x)
    classes = None if target is None else np.asarray([target], dtype=np.int64)
    out = probe(model).input_and_map_gradients(model, x, classes, layer)
    logits = out["logits"][0]
    chosen = int(out["classes"][0])
    if not 0 <= chosen < logits.shape[0]:
        raise InspectError(f"class {chosen} is out of range: the model has {logits.shape[0]}")
    z = np.exp(logits - logits.max())
    fmap = np.asarray(out["map"][0], dtype=np.float64)  # (K, h, w)
    grad = np.asarray(out["map_grad"][0], dtype=np.float64)  # (K, h, w)
    alpha = grad.mean(axis=(1, 2))  # (K,) Grad-CAM's channel weights
    cam = np.maximum((alpha[:, None, None] * fmap).sum(axis=0), 0.0)  # (h, w)
    saliency = np.abs(np.asarray(out["input_grad"][0], dtype=np.float64)).max(axis=0)  # (H, W)
    return {
        "class": chosen,
        "score": float(logits[chosen]),
        "probabilities": z / z.sum(),
        "saliency": saliency,
        "layer": out["layer"],
        "weights": alpha,
        "cam": cam,
    }


def _name(classes: Sequence[str] | None, index: int) -> str:
    return str(classes[index]) if classes is not None and index < len(classes) else str(index)


def plot_saliency(
    model: Any,
    x: Any,
    path: str | Path,
    target: int | None = None,
    classes: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """The image and its saliency map for ``target`` (default: the predicted class)."""
    result = saliency_and_cam(model, x, target)
    fig, axes = figure(columns=2, size=(3.2, 3.2))
    picture = displayable(np.asarray(x)[0], mean, std)
    axes[0, 0].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    axes[0, 0].set_title("input", fontsize=9)
    axes[0, 1].imshow(result["saliency"], cmap="hot")
    label = _name(classes, result["class"])
    axes[0, 1].set_title(f"saliency of {label!r}", fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    keep = {k: result[k] for k in ("class", "score", "probabilities", "saliency")}
    return save(fig, path, {**keep, "class_name": label})


def plot_gradcam(
    model: Any,
    x: Any,
    path: str | Path,
    target: int | None = None,
    layer: str | None = None,
    classes: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Figure:
    """The image, its saliency map and its Grad-CAM heatmap (over the image) for ``target``.

    Args:
        layer: the convolutional map Grad-CAM reads (default: the last module to output one,
            the backbone's last stage).
    """
    result = saliency_and_cam(model, x, target, layer)
    picture = displayable(np.asarray(x)[0], mean, std)
    height, width = picture.shape[:2]
    fig, axes = figure(columns=3, size=(3.2, 3.2))
    grey = "gray" if picture.ndim == 2 else None
    axes[0, 0].imshow(picture, cmap=grey)
    axes[0, 0].set_title("input", fontsize=9)
    axes[0, 1].imshow(result["saliency"], cmap="hot")
    axes[0, 1].set_title("saliency", fontsize=9)
    axes[0, 2].imshow(picture, cmap=grey)
    cam = result["cam"]
    shown = cam / cam.max() if cam.max() > 0 else cam
    # The map is coarse (8x8 for a CIFAR ResNet): stretched over the image, smoothed.
    axes[0, 2].imshow(
        shown,
        cmap="jet",
        alpha=0.45,
        interpolation="bilinear",
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
    )
    label = _name(classes, result["class"])
    axes[0, 2].set_title(f"Grad-CAM ({result['layer']}): {label}", fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    probability = float(result["probabilities"][result["class"]])
    fig.suptitle(f"class {label!r}, p = {probability:.3f}", fontsize=10)
    return save(fig, path, {**result, "class_name": label})
