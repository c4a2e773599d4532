"""The detection datasets of the catalog: ``coco:PATH``, ``voc:PATH``, ``pennfudan`` and the
generated ``pasted`` sets.

Every loader returns :class:`~nnatlas.data.detection.boxes.DetectionSplits` with images at
``image_size`` x ``image_size`` (boxes scaled with them). A dataset without a test split of its
own has ``TEST_FRACTION`` of its images held out (seeded); validation images come out of the
training split (``val_fraction``) unless the dataset has a validation split.
"""

from __future__ import annotations

from pathlib import Path

from nnatlas.data.catalog import (
    DatasetSpec,
    RemoteFile,
    cache_source,
    data_home,
    fetch,
    register_dataset,
    register_family,
    url_source,
)
from nnatlas.data.detection.boxes import DetectionSplits, Example, seeded_split
from nnatlas.data.detection.coco import annotation_files, read_coco
from nnatlas.data.detection.generate import GeneratorConfig, generate
from nnatlas.data.detection.pennfudan import CLASSES as PENNFUDAN_CLASSES
from nnatlas.data.detection.pennfudan import read_pennfudan
from nnatlas.data.detection.voc import read_voc, split_ids, voc_classes
from nnatlas.data.errors import DatasetError

TEST_FRACTION = 0.2


def assemble(
    parts: dict[str, list[Example]], classes: list[str], val_fraction: float, seed: int
) -> DetectionSplits:
    """Train, val and test from the splits a dataset has (``"all"`` when it has none)."""
    notes = []
    train = parts.get("train", parts.get("all", []))
    test = parts.get("test")
    if test is None:
        train, test = seeded_split(train, TEST_FRACTION, seed + 1)
        notes.append(f"{len(test)} images held out for testing (the dataset has no test split)")
    val = parts.get("val")
    if val is None or "test" not in parts:
        if val is not None:  # a val split but no test split: val tests, train is split
            test = test + val if "test" in parts else val
        train, val = seeded_split(train, val_fraction, seed)
    if not train:
        raise DatasetError("the training split is empty: the dataset has no training images")
    return DetectionSplits(train, val, test, classes, notes)


def _folder(spec: DatasetSpec, root: Path | None) -> Path:
    folder = root or Path(spec.argument or "").expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{spec.name}: {folder} is not a folder")
    return folder


def load_coco(
    spec: DatasetSpec, root: Path | None, *, val_fraction: float = 0.1, seed: int = 0,
    image_size: int | None = None,
) -> DetectionSplits:  # fmt: skip
    """A COCO folder's splits (see :mod:`nnatlas.data.detection.coco`)."""
    folder = _folder(spec, root) if spec.argument or root else root
    files = annotation_files(folder)
    train, classes = read_coco(files.get("train") or next(iter(files.values())), None, image_size)
    parts = {"train": train}
    for split in ("val", "test"):
        if split in files:
            parts[split] = read_coco(files[split], classes, image_size)[0]
    return assemble(parts, classes, val_fraction, seed)


def load_voc(
    spec: DatasetSpec, root: Path | None, *, val_fraction: float = 0.1, seed: int = 0,
    image_size: int | None = None,
) -> DetectionSplits:  # fmt: skip
    """A Pascal VOC folder's splits (see :mod:`nnatlas.data.detection.voc`)."""
    folder = _folder(spec, root)
    classes = voc_classes(folder)
    parts = {s: read_voc(folder, ids, classes, image_size) for s, ids in split_ids(folder).items()}
    return assemble(parts, classes, val_fraction, seed)


def load_pennfudan(
    spec: DatasetSpec, root: Path | None, *, val_fraction: float = 0.1, seed: int = 0,
    image_size: int | None = None,
) -> DetectionSplits:  # fmt: skip
    """Penn-Fudan: downloaded once into the cache (or ``root``), 20% held out for testing."""
    folder = fetch(spec, root)
    if (folder / "PennFudanPed").is_dir():
        folder = folder / "PennFudanPed"
    examples = read_pennfudan(folder, image_size)
    return assemble({"all": examples}, list(PENNFUDAN_CLASSES), val_fraction, seed)


GENERATED = {
    # 2,000 training and 400 test images at 256 px, 1-5 Fashion-MNIST items each (5 classes).
    "pasted": GeneratorConfig(),
    # A small quick one: 300 / 60 images at 128 px, scikit-learn's digits (10 classes).
    "pasted-digits": GeneratorConfig(objects="digits", train=300, test=60, size=128, seed=1),
}


def load_generated(
    spec: DatasetSpec, root: Path | None, *, val_fraction: float = 0.1, seed: int = 0,
    image_size: int | None = None,
) -> DetectionSplits:  # fmt: skip
    """A generated set: written once into the cache (fixed seed), then read as COCO."""
    folder = root if root is not None else data_home() / spec.folder
    if not (folder / "annotations").is_dir():
        if root is not None:
            raise DatasetError(f"--data-root {root}: no annotations/ folder (a COCO folder)")
        cfg = GENERATED[spec.name]
        print(f"generating {spec.name} ({cfg.train} + {cfg.test} images) into {folder}")
        generate(folder, cfg)
    return load_coco(spec, folder, val_fraction=val_fraction, seed=seed, image_size=image_size)


def _coco_spec(argument: str) -> DatasetSpec:
    return DatasetSpec(
        name=f"coco:{argument}", kind="detection", argument=argument, task="detection",
        description=f"COCO JSON detection annotations in {argument}", sources=[],
        loader=load_coco,
    )  # fmt: skip


def _voc_spec(argument: str) -> DatasetSpec:
    return DatasetSpec(
        name=f"voc:{argument}", kind="detection", argument=argument, task="detection",
        description=f"Pascal VOC XML detection annotations in {argument}", sources=[],
        loader=load_voc,
    )  # fmt: skip


register_family(
    "coco", _coco_spec, kind="detection", task="detection", argument_help="PATH",
    description="a COCO folder: annotations/instances_{train,val,test}.json and the images",
)  # fmt: skip
register_family(
    "voc", _voc_spec, kind="detection", task="detection", argument_help="PATH",
    description="a Pascal VOC folder: Annotations/*.xml, JPEGImages/, ImageSets/Main/*.txt",
)  # fmt: skip

_PENNFUDAN_URL = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
register_dataset(
    DatasetSpec(
        name="pennfudan",
        kind="detection",
        task="detection",
        description="Penn-Fudan pedestrians: 170 street photos, 345 people boxed (download)",
        sources=[
            cache_source(),
            url_source(RemoteFile("PennFudanPed.zip", _PENNFUDAN_URL, None, extract=True)),
        ],
        files=("PNGImages|PennFudanPed/PNGImages", "PedMasks|PennFudanPed/PedMasks"),
        loader=load_pennfudan,
        citation="Wang, Shi, Song & Shen, Object detection combining recognition and "
        "segmentation, ACCV 2007",
        license="research use (see the dataset's page)",
        sizes={"images": 170, "people": 345},
        manual=f"download {_PENNFUDAN_URL} and unzip it into $NNATLAS_DATA/pennfudan/",
    )
)
for _name, _cfg in GENERATED.items():
    register_dataset(
        DatasetSpec(
            name=_name,
            kind="detection",
            task="detection",
            description=f"generated offline: {_cfg.objects} items pasted on scikit-image photos, "
            f"{_cfg.train} + {_cfg.test} images at {_cfg.size} px (seed {_cfg.seed})",
            sources=[cache_source()],
            loader=load_generated,
            sizes={"train": _cfg.train, "test": _cfg.test},
            manual="generated on first use into $NNATLAS_DATA",
        )
    )
