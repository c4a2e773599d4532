"""Optimizers, update for update as ``torch.optim`` (single-tensor code path, ``maximize=False``).

Each ``step()`` follows the pseudo-code in PyTorch's documentation; the comments quote the
corresponding line. Parameters whose ``grad`` is None are skipped (they were not used), as in
PyTorch. Hyperparameters live in ``param_groups`` (a list of dicts with ``"params"`` and
``"lr"`` ...), so a scheduler can change ``group["lr"]`` between steps.

See: torch.optim.{SGD, RMSprop, Adam, AdamW}.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from nnatlas.scratch.module import Module, Parameter

ParamsLike = Iterable[Parameter] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and (de)serialization.

    Args:
        params: an iterable of :class:`Parameter` (e.g. ``model.parameters()``) or of dicts
            ``{"params": [...], "lr": ...}`` for groups with their own hyperparameters.
        defaults: the hyperparameters a group gets when it does not set them.
    """

    def __init__(self, params: ParamsLike, defaults: dict[str, Any]) -> None:
        if isinstance(params, Module):
            raise TypeError(f"{type(self).__name__}: pass model.parameters(), not the model itself")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        # Keyed by id(param): Parameters are mutable objects without hashing by value.
        self.state: dict[int, dict[str, Any]] = {}
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters (e.g. a layer unfrozen during fine-tuning) with their own settings.

        Hyperparameters the group does not set are taken from the optimizer's defaults.
        """
        name, index = type(self).__name__, len(self.param_groups)
        params = list(group["params"])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{name}: param group {index} holds a {type(p).__name__}; expected "
                    f"scratch Parameters (model.parameters())"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter appears in more than one param group")
            seen.add(id(p))
        self.param_groups.append({**self.defaults, **group, "params": params})

    def zero_grad(self) -> None:
        """Forget the gradients (set to None, PyTorch's default ``set_to_none=True``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _params_with_grad(
        self, group: dict[str, Any]
    ) -> Iterable[tuple[Parameter, dict[str, Any]]]:
        for p in group["params"]:
            if p.grad is None:
                continue
            yield p, self.state.setdefault(id(p), {})

    # -- serialization (PyTorch's layout: parameters by position, not by object) ----------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{"params": [...]}]}``."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {
            index_of[pid]: {
                k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for k, v in s.items()
            }
            for pid, s in self.state.items()
            if pid in index_of
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and buffers saved by :meth:`state_dict` for the same params."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(groups)} param groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        params_by_index: dict[int, Parameter] = {}
        for saved, own in zip(groups, self.param_groups, strict=True):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: a saved param group has {len(saved['params'])} "
                    f"parameters, this one has {len(own['params'])}"
                )
            params_by_index.update(zip(saved["params"], own["params"], strict=True))
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for index, s in state_dict["state"].items():
            p = params_by_index[int(index)]
            restored = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape == p.data.shape:
                    v = v.astype(p.data.dtype, copy=True)
                restored[k] = v
            self.state[id(p)] = restored


def _check_non_negative(optimizer: str, **values: float) -> None:
    for key, value in values.items():
        if value < 0.0:
            raise ValueError(f"{optimizer}: {key} must be >= 0, got {value}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Args:
        params: parameters or param groups.
        lr: learning rate.
        momentum: momentum factor (0 disables the buffer).
        dampening: dampening of the momentum (buffer gets ``(1 - dampening) * g``).
        weight_decay: L2 penalty added to the gradient (``g + weight_decay * p``).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).

    See: torch.optim.SGD. Check: ``nnatlas check "SGD"``. Tests: tests/scratch/test_core_optim.py.
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        _check_non_negative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p, state in self._params_with_grad(group):
                g = p.grad
                if weight_decay != 0:
                    g = g + weight_decay * p.data  # g <- g + lambda * theta
                if momentum != 0:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = np.array(g, copy=True)  # b_1 <- g_1 (no dampening on step 1)
                    else:
                        buf = momentum * buf + (1.0 - dampening) * g  # b <- mu b + (1 - tau) g
                    state["momentum_buffer"] = buf
                    g = g + momentum * buf if nesterov else buf
                p.data = (p.data - lr * g).astype(p.data.dtype, copy=False)


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients (Hinton's lecture 6e).

    Args:
        params: parameters or param groups.
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator (after the square root, as PyTorch).
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor applied to the scaled step.
        centered: divide by the estimated variance (subtract the squared mean gradient).

    See: torch.optim.RMSprop. Check: ``nnatlas check "RMSprop"``. Tests:
    tests/scratch/test_core_optim.py.
    """

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        _check_non_negative(
            "RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum
        )
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        super().__init__(params, defaults)

    def step(self) -> None:
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            centered = group["centered"]
            for p, state in self._params_with_grad(group):
                g = p.grad
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if centered:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.data
                # v <- a v + (1-a) g^2
                square_avg = alpha * state["square_avg"] + (1.0 - alpha) * g * g
                state["square_avg"] = square_avg
                if centered:
                    # g_ave <- a g_ave + (1-a) g
                    grad_avg = alpha * state["grad_avg"] + (1.0 - alpha) * g
                    state["grad_avg"] = grad_avg
                    avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
                else:
                    avg = np.sqrt(square_avg) + eps
                if momentum > 0:
                    # b <- mu b + g / (sqrt(v) + eps)
                    buf = momentum * state["momentum_buffer"] + g / avg
                    state["momentum_buffer"] = buf
                    p.data = (p.data - lr * buf).astype(p.data.dtype, copy=False)
                else:
                    p.data = (p.data - lr * g / avg).astype(p.data.dtype, copy=False)


class Adam(Optimizer):
    """Adaptive moment estimation (Kingma & Ba 2014, arXiv 1412.6980).

    Args:
        params: parameters or param groups.
        lr: learning rate.
        betas: decay rates of the first and second moment averages.
        eps: added to the denominator after the bias-corrected square root.
        weight_decay: L2 penalty **added to the gradient** (coupled; see :class:`AdamW`).
        amsgrad: use the running maximum of the second moment (Reddi et al. 2018).

    See: torch.optim.Adam. Check: ``nnatlas check "Adam"``. Tests: tests/scratch/test_core_optim.py.
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        name = type(self).__name__
        _check_non_negative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{name}: betas must be in [0, 1), got {betas}")
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )
        super().__init__(params, defaults)

    def step(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            for p, state in self._params_with_grad(group):
                g = p.grad
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                step = state["step"]
                param = p.data
                if weight_decay != 0:
                    if self._decoupled:
                        # theta <- theta - lr lambda theta
                        param = param * (1.0 - lr * weight_decay)
                    else:
                        g = g + weight_decay * param  # g <- g + lambda theta
                exp_avg = beta1 * state["exp_avg"] + (1.0 - beta1) * g  # m <- b1 m + (1-b1) g
                # v <- b2 v + (1-b2) g^2
                exp_avg_sq = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * g * g
                state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
                # PyTorch folds the bias corrections: step = lr / (1 - b1^t) and
                # denom = sqrt(v) / sqrt(1 - b2^t) + eps (eps is NOT bias-corrected).
                step_size = lr / (1.0 - beta1**step)
                bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
                if amsgrad:
                    state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], exp_avg_sq)
                    denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt + eps
                else:
                    denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
                p.data = (param - step_size * exp_avg / denom).astype(p.data.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2017, arXiv 1711.05101).

    The parameters shrink by ``lr * weight_decay`` each step instead of having the decay added to
    the gradient, so the decay is not rescaled by Adam's denominator.

    Args: as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2 as in PyTorch.

    See: torch.optim.AdamW. Check: ``nnatlas check "AdamW"``. Tests:
    tests/scratch/test_core_optim.py.
    """

    _decoupled = True

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}
