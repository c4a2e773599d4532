"""Finite-difference gradient checks (CS231n's ``eval_numerical_gradient_array`` + ``rel_error``).

``gradcheck(module, x)`` runs the module's ``forward`` and ``backward`` once with a **random**
upstream gradient ``g`` (an all-ones ``g`` hides errors in normalization layers, whose input
gradient sums to zero along the batch), then compares every analytic gradient, the input's and
each parameter's, with central differences of ``sum(forward(x) * g)``. Everything runs in float64
on a copy of the module, so the caller's module and its BatchNorm statistics are untouched.

The central difference is formed on the *outputs* (``sum((f(x+h) - f(x-h)) * g) / 2h``) rather
than on a scalar objective, so elements the perturbation does not reach cancel exactly and the
round-off stays that of the perturbed element.

Relative error: per element ``|a - n| / max(|a| + |n|, floor)``, CS231n's formula with its
floor ``1e-8`` raised to ``1e-3 x`` the largest ``|a| + |n|`` of the whole check. Why: gradients
that are exactly zero in theory (a Linear bias followed by BatchNorm) or ~1e-7 of their
neighbours (a BatchNorm input gradient) come out of central differences as round-off of ~1e-11 x
the gradient scale, which CS231n's 1e-8 floor reports as a relative error near 1. With the raised
floor a tolerance of 1e-6 still flags any error larger than 1e-9 x the gradient scale, far below
what a wrong backward produces. :func:`rel_error` itself is CS231n's formula unchanged.

Step: ``h = 1e-5`` (as CS231n) balances truncation (~h^2) against round-off (~1e-16 / h) in
float64; on BatchNorm1d with a (4, 5) input it gave 20x smaller errors than ``h = 1e-6``.

Dropout: a random mask would make ``forward`` a different function at every call. ``gradcheck``
therefore runs ``forward`` once, freezes the mask each :class:`~nnatlas.scratch.dropout.Dropout`
drew (``layer.fixed_mask``) and checks the function with those masks. (Calling the module in
``.eval()`` mode also works but checks only the identity path.)

For modules whose forward takes extra arguments or returns several arrays (e.g. an LSTM returning
``(y, (h, c))``), pass callables: ``gradcheck(forward, x, backward=..., params=[(name, p), ...])``;
outputs and upstream gradients may then be nested tuples of arrays.

Whole networks: element by element, a check costs two forwards per number, millions for a VGG.
:func:`gradcheck_directions` checks every number at once along a few random directions ``v``
in the space of (input, all parameters): ``<analytic gradient, v>`` against the central
difference of ``sum(f * g)`` along ``v``, two forwards per direction whatever the model's size.
A wrong gradient anywhere (any element of any tensor) changes ``<gradient, v>`` for almost every
``v``, so a few directions suffice; the element-wise check then says *where*.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.module import Module, Parameter

DEFAULT_TOL = 1e-6  # the project's bar (bridge.checks.GRADCHECK_TOL)
# Denominator floor, relative to the largest |analytic| + |numeric| of the whole check; see below.
SCALE_FLOOR = 1e-3


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """``max |x - y| / max(1e-8, |x| + |y|)`` element-wise (CS231n); 0.0 for empty arrays."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _leaves(obj: Any) -> list[np.ndarray]:
    """The arrays of a possibly nested tuple/list output, in order."""
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in _leaves(item)]
    return [np.asarray(obj)]


def _like(obj: Any, make: Callable[[np.ndarray], np.ndarray]) -> Any:
    """A structure like ``obj`` with each array leaf replaced by ``make(leaf)``."""
    if isinstance(obj, (tuple, list)):
        return type(obj)(_like(item, make) for item in obj)
    return make(np.asarray(obj))


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, grad_out: Any, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * grad_out)`` with respect to ``x``.

    ``x`` is perturbed **in place** (and restored), so ``f`` may ignore its argument and read
    ``x`` through a closure (e.g. ``x`` is ``layer.weight.data``).

    Args:
        f: maps ``x`` to an array or a nested tuple of arrays.
        x: float64 array.
        grad_out: the upstream gradient, the structure of ``f(x)``.
        h: the step.

    Shape:
        x: any -> the gradient, the shape of ``x``.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    grads = _leaves(grad_out)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        index = it.multi_index
        old = x[index]
        x[index] = old + h
        pos = [leaf.copy() for leaf in _leaves(f(x))]
        x[index] = old - h
        neg = [leaf.copy() for leaf in _leaves(f(x))]
        x[index] = old
        projected = sum(np.sum((p - n) * g) for p, n, g in zip(pos, neg, grads, strict=True))
        grad[index] = projected / (2 * h)
        it.iternext()
    return grad


@dataclass
class TensorCheck:
    """One tensor's comparison: the worst element and its values."""

    name: str
    rel_error: float
    max_abs_error: float
    index: tuple[int, ...] | None
    analytic: float
    numeric: float


@dataclass
class GradcheckReport:
    """Analytic vs numeric gradients of every checked tensor.

    Attributes:
        tensors: per tensor (``"input"``, ``"weight"``, ``"0.bias"`` ...) its :class:`TensorCheck`.
        tol: the relative error a tensor may have.
    """

    tensors: dict[str, TensorCheck] = field(default_factory=dict)
    tol: float = DEFAULT_TOL

    @property
    def per_tensor(self) -> dict[str, float]:
        """Relative error per tensor name."""
        return {name: t.rel_error for name, t in self.tensors.items()}

    @property
    def max_rel_error(self) -> float:
        return max((t.rel_error for t in self.tensors.values()), default=0.0)

    @property
    def worst(self) -> tuple[str, tuple[int, ...] | None, float, float] | None:
        """``(name, index, analytic, numeric)`` of the worst element overall."""
        if not self.tensors:
            return None
        t = max(self.tensors.values(), key=lambda t: t.rel_error)
        return t.name, t.index, t.analytic, t.numeric

    @property
    def passed(self) -> bool:
        return bool(self.tensors) and all(
            np.isfinite(t.rel_error) and t.rel_error <= self.tol for t in self.tensors.values()
        )

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        lines = [f"gradcheck {status}: max rel error {self.max_rel_error:.2e} (tol {self.tol:.0e})"]
        for t in self.tensors.values():
            mark = "" if t.rel_error <= self.tol else "  <-- FAIL"
            lines.append(
                f"  {t.name:<24} rel {t.rel_error:.2e}  worst at {t.index}: analytic "
                f"{t.analytic:.6g}, numeric {t.numeric:.6g}{mark}"
            )
        return "\n".join(lines)


def _compare(name: str, analytic: np.ndarray, numeric: np.ndarray, floor: float) -> TensorCheck:
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"gradcheck: the analytic gradient of {name!r} has shape {analytic.shape}, the tensor "
            f"has {numeric.shape}; backward must return/accumulate gradients of the tensor's shape"
        )
    if analytic.size == 0:
        return TensorCheck(name, 0.0, 0.0, None, 0.0, 0.0)
    total = np.abs(analytic) + np.abs(numeric)
    elementwise = np.abs(analytic - numeric) / np.maximum(floor, total)
    elementwise = np.where(np.isnan(elementwise), np.inf, elementwise)
    index = np.unravel_index(int(np.argmax(elementwise)), analytic.shape)
    return TensorCheck(
        name,
        float(elementwise[index]),
        float(np.max(np.abs(analytic - numeric))),
        tuple(int(i) for i in index),
        float(analytic[index]),
        float(numeric[index]),
    )


def _freeze_dropout(module: Module) -> None:
    for _, layer in module.named_modules():
        # A training forward that dropped units cached its mask (an array): keep those units.
        if isinstance(layer, Dropout) and layer.training and isinstance(layer._cache, np.ndarray):
            layer.fixed_mask = layer._cache != 0


def gradcheck(
    module: Module | Callable[[np.ndarray], Any],
    x: np.ndarray,
    *,
    backward: Callable[[Any], Any] | None = None,
    params: Sequence[tuple[str, Parameter]] | None = None,
    grad_out: Any = None,
    rng: np.random.Generator | None = None,
    h: float = 1e-5,
    check_input: bool = True,
    tol: float = DEFAULT_TOL,
) -> GradcheckReport:
    """Check a module's input and parameter gradients against central differences.

    Args:
        module: a scratch Module (checked on a float64 copy; its mode, train or eval, is kept),
            or a forward callable ``x -> output`` (an array or nested tuple of arrays), in which
            case ``backward`` and ``params`` are required and the caller provides float64
            parameters.
        x: the input (cast to float64 when floating; an integer input, e.g. token ids, is not
            differentiated).
        backward: for a callable ``module``: ``grad_out -> grad_x`` (or a tuple whose first item
            is grad_x), accumulating into ``param.grad``.
        params: for a callable ``module``: the ``(name, Parameter)`` pairs to check, float64.
        grad_out: the upstream gradient (default: standard normal shaped like the output, from
            ``rng``).
        rng: generator for the upstream gradient (default seeded 0, reproducible).
        h: finite-difference step.
        check_input: also check the input gradient (skipped for integer inputs).
        tol: the relative error allowed (``report.passed``).

    Returns:
        A :class:`GradcheckReport`; ``report.worst`` names the worst parameter and index.

    Shape:
        x: what ``module`` takes; each gradient is compared in the shape of its tensor.

    Example:
        >>> report = gradcheck(Linear(3, 2), np.random.default_rng(0).normal(size=(4, 3)))
        >>> assert report.passed, report
    """
    x = np.asarray(x)
    x = x.astype(np.float64) if x.dtype.kind == "f" else x.copy()
    if isinstance(module, Module):
        module = copy.deepcopy(module).to(np.float64)
        module.forward(x)  # draws dropout masks once ...
        _freeze_dropout(module)  # ... and keeps them for every later call
        forward: Callable[[np.ndarray], Any] = module.forward
        backward = module.backward
        params = list(module.named_parameters())
    else:
        if backward is None or params is None:
            raise TypeError("gradcheck: with a forward callable, pass backward= and params= too")
        forward = module
    for name, p in params:
        if p.data.dtype != np.float64:
            raise TypeError(
                f"gradcheck: parameter {name!r} is {p.data.dtype}; finite differences need "
                f"float64 (call module.to(np.float64) first)"
            )
    rng = rng if rng is not None else np.random.default_rng(0)
    check_input = check_input and x.dtype.kind == "f"

    out = forward(x)
    if grad_out is None:
        grad_out = _like(out, lambda leaf: rng.standard_normal(leaf.shape))
    for _, p in params:
        p.grad = None
    grad_x = backward(grad_out)
    if isinstance(grad_x, tuple):
        grad_x = grad_x[0]
    analytic = {
        name: (np.zeros_like(p.data) if p.grad is None else p.grad.copy()) for name, p in params
    }
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if check_input:
        if grad_x is None:
            raise ValueError(
                "gradcheck: backward returned no input gradient; pass check_input=False"
            )
        pairs["input"] = (np.asarray(grad_x), numerical_gradient(forward, x, grad_out, h))
    for name, p in params:
        numeric = numerical_gradient(lambda _: forward(x), p.data, grad_out, h)
        pairs[name] = (analytic[name], numeric)
    scale = max(
        (float(np.max(np.abs(a) + np.abs(n))) for a, n in pairs.values() if a.size), default=0.0
    )
    floor = max(1e-8, SCALE_FLOOR * scale)
    report = GradcheckReport(tol=tol)
    for name, (a, n) in pairs.items():
        report.tensors[name] = _compare(name, a, n, floor)
    return report


def gradcheck_loss(
    loss: Module,
    logits: np.ndarray,
    target: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    h: float = 1e-5,
    tol: float = DEFAULT_TOL,
) -> GradcheckReport:
    """Check ``loss.backward`` (d loss / d logits) against central differences.

    The upstream gradient is random too: a scalar for ``"mean"``/``"sum"``, an array for
    ``"none"``. The report's only tensor is ``"input"`` (the logits).

    Shape:
        logits, target: as the loss takes them.
    """
    logits = np.asarray(logits, dtype=np.float64)

    def forward(z: np.ndarray) -> np.ndarray:
        return np.asarray(loss(z, target), dtype=np.float64)

    return gradcheck(forward, logits, backward=loss.backward, params=[], rng=rng, h=h, tol=tol)


def gradcheck_directions(
    module: Module | Callable[[np.ndarray], Any],
    x: np.ndarray,
    *,
    backward: Callable[[Any], Any] | None = None,
    params: Sequence[tuple[str, Parameter]] | None = None,
    directions: int = 3,
    rng: np.random.Generator | None = None,
    h: float = 1e-6,
    check_input: bool = True,
    tol: float = DEFAULT_TOL,
) -> GradcheckReport:
    """Directional derivatives along random directions against central differences.

    For each direction ``v`` (standard normal over the input and every parameter, scaled to unit
    length as a whole, so each number moves by only ~``h / sqrt(size)``: few ReLU kinks or
    max-pooling ties are crossed), compares ``sum_t <dL/dt, v_t>`` with
    ``(L(theta + h v) - L(theta - h v)) / 2h``, where ``L = sum(forward(x) * g)`` for a random
    upstream gradient ``g``. Arguments as :func:`gradcheck`.

    The step is ``1e-6``, not 1e-5: along a direction every ReLU and max-pooling window of the
    network moves at once, and at 1e-5 one of them crossing its kink already showed up as a
    2e-4 error in AlexNet; round-off at 1e-6 stays near 1e-9.

    Returns:
        A :class:`GradcheckReport` with one entry per direction (``"direction 0"`` ...), each
        the relative error ``|a - n| / max(|a| + |n|, 1e-8)``.
    """
    x = np.asarray(x)
    x = x.astype(np.float64) if x.dtype.kind == "f" else x.copy()
    if isinstance(module, Module):
        module = copy.deepcopy(module).to(np.float64)
        module.forward(x)
        _freeze_dropout(module)
        forward: Callable[[np.ndarray], Any] = module.forward
        backward = module.backward
        params = list(module.named_parameters())
    else:
        if backward is None or params is None:
            raise TypeError(
                "gradcheck_directions: with a forward callable, pass backward= and params= too"
            )
        forward = module
    rng = rng if rng is not None else np.random.default_rng(0)
    check_input = check_input and x.dtype.kind == "f"
    out = forward(x)
    grad_out = _like(out, lambda leaf: rng.standard_normal(leaf.shape))
    for _, p in params:
        p.grad = None
    grad_x = backward(grad_out)
    if isinstance(grad_x, tuple):
        grad_x = grad_x[0]
    tensors = [p.data for _, p in params]  # perturbed in place, restored after each direction
    analytic = [np.zeros_like(p.data) if p.grad is None else p.grad.copy() for _, p in params]
    if check_input:
        tensors.append(x)
        analytic.append(np.asarray(grad_x, dtype=np.float64))

    def objective() -> float:
        return sum(
            float(np.sum(np.asarray(o, dtype=np.float64) * g))
            for o, g in zip(_leaves(forward(x)), _leaves(grad_out), strict=True)
        )

    report = GradcheckReport(tol=tol)
    for k in range(directions):
        vs = [rng.standard_normal(t.shape) for t in tensors]
        norm = np.sqrt(sum(float(np.vdot(v, v)) for v in vs))
        vs = [v / norm for v in vs]
        a = sum(float(np.vdot(g, v)) for g, v in zip(analytic, vs, strict=True))
        originals = [t.copy() for t in tensors]
        for t, v in zip(tensors, vs, strict=True):
            t += h * v
        plus = objective()
        for t, o, v in zip(tensors, originals, vs, strict=True):
            t[...] = o - h * v
        minus = objective()
        for t, o in zip(tensors, originals, strict=True):
            t[...] = o
        n = (plus - minus) / (2 * h)
        err = abs(a - n) / max(abs(a) + abs(n), 1e-8)
        report.tensors[f"direction {k}"] = TensorCheck(
            f"direction {k}", err, abs(a - n), None, a, n
        )
    return report
