"""Property tests: malformed files of every format, written to disk and loaded through the public
loaders, either give a valid result or raise an :class:`~nnatlas.errors.NnatlasError`.

Any other exception is a bug in the data layer (the command would print a traceback instead of
a message); each one found here has a regular regression test as well. The example counts keep
the whole file well under 40 s on two cores.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from image_writers import write_image_folder, write_mnist_like
from nnatlas.data import (
    ImageSplits,
    load,
    load_image_dataset,
    load_lm_corpus,
    load_text_classification,
    load_translation_pairs,
)
from nnatlas.errors import NnatlasError

# A NumPy RuntimeWarning ("invalid value encountered ...") on bad input is noise the user would
# see; the loaders must refuse the input instead.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True, scope="module")
def _bare_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Module scope: Hypothesis runs many examples per test, and a function-scoped monkeypatch
    # would be shared between them anyway.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNATLAS_DATA", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
        patch.setenv("NNATLAS_OFFLINE", "1")
        yield


def loads_or_refuses(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or ``None`` when it raised an NnatlasError with a message. Any other
    exception propagates and fails the property."""
    try:
        result = call()
    except NnatlasError as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        event(f"refused: {type(err).__name__}")  # --hypothesis-show-statistics shows the mix
        return None
    event("loaded")
    return result


def check_image_splits(splits: ImageSplits) -> None:
    assert isinstance(splits, ImageSplits)
    shape = splits.train.x.shape[1:]
    for split in (splits.train, splits.val, splits.test):
        x, y = split
        assert x.dtype == torch.float32 and y.dtype == torch.int64 and len(x) == len(y)
        assert x.ndim == 4 and (len(x) == 0 or x.shape[1:] == shape)
        if len(x):
            assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
            assert 0 <= int(y.min()) and int(y.max()) < splits.num_classes


def random_bytes(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).bytes(n)


# ---------------------------------------------------------------- IDX (mnist)

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


@st.composite
def idx_files(draw: st.DrawFn, labels: bool) -> bytes:
    """An IDX file for the images or the labels of a 10-example split: often of the right
    shape (so some load), otherwise with wrong magic, dimensions, type codes or lengths."""
    seed = draw(st.integers(0, 2**32))
    how = draw(st.sampled_from(["right shape"] * 3 + ["random header", "raw bytes"]))
    if how == "raw bytes":
        return draw(st.binary(max_size=40))
    code = draw(st.sampled_from([*_IDX_DTYPES] * 3 + [0x00, 0x07, 0xFF]))
    if how == "right shape":
        side = st.sampled_from([28, 28, 28, 5])  # 5: another size than the other split's
        dims = [10] if labels else [10, draw(side), draw(side)]
        header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
        dtype = np.dtype(_IDX_DTYPES.get(code, "u1"))
        if labels:  # class indices, sometimes one out of range or fractional
            values = (np.arange(10) % 10).astype(np.float64)
            if draw(st.booleans()):
                values[draw(st.integers(0, 9))] = draw(st.sampled_from([9.0, 2.5, 10, -1, 300]))
            if dtype.kind != "f":
                values = np.round(values).clip(np.iinfo(dtype).min, np.iinfo(dtype).max)
            body = values.astype(dtype).tobytes()
        else:
            body = random_bytes(seed, math.prod(dims) * dtype.itemsize)  # floats: NaN, inf ...
        return header + body
    zeros = draw(st.sampled_from([b"\0\0"] * 6 + [b"\0\1", b"\x12\x34"]))
    ndim = draw(st.sampled_from([1, 3] * 4 + [0, 2, 4, 255]))
    dim = st.sampled_from([0, 1, 2, 3, 10, 28]) | st.integers(0, 2**32 - 1)
    dims = [draw(dim) for _ in range(min(ndim, 6))]  # 255 dimensions: a header cut short
    header = zeros + bytes([code, ndim]) + struct.pack(f">{len(dims)}I", *dims)
    size = math.prod(dims) * np.dtype(_IDX_DTYPES.get(code, "u1")).itemsize
    delta = draw(st.sampled_from([0, 0, 0, -1, 1, 7, -size]))
    return header + random_bytes(seed, max(0, min(size + delta, 1 << 14)))


@FUZZ
@given(target=st.sampled_from(_MNIST_FILES), data=st.data(), gz=st.booleans(), cut=st.booleans())
def test_mnist_idx(target: str, data: st.DataObject, gz: bool, cut: bool) -> None:
    content = data.draw(idx_files(labels="labels" in target))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_mnist_like(root, n_train=10, n_test=10, gz=gz)
        payload = gzip.compress(content) if gz else content
        if cut and data.draw(st.integers(0, 3)) == 0:
            payload = payload[: len(payload) * 2 // 3]
        (root / (target + (".gz" if gz else ""))).write_bytes(payload)
        splits = loads_or_refuses(lambda: load_image_dataset("mnist", root=root, val_fraction=0.2))
        if splits is not None:
            check_image_splits(splits)


# ---------------------------------------------------------------- npz (medmnist)

_NPZ_KEYS = [f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")]
_DTYPES = [
    "uint8",
    "int64",
    "int8",
    "uint16",
    "uint32",
    "float16",
    "float32",
    "float64",
    "bool",
    "complex64",
    "<U2",
]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, 8]), max_size=4)))
    kind = draw(st.sampled_from([*_DTYPES, "object"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    if kind == "object":
        return np.array([{"x": 1}] * (shape[0] if shape else 1), dtype=object)
    if kind == "<U2":
        return np.full(shape, "ab")
    values = rng.choice([-1.0, 0.0, 1.0, 1.5, 2.0, 255.0, 300.0, np.nan, np.inf], size=shape)
    if np.dtype(kind).kind in "iub":
        values = np.nan_to_num(np.round(values), posinf=1.0)
    with np.errstate(invalid="ignore"):
        return values.astype(kind)


def _valid_medmnist() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        out[f"{split}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        out[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
    return out


@st.composite
def npz_files(draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(["mutated", "mutated", "random keys", "raw bytes", "cut"]))
    if how == "raw bytes":
        return draw(st.binary(max_size=64))
    content = _valid_medmnist() if how != "random keys" else {}
    for key in draw(st.lists(st.sampled_from([*_NPZ_KEYS, "junk"]), max_size=3, unique=True)):
        if draw(st.booleans()) and key in content:
            del content[key]
        else:
            content[key] = draw(arrays())
    buffer = io.BytesIO()
    np.savez(buffer, **content)  # pickles object arrays, which the reader must refuse
    data = buffer.getvalue()
    return data[: draw(st.integers(0, len(data)))] if how == "cut" else data


@FUZZ
@given(data=npz_files(), flag=st.sampled_from(["breastmnist", "pathmnist"]))
def test_medmnist_npz(data: bytes, flag: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / f"{flag}.npz").write_bytes(data)
        splits = loads_or_refuses(lambda: load_image_dataset(f"medmnist:{flag}", root=root))
        if splits is not None:
            check_image_splits(splits)


# ---------------------------------------------------------------- image folders

_FORMATS = {"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "gif": "GIF", "tif": "TIFF", "webp": "WEBP"}


@st.composite
def image_files(draw: st.DrawFn) -> tuple[str, bytes]:
    from PIL import Image

    ext = draw(st.sampled_from(sorted(_FORMATS)))
    if draw(st.integers(0, 4)) == 0:
        return ext, draw(st.binary(max_size=200))
    mode = draw(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK"]))
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    n_bytes = len(Image.new(mode, (width, height)).tobytes())
    pixels = random_bytes(draw(st.integers(0, 2**32)), n_bytes)  # "F": NaN and inf too
    image = Image.frombytes(mode, (width, height), pixels)
    buffer = io.BytesIO()
    try:
        image.save(buffer, _FORMATS[ext])
    except (OSError, ValueError, KeyError):  # this format cannot hold this mode
        assume(False)
    data = bytearray(buffer.getvalue())
    how = draw(st.sampled_from(["whole", "cut", "flip"]))
    if how == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return ext, bytes(data)


@FUZZ
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.*")  # corrupt TIFF/EXIF tags, skipped
@given(file=image_files(), size=st.sampled_from([4, 8]))
def test_image_folder(file: tuple[str, bytes], size: int) -> None:
    ext, data = file
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_image_folder(root, {"a": 1, "b": 2}, size=(6, 5))
        (root / "b" / f"fuzzed.{ext}").write_bytes(data)
        splits = loads_or_refuses(
            lambda: load_image_dataset(f"imagefolder:{root}", image_size=size, val_fraction=0)
        )
        if splits is not None:
            check_image_splits(splits)
            assert splits.train.x.shape[1:] == (3, size, size)


# ---------------------------------------------------------------- text: CSV, pairs, corpora

_CELL = st.text(alphabet=st.sampled_from('ab ,;\t"\n\r.1é\x00\u2028'), max_size=8)
_LABELS = ["0", "1", "1.0", "1.5", "pos", "neg", "", "nan", "-1", "1e400", " 2 "]
_ENCODINGS = ["utf-8", "latin-1", "utf-16", "utf-8-sig", "ascii", "cp1252", "no-such-codec"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=80))
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    header = draw(st.sampled_from(["text,label"] * 4 + ["label,text", "", "text", "a,b,c"]))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        text = draw(st.text(alphabet="ab .1", max_size=6) | _CELL)
        cells = [text, draw(st.sampled_from(_LABELS))][: draw(st.sampled_from([2, 2, 2, 1, 0]))]
        if draw(st.booleans()):
            cells = [f'"{c}"' for c in cells]
        rows.append(delimiter.join(cells))
    text = "\n".join([header.replace(",", delimiter), *rows])
    return text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")


@FUZZ
@given(data=csv_files(), suffix=st.sampled_from([".csv", ".tsv"]))
def test_csv(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"reviews{suffix}"
        path.write_bytes(data)
        raw = loads_or_refuses(lambda: load(f"csv:{path}"))
        if raw is None:
            return
        assert len(raw.train.texts) == len(raw.train.labels) > 0
        assert all(0 <= label < len(raw.classes) for label in raw.train.labels)
        splits = loads_or_refuses(lambda: load_text_classification(f"csv:{path}", max_len=8))
        if splits is not None:
            n = len(splits.train) + len(splits.val) + len(splits.test)
            assert n == len(raw.train)


@st.composite
def pair_files(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=80))
    lines = ["\t".join(draw(st.lists(_CELL, max_size=4))) for _ in range(draw(st.integers(0, 8)))]
    return "\n".join(lines).encode("utf-8")


@FUZZ
@given(data=pair_files(), gz=st.booleans(), val=st.sampled_from([0.0, 0.1, 0.5]))
def test_sentence_pairs(data: bytes, gz: bool, val: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("fra.txt.gz" if gz else "fra.txt")
        path.write_bytes(gzip.compress(data) if gz and data[:1] != b"\x00" else data)
        pairs = loads_or_refuses(lambda: load_translation_pairs(f"pairs:{path}", val_fraction=val))
        if pairs is not None:
            every = pairs.train + pairs.val + pairs.test
            assert every and all(isinstance(s, str) and isinstance(t, str) for s, t in every)


@st.composite
def text_files(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    text = draw(st.text(max_size=60))
    return text.encode(draw(st.sampled_from(_ENCODINGS[:-1])), errors="replace")


@FUZZ
@given(
    data=text_files(),
    encoding=st.sampled_from(_ENCODINGS),
    errors=st.sampled_from(["strict", "replace", "no-such-handler"]),
    tokenizer=st.sampled_from(["char", "word"]),
)
def test_text_corpus(data: bytes, encoding: str, errors: str, tokenizer: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_bytes(data)
        corpus = loads_or_refuses(
            lambda: load_lm_corpus(
                f"text:{path}", tokenizer=tokenizer, encoding=encoding, errors=errors
            )
        )
        if corpus is not None:
            assert corpus.train.dtype == torch.int64 and len(corpus.train) > 0
