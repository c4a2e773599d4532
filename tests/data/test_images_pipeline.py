"""Splits, normalization statistics, batched augmentation and backbone adapters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from image_writers import write_mnist_like
from nnatlas.data import DatasetError, load_image_dataset
from nnatlas.data.images.augment import (
    PRESETS,
    BatchAugment,
    BatchResize,
    build_transforms,
    resize_for_backbone,
    to_grayscale,
    to_rgb,
)
from nnatlas.data.images.splits import stratified_split
from nnatlas.data.tabular import load_tabular_dataset


@pytest.fixture
def mnist_like(tmp_path, monkeypatch):
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")
    write_mnist_like(tmp_path, n_train=200, n_test=50)
    return tmp_path


def test_stratified_split_is_exact_disjoint_and_seeded():
    y = np.repeat(np.arange(3), [50, 30, 20])
    keep, held = stratified_split(y, 0.2, seed=4)
    assert len(held) == 20 and len(keep) == 80
    assert np.intersect1d(keep, held).size == 0
    assert np.bincount(y[held]).tolist() == [10, 6, 4]
    again = stratified_split(y, 0.2, seed=4)
    other = stratified_split(y, 0.2, seed=5)
    assert np.array_equal(held, again[1]) and not np.array_equal(held, other[1])
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(y, 1.0, 0)


def test_splits_deterministic_and_test_kept(mnist_like):
    a = load_image_dataset("mnist", root=mnist_like, val_fraction=0.2, seed=1)
    b = load_image_dataset("mnist", root=mnist_like, val_fraction=0.2, seed=1)
    c = load_image_dataset("mnist", root=mnist_like, val_fraction=0.2, seed=2)
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)
    assert torch.equal(a.test.x, c.test.x)  # the official test split never moves
    assert (len(a.train), len(a.val)) == (160, 40)


def test_mean_std_from_train_split_only(mnist_like):
    s = load_image_dataset("mnist", root=mnist_like, val_fraction=0.2, seed=0)
    x = s.train.x
    assert s.mean[0] == pytest.approx(float(x.mean()), abs=1e-6)
    assert s.std[0] == pytest.approx(float(x.std(unbiased=False)), abs=1e-6)
    everything = torch.cat([s.train.x, s.val.x, s.test.x])
    assert s.mean[0] != pytest.approx(float(everything.mean()), abs=1e-7)
    normalized = s.normalize(x)
    assert float(normalized.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(normalized.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)


def test_digits_split_without_official_test():
    s = load_image_dataset("digits", val_fraction=0.1, seed=0)
    t = load_image_dataset("digits", val_fraction=0.3, seed=0)
    assert torch.equal(s.test.y, t.test.y)  # changing val_fraction leaves test alone
    assert len(s.val) == round(0.1 * (1797 - len(s.test)))


# ---------------------------------------------------------------- BatchAugment


def _batch(n=16, c=3, h=12, w=12, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_none_preset_is_identity_and_generator_reproducible():
    x = _batch()
    assert torch.equal(BatchAugment("none")(x, torch.Generator().manual_seed(0)), x)
    aug = BatchAugment("strong")
    y1 = aug(x, torch.Generator().manual_seed(7))
    y2 = aug(x, torch.Generator().manual_seed(7))
    y3 = aug(x, torch.Generator().manual_seed(8))
    assert torch.equal(y1, y2) and not torch.equal(y1, y3)
    assert y1.shape == x.shape and y1.min() >= 0 and y1.max() <= 1


def test_flip_gives_original_or_mirror_and_both_happen():
    x = _batch(n=64)
    y = BatchAugment("none", flip=True)(x, torch.Generator().manual_seed(0))
    same = (y == x).flatten(1).all(1)
    mirrored = (y == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 10 < int(mirrored.sum()) < 54


def test_random_crop_is_a_shift_of_the_padded_image():
    x = _batch(n=32, c=2, h=8, w=8)
    pad = 2  # crop_padding 0.25 of H=8
    y = BatchAugment("none", crop_padding=0.25)(x, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    for i in range(len(x)):
        windows = [
            (t, left)
            for t in range(2 * pad + 1)
            for left in range(2 * pad + 1)
            if torch.equal(padded[i, :, t : t + 8, left : left + 8], y[i])
        ]
        assert windows, f"image {i} is not a crop of its padded self"


def test_resized_crop_zooms_into_a_part_of_between_8_and_100_percent_of_the_area():
    # Pixels hold their own coordinates (channel 0: column, channel 1: row, in [0, 1]), so an
    # output pixel says where in the input it was sampled from.
    H = W = 32
    cols = (torch.arange(W) + 0.5) / W
    rows = (torch.arange(H) + 0.5) / H
    x = torch.stack([cols.expand(H, W), rows[:, None].expand(H, W)])[None].repeat(200, 1, 1, 1)
    y = BatchAugment("none", resized_crop=(0.08, 1.0))(x, torch.Generator().manual_seed(0))
    width = y[:, 0].amax((1, 2)) - y[:, 0].amin((1, 2))  # (N,) fraction of the width sampled
    height = y[:, 1].amax((1, 2)) - y[:, 1].amin((1, 2))
    area = width * height * (W / (W - 1)) * (H / (H - 1))  # pixel centres span (n-1)/n
    assert float(area.min()) > 0.08 * 0.85 and float(area.max()) <= 1.0 + 1e-4
    assert float(area.min()) < 0.3 and float(area.max()) > 0.7  # the whole range is drawn
    assert bool((y[:, 0].diff(dim=-1) >= -1e-6).all())  # not mirrored: columns still increase
    ratio = width / height
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.4


def test_erasing_blanks_one_rectangle():
    x = torch.ones(40, 1, 16, 16)
    y = BatchAugment("none", erase_p=1.0)(x, torch.Generator().manual_seed(0))
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert len(rows) > 0
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == h * w  # one filled rectangle


def test_rotation_and_jitter_change_pixels_but_keep_range():
    x = _batch()
    y = BatchAugment("none", rotation=30.0)(x, torch.Generator().manual_seed(0))
    assert not torch.equal(x, y) and y.shape == x.shape
    z = BatchAugment("none", brightness=0.5, contrast=0.5)(x, torch.Generator().manual_seed(0))
    assert z.min() >= 0 and z.max() <= 1 and not torch.equal(x, z)
    with pytest.raises(ValueError, match="preset"):
        BatchAugment("wild")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        BatchAugment("light")(x[0])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_build_transforms_runs_per_image(preset):
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    transform = build_transforms(preset, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), size=16)
    torch.manual_seed(0)
    out = transform(img)
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32


# ---------------------------------------------------------------- channels and sizes


def test_rgb_grayscale_and_resize(mnist_like):
    x = _batch(c=1)
    rgb = to_rgb(x)
    assert rgb.shape == (16, 3, 12, 12) and torch.equal(rgb[:, 2], x[:, 0])
    torch.testing.assert_close(to_grayscale(rgb), x)
    assert BatchResize(32)(x).shape == (16, 3, 32, 32)
    s = load_image_dataset("mnist", root=mnist_like, val_fraction=0.2)
    big = resize_for_backbone(s, size=64)
    assert big.train.x.shape == (len(s.train), 3, 64, 64) and big.test.x.shape[0] == len(s.test)
    assert len(big.mean) == 3 and big.mean[0] == pytest.approx(big.mean[2])
    assert big.mean[0] == pytest.approx(s.mean[0], abs=0.02)  # resizing keeps the average
    with pytest.raises(DatasetError, match="BatchResize"):
        resize_for_backbone(s, size=224, max_bytes=1e6)
    rgb_splits = to_rgb(s)
    assert rgb_splits.in_chans == 3 and rgb_splits.mean == s.mean * 3
    assert torch.equal(rgb_splits.val.x[:, 1], s.val.x[:, 0])


def test_image_folder_size_option(tmp_path):
    from image_writers import write_image_folder

    write_image_folder(tmp_path / "f", {"a": 4, "b": 4})
    s = load_image_dataset(f"imagefolder:{tmp_path / 'f'}", image_size=32)
    assert s.train.x.shape[1:] == (3, 32, 32)
    with pytest.raises(TypeError, match="does not take option 'image_size'"):
        load_image_dataset("digits", image_size=32)


# ---------------------------------------------------------------- synthetic 2-D sets


@pytest.mark.parametrize("name,k", [("moons", 2), ("circles", 2), ("spirals", 3), ("xor", 2)])
def test_synthetic_sets(name, k):
    d = load_tabular_dataset(name, n=300, noise=0.1, seed=0)
    assert d.num_classes == k and d.in_features == 2
    assert len(d.train) + len(d.val) + len(d.test) == 300
    assert d.train.x.dtype == torch.float32 and d.train.y.dtype == torch.int64
    again = load_tabular_dataset(name, n=300, noise=0.1, seed=0)
    assert torch.equal(d.train.x, again.train.x)
    # Classes must differ in where they sit: the class-mean radius or quadrant is informative.
    x, y = d.train.x, d.train.y
    if name == "xor":
        assert bool(((x[:, 0] * x[:, 1] < 0).long() == y).float().mean() > 0.9)
    elif name == "circles":
        r = x.norm(dim=1)
        assert r[y == 0].mean() > r[y == 1].mean() + 0.3
    with pytest.raises(DatasetError, match="not tabular"):
        load_tabular_dataset("digits")
