"""``nnatlas.scratch.manual_seed`` makes weights built without ``rng=`` reproducible."""

import numpy as np

from nnatlas.scratch import LSTM, Conv2d, Linear, manual_seed
from nnatlas.scratch.models import LeNet5


def _weights() -> list[np.ndarray]:
    layers = [Linear(4, 3), Conv2d(2, 3, 3), LSTM(3, 5), LeNet5()]
    return [p.data for layer in layers for p in layer.parameters()]


def test_manual_seed_reproduces_default_initialization() -> None:
    manual_seed(123)
    first = _weights()
    manual_seed(123)
    second = _weights()
    manual_seed(124)
    other = _weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_explicit_rng_takes_precedence_over_the_default_generator() -> None:
    manual_seed(0)
    a = Linear(4, 3, rng=np.random.default_rng(7)).weight.data
    manual_seed(1)
    b = Linear(4, 3, rng=np.random.default_rng(7)).weight.data
    assert np.array_equal(a, b)
