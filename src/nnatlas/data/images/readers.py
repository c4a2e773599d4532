"""Readers for the standard on-disk image formats, returning uint8 NumPy arrays.

Every reader validates what it reads and raises :class:`DatasetError` naming the file and what
was expected, so a truncated download or a wrong file fails at load time, not deep in training.

Formats (the ones torchvision, MedMNIST and OpenCV use):
    IDX (MNIST, Fashion-MNIST): big-endian header ``0 0 <dtype> <ndim>``, ``ndim`` uint32 sizes,
        then the data; gzip-compressed or raw. Magic 2051 = images (N, H, W), 2049 = labels (N,).
    CIFAR-10 python batches: pickled dicts ``{b"data": (N, 3072) uint8, b"labels": [...]}``.
    MedMNIST ``.npz``: keys ``{train,val,test}_{images,labels}``; labels (N, 1) or (N,).
    Image folders: ``root/<class>/<image>``; images are decoded with Pillow
        (:func:`open_image`: 16-bit images scaled to 8 bits, decompression bombs refused).
    OpenCV ``digits.png``: a 2000x1000 sheet, 50 rows x 100 columns of 20x20 cells.

Labels from any of them go through :func:`class_indices`, which refuses a float label that is
not a whole number instead of truncating it (1.5 would silently become class 1).
"""

from __future__ import annotations

import gzip
import math
import pickle
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnatlas.data.catalog import DatasetError

if TYPE_CHECKING:
    from PIL import Image as PILImage

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


def class_indices(values: Any, where: str) -> np.ndarray:
    """Labels as (N,) int64 class indices, refusing what a plain cast would silently change.

    Integers (and booleans) pass. Floats pass only when every value is a whole number
    (``1.0``): casting ``1.5`` to ``int64`` would truncate it to class 1 and invent a label.

    Args:
        values: a 1-D array or sequence of labels.
        where: the file, key or split they came from, for the message.

    Raises:
        DatasetError: not 1-D, not numbers, or a value that is not a whole number (the message
            gives the first bad value and its index).
    """
    try:
        y = np.asarray(values)
    except (ValueError, TypeError) as err:  # ragged lists, mixed types
        raise DatasetError(f"{where}: labels are not a list of numbers ({err})") from None
    if y.ndim != 1:
        raise DatasetError(f"{where}: labels should be one per example (N,), got shape {y.shape}")
    if y.dtype.kind in "biu":
        if y.dtype.kind == "u" and len(y) and int(y.max()) > np.iinfo(np.int64).max:
            raise DatasetError(f"{where}: label {int(y.max())} is too large for a class index")
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise DatasetError(
            f"{where}: labels have dtype {y.dtype}; expected integer class indices 0..K-1"
        )
    # Whole numbers within int64 range; NaN and inf fail every test (quietly: they are reported).
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(y) & (y == np.round(y)) & (np.abs(y) < 2.0**62))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(
            f"{where}: label {float(y[i])!r} at index {i} is not a whole number; class labels "
            "must be integers 0..K-1 (a column of such values is a regression target, not "
            "classes). Fix the labels or map them to class indices"
        )
    return y.astype(np.int64)


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw).

    Args:
        path: the file.
        expect_ndim: 3 for images, 1 for labels; ``None`` accepts any.

    Returns:
        The array, shape from the header: images (N, H, W), labels (N,).

    Raises:
        DatasetError: bad magic, truncated or oversized data (the header's dimensions are
            checked against the file's length before anything is allocated), wrong number of
            dimensions.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
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
        raise DatasetError(
            f"{path}: IDX header truncated: {ndim} dimensions need a {header}-byte header, the "
            f"file has {len(raw)} bytes; re-download it"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    # math.prod on Python ints: np.prod would wrap around in int64 for absurd dimensions.
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: IDX size mismatch: header dimensions {list(shape)} of {dtype.itemsize}-byte "
            f"values need {expected:,} bytes, the file has {len(raw):,} bytes; the file is "
            "truncated or corrupt, re-download it"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only builds NumPy arrays and builtins: a CIFAR batch needs nothing else,
    and refusing every other global (``os.system``, ``builtins.eval`` ...) keeps a tampered
    pickle from running code. Plain containers, numbers and strings need no global at all."""

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


def _unpickle(path: Path, what: str) -> Any:
    """Load a CIFAR pickle with :class:`_ArrayUnpickler`; any failure names the file."""
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="bytes").load()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read the {what} ({err})") from None
    # pickle documents that a malformed stream may raise "AttributeError, EOFError, ImportError,
    # IndexError" and others besides UnpicklingError, and NumPy's _reconstruct adds TypeError
    # and ValueError: every one of them means the file, not nnatlas, is broken.
    except Exception as err:
        reason = f"{type(err).__name__}: {err}"
        if isinstance(err, EOFError):
            reason = f"the file ends too early, {reason}"
        raise DatasetError(
            f"{path}: not a readable CIFAR {what} ({reason}); the download is truncated, "
            "corrupt or tampered with: delete the cifar-10-batches-py folder and download again"
        ) from None


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one ``cifar-10-batches-py`` batch.

    Returns:
        ``(x, y)``: x (N, 3, 32, 32) uint8, y (N,) int64.

    Raises:
        DatasetError: unreadable, truncated or code-carrying pickle, or wrong contents.
    """
    path = Path(path)
    batch = _unpickle(path, "batch")
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: CIFAR batch should be a dict, got {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        keys = sorted(map(str, batch))
        raise DatasetError(f"{path}: CIFAR batch lacks 'data'/'labels' (keys: {keys})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        what = f"{data.dtype} array" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: CIFAR 'data' should be a uint8 array, got {what}")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: CIFAR 'data' should be (N, 3072), got {data.shape}")
    y = class_indices(labels, f"{path}: 'labels'")
    if len(y) != len(data):
        raise DatasetError(f"{path}: {len(data)} images but {len(y)} labels")
    return data.reshape(-1, 3, 32, 32), y  # rows are stored R plane, G plane, B plane


def read_cifar_meta(path: str | Path) -> list[str]:
    """Class names from ``batches.meta``.

    Raises:
        DatasetError: unreadable, truncated or code-carrying pickle, or no ``label_names``.
    """
    path = Path(path)
    meta = _unpickle(path, "batches.meta")
    names = meta.get(b"label_names", meta.get("label_names")) if isinstance(meta, dict) else None
    if not isinstance(names, list | tuple) or not names:
        raise DatasetError(
            f"{path}: batches.meta should be a dict with a non-empty 'label_names' list; "
            "delete the cifar-10-batches-py folder and download again"
        )
    return [n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names]


def read_medmnist_npz(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a MedMNIST ``.npz``, checking every split's shapes before anything is trained.

    Returns:
        ``{"train": (x, y), "val": ..., "test": ...}``; x (N, H, W) or (N, H, W, C) as stored
        (C = 1 or 3; the same H, W, C in every split), y (N,) int64 (an (N, 1) label column is
        flattened).

    Raises:
        DatasetError: not a zip/npz, object arrays (never unpickled), missing keys, images that
            are not (N, H, W[, C]), splits of different image sizes, labels that do not match
            the images in number, non-integer labels, or multi-label labels (e.g. ChestMNIST).
    """
    path = Path(path)
    try:
        # allow_pickle=False: an object array is refused (ValueError) instead of unpickled.
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err}); re-download it") from None
    except AttributeError:  # np.load of a pickle file with allow_pickle=False
        raise DatasetError(f"{path}: not an .npz file; re-download it") from None
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
        colour = x.ndim == 4 and x.shape[3] in (1, 3)
        if not (x.ndim == 3 or colour) or 0 in x.shape[1:] or x.dtype.kind not in "biuf":
            raise DatasetError(
                f"{path}: {keys[0]} is a {x.dtype} array of shape {x.shape}; expected numbers "
                "of shape (N, H, W) for grayscale or (N, H, W, C) with C = 1 or 3"
            )
        if y.ndim == 2 and y.shape[1] != 1:
            raise DatasetError(
                f"{path}: {keys[1]} has shape {y.shape}: multi-label data is not supported "
                "by the single-label image pipeline"
            )
        if y.ndim not in (1, 2) or len(y) != len(x):
            raise DatasetError(
                f"{path}: {keys[1]} has shape {y.shape} but {keys[0]} holds {len(x)} images; "
                "expected one label per image, (N,) or (N, 1)"
            )
        out[split] = (x, class_indices(y.reshape(-1), f"{path}: {keys[1]}"))
    first = out["train"][0].shape[1:]
    for split in ("val", "test"):
        shape = out[split][0].shape[1:]
        if _hwc(shape) != _hwc(first):
            raise DatasetError(
                f"{path}: {split}_images are {shape} per image but train_images are {first}; "
                "every split must have the same height, width and channels (mixed MedMNIST "
                "sizes, e.g. a 28 and a 64 file?)"
            )
    return out


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if len(shape) == 3 else (*shape, 1)  # (H, W) is (H, W, 1)


def list_image_folder(folder: str | Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """List ``folder/<class>/<image>`` files, classes sorted by name (as torchvision does).

    Returns:
        ``(paths, labels (N,) int64, classes)``.

    Raises:
        DatasetError: the folder does not exist, has no class sub-folders, or has a class
            sub-folder without images (it would become a class the model can never learn).
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DatasetError(f"{folder}: image folder {what}; expected {folder}/<class>/<image>")
    try:
        classes = sorted(
            d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")
        )
        listing = {c: [p for p in sorted((folder / c).rglob("*")) if p.is_file()] for c in classes}
    except OSError as err:  # e.g. a folder without read permission
        raise DatasetError(f"{folder}: cannot list the image folder ({err})") from None
    if not classes:
        raise DatasetError(f"{folder}: no class sub-folders; expected {folder}/<class>/<image>")
    paths, labels = [], []
    for index, name in enumerate(classes):
        files = listing[name]
        images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not images:
            others = [p.name for p in files if not p.name.startswith(".")]
            n = len(others)
            found = f" (it holds {n} other file{'s' * (n != 1)}, e.g. {others[0]})" if n else ""
            raise DatasetError(
                f"{folder / name}: class folder has no images{found}; remove the folder or "
                f"add images to it (extensions: {', '.join(IMAGE_EXTENSIONS)})"
            )
        paths += images
        labels += [index] * len(images)
    return paths, np.asarray(labels, dtype=np.int64), classes


def _to_8bit(img: PILImage.Image, path: Path) -> PILImage.Image:
    """16-bit and 32-bit integer images scaled to 8 bits; Pillow's ``convert("L")`` would clip
    every value over 255 to white, so two different 16-bit images could become identical."""
    from PIL import Image

    if img.mode.startswith("I;16") or img.mode == "I":
        x = np.asarray(img).astype(np.float64)  # (H, W)
        if img.mode == "I" and len(x) and x.max() > 65535:
            top = float(np.iinfo(np.int32).max)  # a true 32-bit image
        else:
            top = 65535.0  # 16 bits; PNG and TIFF store 16-bit greys this way
        x = np.clip(np.round(x * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(x)
    if img.mode == "F":
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf are refused below
            x = np.asarray(img).astype(np.float64)
        if not np.isfinite(x).all() or (x.size and (x.min() < 0 or x.max() > 255)):
            raise DatasetError(
                f"{path}: 32-bit float image with values outside [0, 255] (or NaN/inf); "
                "save it as an 8- or 16-bit image"
            )
        scale = 255.0 if x.size and x.max() <= 1.0 else 1.0  # [0, 1] floats, as _pixel_divisor
        return Image.fromarray(np.round(x * scale).astype(np.uint8))
    return img


def open_image(
    path: str | Path, mode: str = "RGB", draft: tuple[int, int] | None = None
) -> PILImage.Image:
    """Open one image file as a fully decoded Pillow image in ``mode``.

    16-bit (``I;16``, ``I;16B``) and 32-bit (``I``, ``F``) images are scaled to 8 bits before
    the conversion (Pillow alone clips them to white); images over Pillow's decompression-bomb
    limit (``PIL.Image.MAX_IMAGE_PIXELS``) are refused, not decoded.

    Args:
        path: the image file.
        mode: ``"RGB"`` or ``"L"`` (any Pillow mode is accepted).
        draft: for JPEG, decode at a reduced scale no smaller than this (width, height): much
            faster when the image is resized afterwards anyway.

    Returns:
        A ``PIL.Image.Image`` in ``mode``, detached from the file (the file is closed).

    Raises:
        DatasetError: the file is missing, unreadable, not an image, truncated or too large.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such image file")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        # Between 1x and 2x the limit Pillow only warns; refuse there too, as the warning says
        # the file could be a decompression bomb and training would decode it every epoch.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if draft is not None:
                    img.draft(mode, draft)
                img.load()
                return _to_8bit(img, path).convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's message: "Image size (N pixels) exceeds limit of M pixels, could be ...".
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f" of {int(found.group(1)):,} pixels" if found else ""
        raise DatasetError(
            f"{path}: image{size} too large to decode safely: the limit is {limit:,} pixels "
            "(PIL.Image.MAX_IMAGE_PIXELS; larger files may be decompression bombs). Resize the "
            "file (e.g. to 4096 pixels on the long side) or, if you trust it, raise "
            "PIL.Image.MAX_IMAGE_PIXELS"
        ) from None
    except DatasetError:
        raise
    except OSError as err:
        raise DatasetError(f"{path}: cannot decode image ({err})") from None
    # Pillow's decoders report a malformed file with many exception types (SyntaxError,
    # struct.error, IndexError, ValueError ...): each means the file is broken, not nnatlas.
    except Exception as err:
        raise DatasetError(
            f"{path}: cannot decode image ({type(err).__name__}: {err}); the file is corrupt"
        ) from None


def read_images(paths: list[Path], size: int, channels: int = 3) -> np.ndarray:
    """Decode images with :func:`open_image`, resize the shorter side to ``size`` and
    centre-crop.

    Returns:
        (N, C, size, size) uint8.
    """
    from PIL import Image

    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for i, p in enumerate(paths):
        img = open_image(p, mode, draft=(size, size))  # JPEG: decode at reduced scale
        w, h = img.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        arr = np.asarray(img.crop((left, top, left + size, top + size)))
        out[i] = arr.reshape(size, size, channels).transpose(2, 0, 1)  # HWC -> CHW
    return out


def read_opencv_digits(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Cut OpenCV's ``digits.png`` into 5,000 digits.

    The sheet is 2000 (W) x 1000 (H): 50 rows x 100 columns of 20x20 cells; rows 0-4 are zeros,
    5-9 ones, and so on.

    Returns:
        ``(x, y)``: x (5000, 20, 20) uint8, y (5000,) int64.
    """
    path = Path(path)
    sheet = np.asarray(open_image(path, "L"))
    if sheet.shape != (1000, 2000):
        raise DatasetError(
            f"{path}: digits sheet should be 2000x1000 pixels, got {sheet.shape[::-1]}"
        )
    cells = sheet.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3).reshape(5000, 20, 20)
    labels = np.repeat(np.arange(10, dtype=np.int64), 500)  # 5 rows x 100 cells per digit
    return cells, labels
