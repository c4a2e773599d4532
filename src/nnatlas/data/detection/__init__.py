"""Detection data: annotated images (boxes and labels), their readers, a generated set on real
pixels and box-aware augmentation.

    from nnatlas.data.detection import load_detection_dataset
    splits = load_detection_dataset("pasted", image_size=256)
    splits.train[0].boxes   # (K, 4) x1, y1, x2, y2 pixels; .labels (K,) 1-based
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnatlas.data.detection.boxes import (
    DetectionSplits,
    Example,
    check_example,
    resize_example,
)
from nnatlas.data.errors import DatasetError


def load_detection_dataset(
    name: str, root: str | Path | None = None, **options: Any
) -> DetectionSplits:
    """Load a catalog detection dataset (``pasted``, ``pennfudan``, ``coco:PATH``, ``voc:PATH``).

    Args:
        options: ``val_fraction``, ``seed``, ``image_size``.
    """
    from nnatlas.data.catalog import get_spec

    spec = get_spec(name)
    if spec.kind != "detection":
        raise DatasetError(f"dataset {spec.name!r} is a {spec.kind} dataset, not a detection one")
    return spec.load(root, **options)


__all__ = [
    "DetectionSplits",
    "Example",
    "check_example",
    "load_detection_dataset",
    "resize_example",
]
