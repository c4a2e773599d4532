"""COCO JSON detection annotations: ``instances_*.json`` files and the images they list.

A COCO folder (the layout of COCO 2017 and of the generated sets)::

    PATH/annotations/instances_train.json   # or instances_train2017.json ...
    PATH/annotations/instances_test.json    # optional; instances_val*.json too
    PATH/train/000001.jpg                   # images in PATH/<stem>/, PATH/images/<stem>/,
                                            # PATH/images/ or PATH/ (stem: train, train2017)

Boxes are ``[x, y, width, height]`` pixels (COCO's convention), read into ``x1, y1, x2, y2``;
categories keep their order in the file and become labels 1..C. ``iscrowd`` regions are
skipped (COCO's evaluation ignores them too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.data.detection.boxes import Example, check_example, resize_example
from nnatlas.data.errors import DatasetError

SPLIT_WORDS = ("train", "val", "test")


def annotation_files(folder: Path) -> dict[str, Path]:
    """``{"train": PATH/annotations/instances_train.json, ...}`` for the splits present.

    Raises:
        DatasetError: when the folder has no ``annotations/instances_*.json``.
    """
    found: dict[str, Path] = {}
    for path in sorted((folder / "annotations").glob("instances_*.json")):
        stem = path.stem.removeprefix("instances_")
        split = next((w for w in SPLIT_WORDS if stem.startswith(w)), None)
        if split is not None and split not in found:
            found[split] = path
    if not found:
        raise DatasetError(
            f"{folder}: no COCO annotations found (expected annotations/instances_train.json, "
            "and optionally instances_val.json and instances_test.json)"
        )
    return found


def _image_folder(folder: Path, stem: str, name: str) -> Path:
    for candidate in (folder / stem, folder / "images" / stem, folder / "images", folder):
        if (candidate / name).is_file():
            return candidate
    return folder / stem


def read_coco(
    path: str | Path, classes: list[str] | None = None, image_size: int | None = None
) -> tuple[list[Example], list[str]]:
    """The examples of one COCO annotation file and its class names.

    Args:
        path: an ``instances_*.json`` file.
        classes: the class names to label with (another split's, so labels agree); default the
            file's own categories in order.
        image_size: resize every image (and its boxes) to this square size.

    Raises:
        DatasetError: for a file that is not COCO JSON, a missing image, or a box outside its
            image, of zero area or of an unknown category, naming the file.
    """
    from nnatlas.data.images.readers import open_image

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = [(int(c["id"]), str(c["name"])) for c in data["categories"]]
        images = {int(i["id"]): i for i in data["images"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(
            f"{path}: not a COCO annotation file ({type(err).__name__}: {err}); expected "
            "'images', 'annotations' and 'categories'"
        ) from None
    names = [name for _, name in categories]
    classes = list(classes) if classes is not None else names
    label_of = {cid: classes.index(name) + 1 for cid, name in categories if name in classes}
    per_image: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
    for ann in annotations:
        if ann.get("iscrowd"):
            continue
        if ann.get("image_id") not in per_image:
            raise DatasetError(f"{path}: annotation {ann.get('id')} names no listed image")
        per_image[ann["image_id"]].append(ann)
    stem = path.stem.removeprefix("instances_")
    examples = []
    for image_id, info in images.items():
        file = _image_folder(path.parent.parent, stem, info["file_name"]) / info["file_name"]
        if not file.is_file():
            raise DatasetError(f"{path}: image {info['file_name']} not found (looked at {file})")
        anns = per_image[image_id]
        boxes = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # x, y, w, h -> x1, y1, x2, y2
        unknown = [a["category_id"] for a in anns if a["category_id"] not in label_of]
        if unknown:
            raise DatasetError(
                f"{path} ({file.name}): category {unknown[0]} is not one of the classes "
                f"{', '.join(classes)}"
            )
        labels = [label_of[a["category_id"]] for a in anns]
        image = np.asarray(open_image(file, "RGB"))
        example = check_example(Example(str(file), image, boxes, labels), len(classes), str(path))
        examples.append(resize_example(example, image_size))
    return examples, classes


def write_coco(
    folder: Path, split: str, examples: list[tuple[str, int, int, np.ndarray, np.ndarray]],
    classes: list[str],
) -> Path:  # fmt: skip
    """Write ``annotations/instances_{split}.json`` for images already in ``folder/split/``.

    Args:
        examples: ``(file_name, width, height, boxes (K, 4) x1 y1 x2 y2, labels (K,))``.
    """
    from nnatlas.files import write_json

    images, annotations = [], []
    for image_id, (name, width, height, boxes, labels) in enumerate(examples, start=1):
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
            x1, y1, x2, y2 = box
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": int(label),
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0,
            })  # fmt: skip
    categories = [{"id": i, "name": name} for i, name in enumerate(classes, start=1)]
    data = {"images": images, "annotations": annotations, "categories": categories}
    return write_json(folder / "annotations" / f"instances_{split}.json", data)
