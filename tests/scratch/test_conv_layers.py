"""Conv2d, pooling, Flatten and BatchNorm2d of the scratch engine against PyTorch (float64) and
central differences, plus the errors bad inputs get."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from nnatlas.bridge.checks_conv import CONV_CASES, POOL_CASES
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import torch_to_scratch
from nnatlas.scratch import conv as conv_module
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.flatten import Flatten
from nnatlas.scratch.gradcheck import gradcheck
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

PARITY_TOL = 1e-10
GRAD_TOL = 1e-6


def _conv_pair(kwargs: dict, seed: int = 0) -> tuple[Conv2d, torch.nn.Conv2d]:
    torch.manual_seed(seed)
    return Conv2d(**kwargs, dtype=np.float64, rng=np.random.default_rng(seed)), torch.nn.Conv2d(
        **kwargs
    ).double()


# The cases are the Conv2d check's own table (nnatlas.bridge.checks_conv.CONV_CASES).
@pytest.mark.parametrize(("kwargs", "shape"), CONV_CASES.values(), ids=CONV_CASES)
def test_conv2d_matches_torch_float64(kwargs: dict, shape: tuple[int, ...]) -> None:
    scratch, twin = _conv_pair(kwargs)
    x = np.random.default_rng(1).standard_normal(shape)
    report = check_parity(
        scratch, twin, x, optimizer=("sgd", {"lr": 0.1, "momentum": 0.9}), steps=2
    )
    assert report.max_abs <= PARITY_TOL, report
    assert report.max_abs_input_grad is not None


@pytest.mark.parametrize(("kwargs", "shape"), CONV_CASES.values(), ids=CONV_CASES)
def test_conv2d_gradcheck(kwargs: dict, shape: tuple[int, ...]) -> None:
    scratch, _ = _conv_pair(kwargs)
    report = gradcheck(scratch, np.random.default_rng(2).standard_normal(shape))
    assert report.passed, report
    assert set(report.tensors) >= {"input", "weight"}


def test_conv_cases_reach_every_input_gradient_branch(monkeypatch) -> None:
    """The check's table takes both input-gradient routes and the crop of the full convolution
    (padding larger than the kernel extent d (k - 1)), on one axis and on both."""
    seen: set[str] = set()
    full_conv, col2im = Conv2d._grads_full_conv, Conv2d._input_grad_col2im

    def spy_full_conv(self, grad_cf, xp, size):
        extent = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size, strict=True)]
        crops = [p > e for p, e in zip(self.padding, extent, strict=True)]
        seen.add(
            "full conv" + (", crop both" if all(crops) else ", crop one" if any(crops) else "")
        )
        return full_conv(self, grad_cf, xp, size)

    def spy_col2im(self, *args):
        seen.add("col2im at stride 1" if self.stride == (1, 1) else "col2im")
        return col2im(self, *args)

    monkeypatch.setattr(Conv2d, "_grads_full_conv", spy_full_conv)
    monkeypatch.setattr(Conv2d, "_input_grad_col2im", spy_col2im)
    for kwargs, shape in CONV_CASES.values():
        conv, _ = _conv_pair(kwargs)
        out = conv(np.zeros(shape))
        conv.backward(np.ones_like(out))
    assert seen == {
        "full conv",
        "full conv, crop one",
        "full conv, crop both",
        "col2im",
        "col2im at stride 1",
    }


@pytest.mark.parametrize(
    ("padding", "dilation"), [(1, 2), (3, 1)], ids=["dilated", "padding > extent (crop)"]
)
def test_both_gradient_routes_agree(padding: int, dilation: int) -> None:
    """At stride 1 the full-convolution route takes dx and dW from the gradient's columns;
    col2im takes dx, and dW from the input's columns: two formulas for each gradient."""
    conv = Conv2d(
        4, 6, 3, padding=padding, dilation=dilation, groups=2, dtype=np.float64,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 8, 7))
    out = conv(x)
    grad_out = rng.standard_normal(out.shape)
    grad_cf = np.ascontiguousarray(grad_out.transpose(1, 0, 2, 3))
    xp, _, per_image = conv._cache
    full_dx, full_dw = conv._grads_full_conv(grad_out, xp, x.shape[2:])
    cols_dx = conv._input_grad_col2im(grad_cf, x.shape[2:])
    cols_dw = conv._weight_grad_from_input_columns(grad_cf, xp, per_image)
    np.testing.assert_allclose(full_dx, cols_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(full_dw, cols_dw, rtol=0, atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2], ids=["stride 1", "stride 2"])
def test_conv2d_chunks_of_the_batch_give_the_whole_batch_result(monkeypatch, stride) -> None:
    """Chunks of one image (a budget below one image's columns) against the whole batch at once:
    forward, input and weight gradients, on both backward routes."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9, 8))
    results = []
    for budget in (1, 1 << 30):
        monkeypatch.setattr(conv_module, "COLS_CHUNK_BYTES", budget)
        with threadpool_limits(limits=1, user_api="blas"):
            results.append(_conv_step(x, stride))
    for chunked, whole in zip(*results, strict=True):
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


def _conv_step(x: np.ndarray, stride: int) -> tuple[np.ndarray, ...]:
    """Forward and backward of a float64 3->4 channel 3x3 convolution from fixed weights:
    (output, input gradient, weight gradient, bias gradient)."""
    conv = Conv2d(3, 4, 3, stride=stride, padding=1, dtype=np.float64, rng=np.random.default_rng(1))
    out = conv(x)
    grad_x = conv.backward(np.random.default_rng(2).standard_normal(out.shape))
    return out, grad_x, conv.weight.grad, conv.bias.grad


def _two_blas_threads() -> bool:
    return conv_module.blas_threads() == 2


@pytest.mark.parametrize("stride", [1, 2], ids=["stride 1", "stride 2"])
def test_conv2d_on_two_threads_equals_one_thread(monkeypatch, stride) -> None:
    """Two BLAS threads share the chunks out between two Python threads: the same output and
    gradients as one thread, with the same chunks (sums in the same order: bit-identical)."""
    monkeypatch.setattr(conv_module, "COLS_CHUNK_BYTES", 1)  # a chunk per image
    x = np.random.default_rng(0).standard_normal((7, 3, 9, 8))
    with threadpool_limits(limits=1, user_api="blas"):
        one = _conv_step(x, stride)
    with threadpool_limits(limits=2, user_api="blas"):
        if not _two_blas_threads():
            pytest.skip("the BLAS thread count cannot be set to 2 here")
        two = _conv_step(x, stride)
        assert conv_module.blas_threads() == 2  # restored after each parallel region
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_for_each_chunk_uses_every_blas_thread_and_keeps_order() -> None:
    """Each chunk runs once, on T threads at once, each with a one-thread BLAS; the results
    come back in the chunks' order."""
    parts = [slice(i, i + 1) for i in range(6)]
    seen: dict[int, tuple[str, int]] = {}

    def work(part: slice) -> int:
        seen[part.start] = (threading.current_thread().name, conv_module.blas_threads())
        return part.start * 10

    with threadpool_limits(limits=2, user_api="blas"):
        if not _two_blas_threads():
            pytest.skip("the BLAS thread count cannot be set to 2 here")
        assert conv_module.for_each_chunk(work, parts) == [0, 10, 20, 30, 40, 50]
    assert sorted(seen) == list(range(6))
    assert len({name for name, _ in seen.values()}) == 2
    assert {blas for _, blas in seen.values()} == {1}


def test_conv2d_chunks_are_at_least_one_per_blas_thread() -> None:
    """COLS_CHUNK_BYTES of columns per chunk, and no fewer chunks than BLAS threads."""
    conv = Conv2d(16, 16, 3, padding=1)
    per_image = 16 * 9 * 32 * 32 * 4  # float32 columns of one 32x32 image
    budget_images = conv_module.COLS_CHUNK_BYTES // per_image
    with threadpool_limits(limits=1, user_api="blas"):
        chunks = conv._chunks(128, per_image)
        assert {len(range(128)[c]) for c in chunks[:-1]} == {budget_images}
        assert len(conv._chunks(budget_images, per_image)) == 1
    with threadpool_limits(limits=2, user_api="blas"):
        if not _two_blas_threads():
            pytest.skip("the BLAS thread count cannot be set to 2 here")
        assert len(conv._chunks(budget_images, per_image)) == 2
        assert len(conv._chunks(1, per_image)) == 1


def test_conv2d_float32_matches_torch_and_keeps_dtype() -> None:
    scratch, twin = _conv_pair({"in_channels": 6, "out_channels": 16, "kernel_size": 5})
    scratch.to(np.float32)
    twin.float()
    torch_to_scratch(twin, scratch)
    x = np.random.default_rng(0).standard_normal((4, 6, 14, 14)).astype(np.float32)
    out = scratch(x)
    grad_x = scratch.backward(np.ones_like(out))
    tx = torch.from_numpy(x).requires_grad_(True)
    twin(tx).sum().backward()
    assert out.dtype == grad_x.dtype == scratch.weight.grad.dtype == np.float32
    np.testing.assert_allclose(out, twin(tx).detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(scratch.weight.grad, twin.weight.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_conv2d_reused_buffers_follow_batch_size_changes() -> None:
    """Buffers are kept between calls; a new batch size must not reuse stale columns."""
    conv = Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for n in (4, 2, 4):
        fresh = Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=np.random.default_rng(0))
        x = rng.standard_normal((n, 2, 5, 5))
        g = rng.standard_normal((n, 3, 5, 5))
        conv.zero_grad()
        np.testing.assert_array_equal(conv(x), fresh(x))
        np.testing.assert_array_equal(conv.backward(g), fresh.backward(g))
        np.testing.assert_array_equal(conv.weight.grad, fresh.weight.grad)


def test_conv2d_init_follows_torch_default() -> None:
    conv = Conv2d(8, 16, 3, groups=2, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(8 // 2 * 3 * 3)
    assert conv.weight.shape == (16, 4, 3, 3) and conv.bias.shape == (16,)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.bias.data).max() <= bound
    # U(-b, b) has standard deviation b / sqrt(3)
    assert abs(conv.weight.data.std() - bound / np.sqrt(3)) < 0.1 * bound


def test_conv2d_skips_input_gradient_when_asked() -> None:
    conv = Conv2d(1, 2, 3, rng=np.random.default_rng(0))
    conv.requires_input_grad = False
    out = conv(np.ones((2, 1, 5, 5), dtype=np.float32))
    assert conv.backward(np.ones_like(out)) is None
    assert conv.weight.grad is not None and conv.bias.grad is not None


def test_conv2d_wrong_channels_error_names_layer_and_shapes() -> None:
    conv = Conv2d(6, 16, 5)
    with pytest.raises(
        ShapeError, match=r"Conv2d: expected input \(N, 6, H, W\), got \(128, 3, 28, 28\)"
    ):
        conv(np.zeros((128, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"Conv2d.*\(N, 6, H, W\)"):
        conv(np.zeros((6, 28, 28), dtype=np.float32))


def test_conv2d_kernel_larger_than_padded_input_error() -> None:
    conv = Conv2d(1, 2, 5, padding=1)
    conv(np.zeros((1, 1, 3, 3), dtype=np.float32))  # 3 + 2 * 1 = 5: fits exactly
    with pytest.raises(
        ShapeError, match=r"kernel 5x5 .* larger than the padded input 4x4 \(input 2x2"
    ):
        conv(np.zeros((1, 1, 2, 2), dtype=np.float32))
    dilated = Conv2d(1, 2, 3, dilation=3)
    with pytest.raises(ShapeError, match=r"extent 7"):
        dilated(np.zeros((1, 1, 6, 6), dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 0},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "stride": 0},
        {"in_channels": 3, "out_channels": 6, "kernel_size": 3, "padding": -1},
    ],
)
def test_conv2d_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="Conv2d"):
        Conv2d(**kwargs)


# -- pooling ---------------------------------------------------------------------------------
# The cases are the pooling checks' own table (nnatlas.bridge.checks_conv.POOL_CASES).
@pytest.mark.parametrize(
    ("make_scratch", "make_torch", "shape"), POOL_CASES.values(), ids=POOL_CASES
)
def test_pool_and_flatten_match_torch_and_gradcheck(make_scratch, make_torch, shape) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    report = check_parity(make_scratch(), make_torch().double(), x)
    assert report.max_abs <= PARITY_TOL, report
    grad = gradcheck(make_scratch(), x)
    assert grad.passed, grad


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, None, 0), (3, 2, 1), (3, 1, 1)])
def test_maxpool_ties_route_to_first_maximum_like_torch(kernel, stride, padding) -> None:
    """Integer-valued inputs (and a ReLU-like block of zeros) make many ties in a window."""
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((2, 2, 8, 9)))
    x[:, :, :4, :4] = 0.0
    pool, twin = MaxPool2d(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding)
    out = pool(x)
    grad = rng.standard_normal(out.shape)
    tx = torch.from_numpy(x).requires_grad_(True)
    twin(tx).backward(torch.from_numpy(grad))
    # overlapping windows add several shares in another order: equal up to round-off
    np.testing.assert_allclose(pool.backward(grad), tx.grad.numpy(), rtol=0, atol=1e-12)


def test_pool_errors() -> None:
    with pytest.raises(ValueError, match=r"MaxPool2d: padding .* at most half"):
        MaxPool2d(2, padding=2)
    with pytest.raises(
        ShapeError, match=r"AvgPool2d: kernel 3x3 .* larger than the padded input 2x2"
    ):
        AvgPool2d(3)(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ShapeError, match=r"MaxPool2d: expected input of shape \(N, C, H, W\)"):
        MaxPool2d(2)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size"):
        AdaptiveAvgPool2d(0)
    with pytest.raises(ShapeError, match="Flatten"):
        Flatten(2, 1)(np.zeros((2, 3, 4)))


# -- BatchNorm2d -----------------------------------------------------------------------------
def test_batchnorm2d_train_then_eval_matches_torch() -> None:
    """Running statistics follow torch over several batches; eval then uses them."""
    rng = np.random.default_rng(0)
    bn, twin = (
        BatchNorm2d(3, momentum=0.2, dtype=np.float64),
        torch.nn.BatchNorm2d(3, momentum=0.2).double(),
    )
    with torch.no_grad():
        twin.weight.uniform_(0.5, 1.5)
        twin.bias.uniform_(-0.5, 0.5)
    torch_to_scratch(twin, bn)
    for _ in range(3):
        x = 2.0 + 3.0 * rng.standard_normal((4, 3, 5, 6))
        g = rng.standard_normal(x.shape)
        tx = torch.from_numpy(x).requires_grad_(True)
        out_t = twin(tx)
        out_t.backward(torch.from_numpy(g))
        np.testing.assert_allclose(bn(x), out_t.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(bn.backward(g), tx.grad.numpy(), atol=1e-12)
    assert int(bn.num_batches_tracked) == int(twin.num_batches_tracked) == 3
    np.testing.assert_allclose(bn.running_mean, twin.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, twin.running_var.numpy(), atol=1e-12)
    bn.eval()
    twin.eval()
    report = check_parity(bn, twin, rng.standard_normal((2, 3, 4, 4)))
    assert report.max_abs <= PARITY_TOL, report


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm2d_gradcheck(train: bool) -> None:
    bn = BatchNorm2d(3, dtype=np.float64)
    bn.weight.data = np.array([0.5, 1.5, -1.0])
    bn.bias.data = np.array([0.1, -0.2, 0.3])
    bn.running_mean, bn.running_var = np.array([0.1, 0.2, -0.3]), np.array([0.5, 2.0, 1.5])
    bn.train(train)
    report = gradcheck(bn, np.random.default_rng(0).standard_normal((3, 3, 2, 4)))
    assert report.passed, report


def test_batchnorm2d_wants_4d_input() -> None:
    with pytest.raises(ShapeError, match=r"BatchNorm2d.*\(N, C, H, W\)"):
        BatchNorm2d(3)(np.zeros((4, 3)))
    with pytest.raises(ShapeError, match="BatchNorm2d.*3 channels"):
        BatchNorm2d(3)(np.zeros((4, 2, 5, 5)))
