"""Write small files in the standard image-dataset formats, for the data tests.

Each writer produces the real on-disk format (the same bytes a download would give), so the
tests exercise the real readers, not a mock.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

# IDX type codes of the dtypes the tests write (big-endian, as the format stores them).
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def write_idx(path: Path, array: np.ndarray, gz: bool = True, dtype=np.uint8) -> Path:
    """IDX: 0 0 <type code> <ndim>, big-endian uint32 sizes, data (uint8, ``>f4`` or ``>f8``)."""
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype))
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_mnist_like(
    folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """The four IDX files; labels cycle 0..9 so every class is present."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        ext = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y, gz)
        out[prefix] = x
    return out


def write_cifar10(folder: Path, per_batch: int = 10, seed: int = 0) -> np.ndarray:
    """``folder/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``.

    Returns the first training image as (3, 32, 32) uint8.
    """
    rng = np.random.default_rng(seed)
    root = folder / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    first = None
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        if first is None:
            first = data[0].reshape(3, 32, 32)
        batch = {
            b"batch_label": name.encode(),
            b"labels": [i % 10 for i in range(per_batch)],
            b"data": data,
            b"filenames": [b"x.png"] * per_batch,
        }
        with open(root / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_vis": 3072}, f, protocol=2)
    return first


def write_medmnist(
    path: Path,
    sizes=(30, 6, 12),
    column_labels: bool = True,
    rgb: bool = False,
    num_classes: int = 2,
) -> Path:
    """A MedMNIST-style npz; labels (N, 1) like the official files, or (N,)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        shape = (n, 28, 28, 3) if rgb else (n, 28, 28)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        y = (np.arange(n) % num_classes).astype(np.uint8)
        arrays[f"{split}_labels"] = y[:, None] if column_labels else y
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def write_image_folder(folder: Path, counts: dict[str, int], size=(24, 18), ext=".png") -> Path:
    """``folder/<class>/<i><ext>`` colour images with random pixels, varied sizes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, n in counts.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            w, h = size[0] + i, size[1]
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"{i}{ext}")
    return folder


def write_gray16(path: Path, values: np.ndarray, mode: str = "I;16") -> Path:
    """A 16-bit (``"I;16"``, ``"I;16B"``) or 32-bit integer (``"I"``) greyscale image.

    ``values`` (H, W) are stored as they are (0..65535 for 16 bits); PNG holds ``I;16``, TIFF
    holds all three modes.
    """
    from PIL import Image

    dtype = {"I;16": "<u2", "I;16B": ">u2", "I": "<i4"}[mode]
    pixels = np.ascontiguousarray(values, dtype=dtype)
    height, width = pixels.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes(mode, (width, height), pixels.tobytes()).save(path)
    return path


def write_opencv_sheet(path: Path) -> np.ndarray:
    """A 1000x2000 digits sheet where each cell's pixels encode its digit and column.

    Returns the sheet (1000, 2000) uint8.
    """
    from PIL import Image

    sheet = np.zeros((1000, 2000), dtype=np.uint8)
    for row in range(50):
        for col in range(100):
            digit = row // 5
            sheet[row * 20 : (row + 1) * 20, col * 20 : (col + 1) * 20] = digit * 20 + (col % 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    return sheet
