"""Pascal VOC detection annotations: one XML file per image.

A VOC folder (VOCdevkit/VOC2007's layout)::

    PATH/Annotations/000005.xml       # <object><name>chair</name><bndbox><xmin>...
    PATH/JPEGImages/000005.jpg
    PATH/ImageSets/Main/train.txt     # optional: image ids per split (train, val, test)
    PATH/classes.txt                  # optional: your own class names, one a line

Without ``classes.txt`` the classes are VOC's 20; an object named otherwise is refused with its
file. Objects marked ``difficult`` are kept (as torchvision's VOC reader does); boxes are VOC's
1-based pixel coordinates, read as they are.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from nnatlas.data.detection.boxes import Example, check_example, resize_example
from nnatlas.data.errors import DatasetError

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip


def voc_classes(folder: Path) -> list[str]:
    """``classes.txt``'s names when the folder has one, else VOC's 20."""
    listed = folder / "classes.txt"
    if listed.is_file():
        names = [n.strip() for n in listed.read_text(encoding="utf-8").splitlines() if n.strip()]
        if not names:
            raise DatasetError(f"{listed}: lists no class names (one a line)")
        return names
    return list(VOC_CLASSES)


def split_ids(folder: Path) -> dict[str, list[str]]:
    """Image ids of each split listed in ``ImageSets/Main/{train,val,test}.txt`` (else all the
    annotation files under ``"all"``)."""
    main = folder / "ImageSets" / "Main"
    listed = {
        split: [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
        for split in ("train", "val", "test")
        if (path := main / f"{split}.txt").is_file()
    }
    if "train" not in listed and (main / "trainval.txt").is_file():
        listed["train"] = (main / "trainval.txt").read_text().split()
    if not listed:
        listed["all"] = sorted(p.stem for p in (folder / "Annotations").glob("*.xml"))
    if not any(listed.values()):
        raise DatasetError(f"{folder}: no Annotations/*.xml files (a Pascal VOC folder has them)")
    return listed


def read_voc_xml(path: Path, classes: list[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """``(image file name, boxes (K, 4), labels (K,))`` of one VOC XML file.

    Raises:
        DatasetError: for XML that does not parse, an object without a box, or a class name
            that is not in ``classes``, naming the file.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise DatasetError(f"{path}: not a readable VOC XML file ({err})") from None
    boxes, labels = [], []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in classes:
            raise DatasetError(
                f"{path}: object {name!r} is not one of the classes ({', '.join(classes)}); "
                "list your classes in classes.txt beside Annotations/"
            )
        box = obj.find("bndbox")
        try:
            boxes.append([float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(f"{path}: object {name!r} has no complete <bndbox>") from None
        labels.append(classes.index(name) + 1)
    filename = root.findtext("filename") or f"{path.stem}.jpg"
    return filename, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


def read_voc(
    folder: str | Path, ids: list[str], classes: list[str], image_size: int | None = None
) -> list[Example]:
    """The examples of the image ids ``ids`` in a VOC folder, checked and resized."""
    from nnatlas.data.images.readers import open_image

    folder = Path(folder)
    examples = []
    for image_id in ids:
        xml = folder / "Annotations" / f"{image_id}.xml"
        if not xml.is_file():
            raise DatasetError(f"{xml}: listed in ImageSets but missing")
        filename, boxes, labels = read_voc_xml(xml, classes)
        file = folder / "JPEGImages" / filename
        if not file.is_file():
            file = folder / "JPEGImages" / f"{image_id}.jpg"
        if not file.is_file():
            raise DatasetError(f"{xml}: its image {filename} is not in {folder / 'JPEGImages'}")
        image = np.asarray(open_image(file, "RGB"))
        example = check_example(Example(str(file), image, boxes, labels), len(classes), str(xml))
        examples.append(resize_example(example, image_size))
    return examples
