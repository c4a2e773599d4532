"""The real copies: ../shared/data (project test data) and the Debian Fashion-MNIST package.
Each test skips when its files are absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnatlas.data import DataNotFoundError, load_image_dataset, load_image_split

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} absent")


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")


@pytest.mark.shared
@needs(SHARED / "hymenoptera_data")
def test_hymenoptera_counts():
    splits = load_image_dataset("hymenoptera", root=SHARED / "hymenoptera_data", val_fraction=0.1)
    # train/ is 124 ants + 121 bees; val/ (70 + 83) is kept whole as the held-out set.
    assert len(splits.train) + len(splits.val) == 245
    assert len(splits.test) == 153
    assert torch.bincount(splits.test.y).tolist() == [70, 83]
    assert splits.classes == ["ants", "bees"] and splits.train.x.shape[1:] == (3, 128, 128)
    same = load_image_dataset(f"imagefolder:{SHARED / 'hymenoptera_data'}", val_fraction=0.1)
    assert torch.equal(same.train.y, splits.train.y)


@pytest.mark.shared
@needs(SHARED / "medmnist" / "breastmnist.npz")
def test_breastmnist_counts():
    splits = load_image_dataset("medmnist:breastmnist", root=SHARED / "medmnist")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (546, 78, 156)
    assert splits.train.x.shape[1:] == (1, 28, 28) and splits.num_classes == 2
    assert set(splits.train.y.tolist()) == {0, 1}


@pytest.mark.shared
@needs(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz")
def test_mnist_test_split_and_missing_train_images():
    test = load_image_split("mnist", "test", root=SHARED / "mnist")
    assert test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.y).tolist()[:2] == [980, 1135]  # the published class counts
    with pytest.raises(DataNotFoundError, match="is missing train-images-idx3-ubyte.gz"):
        load_image_dataset("mnist", root=SHARED / "mnist")


@pytest.mark.shared
@needs(SHARED / "opencv-digits" / "digits.png")
def test_opencv_digits_5000():
    splits = load_image_dataset(f"opencv-digits:{SHARED / 'opencv-digits'}", val_fraction=0.1)
    y = torch.cat([splits.train.y, splits.val.y, splits.test.y])
    assert len(y) == 5000 and torch.bincount(y).tolist() == [500] * 10
    # Ink per class differs (a "1" has far less than an "8"): labels follow the rows.
    x = torch.cat([splits.train.x, splits.val.x, splits.test.x])
    ink = torch.stack([x[y == d].mean() for d in range(10)])
    assert ink[1] < ink[8] and ink[1] == ink.min()


@needs(DEBIAN_FASHION)
def test_fashion_mnist_debian():
    splits = load_image_dataset("fashion-mnist", val_fraction=0.1, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert torch.bincount(splits.val.y).tolist() == [600] * 10  # stratified
    assert splits.info["source"] == str(DEBIAN_FASHION)
    assert 0.2 < splits.mean[0] < 0.4 and 0.3 < splits.std[0] < 0.4


def test_digits_from_scikit_learn():
    splits = load_image_dataset("digits", val_fraction=0.1, seed=0)
    total = len(splits.train) + len(splits.val) + len(splits.test)
    assert total == 1797 and len(splits.test) == round(0.15 * 1797)
    assert splits.train.x.shape[1:] == (1, 8, 8) and float(splits.train.x.max()) == 1.0
