"""Scoring and showing a detector: mAP, per-class AP, precision-recall curves, drawn boxes.

mAP (COCO's definition, computed by torchmetrics' ``MeanAveragePrecision`` with pycocotools):
for each class, detections are sorted by score and matched greedily to unmatched true boxes
with IoU >= a threshold; precision is interpolated at 101 recall points and averaged (that is
the class's AP); mAP is the mean over classes. ``map_50`` uses IoU 0.5 (Pascal VOC's
criterion); ``map`` averages the thresholds 0.5, 0.55 ... 0.95 (COCO's primary metric).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

DRAW_SCORE = 0.5  # drawn predictions: those at least this confident
PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]  # fmt: skip


@torch.inference_mode()
def detect(model: Any, images: torch.Tensor, device: Any, batch_size: int = 8) -> list[dict]:
    """The model's detections of every image, on the CPU.

    Shape: images (N, 3, H, W) uint8 -> [{"boxes" (K, 4), "labels" (K,), "scores" (K,)}] * N
    """
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = [(x.float() / 255.0).to(device) for x in images[start : start + batch_size]]
        out += [{k: v.cpu() for k, v in d.items()} for d in model(batch)]
    return out


def truths(boxes: torch.Tensor, labels: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Padded targets as one dict per image. Shape: (N, K, 4), (N, K) -> [{"boxes", "labels"}]."""
    return [{"boxes": b[l >= 0], "labels": l[l >= 0]} for b, l in zip(boxes, labels, strict=True)]


def mean_average_precision(
    predictions: list[dict[str, torch.Tensor]],
    targets: list[dict[str, torch.Tensor]],
    classes: list[str],
) -> tuple[dict[str, float], dict[str, Any]]:
    """mAP@0.5, mAP@[.5:.95], per-class AP@0.5 and the precision-recall curves at IoU 0.5.

    Returns:
        ``({"map_50", "map", "ap50/CLASS" ...}, {"recall": 101 points, "precision":
        {class: 101 values (-1 where a class has no true box)}})``
    """
    from torchmetrics.detection import MeanAveragePrecision

    coco = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
    voc = MeanAveragePrecision(
        box_format="xyxy", iou_type="bbox", iou_thresholds=[0.5], class_metrics=True,
        extended_summary=True,
    )  # fmt: skip
    for metric in (coco, voc):
        metric.update(predictions, targets)
    at_coco, at_50 = coco.compute(), voc.compute()
    metrics = {"map_50": float(at_50["map"]), "map": float(at_coco["map"])}
    per_class = at_50["map_per_class"].reshape(-1).tolist()
    present = at_50["classes"].reshape(-1).tolist()
    for label, ap in zip(present, per_class, strict=True):
        if 1 <= label <= len(classes):
            metrics[f"ap50/{classes[label - 1]}"] = float(ap)
    # precision: (iou thresholds, 101 recall points, classes, area ranges, max detections);
    # area "all" and the largest max-detections setting.
    precision = at_50["precision"][0, :, :, 0, -1]  # (101, classes present)
    curves = {
        classes[label - 1]: precision[:, i].tolist()
        for i, label in enumerate(present)
        if 1 <= label <= len(classes)
    }
    return metrics, {"recall": np.linspace(0, 1, 101).tolist(), "precision": curves}


def plot_pr_curves(curves: dict[str, Any], title: str, path: Path) -> Path:
    """Each class's precision against recall at IoU 0.5, written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnatlas.files import atomic_target

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, precision in curves["precision"].items():
        values = np.asarray(precision, dtype=float)
        values[values < 0] = np.nan  # -1: no true box of that class
        ax.plot(curves["recall"], values, label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    try:
        with atomic_target(path, suffix=".tmp.png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def draw_boxes(
    image: np.ndarray, detections: dict[str, torch.Tensor], classes: list[str],
    truth: dict[str, torch.Tensor] | None = None, min_score: float = DRAW_SCORE,
) -> Any:  # fmt: skip
    """A PIL image with the true boxes (white, dashed look: thin) and the predicted ones (a
    colour per class, with class and score). Shape: image (H, W, 3) uint8."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    if truth is not None:
        for box in truth["boxes"].tolist():
            draw.rectangle(box, outline=(255, 255, 255), width=1)
    for box, label, score in zip(
        detections["boxes"].tolist(), detections["labels"].tolist(),
        detections["scores"].tolist(), strict=True,
    ):  # fmt: skip
        if score < min_score:
            continue
        colour = PALETTE[(label - 1) % len(PALETTE)]
        draw.rectangle(box, outline=colour, width=2)
        name = classes[label - 1] if 1 <= label <= len(classes) else str(label)
        draw.text((box[0] + 2, box[1] + 1), f"{name} {score:.2f}", fill=colour)
    return picture


def save_picture(picture: Any, path: Path) -> Path:
    from nnatlas.files import atomic_target

    with atomic_target(path, suffix=".tmp.png") as tmp:
        picture.save(tmp, format="PNG")
    return path


def save_examples(
    images: torch.Tensor, predictions: list[dict], targets: list[dict], classes: list[str],
    path: Path, count: int = 8,
) -> Path:  # fmt: skip
    """The first ``count`` images of a split with true and predicted boxes, in one grid."""
    from PIL import Image

    count = min(count, len(images))
    height, width = images.shape[-2:]
    columns = min(4, count)
    rows = -(-count // columns)
    grid = Image.new("RGB", (columns * width, rows * height))
    for i in range(count):
        pixels = images[i].permute(1, 2, 0).numpy()
        picture = draw_boxes(pixels, predictions[i], classes, targets[i])
        grid.paste(picture, ((i % columns) * width, (i // columns) * height))
    return save_picture(grid, path)
