"""Synthetic 2-D classification sets (``moons``, ``circles``, ``spirals``, ``xor``).

Small enough to plot a decision boundary and to train in a second; the first lessons use them
to show what a hidden layer buys over a linear model. Generated, never downloaded: the same
``seed`` always gives the same points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnatlas.data.catalog import DatasetError, DatasetSpec, register_dataset
from nnatlas.data.images.splits import Split, stratified_split


@dataclass
class TabularSplits:
    """Train/validation/test splits of a tabular dataset.

    Shape:
        train.x: (N, D) float32; train.y: (N,) int64.
    """

    name: str
    train: Split
    val: Split
    test: Split
    classes: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_features(self) -> int:
        return int(self.train.x.shape[1])


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles. Returns x (n, 2), y (n,)."""
    n0 = n // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    return x, np.repeat([0, 1], [n0, n - n0])


def make_circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A circle inside a circle (radius 0.5 vs 1). Returns x (n, 2), y (n,)."""
    y = np.repeat([0, 1], [n - n // 2, n // 2])
    t = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, 0.5)
    x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    return x + rng.normal(0, noise, (n, 2)), y


def make_spirals(
    n: int, noise: float, rng: np.random.Generator, arms: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """``arms`` interleaved spirals (the CS231n toy set). Returns x (n, 2), y (n,)."""
    y = np.arange(n) % arms
    r = rng.uniform(0.05, 1.0, n)
    theta = y * (2 * np.pi / arms) + r * 4.0 + rng.normal(0, noise * 4, n)
    return np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1), y


def make_xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2, class 1 where the signs of x0, x1 differ. Returns x (n, 2), y (n,)."""
    x = rng.uniform(-1, 1, (n, 2))
    y = (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64)
    return x + rng.normal(0, noise, (n, 2)), y


_MAKERS = {
    "moons": (make_moons, 2, "two interleaving half moons"),
    "circles": (make_circles, 2, "a circle inside a circle"),
    "spirals": (make_spirals, 3, "three interleaved spirals"),
    "xor": (make_xor, 2, "the XOR quadrants"),
}


def _loader(
    spec: DatasetSpec,
    root: Path | None = None,
    n: int = 1000,
    noise: float = 0.1,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    **_: object,
) -> TabularSplits:
    maker, num_classes, _desc = _MAKERS[spec.name]
    if n < 10:
        raise DatasetError(f"dataset {spec.name!r}: n must be at least 10, got {n}")
    x, y = maker(n, noise, np.random.default_rng(seed))
    y = np.asarray(y, dtype=np.int64)
    rest, test = stratified_split(y, test_fraction, seed)
    train, val = stratified_split(y[rest], val_fraction, seed + 1)
    train, val = rest[train], rest[val]

    def split(idx: np.ndarray) -> Split:
        return Split(torch.from_numpy(x[idx].astype(np.float32)), torch.from_numpy(y[idx]))

    return TabularSplits(
        spec.name, split(train), split(val), split(test), [str(c) for c in range(num_classes)]
    )


for _name, (_maker, _k, _desc) in _MAKERS.items():
    register_dataset(
        DatasetSpec(
            name=_name,
            kind="tabular",
            description=f"synthetic 2-D, {_desc} ({_k} classes)",
            sources=[],
            loader=_loader,
            license="generated",
            sizes={"default": 1000},
        )
    )


def load_tabular_dataset(name: str, **kwargs: object) -> TabularSplits:
    """Generate a synthetic 2-D set: ``load_tabular_dataset("moons", n=500, noise=0.2, seed=1)``."""
    from nnatlas.data.catalog import get_spec

    spec = get_spec(name)
    if spec.kind != "tabular":
        raise DatasetError(f"dataset {spec.name!r} is a {spec.kind} dataset, not tabular")
    return spec.load(None, **kwargs)
