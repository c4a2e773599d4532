"""Fault probes of the image readers: each writes the bad input in its real on-disk format and
checks the error (a DatasetError naming the file and what to do) or the corrected result."""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from image_writers import (
    write_cifar10,
    write_gray16,
    write_idx,
    write_image_folder,
    write_medmnist,
    write_mnist_like,
)
from nnatlas.data import DatasetError, load_image_dataset
from nnatlas.data.images.readers import open_image
from nnatlas.errors import NnatlasError


@pytest.fixture(autouse=True)
def _bare_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")


# ---------------------------------------------------------------- 16-bit images


def test_16bit_classes_stay_distinct_and_map_to_their_grey_levels(tmp_path):
    # Pillow's convert("RGB") clips every 16-bit value over 255 to white: both classes would
    # become identical white images.
    for cls, value in (("dark", 16384), ("light", 49152)):
        for i in range(4):
            write_gray16(tmp_path / "f" / cls / f"{i}.png", np.full((8, 8), value))
    splits = load_image_dataset(f"imagefolder:{tmp_path / 'f'}", image_size=8, val_fraction=0)
    x = torch.cat([splits.train.x, splits.test.x])
    y = torch.cat([splits.train.y, splits.test.y])
    grey = torch.round(x * 255).long()  # (N, 3, 8, 8)
    # 16384 / 65535 * 255 = 63.75 -> 64; 49152 / 65535 * 255 = 191.25 -> 191
    assert torch.all(grey[y == 0] == 64) and torch.all(grey[y == 1] == 191)


@pytest.mark.parametrize("mode, ext", [("I;16", "png"), ("I;16B", "tif"), ("I", "tif")])
def test_open_image_scales_16_and_32_bit_greys(tmp_path, mode, ext):
    path = write_gray16(tmp_path / f"g.{ext}", np.array([[0, 1000, 30000, 65535]]), mode)
    assert np.asarray(open_image(path, "L")).tolist() == [[0, 4, 117, 255]]
    rgb = np.asarray(open_image(path, "RGB"))  # (1, 4, 3)
    assert rgb.shape == (1, 4, 3) and rgb[..., 1].tolist() == [[0, 4, 117, 255]]


def test_open_image_32_bit_values_use_the_full_range(tmp_path):
    top = 2**31 - 1
    path = write_gray16(tmp_path / "g.tif", np.array([[0, top // 2, top]]), "I")
    assert np.asarray(open_image(path, "L")).tolist() == [[0, 127, 255]]  # 127.49.. rounds down


def test_open_image_refuses_missing_and_broken_files(tmp_path):
    with pytest.raises(DatasetError, match="nothing.png: no such image file"):
        open_image(tmp_path / "nothing.png")
    write_image_folder(tmp_path / "f", {"a": 1})
    good = tmp_path / "f" / "a" / "0.png"
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:60])  # a PNG truncated inside its image data
    with pytest.raises(DatasetError, match="cut.png: cannot decode image"):
        open_image(cut)
    assert open_image(good).mode == "RGB" and open_image(good, "L").mode == "L"


# ---------------------------------------------------------------- decompression bombs


@pytest.mark.parametrize("limit", [1000, 3000])  # error (> 2x limit) and warning (> 1x) zones
def test_decompression_bomb_is_refused_naming_file_and_limit(tmp_path, monkeypatch, limit):
    write_image_folder(tmp_path / "f", {"a": 2, "b": 2}, size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)  # restored after the test
    with pytest.raises(DatasetError) as err:
        load_image_dataset(f"imagefolder:{tmp_path / 'f'}")
    message = str(err.value)
    assert "0.png: image of 4,096 pixels too large to decode safely" in message
    assert f"the limit is {limit:,} pixels" in message and "Resize the file" in message


# ---------------------------------------------------------------- empty class folders


def test_empty_class_folder_is_refused_naming_it(tmp_path):
    write_image_folder(tmp_path / "flat", {"cat": 3})
    (tmp_path / "flat" / "dog").mkdir()
    with pytest.raises(DatasetError, match=r"flat/dog: class folder has no images; remove"):
        load_image_dataset(f"imagefolder:{tmp_path / 'flat'}")
    (tmp_path / "flat" / "dog" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetError, match=r"flat/dog: .*holds 1 other file, e\.g\. notes\.txt"):
        load_image_dataset(f"imagefolder:{tmp_path / 'flat'}")


def test_empty_class_folder_in_val_only_is_refused_naming_it(tmp_path):
    write_image_folder(tmp_path / "tv" / "train", {"ants": 4, "bees": 4})
    write_image_folder(tmp_path / "tv" / "val", {"ants": 2})
    (tmp_path / "tv" / "val" / "bees").mkdir()
    with pytest.raises(DatasetError, match=r"tv/val/bees: class folder has no images"):
        load_image_dataset(f"imagefolder:{tmp_path / 'tv'}")


# ---------------------------------------------------------------- float labels


def _medmnist_with(path, **replace):
    write_medmnist(path, sizes=(8, 4, 4))
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(replace)
    np.savez(path, **arrays)
    return path


def test_fractional_npz_label_is_refused_whole_floats_accepted(tmp_path):
    labels = np.array([0, 1, 0, 1.5, 0, 1, 0, 1], dtype=np.float32)[:, None]
    _medmnist_with(tmp_path / "breastmnist.npz", train_labels=labels)
    with pytest.raises(DatasetError, match=r"breastmnist.npz: train_labels: label 1.5 at index 3"):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)
    labels[3] = 1.0
    _medmnist_with(tmp_path / "breastmnist.npz", train_labels=labels)
    splits = load_image_dataset("medmnist:breastmnist", root=tmp_path)
    assert splits.train.y.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]


def test_fractional_idx_label_is_refused(tmp_path):
    write_mnist_like(tmp_path, n_train=20, n_test=10)
    labels = (np.arange(20) % 10).astype(np.float32)
    labels[7] = 2.5
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, dtype=">f4")
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz: label 2.5 at index 7"):
        load_image_dataset("mnist", root=tmp_path)
    labels[7] = 7.0  # whole numbers stored as floats are fine
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, dtype=">f4")
    splits = load_image_dataset("mnist", root=tmp_path, val_fraction=0)
    assert sorted(splits.train.y.tolist()) == sorted(i % 10 for i in range(20))


def test_fractional_cifar_label_is_refused(tmp_path):
    write_cifar10(tmp_path, per_batch=4)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    data = np.zeros((4, 3072), np.uint8)
    with open(batch, "wb") as f:
        pickle.dump({b"data": data, b"labels": [0.0, 1.0, 0.5, 3.0]}, f, protocol=2)
    with pytest.raises(DatasetError, match=r"test_batch: 'labels': label 0.5 at index 2"):
        load_image_dataset("cifar10", root=tmp_path)


# ---------------------------------------------------------------- float pixels


def test_float_pixels_0_to_255_are_scaled_like_uint8(tmp_path):
    path = write_medmnist(tmp_path / "breastmnist.npz", sizes=(8, 4, 4))
    as_uint8 = load_image_dataset("medmnist:breastmnist", root=tmp_path)
    with np.load(path) as npz:
        floats = {k: npz[k].astype(np.float32) if "images" in k else npz[k] for k in npz.files}
    np.savez(path, **floats)
    as_float = load_image_dataset("medmnist:breastmnist", root=tmp_path)
    torch.testing.assert_close(as_float.train.x, as_uint8.train.x)
    assert float(as_float.train.x.max()) <= 1.0
    # Floats already in [0, 1] are kept as they are.
    unit = {k: v / 255.0 if "images" in k else v for k, v in floats.items()}
    np.savez(path, **unit)
    torch.testing.assert_close(
        load_image_dataset("medmnist:breastmnist", root=tmp_path).test.x, as_uint8.test.x
    )


@pytest.mark.parametrize(
    "bad, expected",
    [(np.nan, r"test images hold nan at flat index 5"), (-3.0, r"test images hold values -3"),
     (300.0, r"test images hold values 0\.\.300; expected \[0, 1\] or \[0, 255\]")],
)  # fmt: skip
def test_float_pixels_out_of_range_are_refused_naming_the_split(tmp_path, bad, expected):
    images = np.zeros((4, 28, 28), np.float32)
    images.reshape(-1)[5] = bad
    _medmnist_with(tmp_path / "breastmnist.npz", test_images=images)
    with pytest.raises(DatasetError, match=r"breastmnist.npz: " + expected):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)


# ---------------------------------------------------------------- IDX headers


def test_idx_dimensions_that_overflow_are_refused(tmp_path):
    write_mnist_like(tmp_path, n_train=10, n_test=10, gz=False)
    # 2**21 * 2**21 * 2**22 = 2**64 wraps to 0 in int64: the header would "match" an empty body.
    dims = (2**21, 2**21, 2**22)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB3I", 0, 0, 0x08, 3, *dims))
    with pytest.raises(DatasetError) as err:
        load_image_dataset("mnist", root=tmp_path)
    message = str(err.value)
    assert "train-images-idx3-ubyte: IDX size mismatch" in message
    assert "[2097152, 2097152, 4194304]" in message and "the file has 16 bytes" in message
    path.write_bytes(struct.pack(">BBBB3I", 0, 0, 0x08, 3, *[2**32 - 1] * 3) + bytes(100))
    with pytest.raises(DatasetError, match=r"\[4294967295, 4294967295, 4294967295\].*116 bytes"):
        load_image_dataset("mnist", root=tmp_path)


# ---------------------------------------------------------------- MedMNIST shapes


@pytest.mark.parametrize(
    "replace, expected",
    [
        ({"train_images": np.zeros((8, 28), np.uint8)}, r"train_images is a uint8 array of "
         r"shape \(8, 28\); expected numbers of shape \(N, H, W\)"),
        ({"val_images": np.zeros((4, 28, 28, 2), np.uint8)}, r"val_images .*\(4, 28, 28, 2\)"),
        ({"test_images": np.zeros((4, 64, 64), np.uint8)}, r"test_images are \(64, 64\) per "
         r"image but train_images are \(28, 28\)"),
        ({"test_labels": np.zeros((3, 1), np.uint8)}, r"test_labels has shape \(3, 1\) but "
         r"test_images holds 4 images"),
        ({"train_images": np.full((8, 28, 28), "x")}, r"train_images is a <U1 array"),
    ],
)  # fmt: skip
def test_medmnist_shapes_are_checked_at_load_time(tmp_path, replace, expected):
    _medmnist_with(tmp_path / "breastmnist.npz", **replace)
    with pytest.raises(DatasetError, match=r"breastmnist.npz: " + expected):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)


def test_medmnist_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "breastmnist.npz"
    write_medmnist(path, sizes=(8, 4, 4))
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["train_labels"] = np.array([{"a": 1}] * 8, dtype=object)
    np.savez(path, **arrays)  # savez pickles the object array
    with pytest.raises(DatasetError, match=r"breastmnist.npz: not a readable .npz file"):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)


# ---------------------------------------------------------------- CIFAR pickles


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("target", ["batches.meta", "test_batch"])
def test_cifar_bad_pickles_are_dataset_errors(tmp_path, target):
    write_cifar10(tmp_path, per_batch=4)
    path = tmp_path / "cifar-10-batches-py" / target
    good = path.read_bytes()
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=rf"{target}: not a readable CIFAR .*ends too early"):
        load_image_dataset("cifar10", root=tmp_path)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match=rf"{target}: not a readable CIFAR .*download again"):
        load_image_dataset("cifar10", root=tmp_path)
    marker = tmp_path / "pwned"
    with open(path, "wb") as f:
        pickle.dump({b"label_names": _RunsCommand(f"touch {marker}")}, f, protocol=2)
    with pytest.raises(DatasetError, match=rf"{target}: .*global posix.system is not allowed"):
        load_image_dataset("cifar10", root=tmp_path)
    assert not marker.exists()  # the command never ran


def test_cifar_meta_of_the_wrong_shape(tmp_path):
    write_cifar10(tmp_path, per_batch=4)
    path = tmp_path / "cifar-10-batches-py" / "batches.meta"
    path.write_bytes(pickle.dumps([b"airplane"], protocol=2))
    with pytest.raises(DatasetError, match=r"batches.meta: batches.meta should be a dict"):
        load_image_dataset("cifar10", root=tmp_path)


def test_gzip_with_corrupt_deflate_data_names_file(tmp_path):
    # A valid gzip header followed by garbage: zlib.error, not an OSError, from the gzip module.
    write_mnist_like(tmp_path, n_train=10, n_test=10)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.compress(bytes(200)))
    data[12:20] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(NnatlasError, match="t10k-labels-idx1-ubyte.gz: cannot read IDX file"):
        load_image_dataset("mnist", root=tmp_path)


# ---------------------------------------------------------------- found by the fuzz suite


@pytest.mark.filterwarnings("error::RuntimeWarning")  # refused quietly, no NumPy warning
def test_nan_label_is_refused_without_a_numpy_warning(tmp_path):
    labels = np.array([0, 1, np.nan, 1, 0, 1, 0, 1])[:, None]
    _medmnist_with(tmp_path / "breastmnist.npz", train_labels=labels)
    with pytest.raises(DatasetError, match=r"train_labels: label nan at index 2"):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)


def test_stray_huge_label_does_not_make_millions_of_classes(tmp_path):
    labels = np.array([0, 1, 0, 10**9, 0, 1, 0, 1], dtype=np.int64)
    _medmnist_with(tmp_path / "pathmnist.npz", train_labels=labels)  # class names not built in
    with pytest.raises(DatasetError, match=r"labels go up to 1000000000 but the file holds only"):
        load_image_dataset("medmnist:pathmnist", root=tmp_path)


def test_idx_splits_of_different_image_sizes_are_refused(tmp_path):
    write_mnist_like(tmp_path, n_train=20, n_test=10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 5, 5), np.uint8))
    with pytest.raises(DatasetError, match=r"test images are \(1, 5, 5\) \(C, H, W\) but train"):
        load_image_dataset("mnist", root=tmp_path)


def test_other_integer_pixel_dtypes_load(tmp_path):
    path = write_medmnist(tmp_path / "breastmnist.npz", sizes=(8, 4, 4))
    expected = load_image_dataset("medmnist:breastmnist", root=tmp_path)
    with np.load(path) as npz:
        arrays = {k: npz[k].astype(np.uint32) if "images" in k else npz[k] for k in npz.files}
    np.savez(path, **arrays)  # torch.from_numpy cannot take uint32 itself
    torch.testing.assert_close(
        load_image_dataset("medmnist:breastmnist", root=tmp_path).train.x, expected.train.x
    )
