"""Element-wise activations and Softmax.

See: torch.nn.{Sigmoid, Tanh, ReLU, LeakyReLU, GELU, Softmax}.

Each activation is a :class:`~nnatlas.scratch.module.Module` without parameters: ``forward`` keeps
what the derivative needs in ``self._cache`` (the output for Sigmoid/Tanh/Softmax, the input for
the others) and ``backward`` multiplies the upstream gradient by the local derivative.

Shape:
    x: (N, *) -> (N, *), the same shape (Softmax normalizes along ``dim``).
"""

from __future__ import annotations

import math

import numpy as np

from nnatlas.scratch.module import Module
from nnatlas.scratch.parallel import map_batch

try:  # scipy ships with scikit-learn (a dependency); erf is vectorized C there.
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - fallback, about 50x slower but exact to the last bit
    _erf = np.vectorize(math.erf, otypes=[np.float64])

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715  # Hendrycks & Gimpel 2016 (arXiv 1606.08415), tanh approximation


def _no_cache_error(layer: Module) -> RuntimeError:
    return RuntimeError(f"{layer.layer_name}: backward called before forward")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function: never evaluates ``exp`` of a large positive number."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    exp_x = np.exp(x[~pos])
    out[~pos] = exp_x / (1.0 + exp_x)
    return out


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``; ``dy/dx = y (1 - y)``.

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.Sigmoid. Check: ``nnatlas check "Sigmoid"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = sigmoid(x)
        self._cache = out
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        out = self._cache
        return grad_out * out * (1.0 - out)


class Tanh(Module):
    """``y = tanh(x)``; ``dy/dx = 1 - y^2``.

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.Tanh. Check: ``nnatlas check "Tanh"``. Tests: tests/scratch/test_core_layers.py.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        self._cache = out
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        out = self._cache
        return grad_out * (1.0 - out * out)


class ReLU(Module):
    """``y = max(0, x)``. The derivative at 0 is taken as 0, as PyTorch does.

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.ReLU. Check: ``nnatlas check "ReLU"``. Tests: tests/scratch/test_core_layers.py.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 0:
            self._cache = x > 0
            return np.maximum(x, 0)
        mask, out = np.empty(x.shape, dtype=bool), np.empty_like(x)

        def relu(p: slice) -> None:  # over parts of the batch, on the BLAS's threads
            np.greater(x[p], 0, out=mask[p])
            # np.maximum keeps the dtype and is ~10x faster than np.where on float32 (and,
            # like torch, propagates NaN instead of hiding it).
            np.maximum(x[p], 0, out=out[p])

        map_batch(relu, x)
        self._cache = mask
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        mask, grad_out = self._cache, np.asarray(grad_out)
        if mask.ndim == 0 or grad_out.shape != mask.shape:
            return grad_out * mask
        grad_x = np.empty(grad_out.shape, dtype=np.result_type(grad_out, mask))

        def masked(p: slice) -> None:  # bool mask: float * bool keeps grad_out's dtype
            np.multiply(grad_out[p], mask[p], out=grad_x[p])

        map_batch(masked, grad_x)
        return grad_x


class LeakyReLU(Module):
    """``y = x if x > 0 else negative_slope * x``.

    Args:
        negative_slope: slope for negative inputs (PyTorch's default 0.01).

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.LeakyReLU. Check: ``nnatlas check "LeakyReLU(0.1)"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._cache = x > 0
        return np.where(self._cache, x, self.negative_slope * x).astype(x.dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        slope = self.negative_slope * grad_out
        return np.where(self._cache, grad_out, slope).astype(grad_out.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """Gaussian Error Linear Unit ``y = x * Phi(x)``.

    Args:
        approximate: ``"none"`` uses the exact normal CDF ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``;
            ``"tanh"`` uses ``(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2`` (as in GPT-2).

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.GELU. Check: ``nnatlas check "GELU"``. Tests: tests/scratch/test_core_layers.py.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.approximate == "none":
            cdf = 0.5 * (1.0 + _erf(x / _SQRT_2))
            self._cache = (x, cdf, None)
        else:
            inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
            t = np.tanh(inner)
            cdf = 0.5 * (1.0 + t)
            self._cache = (x, cdf, t)
        return (x * cdf).astype(x.dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        x, cdf, t = self._cache
        if self.approximate == "none":
            pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)  # d Phi / dx
            local = cdf + x * pdf
        else:
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x * x)
            local = cdf + 0.5 * x * (1.0 - t * t) * d_inner
        return (grad_out * local).astype(grad_out.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the max so ``exp`` never overflows."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` computed as ``x - logsumexp(x)`` (stable for large logits)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Module):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    For classification train on logits with :class:`~nnatlas.scratch.losses.CrossEntropyLoss`
    (a fused, stabler log-softmax); use this layer for probabilities or attention weights.

    Args:
        dim: the axis that sums to one.

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.Softmax. Check: ``nnatlas check "Softmax(dim=1)"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = softmax(x, axis=self.dim)
        self._cache = out
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise _no_cache_error(self)
        out = self._cache
        # Jacobian-vector product of softmax: y * (g - <g, y>) along dim.
        return out * (grad_out - (grad_out * out).sum(axis=self.dim, keepdims=True))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
}


def get_activation(name: str) -> Module:
    """Build an activation by the names the MLP uses (``"relu"``, ``"tanh"`` ...)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
