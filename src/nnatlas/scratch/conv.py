"""2-D convolution as im2col + one GEMM per chunk of the batch. See: torch.nn.Conv2d.

The forward pass moves the (padded) input to channels-first order, (C_in, N, H_pad, W_pad), and
copies every receptive field into a column buffer ``cols`` of shape
(G, C_in/G * kH * kW, N * H_out * W_out) -- "im2col". With the batch inside each row of the
columns, the convolution of a chunk of images is a single matrix product: the weight viewed as
(G, C_out/G, C_in/G * kH * kW) times the columns gives (G, C_out/G, n * H_out * W_out), and one
copy moves that back to (N, C_out, H_out, W_out).

The backward pass takes one of two routes, both without Python loops over samples or pixels:

- stride 1: the input gradient of a convolution is a *full* convolution of ``grad_out`` with the
  spatially flipped, in/out-swapped kernel, so it is again im2col (of the padded ``grad_out``)
  + one GEMM per chunk; the same columns times the input give the weight gradient
  (``_grads_full_conv`` derives it), so the forward's columns are not needed again;
- otherwise the forward's columns are rebuilt for ``grad_weight^T = cols @ grad_out^T``, and
  "col2im" gives the input gradient: ``grad_cols = W^T @ grad_out``, and each kernel offset
  (kH * kW of them) adds its strided slice back onto the input grid (the adjoint of im2col).

Why channels first: with the batch outermost, (N, G, K, P), ``np.matmul`` calls the BLAS once
per image, 128 small GEMMs per layer and pass; one GEMM per chunk is faster for small maps and,
with several BLAS threads, is far fewer synchronizations of them (each GEMM call is one, and on
a loaded machine each costs a scheduler tick or two).

The batch goes through in chunks of a few images (:data:`COLS_CHUNK_BYTES` of columns each):
the columns hold kH * kW copies of the input (9x for a 3x3 kernel, 75 MB for a batch of 128
CIFAR images with 16 channels), and written all at once they stream through main memory twice,
once from im2col and once into the GEMM. A chunk's columns stay in the cache between the two, and
the backward pass rebuilds what it needs from the padded input it keeps (a copy, not a
recomputation of the forward) instead of holding every layer's columns for the whole step.
The padded input is kept per layer (the backward pass reads it); a chunk's columns live in
storage that all layers of a thread share.

On several BLAS threads, the chunks are shared out among that many Python threads, each running
its chunks' im2col, GEMMs and copies with a one-thread BLAS (:mod:`nnatlas.scratch.parallel`): NumPy
releases the GIL in both, so the copies, which a threaded BLAS leaves on one core, run in
parallel too, and there is one hand-off per thread and call instead of a BLAS synchronization
per GEMM.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, Parameter, ShapeError, check_ndim
from nnatlas.scratch.parallel import batch_parts, blas_threads, for_each_chunk

IntPair = int | tuple[int, int]
# Columns per chunk of the batch: a few MB stay in the L2/L3 caches between im2col and the GEMM
# (see the module docstring). For the ResNet-20 training step on one BLAS thread, 2-4 MB measured
# best; 8 MB took 12% longer and 16 MB 10-30%.
COLS_CHUNK_BYTES = 4 << 20
_scratch = threading.local()  # per thread: the storage every Conv2d takes its columns from


def _scratch_array(use: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialized C-contiguous array in storage that every Conv2d of this thread shares.

    Columns (and the channels-first gradient) live only within one forward or backward call, so
    all layers can take theirs from the same memory: one chunk's columns in all, instead of one
    buffer per layer and use (for ResNet-20: 16 MB instead of 140 MB). The storage grows
    to the largest request and is kept.
    """
    pool = _scratch.__dict__
    size = math.prod(shape)
    storage = pool.get((use, dtype))
    if storage is None or storage.size < size:
        storage = pool[(use, dtype)] = np.empty(size, dtype=dtype)
    return storage[:size].reshape(shape)


def _pair(value: IntPair, name: str, layer: str, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``; checks both entries are integers >= ``minimum``."""
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and v >= minimum for v in pair):
        raise ValueError(
            f"{layer}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def conv_output_size(
    layer: str,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    """Output (H_out, W_out) of a sliding window, as PyTorch computes it (floor division).

    Raises:
        ShapeError: naming ``layer`` when the (dilated) kernel does not fit in the padded input.
    """
    out = []
    for s, k, st, p, d in zip(size, kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1  # extent of the dilated kernel
        if span > s + 2 * p:
            raise ShapeError(
                f"{layer}: kernel {kernel[0]}x{kernel[1]} (dilation {dilation[0]}x{dilation[1]}, "
                f"extent {span}) is larger than the padded input "
                f"{size[0] + 2 * padding[0]}x{size[1] + 2 * padding[1]} (input {size[0]}x{size[1]} "
                f"+ padding {padding[0]}x{padding[1]}); use a larger input, more padding or a "
                "smaller kernel"
            )
        out.append((s + 2 * p - span) // st + 1)
    return out[0], out[1]


def _window(start: int, count: int, stride: int) -> slice:
    """The slice that visits ``count`` positions from ``start`` every ``stride``."""
    return slice(start, start + stride * (count - 1) + 1, stride)


def im2col(
    xp: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_size: tuple[int, int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Copy the receptive fields of a padded, channels-first input into columns.

    One strided slice copy per kernel offset (kH * kW copies, each over the whole chunk). The
    channels-first layout puts the batch inside each row of the result, so that
    ``(C * kH * kW, N * H_out * W_out)`` is one matrix and the convolution one GEMM.

    Args:
        xp: padded input, channels first.
        out: optional buffer of the result's shape and dtype to fill (reused between steps).

    Shape:
        xp: (C, N, H_pad, W_pad) -> (C, kH, kW, N, H_out, W_out)
    """
    c, n = xp.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    if out is None:
        out = np.empty((c, kh, kw, n, ho, wo), dtype=xp.dtype)
    for i in range(kh):
        rows = _window(i * dh, ho, sh)
        for j in range(kw):
            out[:, i, j] = xp[:, :, rows, _window(j * dw, wo, sw)]
    return out


class Conv2d(Module):
    """2-D cross-correlation over an (N, C, H, W) batch, as ``torch.nn.Conv2d``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: kH, kW (an int means square).
        stride: step of the window.
        padding: zeros added on each side of H and W.
        dilation: spacing between kernel taps.
        groups: split channels into ``groups`` independent convolutions (both channel counts
            must divide by it; ``groups == in_channels`` is a depthwise convolution).
        bias: learn a per-output-channel bias.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights. PyTorch's default init,
            ``kaiming_uniform_(a=sqrt(5))``, is ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
            ``fan_in = in_channels / groups * kH * kW``; the bias uses the same bound.

    Attributes:
        requires_input_grad: set False on a model's first layer to skip the input gradient
            (PyTorch skips it when the input does not require grad); ``backward`` then returns
            None.

    Shape:
        x: (N, C_in, H, W) -> (N, C_out, H_out, W_out), with
        ``H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1`` (likewise W_out);
        ``weight`` is (C_out, C_in / groups, kH, kW) and ``bias`` (C_out,), as in PyTorch.
        The input is cast to the weight's dtype, so a float32 layer computes in float32.

    See: torch.nn.Conv2d. Check: ``nnatlas check "Conv2d(3, 4, 3)"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        name = "Conv2d"
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(
                f"{name}: in_channels and out_channels must be positive, got {in_channels}, "
                f"{out_channels}"
            )
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = _pair(stride, "stride", name)
        self.padding = _pair(padding, "padding", name, minimum=0)
        self.dilation = _pair(dilation, "dilation", name)
        self.requires_input_grad = True
        rng = rng if rng is not None else default_generator()
        kh, kw = self.kernel_size
        fan_in = in_channels // groups * kh * kw
        bound = 1.0 / math.sqrt(fan_in)
        shape = (out_channels, in_channels // groups, kh, kw)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype))
        self.bias = (
            Parameter(rng.uniform(-bound, bound, out_channels).astype(dtype)) if bias else None
        )
        self._buffers_by_use: dict[str, np.ndarray] = {}

    # -- helpers ------------------------------------------------------------------------------
    def _zeroed_buffer(self, use: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A zero-filled array kept between calls of the same shape; callers write only its
        interior, so a padding border stays zero without being written again."""
        buf = self._buffers_by_use.get(use)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers_by_use[use] = np.zeros(shape, dtype=dtype)
        return buf

    def _padded(
        self, use: str, x: np.ndarray, pad: tuple[int, int]
    ) -> tuple[np.ndarray, Callable[[slice], None]]:
        """A reused buffer for ``x`` with ``pad`` zeros on each side of its last two axes, and
        the function that copies the images of a chunk (a slice of axis 1) into it.

        Each chunk fills its own images inside :func:`for_each_chunk`, so the copy runs on all
        threads. Callers pass ``x.transpose(1, 0, 2, 3)`` to move the batch to channels first in
        the same copy. Shape: (A, B, H, W) -> (A, B, H + 2 pad_h, W + 2 pad_w).
        """
        a, b, h, w = x.shape
        xp = self._zeroed_buffer(use, (a, b, h + 2 * pad[0], w + 2 * pad[1]), x.dtype)
        inner = xp[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w]

        def fill(part: slice) -> None:
            inner[:, part] = x[:, part]

        return xp, fill

    def _weight_groups(self) -> np.ndarray:
        """Shape: (C_out, C_in/G, kH, kW) -> (G, C_out/G, C_in/G * kH * kW), a view."""
        return self.weight.data.reshape(self.groups, self.out_channels // self.groups, -1)

    def _chunks(self, n: int, per_image: int) -> list[slice]:
        """Slices of the batch holding about :data:`COLS_CHUNK_BYTES` of columns each, and at
        least one per BLAS thread (see :func:`for_each_chunk`) when the batch has the images."""
        step = max(1, COLS_CHUNK_BYTES // max(1, per_image))
        step = min(step, -(-n // min(blas_threads(), n)))  # ceil(n / threads)
        return [slice(start, min(start + step, n)) for start in range(0, n, step)]

    def _columns(
        self, use: str, xp: np.ndarray, stride: tuple[int, int], out_size: tuple[int, int]
    ) -> np.ndarray:
        """im2col of a chunk into shared scratch storage, as one matrix per group.

        Shape: (C, n, H_pad, W_pad) -> (G, K, n * P), K = C/G * kH * kW and P = H_out * W_out.
        """
        c, n = xp.shape[:2]
        kh, kw = self.kernel_size
        cols = _scratch_array(use, (c, kh, kw, n, *out_size), xp.dtype)
        im2col(xp, self.kernel_size, stride, self.dilation, out_size, out=cols)
        return cols.reshape(self.groups, -1, n * out_size[0] * out_size[1])

    # -- forward / backward -------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        check_ndim(self, x, f"(N, {self.in_channels}, H, W)", (4,))
        if x.shape[1] != self.in_channels:
            raise ShapeError(
                f"{self.layer_name}: expected input (N, {self.in_channels}, H, W), got {x.shape}"
            )
        dtype = self.weight.data.dtype
        x = np.asarray(x, dtype=dtype)
        n, _, h, w = x.shape
        ho, wo = conv_output_size(
            self.layer_name, (h, w), self.kernel_size, self.stride, self.padding, self.dilation
        )
        # (C_in, N, Hp, Wp): each chunk copies its images in, channels first (in parallel).
        xp, x_inner = self._padded("x_pad", x.transpose(1, 0, 2, 3), self.padding)
        out = np.empty((n, self.out_channels, ho, wo), dtype=dtype)  # (N, C_out, H_out, W_out)
        per_image = self.in_channels * self.kernel_size[0] * self.kernel_size[1] * ho * wo

        def convolve(part: slice) -> None:
            x_inner(part)
            cols = self._columns("cols", xp[:, part], self.stride, (ho, wo))  # (G, K, n P)
            out_cf = np.matmul(self._weight_groups(), cols)  # (G, C_out/G, n P)
            out[part] = out_cf.reshape(self.out_channels, -1, ho, wo).transpose(1, 0, 2, 3)

        for_each_chunk(convolve, self._chunks(n, per_image * x.itemsize))
        if self.bias is not None:
            out += self.bias.data[:, None, None]
        self._cache = (xp, (h, w), per_image * x.itemsize)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        xp, (h, w), per_image = self._cache
        n = xp.shape[1]
        ho, wo = grad_out.shape[2:]
        grad_out = np.asarray(grad_out, dtype=self.weight.data.dtype)
        if self.bias is not None:
            self.bias.accumulate(grad_out.sum(axis=(0, 2, 3)))
        # Stride 1 allows the full-convolution route; it is cheaper when its columns (C_out per
        # input pixel) are not much larger than col2im's (C_in per output pixel) plus the adds.
        full_conv = (
            self.stride == (1, 1) and self.out_channels * h * w <= 2 * self.in_channels * ho * wo
        )
        if self.requires_input_grad and full_conv:
            grad_x, grad_w = self._grads_full_conv(grad_out, xp, (h, w))
            self.weight.accumulate(grad_w)
            return grad_x
        # Channels first, as the columns: (N, C_out, H_out, W_out) -> (C_out, N, H_out, W_out).
        grad_cf = _scratch_array("grad_cf", (self.out_channels, n, ho, wo), grad_out.dtype)
        grad_t = grad_out.transpose(1, 0, 2, 3)

        def to_channels_first(part: slice) -> None:
            grad_cf[:, part] = grad_t[:, part]

        for_each_chunk(to_channels_first, batch_parts(grad_out))
        self.weight.accumulate(self._weight_grad_from_input_columns(grad_cf, xp, per_image))
        if not self.requires_input_grad:
            return None
        return self._input_grad_col2im(grad_cf, (h, w))

    def _weight_grad_from_input_columns(
        self, grad_cf: np.ndarray, xp: np.ndarray, per_image: int
    ) -> np.ndarray:
        """dW^T = cols @ grad^T, with the forward's columns rebuilt chunk by chunk (any stride).

        The same product written grad @ cols^T ran 12x slower with 2 OpenBLAS threads on the
        loaded 2-core machine (its threads then wait on each other once per block of the long
        n * P axis); on 1 thread the two orders are equally fast.

        Shape: grad_cf (C_out, N, H_out, W_out), xp (C_in, N, H_pad, W_pad) ->
        (C_out, C_in/G, kH, kW)
        """
        g, c_out_g = self.groups, self.out_channels // self.groups
        n, ho, wo = grad_cf.shape[1:]
        grad_g = grad_cf.reshape(g, c_out_g, n, ho * wo)  # (G, C_out/G, N, P)

        def weight_grad(part: slice) -> np.ndarray:
            cols = self._columns("cols", xp[:, part], self.stride, (ho, wo))  # (G, K, n P)
            grad_part = grad_g[:, :, part].reshape(g, c_out_g, -1)  # (G, C_out/G, n P), a view
            return np.matmul(cols, grad_part.transpose(0, 2, 1))  # (G, K, C_out/G)

        grad_w_t = sum(for_each_chunk(weight_grad, self._chunks(n, per_image)))
        return grad_w_t.transpose(0, 2, 1).reshape(self.weight.data.shape)

    def _input_grad_col2im(self, grad_cf: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """grad_cols = W^T @ grad, then scatter-add the columns (any stride), chunk by chunk.

        Each of the kH * kW kernel offsets adds its strided slice of the columns back onto the
        (padded, channels-first) input grid: the adjoint of :func:`im2col`.

        Shape: grad_cf (C_out, N, H_out, W_out), channels first -> (N, C_in, H, W)
        """
        n, g = grad_cf.shape[1], self.groups
        kh, kw = self.kernel_size
        (ph, pw), (h, w), (ho, wo) = self.padding, size, grad_cf.shape[2:]
        grad_g = grad_cf.reshape(g, -1, n, ho * wo)  # (G, C_out/G, N, P)
        w_t = self._weight_groups().transpose(0, 2, 1)  # (G, K, C_out/G)
        grad_xp = np.zeros((self.in_channels, n, h + 2 * ph, w + 2 * pw), dtype=grad_cf.dtype)
        grad_x = np.empty((n, self.in_channels, h, w), dtype=grad_cf.dtype)
        per_image = self.in_channels * kh * kw * ho * wo * grad_cf.itemsize

        def col2im(part: slice) -> None:
            grad_part = grad_g[:, :, part].reshape(g, grad_g.shape[1], -1)  # (G, C_out/G, n P)
            grad_cols = np.matmul(w_t, grad_part)  # (G, K, n P)
            grad_cols = grad_cols.reshape(self.in_channels, kh, kw, -1, ho, wo)
            grad_xp_part = grad_xp[:, part]  # (C_in, n, H_pad, W_pad), a view
            for i in range(kh):
                rows = _window(i * self.dilation[0], ho, self.stride[0])
                for j in range(kw):
                    cols = _window(j * self.dilation[1], wo, self.stride[1])
                    grad_xp_part[:, :, rows, cols] += grad_cols[:, i, j]  # (C_in, n, Ho, Wo)
            # The interior, back to (n, C_in, H, W), by this chunk's thread.
            grad_x[part] = grad_xp_part[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)

        for_each_chunk(col2im, self._chunks(n, per_image))
        return grad_x

    def _grads_full_conv(
        self, grad_out: np.ndarray, xp: np.ndarray, size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stride 1: both gradients from one im2col of the gradient, padded by d (k - 1) - p.

        The input gradient is a stride-1 convolution of grad_out with W flipped in space and
        C_in, C_out swapped:

            dx[n, c, y, x] = sum_{o, i, j} grad_out[n, o, y + p - i d, x + p - j d] W[o, c, i, j],

        so with cols_g, the columns of the padded grad_out over the (H, W) input grid,
        ``dx = W_flip @ cols_g``: one GEMM per chunk, like the forward pass. The same columns give
        the weight gradient: row (o, i', j') of cols_g at input pixel (n, y, x) holds the gradient
        of the output pixel that sees (n, y, x) through tap (i, j) = (k-1-i', k-1-j'), so

            dW[o, c, i, j] = sum_{n, y, x} cols_g[(o, i', j'), (n, y, x)] * x[n, c, y, x],

        i.e. ``cols_g @ x^T``, flipped back in space. The input's columns, which the weight
        gradient rebuilds at other strides, are not needed: one im2col per chunk instead of two.

        Shape: grad_out (N, C_out, H_out, W_out); xp (C_in, N, H_pad, W_pad), the padded input
        -> ((N, C_in, H, W), (C_out, C_in/G, kH, kW))
        """
        n, g = grad_out.shape[0], self.groups
        grad_cf = grad_out.transpose(1, 0, 2, 3)  # (C_out, N, H_out, W_out), a view
        (kh, kw), (dh, dw), (ph, pw), (h, w) = self.kernel_size, self.dilation, self.padding, size
        c_out_g, c_in_g = self.out_channels // g, self.in_channels // g
        # (C_out, C_in/G, kH, kW) -> (G, C_in/G, C_out/G * kH * kW), flipped in space.
        w_flip = self.weight.data[:, :, ::-1, ::-1].reshape(g, c_out_g, c_in_g, kh, kw)
        w_flip = w_flip.transpose(0, 2, 1, 3, 4).reshape(g, c_in_g, c_out_g * kh * kw)
        pad = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
        if min(pad) < 0:  # padding larger than the kernel extent: crop instead of pad
            crop = (max(-pad[0], 0), max(-pad[1], 0))
            grad_cf = grad_cf[
                :, :, crop[0] : grad_cf.shape[2] - crop[0], crop[1] : grad_cf.shape[3] - crop[1]
            ]
            pad = (max(pad[0], 0), max(pad[1], 0))
        gp, grad_inner = self._padded("grad_pad", grad_cf, pad)  # (C_out, N, H + .., W + ..)
        grad_x = np.empty((n, self.in_channels, h, w), dtype=grad_cf.dtype)
        per_image = self.out_channels * kh * kw * h * w * grad_cf.itemsize

        def both_grads(part: slice) -> np.ndarray:
            grad_inner(part)
            cols = self._columns("grad_cols", gp[:, part], (1, 1), (h, w))  # (G, C_out/G k k, n HW)
            grad_x_cf = np.matmul(w_flip, cols)  # (G, C_in/G, n H W)
            grad_x[part] = grad_x_cf.reshape(self.in_channels, -1, h, w).transpose(1, 0, 2, 3)
            x_part = _scratch_array("x_cf", (self.in_channels, len(range(n)[part]), h, w), xp.dtype)
            x_part[...] = xp[:, part, ph : ph + h, pw : pw + w]  # the unpadded input, a copy
            x_part = x_part.reshape(g, c_in_g, -1)  # (G, C_in/G, n H W)
            return np.matmul(cols, x_part.transpose(0, 2, 1))  # (G, C_out/G k k, C_in/G)

        grad_w_flip = sum(for_each_chunk(both_grads, self._chunks(n, per_image)))
        grad_w = grad_w_flip.reshape(g, c_out_g, kh, kw, c_in_g)[:, :, ::-1, ::-1]
        grad_w = grad_w.transpose(0, 1, 4, 2, 3).reshape(self.weight.data.shape)
        return grad_x, grad_w

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + f", bias={self.bias is not None}"
