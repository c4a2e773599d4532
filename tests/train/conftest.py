"""Tiny models and data for the trainer tests: seconds on one core."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def blobs(n: int = 240, d: int = 8, classes: int = 3, seed: int = 0):
    """Gaussian blobs: separable enough to learn in a few epochs, noisy enough not to be trivial."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 2.0
    y = torch.arange(n) % classes
    x = centers[y] + torch.randn(n, d, generator=g)
    return x.float(), y.long()


def torch_mlp(d: int = 8, classes: int = 3, hidden: int = 16, dropout: float = 0.0, seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(d, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, classes),
    )


def scratch_mlp(d: int = 8, classes: int = 3, hidden: int = 16, seed: int = 0):
    from nnatlas.scratch.models.mlp import MLP

    return MLP(d, classes, hidden_sizes=(hidden,), rng=np.random.default_rng(seed))


@pytest.fixture
def data():
    x, y = blobs()
    return (x[:180], y[:180]), (x[180:], y[180:])
