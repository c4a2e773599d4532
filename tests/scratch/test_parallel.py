"""The engine's batch-parallel layers (batch norm, ReLU, the CIFAR ResNet built on them): two
BLAS threads give bit-identical results to one, and the parts a batch is cut into depend on its
shape only. The threshold below which an array is worked on whole is lowered here so that small,
fast test arrays take the parallel path."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnatlas.scratch import conv as conv_module
from nnatlas.scratch import parallel
from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.models.resnet_cifar import CifarResNet


@pytest.fixture
def small_arrays_in_parts(monkeypatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 1)


def _on_threads(threads: int, step):
    with threadpool_limits(limits=threads, user_api="blas"):
        if parallel.blas_threads() != threads:
            pytest.skip(f"the BLAS thread count cannot be set to {threads} here")
        return step()


def test_batch_parts_follow_the_shape_not_the_threads(small_arrays_in_parts) -> None:
    x = np.zeros((20, 3))
    one = _on_threads(1, lambda: parallel.batch_parts(x))
    two = _on_threads(2, lambda: parallel.batch_parts(x))
    assert one == two
    assert len(one) == parallel.BATCH_PARTS - 1  # ceil(20 / 8) = 3 per part: 7 parts
    assert [i for part in one for i in range(20)[part]] == list(range(20))
    assert parallel.batch_parts(np.zeros((3, 5))) == [slice(0, 1), slice(1, 2), slice(2, 3)]


def test_small_arrays_are_one_part() -> None:
    assert parallel.batch_parts(np.zeros((64, 16, 8, 8))) == [slice(0, 64)]  # 65,536 < 2^18
    assert len(parallel.batch_parts(np.zeros((64, 16, 32, 32)))) == parallel.BATCH_PARTS


def test_map_batch_handles_zero_d_and_covers_every_row(small_arrays_in_parts) -> None:
    x = np.arange(10.0)
    out = np.empty_like(x)

    def double(p: slice) -> None:
        out[p] = 2 * x[p]

    _on_threads(2, lambda: parallel.map_batch(double, x))
    np.testing.assert_array_equal(out, 2 * x)
    scalar = np.asarray(3.0)
    seen = []
    parallel.map_batch(lambda p: seen.append(scalar[p]), scalar)
    assert seen == [3.0]


def _batch_norm_step(x: np.ndarray, grad: np.ndarray, training: bool):
    bn = BatchNorm2d(x.shape[1], dtype=x.dtype)
    bn.weight.data[:] = np.linspace(0.5, 1.5, x.shape[1], dtype=x.dtype)
    bn.bias.data[:] = np.linspace(-1, 1, x.shape[1], dtype=x.dtype)
    if not training:
        bn(x)  # running statistics from one batch, then fixed
        bn.eval()
    out = bn(x)
    grad_x = bn.backward(grad)
    return out, grad_x, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "running statistics"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_on_two_threads_equals_one_thread(
    small_arrays_in_parts, training, dtype
) -> None:
    rng = np.random.default_rng(0)
    x = (3 + 2 * rng.standard_normal((13, 4, 5, 6))).astype(dtype)
    grad = rng.standard_normal(x.shape).astype(dtype)
    one = _on_threads(1, lambda: _batch_norm_step(x, grad, training))
    two = _on_threads(2, lambda: _batch_norm_step(x, grad, training))
    for a, b in zip(one, two, strict=True):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_batch_norm_in_parts_matches_the_whole_batch(monkeypatch) -> None:
    """Summing eight parts' channel sums only changes the rounding."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3, 4, 4))
    grad = rng.standard_normal(x.shape)
    whole = _batch_norm_step(x, grad, training=True)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 1)
    parts = _batch_norm_step(x, grad, training=True)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_relu_on_two_threads_equals_one_thread(small_arrays_in_parts) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 3, 4)).astype(np.float32)
    x[0, 0, 0] = np.nan  # propagated, as torch does
    grad = rng.standard_normal(x.shape).astype(np.float32)

    def step():
        relu = ReLU()
        out = relu(x)
        return out, relu.backward(grad)

    one, two = _on_threads(1, step), _on_threads(2, step)
    for a, b in zip(one, two, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    out, grad_x = one
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(grad_x, grad * (x > 0))


def test_relu_keeps_zero_d_and_broadcast_gradients() -> None:
    relu = ReLU()
    assert relu(np.asarray(-2.0)) == 0.0
    assert relu.backward(np.asarray(5.0)) == 0.0
    relu(np.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([3.0, 3.0])), [[3.0, 0.0]])


def test_cifar_resnet_step_on_two_threads_equals_one_thread(
    small_arrays_in_parts, monkeypatch
) -> None:
    """A whole ResNet-20 step (conv chunks, batch norms, ReLUs, shortcuts) in parallel. A
    convolution's chunks are at least one per thread (see test_conv_layers.py), so they are
    fixed at one image each here for the weight gradients' sums to match."""
    monkeypatch.setattr(conv_module, "COLS_CHUNK_BYTES", 1)
    x = np.random.default_rng(3).standard_normal((4, 3, 16, 16)).astype(np.float32)

    def step():
        net = CifarResNet(3, rng=np.random.default_rng(4))
        out = net(x)
        net.backward(np.ones_like(out) / out.size)
        return [out] + [p.grad for p in net.parameters()]

    one, two = _on_threads(1, step), _on_threads(2, step)
    assert len(one) == len(two) > 20
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
