"""Pooling layers. See: torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d.

Max and average pooling loop over kernel offsets (max pooling in two separable passes, kW then
kH; average pooling over the kH * kW offsets), each step one strided slice over the whole
batch; there is no loop over samples or pixels.
Adaptive average pooling is separable -- a mean over a block of rows times a block of columns --
so it is two small matrix products, ``A_h @ x @ A_w^T``, with averaging matrices built from
PyTorch's window formula ``start = floor(i H / H_out)``, ``end = ceil((i + 1) H / H_out)``.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.conv import IntPair, _pair, _window, conv_output_size
from nnatlas.scratch.module import Module, ShapeError, check_ndim


def _check_padding(layer: str, kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{layer}: padding {padding} must be at most half the kernel size {kernel} "
            "(as in PyTorch), or some windows would see only padding"
        )


class _Pool2d(Module):
    """Shared arguments and window arithmetic of MaxPool2d and AvgPool2d."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None, padding: IntPair) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name)
        self.padding = _pair(padding, "padding", name, minimum=0)
        _check_padding(name, self.kernel_size, self.padding)

    def _windows(self, x: np.ndarray) -> tuple[tuple[int, int], list[tuple[slice, slice]]]:
        """Output size and, per kernel offset, the (rows, cols) slices of the padded input."""
        check_ndim(self, x, "(N, C, H, W)", (4,))
        ho, wo = conv_output_size(
            self.layer_name, x.shape[2:], self.kernel_size, self.stride, self.padding
        )
        slices = [
            (_window(i, ho, self.stride[0]), _window(j, wo, self.stride[1]))
            for i in range(self.kernel_size[0])
            for j in range(self.kernel_size[1])
        ]
        return (ho, wo), slices

    def _pad(self, x: np.ndarray, value: float) -> np.ndarray:
        ph, pw = self.padding
        if (ph, pw) == (0, 0):
            return x
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)

    def _unpad(self, grad_xp: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        return grad_xp[:, :, ph : grad_xp.shape[2] - ph, pw : grad_xp.shape[3] - pw]

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _first_max(windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise maximum over ``windows`` and the index of the first array reaching it.

    Strict ``>`` keeps the earlier index on ties. (``np.maximum`` and a comparison are several
    times faster than ``np.copyto(..., where=)`` on these strided views.)

    Shape: k arrays (S) -> (S), (S) int8.
    """
    best = np.array(windows[0])  # a copy: the output must not alias the input
    arg = np.zeros(best.shape, dtype=np.int8)
    for k, window in enumerate(windows[1:], start=1):
        better = window > best
        best = np.maximum(best, window)
        arg = better.view(np.int8) if k == 1 else np.where(better, np.int8(k), arg)
    return best, arg


def _route(
    grad: np.ndarray,
    arg: np.ndarray,
    out_shape: tuple[int, ...],
    axis: int,
    slices: list[slice],
    overlap: bool,
) -> np.ndarray:
    """Adjoint of one :func:`_first_max` pass along ``axis``: send each gradient to its winner."""
    out = np.zeros(out_shape, dtype=grad.dtype)
    index = [slice(None)] * len(out_shape)
    for k, window in enumerate(slices):
        index[axis] = window
        share = grad * (arg == k)  # (S), zero where another offset won
        if overlap:  # several outputs may route to one input: add
            out[tuple(index)] += share
        else:  # each input is in at most one window
            out[tuple(index)] = share
    return out


class MaxPool2d(_Pool2d):
    """Maximum over each window; the gradient flows to the (first) maximum only.

    Args:
        kernel_size: window size (an int means square).
        stride: window step; defaults to ``kernel_size`` (non-overlapping windows).
        padding: implicit -inf padding on each side, at most half the kernel.

    Ties go to the first maximum in row-major window order, as PyTorch's CPU kernel does, so
    gradients match PyTorch even on constant regions (e.g. ReLU zeros). The maximum is taken
    in two separable passes, along W (the first maximum of each window row) and then along H
    (the first row holding the window's maximum); together they find exactly that element,
    with kH + kW array operations instead of kH * kW.

    Shape:
        x: (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = floor((H + 2 p - kH) / s) + 1``.

    See: torch.nn.MaxPool2d. Check: ``nnatlas check "MaxPool2d(2)"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
    ) -> None:
        super().__init__(kernel_size, stride, padding)

    def _axis_slices(self, out: int, axis: int) -> list[slice]:
        """Per kernel offset along ``axis``, the slice of the padded input it reads."""
        return [_window(k, out, self.stride[axis]) for k in range(self.kernel_size[axis])]

    def forward(self, x: np.ndarray) -> np.ndarray:
        (ho, wo), _ = self._windows(x)
        xp = self._pad(x, -np.inf)  # (N, C, H_pad, W_pad)
        rows = self._axis_slices(ho, 0)
        cols = self._axis_slices(wo, 1)
        row_max, col_arg = _first_max([xp[:, :, :, c] for c in cols])  # (N, C, H_pad, W_out)
        best, row_arg = _first_max([row_max[:, :, r] for r in rows])  # (N, C, H_out, W_out)
        self._cache = (row_arg, col_arg, xp.shape, rows, cols)
        return best

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        row_arg, col_arg, padded_shape, rows, cols = self._cache
        overlap_h, overlap_w = (s < k for s, k in zip(self.stride, self.kernel_size, strict=True))
        # Undo the two passes in reverse: the row pass first, then the column pass.
        # (N, C, H_out, W_out) -> (N, C, H_pad, W_out) -> (N, C, H_pad, W_pad)
        grad_rows = _route(grad_out, row_arg, col_arg.shape, 2, rows, overlap_h)
        grad_xp = _route(grad_rows, col_arg, padded_shape, 3, cols, overlap_w)
        return self._unpad(grad_xp)


class AvgPool2d(_Pool2d):
    """Mean over each window.

    Args:
        kernel_size: window size (an int means square).
        stride: window step; defaults to ``kernel_size``.
        padding: implicit zero padding on each side, at most half the kernel.
        count_include_pad: divide by the full window size (True, PyTorch's default) or by the
            number of non-padding elements in the window.

    Shape:
        x: (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = floor((H + 2 p - kH) / s) + 1``.

    See: torch.nn.AvgPool2d. Check: ``nnatlas check "AvgPool2d(2)"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    def __init__(
        self,
        kernel_size: IntPair,
        stride: IntPair | None = None,
        padding: IntPair = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def _divisor(
        self, x: np.ndarray, slices: list[tuple[slice, slice]], out_hw: tuple[int, int]
    ) -> float | np.ndarray:
        """The window size, or (H_out, W_out) counts of real (non-padding) elements."""
        if self.count_include_pad or self.padding == (0, 0):
            return float(self.kernel_size[0] * self.kernel_size[1])
        ones = self._pad(np.ones((1, 1) + x.shape[2:], dtype=x.dtype), 0.0)
        count = np.zeros((1, 1) + out_hw, dtype=x.dtype)
        for rows, cols in slices:
            count += ones[:, :, rows, cols]
        return count  # (1, 1, H_out, W_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out_hw, slices = self._windows(x)
        xp = self._pad(x, 0.0)
        total = xp[:, :, slices[0][0], slices[0][1]].copy()  # (N, C, H_out, W_out)
        for rows, cols in slices[1:]:
            total += xp[:, :, rows, cols]
        divisor = self._divisor(x, slices, out_hw)
        self._cache = (divisor, xp.shape, slices)
        return total / divisor

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        divisor, padded_shape, slices = self._cache
        share = grad_out / divisor  # each window element receives an equal share
        grad_xp = np.zeros(padded_shape, dtype=grad_out.dtype)
        for rows, cols in slices:
            grad_xp[:, :, rows, cols] += share
        return self._unpad(grad_xp)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", count_include_pad={self.count_include_pad}"


def adaptive_pool_matrix(in_size: int, out_size: int, dtype: np.dtype) -> np.ndarray:
    """Row i averages input positions ``floor(i*in/out) .. ceil((i+1)*in/out) - 1`` (PyTorch's).

    Shape:
        -> (out_size, in_size)
    """
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)  # ceil division
    pos = np.arange(in_size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])  # (out, in)
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Args:
        output_size: (H_out, W_out), an int for a square output, or None in a pair to keep that
            input dimension.

    Shape:
        x: (N, C, H, W) -> (N, C, H_out, W_out)

    See: torch.nn.AdaptiveAvgPool2d. Check: ``nnatlas check "AdaptiveAvgPool2d(1)"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        pair = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if len(pair) != 2 or not all(v is None or (isinstance(v, int) and v >= 1) for v in pair):
            raise ValueError(
                f"AdaptiveAvgPool2d: output_size must be an int >= 1 or a pair of them (or None), "
                f"got {output_size!r}"
            )
        self.output_size = pair

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_ndim(self, x, "(N, C, H, W)", (4,))
        h, w = x.shape[2:]
        ho = h if self.output_size[0] is None else self.output_size[0]
        wo = w if self.output_size[1] is None else self.output_size[1]
        if h == 0 or w == 0:
            raise ShapeError(f"{self.layer_name}: input {x.shape} has an empty spatial dimension")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        pool_h = adaptive_pool_matrix(h, ho, dtype)  # (H_out, H)
        pool_w = adaptive_pool_matrix(w, wo, dtype)  # (W_out, W)
        self._cache = (pool_h, pool_w)
        if (ho, wo) == (1, 1):  # global average pooling: skip the matrices
            return x.mean(axis=(2, 3), keepdims=True, dtype=dtype)
        return pool_h @ (x @ pool_w.T)  # (N, C, H, W_out) -> (N, C, H_out, W_out)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        pool_h, pool_w = self._cache
        return pool_h.T @ (grad_out @ pool_w)  # (N, C, H_out, W) -> (N, C, H, W)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
