"""Penn-Fudan pedestrians (Wang, Shi, Song & Shen 2007): 170 street photos, 345 people.

The archive (https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip, 51 MB) unpacks to::

    PennFudanPed/PNGImages/FudanPed00001.png
    PennFudanPed/PedMasks/FudanPed00001_mask.png   # 0 background, 1..K one value per person

Boxes are the extents of each person's mask, as in torchvision's detection tutorial (the
``Annotation/*.txt`` files give the same boxes in a free-text format).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnatlas.data.detection.boxes import Example, check_example, resize_example
from nnatlas.data.errors import DatasetError

CLASSES = ["person"]


def boxes_from_mask(mask: np.ndarray) -> np.ndarray:
    """One ``x1, y1, x2, y2`` box per instance value of a mask (x2, y2 exclusive).

    Shape: mask (H, W) ints, 0 the background -> (K, 4) float32, by increasing value.
    """
    boxes = []
    for value in np.unique(mask):
        if value == 0:
            continue
        ys, xs = np.nonzero(mask == value)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(boxes, dtype=np.float32).reshape(-1, 4)


def read_pennfudan(folder: str | Path, image_size: int | None = None) -> list[Example]:
    """Every image of a Penn-Fudan folder (the one holding PNGImages/ and PedMasks/)."""
    from PIL import Image

    from nnatlas.data.images.readers import open_image

    folder = Path(folder)
    images = sorted((folder / "PNGImages").glob("*.png"))
    if not images:
        raise DatasetError(f"{folder}: no PNGImages/*.png (is it the PennFudanPed folder?)")
    examples = []
    for file in images:
        mask_file = folder / "PedMasks" / f"{file.stem}_mask.png"
        if not mask_file.is_file():
            raise DatasetError(f"{file}: its mask {mask_file} is missing")
        mask = np.asarray(Image.open(mask_file))
        if mask.ndim != 2:
            raise DatasetError(f"{mask_file}: expected a one-channel instance mask")
        boxes = boxes_from_mask(mask)
        image = np.asarray(open_image(file, "RGB"))
        if image.shape[:2] != mask.shape:
            raise DatasetError(f"{mask_file}: {mask.shape} mask for a {image.shape[:2]} image")
        labels = np.ones(len(boxes), dtype=np.int64)
        example = check_example(Example(str(file), image, boxes, labels), 1, str(mask_file))
        examples.append(resize_example(example, image_size))
    return examples
