"""The named image datasets of the catalog and their readers.

Each reader has the signature ``reader(spec, root, wanted) -> RawImages`` where ``wanted`` names
the official splits needed; it finds the files with :func:`nnatlas.data.catalog.fetch` (which
tries the user cache, system locations, the shared test folder and the download URL, in order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnatlas.data.catalog import (
    DatasetError,
    DatasetSpec,
    RemoteFile,
    cache_source,
    fetch,
    find_file,
    package_source,
    register_dataset,
    register_family,
    shared_source,
    system_source,
    url_source,
)
from nnatlas.data.images.readers import (
    class_indices,
    list_image_folder,
    read_cifar_batch,
    read_cifar_meta,
    read_idx,
    read_images,
    read_medmnist_npz,
    read_opencv_digits,
)
from nnatlas.data.images.splits import RawImages, make_image_loader

# ------------------------------------------------------------------ digits (scikit-learn)


def _read_digits(spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...]) -> RawImages:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts 0..16 of a 4x4 block of the original 32x32 bitmap: scale to [0, 1].
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    return RawImages(
        [str(c) for c in range(10)],
        {"train": (x, bunch.target.astype(np.int64))},
        source="sklearn.datasets.load_digits",
    )


register_dataset(
    DatasetSpec(
        name="digits",
        kind="image",
        description="UCI handwritten digits, 1,797 8x8 grayscale, 10 classes (in scikit-learn)",
        sources=[package_source("sklearn/datasets/data", note="pip install scikit-learn")],
        files=("digits.csv.gz",),
        loader=make_image_loader(_read_digits),
        citation="Alpaydin & Kaynak, Optical Recognition of Handwritten Digits, UCI ML "
        "Repository (1998)",
        license="CC BY 4.0",
        sizes={"all": 1797},
        manual="pip install scikit-learn (the data ships inside it)",
    )
)

# ------------------------------------------------------------------ IDX: MNIST, Fashion-MNIST

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_entries(splits: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{f}.gz|{f}" for s in splits if s in _IDX_FILES for f in _IDX_FILES[s])


def _idx_reader(classes: list[str]):
    def read(spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...]) -> RawImages:
        official = tuple(s for s in wanted if s in _IDX_FILES)
        folder = fetch(spec, root, files=_idx_entries(official))
        splits = {}
        for split in official:
            images_entry, labels_entry = _idx_entries((split,))
            images_path = find_file(folder, images_entry)
            x = read_idx(images_path, expect_ndim=3)[:, None]  # (N, 28, 28) -> (N, 1, 28, 28)
            labels_path = find_file(folder, labels_entry)
            y = class_indices(read_idx(labels_path, expect_ndim=1), str(labels_path))
            if len(x) != len(y):
                raise DatasetError(f"{images_path}: {len(x)} images but {len(y)} labels")
            splits[split] = (x, y)
        return RawImages(classes, splits, source=str(folder))

    return read


def _idx_remote(base: str, checksums: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(f"{f}.gz", f"{base}{f}.gz", checksums[f])
        for pair in _IDX_FILES.values()
        for f in pair
    )


# md5s as published by the dataset authors (and checked by torchvision).
_MNIST_MD5 = {
    "train-images-idx3-ubyte": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "md5:d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "md5:9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "md5:ec29112dd5afa0611ce80d1b7f02629c",
}
_FASHION_MD5 = {
    "train-images-idx3-ubyte": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}
_FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

register_dataset(
    DatasetSpec(
        name="mnist",
        kind="image",
        description="MNIST handwritten digits, 28x28 grayscale, 60,000 train / 10,000 test",
        sources=[
            cache_source(),
            shared_source("mnist"),
            url_source(*_idx_remote("https://ossci-datasets.s3.amazonaws.com/mnist/", _MNIST_MD5)),
        ],
        files=_idx_entries(("train", "test")),
        loader=make_image_loader(_idx_reader([str(i) for i in range(10)])),
        citation="LeCun, Bottou, Bengio & Haffner, Gradient-based learning applied to document "
        "recognition, Proc. IEEE 86(11), 1998",
        license="CC BY-SA 3.0 (as commonly cited)",
        sizes={"train": 60000, "test": 10000},
        manual="download the four *-ubyte.gz files from "
        "https://ossci-datasets.s3.amazonaws.com/mnist/ into $NNATLAS_DATA/mnist/",
    )
)

register_dataset(
    DatasetSpec(
        name="fashion-mnist",
        kind="image",
        description="Zalando Fashion-MNIST, 28x28 grayscale clothing, 60,000 train / 10,000 test",
        sources=[
            cache_source(),
            system_source(
                "/usr/share/datasets/fashion-mnist",
                note="Debian/Ubuntu: apt install dataset-fashion-mnist",
            ),
            url_source(
                *_idx_remote(
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", _FASHION_MD5
                )
            ),
        ],
        files=_idx_entries(("train", "test")),
        loader=make_image_loader(_idx_reader(_FASHION_CLASSES)),
        citation="Xiao, Rasul & Vollgraf, Fashion-MNIST: a Novel Image Dataset for Benchmarking "
        "Machine Learning Algorithms, arXiv:1708.07747, 2017",
        license="MIT",
        sizes={"train": 60000, "test": 10000},
        manual="apt install dataset-fashion-mnist, or download the four *-ubyte.gz files from "
        "https://github.com/zalandoresearch/fashion-mnist into $NNATLAS_DATA/fashion-mnist/",
    )
)

# ------------------------------------------------------------------ CIFAR-10

_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"{_CIFAR_DIR}/data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = (f"{_CIFAR_DIR}/test_batch",)


def _read_cifar10(spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...]) -> RawImages:
    need = (_CIFAR_TRAIN if "train" in wanted else ()) + (_CIFAR_TEST if "test" in wanted else ())
    folder = fetch(spec, root, files=need + (f"{_CIFAR_DIR}/batches.meta",))
    classes = read_cifar_meta(folder / _CIFAR_DIR / "batches.meta")
    splits = {}
    for split, files in (("train", _CIFAR_TRAIN), ("test", _CIFAR_TEST)):
        if split in wanted:
            parts = [read_cifar_batch(folder / f) for f in files]
            splits[split] = (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
            )
    return RawImages(classes, splits, source=str(folder / _CIFAR_DIR))


register_dataset(
    DatasetSpec(
        name="cifar10",
        kind="image",
        description="CIFAR-10, 32x32 colour images, 10 classes, 50,000 train / 10,000 test",
        sources=[
            cache_source(),
            url_source(
                RemoteFile(
                    "cifar-10-python.tar.gz",
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "md5:c58f30108f718f92721af3b95e74349a",
                    extract=True,
                )
            ),
        ],
        files=_CIFAR_TRAIN + _CIFAR_TEST + (f"{_CIFAR_DIR}/batches.meta",),
        loader=make_image_loader(_read_cifar10),
        citation="Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009",
        license="unspecified (free for research)",
        sizes={"train": 50000, "test": 10000},
        manual="download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and extract "
        "it into $NNATLAS_DATA/cifar10/ (giving cifar10/cifar-10-batches-py/)",
    )
)

# ------------------------------------------------------------------ MedMNIST

# flag -> (class names, md5 of the official 28x28 file where known).
_MEDMNIST = {
    "breastmnist": (["malignant", "normal, benign"], "md5:750601b1f35ba3300ea97c75c52ff8f6"),
    "pneumoniamnist": (["normal", "pneumonia"], None),
    "pathmnist": (None, None),
    "dermamnist": (None, None),
    "octmnist": (None, None),
    "retinamnist": (None, None),
    "bloodmnist": (None, None),
    "tissuemnist": (None, None),
    "organamnist": (None, None),
    "organcmnist": (None, None),
    "organsmnist": (None, None),
}


def _medmnist_spec(flag: str) -> DatasetSpec:
    flag = flag.lower()
    if flag not in _MEDMNIST:
        import difflib

        close = difflib.get_close_matches(flag, list(_MEDMNIST), n=3)
        hint = f" Did you mean {', '.join(f'medmnist:{c}' for c in close)}?" if close else ""
        raise DatasetError(
            f"unknown MedMNIST flag {flag!r}.{hint} Valid flags: {', '.join(_MEDMNIST)} "
            "(chestmnist is multi-label and not supported)"
        )
    names, checksum = _MEDMNIST[flag]
    filename = f"{flag}.npz"

    def read(spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...]) -> RawImages:
        folder = fetch(spec, root, files=(filename,))
        data = read_medmnist_npz(folder / filename)
        splits = {}
        for split in wanted:
            x, y = data[split]
            # (N, H, W) grayscale or (N, H, W, 3) colour -> (N, C, H, W)
            splits[split] = (x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2), y)
        n = max((int(y.max()) + 1 for _, y in data.values() if len(y)), default=0)
        total = sum(len(y) for _, y in data.values())
        if names is None and n > total:  # a stray label would name millions of classes
            raise DatasetError(
                f"{folder / filename}: labels go up to {n - 1} but the file holds only {total} "
                "examples; labels must be class indices 0..K-1"
            )
        return RawImages(names or [str(i) for i in range(n)], splits, source=str(folder / filename))

    return DatasetSpec(
        name=f"medmnist:{flag}",
        kind="image",
        folder="medmnist",
        argument=flag,
        description=f"MedMNIST v2 {flag}, 28x28, official train/val/test",
        sources=[
            cache_source(),
            shared_source("medmnist"),
            url_source(
                RemoteFile(
                    filename,
                    f"https://zenodo.org/records/10519652/files/{filename}?download=1",
                    checksum,
                )
            ),
        ],
        files=(filename,),
        loader=make_image_loader(read),
        citation="Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023)",
        sizes={"train": 546, "val": 78, "test": 156} if flag == "breastmnist" else {},
        license="CC BY 4.0",
        manual=f"pip install medmnist and run its downloader, or fetch {filename} from "
        f"https://zenodo.org/records/10519652 into $NNATLAS_DATA/medmnist/",
    )


register_family(
    "medmnist",
    _medmnist_spec,
    kind="image",
    argument_help="FLAG",
    choices=tuple(_MEDMNIST),
    description="MedMNIST 28x28 medical images (.npz), e.g. medmnist:breastmnist",
)

# ------------------------------------------------------------------ image folders


def _read_folder_tree(folder: Path, wanted: tuple[str, ...], size: int) -> RawImages:
    """``folder/{train,val,test}/<class>/*`` when split folders exist, else ``folder/<class>/*``.

    With only ``train`` and ``val`` folders (hymenoptera), the ``val`` folder is the held-out
    *test* split and validation is carved from ``train``: tuning on the folder that reports
    the final score would overstate it.

    Every split folder must have the same class folders as ``train``, each with at least one
    image: an empty class folder (in any split) is refused, naming it.
    """
    subdirs = {d.name for d in folder.iterdir() if d.is_dir()} if folder.is_dir() else set()
    if "train" in subdirs:
        present = {s: folder / s for s in ("train", "val", "test") if s in subdirs}
        if "test" not in present and "val" in present:
            present["test"] = present.pop("val")
        listed = {s: list_image_folder(p) for s, p in present.items()}  # names only: cheap
        classes = listed["train"][2]
        for s, (_, _, cls) in listed.items():
            if cls != classes:
                raise DatasetError(
                    f"{present[s]}: classes {cls} differ from train's {classes}; every split "
                    "folder needs the same class folders"
                )
        splits = {s: (read_images(p, size), y) for s, (p, y, _) in listed.items() if s in wanted}
        return RawImages(classes, splits, source=str(folder))
    paths, y, classes = list_image_folder(folder)  # refuses a class folder without images
    return RawImages(classes, {"train": (read_images(paths, size), y)}, source=str(folder))


def _imagefolder_spec(path: str) -> DatasetSpec:
    folder = Path(path).expanduser()

    def read(
        spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...], image_size: int = 128
    ) -> RawImages:
        return _read_folder_tree(root or folder, wanted, size=image_size)

    return DatasetSpec(
        name=f"imagefolder:{path}",
        kind="image",
        argument=path,
        description="images in class sub-folders (optionally under train/val/test), resized to 128",
        sources=[system_source(folder)],
        loader=make_image_loader(read),
    )


register_family(
    "imagefolder",
    _imagefolder_spec,
    kind="image",
    argument_help="PATH",
    description="a folder of class sub-folders (train/val sub-folders are used)",
)


def _read_hymenoptera(
    spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...], image_size: int = 128
) -> RawImages:
    folder = fetch(spec, root)
    if (folder / "hymenoptera_data").is_dir():  # the extracted zip nests one folder
        folder = folder / "hymenoptera_data"
    return _read_folder_tree(folder, wanted, size=image_size)


register_dataset(
    DatasetSpec(
        name="hymenoptera",
        kind="image",
        description="PyTorch transfer-learning tutorial ants vs bees: 245 train / 153 val photos",
        sources=[
            cache_source(),
            shared_source("hymenoptera_data"),
            url_source(
                RemoteFile(
                    "hymenoptera_data.zip",
                    "https://download.pytorch.org/tutorial/hymenoptera_data.zip",
                    None,
                    extract=True,
                )
            ),
        ],
        files=("train|hymenoptera_data/train", "val|hymenoptera_data/val"),
        loader=make_image_loader(_read_hymenoptera),
        citation="PyTorch transfer learning tutorial (images from ImageNet)",
        license="ImageNet terms (non-commercial research)",
        sizes={"train": 245, "val": 153},
        manual="download https://download.pytorch.org/tutorial/hymenoptera_data.zip and unzip it "
        "into $NNATLAS_DATA/hymenoptera/",
    )
)

# ------------------------------------------------------------------ OpenCV digits.png


def _read_opencv(spec: DatasetSpec, root: Path | None, wanted: tuple[str, ...]) -> RawImages:
    given = Path(spec.argument).expanduser() if spec.argument else None
    if root is None and given is not None and given.is_file():
        path = given
    else:
        path = fetch(spec, root or given, files=("digits.png",)) / "digits.png"
    x, y = read_opencv_digits(path)
    return RawImages([str(i) for i in range(10)], {"train": (x[:, None], y)}, source=str(path))


_OPENCV_URL = "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/digits.png"
_OPENCV_SHA = "sha256:60c917758ef97cc090f35cd8e293e4de691ef942847da0ff80dedab33d57c662"


def _opencv_spec(path: str | None = None) -> DatasetSpec:
    return DatasetSpec(
        name=f"opencv-digits:{path}" if path else "opencv-digits",
        kind="image",
        argument=path,
        folder="opencv-digits",
        description="OpenCV sample digits.png: 5,000 20x20 handwritten digits, 500 per class",
        sources=[
            cache_source(),
            shared_source("opencv-digits"),
            url_source(RemoteFile("digits.png", _OPENCV_URL, _OPENCV_SHA)),
        ],
        files=("digits.png",),
        loader=make_image_loader(_read_opencv),
        citation="OpenCV samples/data/digits.png (Mordvintsev, 2012)",
        license="Apache-2.0",
        sizes={"all": 5000},
        manual=f"download {_OPENCV_URL} into $NNATLAS_DATA/opencv-digits/",
    )


register_dataset(_opencv_spec())
register_family(
    "opencv-digits",
    _opencv_spec,
    kind="image",
    argument_help="PATH",
    description="OpenCV digits.png sheet at PATH (a file or a folder holding it)",
)
