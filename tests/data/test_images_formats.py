"""Each standard on-disk format, written by the test, loads through the catalog; bad files
are refused with an error that names the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from image_writers import (
    write_cifar10,
    write_idx,
    write_image_folder,
    write_medmnist,
    write_mnist_like,
    write_opencv_sheet,
)
from nnatlas.data import DataNotFoundError, DatasetError, load_image_dataset, load_image_split
from nnatlas.data.images.readers import read_idx


@pytest.fixture(autouse=True)
def _bare_machine(tmp_path, monkeypatch):
    # No cache, no system copies, no network: only what each test writes.
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_through_catalog(tmp_path, gz):
    written = write_mnist_like(tmp_path, n_train=60, n_test=20, gz=gz)
    splits = load_image_dataset("mnist", root=tmp_path, val_fraction=0.1, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54, 6, 20)
    assert splits.train.x.shape[1:] == (1, 28, 28) and splits.train.x.dtype == torch.float32
    assert splits.train.y.dtype == torch.int64
    # The official test split is kept in file order, pixels scaled by 1/255.
    expected = torch.from_numpy(written["t10k"].astype(np.float32) / 255.0)
    torch.testing.assert_close(splits.test.x[:, 0], expected)
    assert splits.test.y.tolist() == [i % 10 for i in range(20)]


def test_fashion_mnist_root_and_only_test(tmp_path):
    write_mnist_like(tmp_path / "fashion-mnist", n_train=40, n_test=10)
    # root may be the folder itself or its parent holding <dataset folder>/.
    splits = load_image_dataset("fashion-mnist", root=tmp_path)
    assert splits.classes[9] == "Ankle boot" and len(splits.test) == 10
    (tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()
    assert len(load_image_split("fashion-mnist", "test", root=tmp_path)) == 10
    with pytest.raises(DataNotFoundError, match="train-images-idx3-ubyte"):
        load_image_dataset("fashion-mnist", root=tmp_path)


def test_cifar10_pickles(tmp_path):
    first = write_cifar10(tmp_path, per_batch=10)
    splits = load_image_dataset("cifar10", root=tmp_path, val_fraction=0.2, seed=3)
    assert len(splits.train) + len(splits.val) == 50 and len(splits.test) == 10
    assert splits.classes[:2] == ["airplane", "automobile"]
    assert splits.train.x.shape[1:] == (3, 32, 32)
    # Rows are R, G, B planes: check the first image of data_batch_1 survives the split.
    all_x = torch.cat([splits.train.x, splits.val.x])
    target = torch.from_numpy(first.astype(np.float32) / 255.0)
    assert any(torch.equal(img, target) for img in all_x)


@pytest.mark.parametrize("column_labels", [True, False])
def test_medmnist_npz(tmp_path, column_labels):
    write_medmnist(tmp_path / "breastmnist.npz", sizes=(30, 6, 12), column_labels=column_labels)
    splits = load_image_dataset("medmnist:breastmnist", root=tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 6, 12)
    assert splits.train.y.shape == (30,) and splits.classes == ["malignant", "normal, benign"]


def test_medmnist_rgb_and_unknown_flag(tmp_path):
    write_medmnist(tmp_path / "bloodmnist.npz", rgb=True, num_classes=8, sizes=(16, 8, 8))
    splits = load_image_dataset("medmnist:bloodmnist", root=tmp_path)
    assert splits.train.x.shape == (16, 3, 28, 28) and splits.num_classes == 8
    with pytest.raises(DatasetError, match="breastmnist"):
        load_image_dataset("medmnist:breastmnis", root=tmp_path)


def test_image_folder_flat_and_with_splits(tmp_path):
    write_image_folder(tmp_path / "flat", {"cat": 10, "dog": 10})
    flat = load_image_dataset(f"imagefolder:{tmp_path / 'flat'}", val_fraction=0.25, seed=0)
    assert flat.classes == ["cat", "dog"]
    assert len(flat.train) + len(flat.val) + len(flat.test) == 20
    assert flat.train.x.shape[1:] == (3, 128, 128)
    assert flat.train.x.min() >= 0 and flat.train.x.max() <= 1

    write_image_folder(tmp_path / "tv" / "train", {"ants": 6, "bees": 5})
    write_image_folder(tmp_path / "tv" / "val", {"ants": 3, "bees": 4})
    tv = load_image_dataset(f"imagefolder:{tmp_path / 'tv'}", val_fraction=0.2)
    # train/val folders: val is the held-out set, validation is carved from train.
    assert len(tv.train) + len(tv.val) == 11 and len(tv.test) == 7


def test_opencv_digits_sheet(tmp_path):
    sheet = write_opencv_sheet(tmp_path / "digits.png")
    for name in (f"opencv-digits:{tmp_path / 'digits.png'}", f"opencv-digits:{tmp_path}"):
        splits = load_image_dataset(name, val_fraction=0.1)
        assert len(splits.train) + len(splits.val) + len(splits.test) == 5000
    x = torch.cat([splits.train.x, splits.val.x, splits.test.x])
    y = torch.cat([splits.train.y, splits.val.y, splits.test.y])
    assert torch.bincount(y).tolist() == [500] * 10
    # Each cell was painted with digit * 20 + column % 7: its label must match its pixels.
    digit_from_pixels = torch.round(x[:, 0, 0, 0] * 255).long() // 20
    assert torch.equal(digit_from_pixels, y)
    assert sheet.shape == (1000, 2000)


# ---------------------------------------------------------------- bad input


def test_bad_idx_magic_names_file(tmp_path):
    write_mnist_like(tmp_path)
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    import gzip

    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*not an IDX file"):
        load_image_dataset("mnist", root=tmp_path)


def test_truncated_idx_names_file(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((10, 28, 28), np.uint8), gz=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="x-idx3-ubyte: IDX size mismatch"):
        read_idx(path)
    gz = write_idx(tmp_path / "y-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:-20])  # cut the gzip stream
    with pytest.raises(DatasetError, match="y-idx3-ubyte.gz"):
        read_idx(gz)


def test_labels_as_images_refused(tmp_path):
    write_mnist_like(tmp_path)
    # A labels file where images are expected: wrong number of dimensions.
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        (tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()
    )
    with pytest.raises(DatasetError, match="1 dimensions, expected 3"):
        load_image_dataset("mnist", root=tmp_path)


def test_broken_npz_names_file(tmp_path):
    (tmp_path / "breastmnist.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DatasetError, match="breastmnist.npz"):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)
    np.savez(tmp_path / "breastmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match="missing keys"):
        load_image_dataset("medmnist:breastmnist", root=tmp_path)


def test_labels_out_of_range(tmp_path):
    write_mnist_like(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(60, 12, np.uint8))
    with pytest.raises(DatasetError, match=r"labels out of range: found 12..12, expected 0..9"):
        load_image_dataset("mnist", root=tmp_path)


def test_empty_dataset(tmp_path):
    write_mnist_like(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((0,), np.uint8))
    with pytest.raises(DatasetError, match="empty"):
        load_image_dataset("mnist", root=tmp_path)
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        load_image_dataset(f"imagefolder:{tmp_path / 'empty'}")
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_image_dataset(f"imagefolder:{tmp_path / 'empty' / 'cat'}")


def test_corrupt_image_and_cifar_pickle(tmp_path):
    write_image_folder(tmp_path / "f", {"a": 2, "b": 2})
    (tmp_path / "f" / "a" / "broken.png").write_bytes(b"\x89PNG not an image")
    with pytest.raises(DatasetError, match="broken.png"):
        load_image_dataset(f"imagefolder:{tmp_path / 'f'}")
    write_cifar10(tmp_path / "c", per_batch=4)
    # A pickle that would run code is refused, not executed.
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "c" / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil()}, f)
    with pytest.raises(DatasetError, match="test_batch.*not allowed"):
        load_image_dataset("cifar10", root=tmp_path / "c")
