"""Readers for the standard on-disk image formats, returning uint8 NumPy arrays.

Every reader validates what it reads and raises :class:`DatasetError` naming the file and what
was expected, so a truncated download or a wrong file fails at load time, not deep in training.

Formats (the ones torchvision, MedMNIST and OpenCV use):
    IDX (MNIST, Fashion-MNIST): big-endian header ``0 0 <dtype> <ndim>``, ``ndim`` uint32 sizes,
        then the data; gzip-compressed or raw. Magic 2051 = images (N, H, W), 2049 = labels (N,).
    CIFAR-10 python batches: pickled dicts ``{b"data": (N, 3072) uint8, b"labels": [...]}``.
    MedMNIST ``.npz``: keys ``{train,val,test}_{images,labels}``; labels (N, 1) or (N,).
    Image folders: ``root/<class>/<image>``; images are decoded with Pillow.
    OpenCV ``digits.png``: a 2000x1000 sheet, 50 rows x 100 columns of 20x20 cells.
"""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np

from nnatlas.data.catalog import DatasetError

_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw).

    Args:
        path: the file.
        expect_ndim: 3 for images, 1 for labels; ``None`` accepts any.

    Returns:
        The array, shape from the header: images (N, H, W), labels (N,).

    Raises:
        DatasetError: bad magic, truncated or oversized data, wrong number of dimensions.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"{path}: cannot read IDX file ({err}); re-download it") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(
            f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}, expected "
            "00 00 <dtype> <ndim>, e.g. 00000803 for images); the file is corrupt or not IDX"
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        kind = {3: "images (magic 2051)", 1: "labels (magic 2049)"}.get(expect_ndim, "")
        raise DatasetError(f"{path}: IDX file has {ndim} dimensions, expected {expect_ndim} {kind}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: IDX header truncated ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: IDX size mismatch: header says shape {shape} ({expected} bytes), file has "
            f"{len(raw)} bytes; the file is truncated or corrupt, re-download it"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only builds NumPy arrays and builtins: a CIFAR batch needs nothing else,
    and refusing other globals keeps a tampered pickle from running code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data batch")


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one ``cifar-10-batches-py`` batch.

    Returns:
        ``(x, y)``: x (N, 3, 32, 32) uint8, y (N,) int64.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise DatasetError(f"{path}: not a readable CIFAR batch ({err})") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: CIFAR batch should be a dict, got {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        raise DatasetError(f"{path}: CIFAR batch lacks 'data'/'labels' (keys: {sorted(batch)})")
    data = np.asarray(batch["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: CIFAR 'data' should be (N, 3072), got {data.shape}")
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(data):
        raise DatasetError(f"{path}: {len(data)} images but {len(y)} labels")
    return data.reshape(-1, 3, 32, 32), y  # rows are stored R plane, G plane, B plane


def read_cifar_meta(path: str | Path) -> list[str]:
    """Class names from ``batches.meta``."""
    with open(path, "rb") as f:
        meta = _ArrayUnpickler(f, encoding="bytes").load()
    names = meta.get(b"label_names", meta.get("label_names", []))
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def read_medmnist_npz(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a MedMNIST ``.npz``.

    Returns:
        ``{"train": (x, y), "val": ..., "test": ...}``; x (N, H, W) or (N, H, W, 3) uint8 as
        stored, y (N,) int64 (an (N, 1) label column is flattened).

    Raises:
        DatasetError: not a zip/npz, missing keys, or multi-label labels (e.g. ChestMNIST).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err}); re-download it") from None
    out = {}
    for split in ("train", "val", "test"):
        keys = (f"{split}_images", f"{split}_labels")
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise DatasetError(
                f"{path}: missing keys {missing}; a MedMNIST npz has {{train,val,test}}_"
                f"{{images,labels}} (found {sorted(arrays)})"
            )
        x, y = arrays[keys[0]], arrays[keys[1]]
        if y.ndim == 2 and y.shape[1] != 1:
            raise DatasetError(
                f"{path}: {keys[1]} has shape {y.shape}: multi-label data is not supported "
                "by the single-label image pipeline"
            )
        out[split] = (x, y.reshape(-1).astype(np.int64))
    return out


def list_image_folder(folder: str | Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """List ``folder/<class>/<image>`` files, classes sorted by name (as torchvision does).

    Returns:
        ``(paths, labels (N,) int64, classes)``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder does not exist")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetError(f"{folder}: no class sub-folders; expected {folder}/<class>/<image>")
    paths, labels = [], []
    for index, name in enumerate(classes):
        for p in sorted((folder / name).rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(p)
                labels.append(index)
    return paths, np.asarray(labels, dtype=np.int64), classes


def read_images(paths: list[Path], size: int, channels: int = 3) -> np.ndarray:
    """Decode images with Pillow, resize the shorter side to ``size`` and centre-crop.

    Returns:
        (N, C, size, size) uint8.
    """
    from PIL import Image, UnidentifiedImageError

    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as img:
                img.draft(mode, (size, size))  # JPEG: decode at reduced scale, much faster
                img = img.convert(mode)
                w, h = img.size
                scale = size / min(w, h)
                nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
                img = img.resize((nw, nh), Image.BILINEAR)
                left, top = (nw - size) // 2, (nh - size) // 2
                arr = np.asarray(img.crop((left, top, left + size, top + size)))
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise DatasetError(f"{p}: cannot decode image ({err})") from None
        out[i] = arr.reshape(size, size, channels).transpose(2, 0, 1)  # HWC -> CHW
    return out


def read_opencv_digits(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Cut OpenCV's ``digits.png`` into 5,000 digits.

    The sheet is 2000 (W) x 1000 (H): 50 rows x 100 columns of 20x20 cells; rows 0-4 are zeros,
    5-9 ones, and so on.

    Returns:
        ``(x, y)``: x (5000, 20, 20) uint8, y (5000,) int64.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            sheet = np.asarray(img.convert("L"))
    except (OSError, UnidentifiedImageError) as err:
        raise DatasetError(f"{path}: cannot read the digits sheet ({err})") from None
    if sheet.shape != (1000, 2000):
        raise DatasetError(
            f"{path}: digits sheet should be 2000x1000 pixels, got {sheet.shape[::-1]}"
        )
    cells = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    labels = np.repeat(np.arange(10, dtype=np.int64), 500)  # 5 rows x 100 cells per digit
    return cells, labels
