"""Weight initialization, as ``torch.nn.init`` (same formulas and gain table, NumPy generators).

Every function fills an array (or a :class:`Parameter`'s ``.data``) **in place** and returns the
array; the random ones take ``rng``, a ``numpy.random.Generator``, so runs are reproducible.

Layers already initialize themselves like PyTorch's defaults:
:class:`~nnatlas.scratch.linear.Linear` draws weight and bias from
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, which is what ``kaiming_uniform_(w, a=sqrt(5))`` gives
in torch. Call these functions to choose another scheme,
e.g. ``kaiming_normal_(layer.weight, nonlinearity="relu", rng=rng)`` for a ReLU network.

Fan-in / fan-out of a weight ``(out, in, *kernel)``: ``fan_in = in * prod(kernel)``,
``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math

import numpy as np

from nnatlas.scratch.module import Parameter

ArrayLike = np.ndarray | Parameter


def _array(tensor: ArrayLike, fn: str) -> np.ndarray:
    array = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"init.{fn}: expected a numpy array or Parameter, got {type(tensor).__name__}"
        )
    return array


def calculate_fan_in_and_fan_out(tensor: ArrayLike) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)`` (torch's rule).

    Raises:
        ValueError: for fewer than 2 dimensions (a bias has no fan-out).
    """
    shape = _array(tensor, "calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(
            f"init: fan in/out needs a weight with at least 2 dimensions (out, in, ...), "
            f"got shape {shape}"
        )
    receptive_field = math.prod(shape[2:])  # 1 for a Linear weight
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2)) with slope
    ``param`` (default 0.01); selu: 3/4.
    """
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0  # value found empirically (pytorch/pytorch#50664)
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of {list(linear)}, "
        f"'tanh', 'relu', 'leaky_relu', 'selu'"
    )


def _fill(tensor: ArrayLike, values: np.ndarray | float, fn: str) -> np.ndarray:
    array = _array(tensor, fn)
    array[...] = values  # keeps the array's dtype and identity
    return array


# The generator layers and initializers draw from when no ``rng`` is passed, as torch's default
# generator; seed it with :func:`manual_seed` for reproducible weights.
_DEFAULT_GENERATOR = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the NumPy engine's default generator. See: torch.manual_seed.

    Layers built without an explicit ``rng`` draw their initial weights (and Dropout its masks)
    from this generator, so ``manual_seed(0)`` before building a model makes its weights
    reproducible. Passing ``rng=`` to a layer still takes precedence.
    """
    global _DEFAULT_GENERATOR
    _DEFAULT_GENERATOR = np.random.default_rng(seed)
    return _DEFAULT_GENERATOR


def default_generator() -> np.random.Generator:
    """The generator used when a layer or initializer is given no ``rng``."""
    return _DEFAULT_GENERATOR


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else _DEFAULT_GENERATOR


def uniform_(
    tensor: ArrayLike, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Fill with ``U(a, b)``."""
    array = _array(tensor, "uniform_")
    return _fill(array, _rng(rng).uniform(a, b, array.shape), "uniform_")


def normal_(
    tensor: ArrayLike, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Fill with ``N(mean, std^2)``."""
    array = _array(tensor, "normal_")
    return _fill(array, _rng(rng).normal(mean, std, array.shape), "normal_")


def zeros_(tensor: ArrayLike) -> np.ndarray:
    """Fill with 0."""
    return _fill(tensor, 0.0, "zeros_")


def ones_(tensor: ArrayLike) -> np.ndarray:
    """Fill with 1."""
    return _fill(tensor, 1.0, "ones_")


def _xavier_std(tensor: ArrayLike, gain: float) -> float:
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(
    tensor: ArrayLike, gain: float = 1.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Glorot & Bengio 2010: ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)  # a uniform U(-b, b) has std b / sqrt(3)
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(
    tensor: ArrayLike, gain: float = 1.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Glorot & Bengio 2010: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain), rng)


def _kaiming_std(tensor: ArrayLike, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: ArrayLike,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """He et al. 2015 (arXiv 1502.01852): ``U(-b, b)``, ``b = gain * sqrt(3 / fan)``.

    Args:
        a: negative slope of the leaky ReLU that follows (used by the ``leaky_relu`` gain).
        mode: ``"fan_in"`` preserves the forward variance, ``"fan_out"`` the backward one.
        nonlinearity: ``"relu"`` or ``"leaky_relu"`` (torch's default), see :func:`calculate_gain`.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(
    tensor: ArrayLike,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """He et al. 2015: ``N(0, std^2)``, ``std = gain / sqrt(fan)``.

    Arguments as :func:`kaiming_uniform_`.
    """
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng)
