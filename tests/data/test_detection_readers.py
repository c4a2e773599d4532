"""Detection readers on files the tests write: COCO JSON, Pascal VOC XML, Penn-Fudan masks, the
generated set; bad boxes and labels are refused naming their file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnatlas.data import DatasetError, get_spec, list_datasets
from nnatlas.data.detection import load_detection_dataset
from nnatlas.data.detection.coco import read_coco
from nnatlas.data.detection.generate import GeneratorConfig, generate
from nnatlas.data.detection.pennfudan import boxes_from_mask, read_pennfudan
from nnatlas.data.detection.voc import read_voc, split_ids, voc_classes


def _image(path: Path, width: int = 40, height: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_coco(folder: Path, split: str, boxes: list[list[float]], category: int = 2) -> Path:
    """A COCO split of two 40x30 images; ``boxes`` ([x, y, w, h]) all go on the first."""
    for name in ("a.png", "b.png"):
        _image(folder / split / name)
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30},
                   {"id": 2, "file_name": "b.png", "width": 40, "height": 30}],
        "annotations": [{"id": i + 1, "image_id": 1, "category_id": category, "bbox": b,
                         "iscrowd": 0} for i, b in enumerate(boxes)]
        + [{"id": 99, "image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }  # fmt: skip
    path = folder / "annotations" / f"instances_{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_coco_reader_converts_xywh_and_keeps_category_order(tmp_path: Path) -> None:
    path = write_coco(tmp_path, "train", [[2, 3, 10, 20], [20, 5, 15, 4]])
    examples, classes = read_coco(path)
    assert classes == ["cat", "dog"]
    first, second = examples
    np.testing.assert_allclose(first.boxes, [[2, 3, 12, 23], [20, 5, 35, 9]])
    assert first.labels.tolist() == [2, 2]  # category "dog" is the second class
    assert first.image.shape == (30, 40, 3)
    assert len(second.boxes) == 0  # its only region is a crowd: skipped
    resized = read_coco(path, image_size=80)[0][0]
    np.testing.assert_allclose(resized.boxes[0], [4, 8, 24, 184 / 3], rtol=1e-5)
    assert resized.image.shape == (80, 80, 3)


def test_coco_folder_splits_through_the_catalog(tmp_path: Path) -> None:
    write_coco(tmp_path, "train", [[2, 3, 10, 20]])
    write_coco(tmp_path, "test", [[1, 1, 5, 5]])
    splits = load_detection_dataset(f"coco:{tmp_path}", val_fraction=0.5, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1, 1, 2)
    assert get_spec(f"coco:{tmp_path}").task == "detection"
    assert {"coco:PATH", "voc:PATH", "pennfudan", "pasted"} <= set(list_datasets())


@pytest.mark.parametrize(
    ("box", "words"),
    [([30, 5, 20, 10], "outside the 40x30 image"), ([5, 5, 0, 10], "zero area"),
     ([-5, 0, 10, 10], "outside")],
)  # fmt: skip
def test_coco_refuses_bad_boxes_naming_the_file(tmp_path: Path, box: list, words: str) -> None:
    path = write_coco(tmp_path, "train", [box])
    with pytest.raises(DatasetError, match=words) as err:
        read_coco(path)
    assert str(path) in str(err.value) and "a.png" in str(err.value)


def test_coco_refuses_an_unknown_category_naming_the_file(tmp_path: Path) -> None:
    path = write_coco(tmp_path, "train", [[1, 1, 5, 5]], category=7)
    with pytest.raises(DatasetError, match="category 7 is not one of the classes") as err:
        read_coco(path)
    assert str(path) in str(err.value)


def write_voc(
    folder: Path, objects: list[tuple[str, list[int]]], classes: list[str] | None
) -> None:
    _image(folder / "JPEGImages" / "000001.jpg")
    parts = "".join(
        f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for n, b in objects
    )
    xml = f"<annotation><filename>000001.jpg</filename>{parts}</annotation>"
    (folder / "Annotations").mkdir(parents=True, exist_ok=True)
    (folder / "Annotations" / "000001.xml").write_text(xml)
    if classes:
        (folder / "classes.txt").write_text("\n".join(classes))


def test_voc_reader(tmp_path: Path) -> None:
    write_voc(tmp_path, [("dog", [1, 2, 11, 22]), ("person", [20, 5, 40, 30])], None)
    classes = voc_classes(tmp_path)
    assert len(classes) == 20  # no classes.txt: VOC's own
    (example,) = read_voc(tmp_path, split_ids(tmp_path)["all"], classes)
    np.testing.assert_allclose(example.boxes, [[1, 2, 11, 22], [20, 5, 40, 30]])
    assert example.labels.tolist() == [classes.index("dog") + 1, classes.index("person") + 1]


def test_voc_refuses_unknown_names_and_bad_boxes_naming_the_file(tmp_path: Path) -> None:
    write_voc(tmp_path, [("unicorn", [1, 2, 11, 22])], ["horse"])
    xml = tmp_path / "Annotations" / "000001.xml"
    with pytest.raises(DatasetError, match="'unicorn' is not one of the classes") as err:
        read_voc(tmp_path, ["000001"], voc_classes(tmp_path))
    assert str(xml) in str(err.value)
    write_voc(tmp_path, [("horse", [10, 2, 10, 22])], ["horse"])
    with pytest.raises(DatasetError, match="zero area") as err:
        read_voc(tmp_path, ["000001"], voc_classes(tmp_path))
    assert str(xml) in str(err.value)
    write_voc(tmp_path, [("horse", [10, 2, 60, 22])], ["horse"])
    with pytest.raises(DatasetError, match="outside the 40x30 image"):
        read_voc(tmp_path, ["000001"], voc_classes(tmp_path))


def test_pennfudan_boxes_come_from_the_instance_masks(tmp_path: Path) -> None:
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[5:20, 2:10] = 1  # person 1: rows 5..19, columns 2..9
    mask[10:30, 25:40] = 2
    np.testing.assert_array_equal(boxes_from_mask(mask), [[2, 5, 10, 20], [25, 10, 40, 30]])
    folder = tmp_path / "PennFudanPed"
    _image(folder / "PNGImages" / "FudanPed00001.png")
    (folder / "PedMasks").mkdir()
    Image.fromarray(mask).save(folder / "PedMasks" / "FudanPed00001_mask.png")
    (example,) = read_pennfudan(folder)
    assert example.labels.tolist() == [1, 1]
    splits = load_detection_dataset("pennfudan", root=tmp_path)  # the unzipped download
    assert splits.classes == ["person"]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1


def test_generated_set_is_reproducible_and_boxes_cover_the_objects(tmp_path: Path) -> None:
    cfg = GeneratorConfig(objects="digits", train=6, test=3, size=64, min_scale=0.3, seed=5)
    a, b = generate(tmp_path / "a", cfg), generate(tmp_path / "b", cfg)
    for split in ("train", "test"):
        first = json.loads((a / "annotations" / f"instances_{split}.json").read_text())
        assert first == json.loads((b / "annotations" / f"instances_{split}.json").read_text())
    assert (a / "train" / "000000.jpg").read_bytes() == (b / "train" / "000000.jpg").read_bytes()
    examples, classes = read_coco(a / "annotations" / "instances_train.json")
    assert classes == [str(d) for d in range(10)]
    counts = [len(e.boxes) for e in examples]
    assert min(counts) >= 1 and max(counts) <= 5
    with pytest.raises(DatasetError, match="already exists"):
        generate(a, cfg)  # never overwritten
