"""In-memory image datasets: containers, deterministic splits and ``load_image_dataset``.

A dataset reader (see :mod:`nnatlas.data.images.datasets`) returns :class:`RawImages`: uint8
arrays for the official splits it has. :func:`build_splits` turns them into :class:`ImageSplits`:

* the official test split is kept; a dataset without one gets a stratified test split
  (``test_fraction`` of all examples);
* validation is carved from the training data (``val_fraction`` of it), stratified by class,
  unless the dataset ships an official validation split (MedMNIST, ``train/val/test``
  folders; a folder with only ``train/val`` uses ``val`` as its test split);
* the same ``seed`` always gives the same split;
* pixel values become float32 in [0, 1] (uint8 and float 0..255 divided by 255, floats
  already in [0, 1] kept; see :func:`_pixel_divisor`); ``mean``/``std`` are per channel, on train
  only (using the validation or test images would leak them into training);
* labels must be whole numbers: a float label 1.5 is refused, never truncated.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnatlas.data.catalog import DatasetError, DatasetSpec, get_spec
from nnatlas.data.images.readers import class_indices

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    """One split of a dataset held in memory.

    Shape:
        x: (N, C, H, W) float32 in [0, 1] for images ((N, D) for tabular data).
        y: (N,) int64 class indices.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[torch.Tensor]:  # lets ``x, y = split`` work
        return iter((self.x, self.y))

    def __repr__(self) -> str:
        return f"Split(x={tuple(self.x.shape)} {self.x.dtype}, y={tuple(self.y.shape)})"


@dataclass
class ImageSplits:
    """Train/validation/test splits of an image dataset.

    Attributes:
        name: catalog name.
        train, val, test: :class:`Split` (``val`` may be empty when ``val_fraction=0``).
        classes: class names, ``classes[y]``.
        mean, std: per-channel statistics of ``train.x`` (use them to normalize every split).
    """

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_chans(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train.x.shape[2]), int(self.train.x.shape[3])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel. Shape: (N, C, H, W) -> (N, C, H, W)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        c, h, w = self.train.x.shape[1:]
        return (
            f"ImageSplits({self.name!r}, train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}, classes={self.num_classes}, shape=({c}, {h}, {w}))"
        )


@dataclass
class RawImages:
    """What a reader returns: uint8 images (N, C, H, W) and int64 labels per official split."""

    classes: list[str]
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    source: str = ""  # the file/folder read, for error messages


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(keep, held_out)``, holding out ``round(fraction * N)`` examples
    spread over the classes in proportion to their sizes.

    Deterministic for a given ``seed``; both index arrays are sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = fraction * counts
    n_held = np.floor(quota).astype(np.int64)
    # Largest remainders get the leftover examples so the total is exactly round(fraction * N);
    # the random permutation first breaks ties between equal remainders fairly.
    leftover = int(round(fraction * len(y))) - int(n_held.sum())
    order = rng.permutation(len(classes))
    order = order[np.argsort(-(quota - n_held)[order], kind="stable")]
    n_held[order[:leftover]] += 1
    keep, held = [], []
    for c, k in zip(classes, n_held, strict=True):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.append(idx[:k])
        keep.append(idx[k:])
    if not keep:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def _pixel_divisor(x: np.ndarray, where: str = "", split: str = "") -> float:
    """What to divide ``x`` by to get pixels in [0, 1], after checking it holds pixels at all.

    * uint8 (and other integers) in 0..255: 255.
    * float with max <= 1: already in [0, 1] (scikit-learn's digits): 1.
    * float with 1 < max <= 255: 0..255 stored as floats: 255, like uint8.
    * booleans: 1.

    The choice is made per official split (a validation split carved from train follows
    train). Negative values, values over 255, NaN or inf, and arrays that are not numbers are
    refused: no scaling could make them pixels.

    Raises:
        DatasetError: naming ``where`` and ``split``.
    """
    what = f"{where}: {split} images" if split else f"{where}: images"
    kind = x.dtype.kind
    if kind not in "biuf":
        raise DatasetError(f"{what} have dtype {x.dtype}; expected uint8 or float pixels")
    if x.dtype == np.uint8 or kind == "b" or x.size == 0:
        return 1.0 if kind in "bf" else 255.0
    if kind == "f" and not np.isfinite(x).all():
        i = int(np.flatnonzero(~np.isfinite(x.reshape(-1)))[0])
        raise DatasetError(
            f"{what} hold {float(x.reshape(-1)[i])} at flat index {i}; pixel values must be "
            "finite numbers in [0, 1] or [0, 255]"
        )
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 255:
        raise DatasetError(
            f"{what} hold values {low:g}..{high:g}; expected [0, 1] or [0, 255] (uint8 or "
            "float). Rescale them to one of those ranges (16-bit data: divide by 257)"
        )
    return 1.0 if kind == "f" and high <= 1.0 else 255.0


def _to_float(x: np.ndarray, divisor: float) -> torch.Tensor:
    """(N, C, H, W) pixels -> float32 in [0, 1] (``divisor`` from :func:`_pixel_divisor`)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # any int or float dtype
    return t.div_(divisor) if divisor != 1.0 else t


def _check(x: np.ndarray, y: np.ndarray, classes: list[str], where: str, split: str) -> np.ndarray:
    """Validate one split; returns its labels as (N,) int64 (whole-number floats accepted)."""
    y = class_indices(y, f"{where}: {split} labels")
    if len(x) != len(y):
        raise DatasetError(f"{where}: {split} split has {len(x)} images but {len(y)} labels")
    if x.ndim != 4 or 0 in x.shape[1:]:
        raise DatasetError(f"{where}: {split} images should be (N, C, H, W), got {x.shape}")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise DatasetError(
            f"{where}: {split} labels out of range: found {int(y.min())}..{int(y.max())}, "
            f"expected 0..{len(classes) - 1} for {len(classes)} classes"
        )
    return y


def build_splits(
    name: str,
    raw: RawImages,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_fraction: float = 0.15,
) -> ImageSplits:
    """Turn a reader's :class:`RawImages` into :class:`ImageSplits` (see the module docstring)."""
    where = raw.source or name
    parts = dict(raw.splits)
    if "train" not in parts or len(parts["train"][1]) == 0:
        raise DatasetError(f"{where}: dataset {name!r} is empty (no training examples)")
    for split, (x, y) in parts.items():
        parts[split] = (x, _check(x, y, raw.classes, where, split))
    shape = parts["train"][0].shape[1:]
    for split, (x, _) in parts.items():
        if x.shape[1:] != shape and len(x):
            raise DatasetError(
                f"{where}: {split} images are {tuple(x.shape[1:])} (C, H, W) but train images "
                f"are {tuple(shape)}; every split must have the same channels and size"
            )
    # Scaling is decided on each official split as a whole; carved splits follow train.
    divisors = {s: _pixel_divisor(x, where, s) for s, (x, _) in parts.items()}
    x_all, y_all = parts["train"]
    if "test" not in parts:
        keep, held = stratified_split(y_all, test_fraction, seed)
        parts["test"], divisors["test"] = (x_all[held], y_all[held]), divisors["train"]
        x_all, y_all = x_all[keep], y_all[keep]
    if "val" not in parts:
        # seed + 1: the validation draw is independent of the test draw above.
        keep, held = stratified_split(y_all, val_fraction, seed + 1)
        parts["val"], divisors["val"] = (x_all[held], y_all[held]), divisors["train"]
        x_all, y_all = x_all[keep], y_all[keep]
    parts["train"] = (x_all, y_all)
    splits = {
        s: Split(_to_float(parts[s][0], divisors[s]), torch.from_numpy(parts[s][1])) for s in SPLITS
    }
    x = splits["train"].x
    mean = x.mean(dim=(0, 2, 3))  # (C,)
    std = x.std(dim=(0, 2, 3), unbiased=False).clamp_min(1e-8)
    return ImageSplits(
        name=name,
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        classes=list(raw.classes),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        info={"source": raw.source, "seed": seed, "val_fraction": val_fraction},
    )


Reader = Callable[[DatasetSpec, "Path | None", tuple[str, ...]], RawImages]


def make_image_loader(reader: Reader) -> Callable[..., Any]:
    """Wrap ``reader(spec, root, wanted_splits) -> RawImages`` as a catalog loader.

    The loader returns :class:`ImageSplits`, or, with ``only="test"`` (etc.), just that official
    :class:`Split` (so a copy holding only the test files is still useful). Extra keyword
    options (e.g. ``image_size`` for image folders) go to the reader when it declares them.
    """

    def loader(
        spec: DatasetSpec,
        root: Path | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        test_fraction: float = 0.15,
        only: str | None = None,
        **options: Any,
    ) -> ImageSplits | Split:
        accepted = inspect.signature(reader).parameters
        for key in options:
            if key not in accepted:
                raise TypeError(f"dataset {spec.name!r} does not take option {key!r}")
        if only is not None:
            if only not in SPLITS:
                raise ValueError(f"only must be one of {SPLITS}, got {only!r}")
            raw = reader(spec, root, (only,), **options)
            if only not in raw.splits:
                raise DatasetError(f"dataset {spec.name!r} has no official {only!r} split")
            x, y = raw.splits[only]
            where = raw.source or spec.name
            y = _check(x, y, raw.classes, where, only)
            return Split(_to_float(x, _pixel_divisor(x, where, only)), torch.from_numpy(y))
        raw = reader(spec, root, SPLITS, **options)
        return build_splits(spec.name, raw, val_fraction, seed, test_fraction)

    loader.reader = reader  # type: ignore[attr-defined]  # DatasetSpec.takes reads its options
    return loader


def load_image_dataset(
    name: str,
    root: str | Path | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    *,
    test_fraction: float = 0.15,
    **options: Any,
) -> ImageSplits:
    """Load a named image dataset into memory, split and ready for training.

    Args:
        name: catalog name: ``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``,
            ``medmnist:<flag>``, ``imagefolder:PATH``, ``opencv-digits[:PATH]``, ``hymenoptera``.
        root: a local copy to use instead of the catalog's sources.
        val_fraction: fraction of the training data held out for validation (ignored when the
            dataset has an official validation split).
        seed: split seed; the same seed gives the same split.
        test_fraction: for datasets without an official test split, the fraction of all
            examples held out for testing.
        **options: dataset-specific, e.g. ``image_size=224`` for image folders (default 128).

    Returns:
        :class:`ImageSplits` with x (N, C, H, W) float32 in [0, 1] and y (N,) int64.

    Shape:
        train.x: (N_train, C, H, W); train.y: (N_train,).
    """
    spec = get_spec(name)
    if spec.kind != "image":
        raise DatasetError(f"dataset {spec.name!r} is a {spec.kind} dataset, not an image dataset")
    return spec.load(
        root, val_fraction=val_fraction, seed=seed, test_fraction=test_fraction, **options
    )


def load_image_split(
    name: str, split: str = "test", root: str | Path | None = None, **options: Any
) -> Split:
    """Load one official split only (e.g. the MNIST test set when the train files are absent)."""
    spec = get_spec(name)
    if spec.kind != "image":
        raise DatasetError(f"dataset {spec.name!r} is a {spec.kind} dataset, not an image dataset")
    return spec.load(root, only=split, **options)


def fold_indices(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold (0..folds-1) of every example, stratified by class: each class is shuffled and
    dealt to the folds in turn, carrying on from where the previous class stopped, so fold
    sizes differ by at most one and every class is spread as evenly as it can be.

    Deterministic for a given ``seed``. Shape: y (N,) -> (N,) int64.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    rng = np.random.default_rng(seed)
    assigned = np.empty(len(y), np.int64)
    start = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        assigned[idx] = (start + np.arange(len(idx))) % folds
        start = (start + len(idx)) % folds
    return assigned


def cross_validation_fold(splits: ImageSplits, folds: int, fold: int) -> ImageSplits:
    """The splits of fold ``fold`` of ``folds``-fold cross-validation: the training and
    validation examples pooled, fold ``fold`` of them (:func:`fold_indices`, seeded by the
    split seed) held out for validation, the rest trained on; the test split is untouched.

    A small validation split is a noisy guide (BreastMNIST's 78 images): scoring a recipe on
    every fold in turn uses each pooled example once for validation.

    Raises:
        DatasetError: when there are fewer pooled examples than folds, or ``fold`` is not in
            ``0..folds-1``.
    """
    if not 0 <= fold < folds:
        raise DatasetError(f"fold {fold} of {folds}: choose a fold from 0 to {folds - 1}")
    x = torch.cat([splits.train.x, splits.val.x])
    y = torch.cat([splits.train.y, splits.val.y])
    if len(y) < folds:
        raise DatasetError(
            f"{splits.name}: {len(y)} training and validation examples cannot make {folds} "
            "folds; choose fewer folds"
        )
    # seed + 2: independent of the test (seed) and validation (seed + 1) draws of build_splits.
    held = torch.from_numpy(fold_indices(y.numpy(), folds, int(splits.info.get("seed", 0)) + 2))
    held = held == fold
    train, val = Split(x[~held], y[~held]), Split(x[held], y[held])
    mean = train.x.mean(dim=(0, 2, 3))
    std = train.x.std(dim=(0, 2, 3), unbiased=False).clamp_min(1e-8)
    return ImageSplits(
        name=splits.name,
        train=train,
        val=val,
        test=splits.test,
        classes=splits.classes,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        info={**splits.info, "folds": folds, "fold": fold},
    )
