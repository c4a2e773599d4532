"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Used between ``backward`` and ``optimizer.step()``, typically for recurrent networks whose
gradients can explode through time (Pascanu et al. 2013, arXiv 1211.5063).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from nnatlas.scratch.module import Parameter


def _with_grads(params: Iterable[Parameter] | Parameter) -> list[Parameter]:
    params = [params] if isinstance(params, Parameter) else list(params)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(
    params: Iterable[Parameter] | Parameter,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Rescale all gradients together so their joint norm is at most ``max_norm``.

    The total norm is the norm of the per-parameter norms (as if all gradients were one vector).
    As in PyTorch, every gradient is multiplied by ``min(1, max_norm / (total + 1e-6))``.

    Args:
        params: parameters (those without a gradient are ignored).
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm; ``math.inf`` for the max-abs norm.
        error_if_nonfinite: raise if the total norm is nan or inf instead of scaling by it.

    Returns:
        The total norm **before** clipping (useful to log).
    """
    grads = [p.grad for p in _with_grads(params)]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        norms = np.array([np.linalg.norm(g.ravel(), ord=norm_type) for g in grads])
        total = float(np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {total}; a loss or layer produced "
            f"nan/inf gradients (set error_if_nonfinite=False to clip anyway)"
        )
    coef = min(max_norm / (total + 1e-6), 1.0)  # 1e-6 as PyTorch, against division by zero
    for g in grads:
        g *= g.dtype.type(coef)
    return total


def clip_grad_value_(params: Iterable[Parameter] | Parameter, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(params):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
