"""Prove a scratch module equal to its PyTorch twin: same weights -> same outputs, gradients, steps.

``check_parity(scratch, torch_module, x, ...)`` works on float64 copies of both modules (the
caller's are untouched): it copies the torch weights into the scratch copy by name, runs both
forwards, backpropagates a loss (or a random upstream gradient), compares the input gradient and
every parameter gradient by name, compares buffers (BatchNorm running statistics), and optionally
takes ``steps`` optimizer steps with the scratch optimizer and the same ``torch.optim`` one and
compares the parameters after them.

Multi-output modules (an LSTM returning ``(y, (h, c))``) or modules with extra forward
arguments are handled by passing ``forward_scratch(module, x)`` / ``forward_torch(module, x)``
callables (and ``backward_scratch(module, grad_out)`` when the scratch backward has another
signature); outputs may be nested tuples, whose leaves get independent random upstream gradients.

Dropout draws different masks in the two engines; check such models in ``eval()`` mode (the mode
of each torch submodule is copied to the scratch submodule of the same name).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nnatlas.bridge.checks import PARITY_TOL
from nnatlas.bridge.transfer import to_numpy, torch_to_scratch
from nnatlas.scratch import losses as scratch_losses
from nnatlas.scratch.module import Module
from nnatlas.scratch.optim import OPTIMIZERS

LossSpec = str | tuple[str, dict[str, Any]] | None
OptimizerSpec = tuple[str, dict[str, Any]] | None

_LOSSES: dict[str, tuple[type, type]] = {
    "cross_entropy": (scratch_losses.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
    "mse": (scratch_losses.MSELoss, torch.nn.MSELoss),
    "bce_with_logits": (scratch_losses.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
}
TORCH_OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


@dataclass
class ParityReport:
    """Max absolute differences, scratch vs torch (float64). ``None``: not compared."""

    max_abs_forward: float = 0.0
    max_abs_loss: float | None = None
    max_abs_input_grad: float | None = None
    max_abs_param_grad: dict[str, float] = field(default_factory=dict)
    max_abs_buffers: dict[str, float] = field(default_factory=dict)
    max_abs_after_step: float | None = None
    tol: float = PARITY_TOL

    @property
    def max_abs(self) -> float:
        """The largest difference of any compared quantity."""
        values = [
            self.max_abs_forward,
            *self.max_abs_param_grad.values(),
            *self.max_abs_buffers.values(),
        ]
        values += [
            v
            for v in (self.max_abs_loss, self.max_abs_input_grad, self.max_abs_after_step)
            if v is not None
        ]
        return float(max(values))

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_abs)) and self.max_abs <= self.tol

    def __str__(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        lines = [
            f"parity {status}: max abs diff {self.max_abs:.2e} (tol {self.tol:.0e})",
            f"  forward          {self.max_abs_forward:.2e}",
        ]
        if self.max_abs_loss is not None:
            lines.append(f"  loss             {self.max_abs_loss:.2e}")
        if self.max_abs_input_grad is not None:
            lines.append(f"  input grad       {self.max_abs_input_grad:.2e}")
        lines += [f"  grad {k:<16} {v:.2e}" for k, v in self.max_abs_param_grad.items()]
        lines += [f"  buffer {k:<14} {v:.2e}" for k, v in self.max_abs_buffers.items()]
        if self.max_abs_after_step is not None:
            lines.append(f"  params after step {self.max_abs_after_step:.2e}")
        return "\n".join(lines)


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in _leaves(item)]
    return [obj]


def _like(obj: Any, values: list[Any]) -> Any:
    """Rebuild the nested structure of ``obj`` from its leaves ``values`` (consumed in order)."""
    if isinstance(obj, (tuple, list)):
        return type(obj)(_like(item, values) for item in obj)
    return values.pop(0)


def _max_abs(a: np.ndarray | None, b: np.ndarray | None) -> float:
    a = np.zeros(()) if a is None else np.asarray(a, dtype=np.float64)
    b = np.zeros(()) if b is None else np.asarray(b, dtype=np.float64)
    if a.shape != b.shape and a.size and b.size and a.size != 1 and b.size != 1:
        raise ValueError(f"check_parity: shapes differ, scratch {a.shape} vs torch {b.shape}")
    diff = np.abs(a - b)
    return float(diff.max()) if diff.size else 0.0


def _make_losses(loss: LossSpec) -> tuple[Any, Any] | None:
    if loss is None:
        return None
    name, kwargs = (loss, {}) if isinstance(loss, str) else loss
    if name not in _LOSSES:
        raise ValueError(f"check_parity: unknown loss {name!r}; choose one of {sorted(_LOSSES)}")
    scratch_cls, torch_cls = _LOSSES[name]
    torch_kwargs = {
        k: (torch.from_numpy(np.asarray(v, dtype=np.float64)) if isinstance(v, np.ndarray) else v)
        for k, v in kwargs.items()
    }
    return scratch_cls(**kwargs), torch_cls(**torch_kwargs)


def _mirror_modes(torch_module: torch.nn.Module, scratch_module: Module) -> None:
    """Give each scratch submodule the train/eval mode of the torch submodule of the same name."""
    scratch_modules = dict(scratch_module.named_modules())
    scratch_module.train(torch_module.training)
    for name, sub in torch_module.named_modules():
        if name in scratch_modules:
            object.__setattr__(scratch_modules[name], "training", sub.training)


def check_parity(
    scratch_module: Module,
    torch_module: torch.nn.Module,
    x: np.ndarray,
    *,
    target: np.ndarray | None = None,
    loss: LossSpec = None,
    optimizer: OptimizerSpec = None,
    steps: int = 1,
    rng: np.random.Generator | None = None,
    forward_scratch: Callable[[Module, np.ndarray], Any] | None = None,
    forward_torch: Callable[[torch.nn.Module, torch.Tensor], Any] | None = None,
    backward_scratch: Callable[[Module, Any], Any] | None = None,
    tol: float = PARITY_TOL,
) -> ParityReport:
    """Compare ``scratch_module`` with ``torch_module`` in float64 after copying torch's weights.

    Args:
        scratch_module, torch_module: twins with equal state_dict keys (not modified).
        x: the input (float, or integer ids for an embedding).
        target: the loss target (class indices for cross-entropy).
        loss: ``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"`` or ``(name, kwargs)``;
            None backpropagates a random upstream gradient instead.
        optimizer: ``(name, kwargs)`` with name in sgd/rmsprop/adam/adamw: the scratch and torch
            optimizers take ``steps`` steps (recomputing gradients between steps).
        steps: how many optimizer steps.
        rng: generator for the upstream gradients (default seeded 0).
        forward_scratch, forward_torch: ``(module, x) -> output`` for modules with other call
            signatures; outputs may be nested tuples.
        backward_scratch: ``(module, grad_out) -> grad_x`` (or a tuple starting with grad_x).
        tol: the max abs difference allowed (``report.passed``).

    Returns:
        A :class:`ParityReport`.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    scratch = copy.deepcopy(scratch_module).to(np.float64)
    twin = copy.deepcopy(torch_module).double()
    torch_to_scratch(twin, scratch)
    _mirror_modes(twin, scratch)
    forward_scratch = forward_scratch or (lambda m, inp: m(inp))
    forward_torch = forward_torch or (lambda m, inp: m(inp))
    backward_scratch = backward_scratch or (lambda m, g: m.backward(g))
    losses = _make_losses(loss)

    x = np.asarray(x)
    differentiable = x.dtype.kind == "f"
    x_s = x.astype(np.float64) if differentiable else x
    report = ParityReport(tol=tol)
    grad_out_leaves: list[np.ndarray] | None = None

    def forward_backward(record: bool) -> None:
        nonlocal grad_out_leaves
        x_t = torch.from_numpy(x_s.copy())
        if differentiable:
            x_t.requires_grad_(True)
        out_s = forward_scratch(scratch, x_s)
        out_t = forward_torch(twin, x_t)
        leaves_s, leaves_t = _leaves(out_s), _leaves(out_t)
        if len(leaves_s) != len(leaves_t):
            raise ValueError(
                f"check_parity: scratch returned {len(leaves_s)} arrays, torch {len(leaves_t)}; "
                f"pass forward_scratch/forward_torch that return the same structure"
            )
        if record:
            report.max_abs_forward = max(
                _max_abs(s, to_numpy(t)) for s, t in zip(leaves_s, leaves_t, strict=True)
            )
        if losses is not None:
            if len(leaves_s) != 1:
                raise ValueError(
                    "check_parity: a loss needs a single output; select it in forward_*"
                )
            crit_s, crit_t = losses
            value_s = crit_s(leaves_s[0], target)
            target_t = torch.from_numpy(np.asarray(target))
            if target_t.is_floating_point():
                target_t = target_t.double()
            value_t = crit_t(out_t, target_t)
            if record:
                report.max_abs_loss = _max_abs(value_s, to_numpy(value_t))
            grad_s = crit_s.backward()
            value_t.backward()
        else:
            if grad_out_leaves is None:
                grad_out_leaves = [rng.standard_normal(np.shape(leaf)) for leaf in leaves_s]
            grad_s = _like(out_s, list(grad_out_leaves))
            pairs = [
                (t, torch.from_numpy(g))
                for t, g in zip(leaves_t, grad_out_leaves, strict=True)
                if isinstance(t, torch.Tensor) and t.requires_grad
            ]
            if pairs:
                torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
        grad_x = backward_scratch(scratch, grad_s)
        if isinstance(grad_x, tuple):
            grad_x = grad_x[0]
        if record and differentiable:
            report.max_abs_input_grad = _max_abs(
                grad_x, None if x_t.grad is None else to_numpy(x_t.grad)
            )

    scratch.zero_grad()
    twin.zero_grad()
    forward_backward(record=True)
    scratch_params = dict(scratch.named_parameters())
    for name, p_t in twin.named_parameters():
        g_t = None if p_t.grad is None else to_numpy(p_t.grad)
        report.max_abs_param_grad[name] = _max_abs(scratch_params[name].grad, g_t)
    scratch_buffers = dict(scratch.named_buffers())
    for name, b_t in twin.named_buffers():
        report.max_abs_buffers[name] = _max_abs(scratch_buffers[name], to_numpy(b_t))

    if optimizer is not None:
        name, kwargs = optimizer
        if name not in OPTIMIZERS:
            raise ValueError(
                f"check_parity: unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}"
            )
        opt_s = OPTIMIZERS[name](scratch.parameters(), **kwargs)
        opt_t = TORCH_OPTIMIZERS[name](twin.parameters(), **kwargs)
        for step in range(steps):
            if step > 0:
                opt_s.zero_grad()
                opt_t.zero_grad()
                forward_backward(record=False)
            opt_s.step()
            opt_t.step()
        report.max_abs_after_step = max(
            _max_abs(scratch_params[n].data, to_numpy(p)) for n, p in twin.named_parameters()
        )
    return report
