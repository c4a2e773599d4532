"""Detection examples in memory: an image, its boxes and their labels, checked on reading.

Every reader (COCO, VOC, Penn-Fudan, the generated set) produces :class:`Example` objects and
hands each one to :func:`check_example`, so a box outside its image, a box with no area or a
label the dataset does not list is refused with the file it came from, never trained on.

Conventions (torchvision's): boxes are ``x1, y1, x2, y2`` in pixels of the image as stored
(``x2`` exclusive, so a box may end at the image's width), labels are 1-based class indices
with 0 kept for the background, so ``classes[label - 1]`` is the class name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnatlas.data.errors import DatasetError

# Annotation tools round; a box may overhang its image by this many pixels before it is refused
# (VOC's 1-based coordinates put a box touching the right edge at x2 = width).
OVERHANG = 1.0


@dataclass
class Example:
    """One annotated image.

    Attributes:
        file: where the image came from (named in every error about it).
        image: (H, W, 3) uint8 RGB pixels.
        boxes: (K, 4) float32 ``x1, y1, x2, y2`` pixels; K may be 0 (an image of background).
        labels: (K,) int64 class indices, 1-based.
    """

    file: str
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)


@dataclass
class DetectionSplits:
    """A detection dataset's splits and its class names (``classes[label - 1]``)."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    classes: list[str]
    notes: list[str] = field(default_factory=list)


def check_example(example: Example, num_classes: int, source: str | None = None) -> Example:
    """Refuse boxes outside the image, boxes of zero area and labels outside 1..num_classes.

    Args:
        example: the example, boxes in its image's pixels.
        num_classes: how many classes the dataset lists.
        source: the annotation file, when it is not the image itself (a COCO JSON, a VOC XML).

    Raises:
        DatasetError: naming the file, the box and what was expected.
    """
    where = f"{source} ({example.file})" if source and source != example.file else example.file
    height, width = example.image.shape[:2]
    if len(example.boxes) != len(example.labels):
        raise DatasetError(f"{where}: {len(example.boxes)} boxes but {len(example.labels)} labels")
    for box, label in zip(example.boxes.tolist(), example.labels.tolist(), strict=True):
        x1, y1, x2, y2 = box
        if not np.all(np.isfinite(box)):
            raise DatasetError(f"{where}: box {box} has a coordinate that is not a number")
        if x2 <= x1 or y2 <= y1:
            raise DatasetError(
                f"{where}: box {_fmt(box)} has zero area (x2 must exceed x1 and y2 exceed y1); "
                "fix or delete it in the annotations"
            )
        if x1 < -OVERHANG or y1 < -OVERHANG or x2 > width + OVERHANG or y2 > height + OVERHANG:
            raise DatasetError(
                f"{where}: box {_fmt(box)} lies outside the {width}x{height} image; boxes are "
                "x1, y1, x2, y2 pixels inside it"
            )
        if not 1 <= label <= num_classes:
            raise DatasetError(
                f"{where}: label {label} is not one of the dataset's {num_classes} classes "
                f"(1..{num_classes})"
            )
    example.boxes[:, 0::2] = example.boxes[:, 0::2].clip(0, width)
    example.boxes[:, 1::2] = example.boxes[:, 1::2].clip(0, height)
    return example


def _fmt(box: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def resize_example(example: Example, size: int | None) -> Example:
    """The example at ``size`` x ``size`` pixels, its boxes scaled with it (no-op for None).

    Detectors batch same-sized images; a square resize changes a photo's aspect ratio, which
    the boxes follow exactly (each axis is scaled by its own factor).
    """
    from PIL import Image

    height, width = example.image.shape[:2]
    if size is None or (height, width) == (size, size):
        return example
    image = Image.fromarray(example.image).resize((size, size), Image.BILINEAR)
    scale = np.array([size / width, size / height] * 2, dtype=np.float32)
    return Example(example.file, np.asarray(image), example.boxes * scale, example.labels)


def seeded_split(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """``(rest, held_out)``: ``round(fraction * N)`` examples held out, chosen by ``seed``."""
    count = round(fraction * len(examples))
    if count == 0:
        return list(examples), []
    order = np.random.default_rng(seed).permutation(len(examples))
    held = set(order[:count].tolist())
    rest = [e for i, e in enumerate(examples) if i not in held]
    return rest, [e for i, e in enumerate(examples) if i in held]
