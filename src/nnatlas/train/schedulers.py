"""Learning-rate schedules that drive any optimizer with ``param_groups[i]["lr"]``.

PyTorch's optimizers and the NumPy engine's optimizers both keep their rate in
``param_groups[i]["lr"]``, so one implementation serves both engines and their learning-rate
curves are identical. Every schedule is a *factor* of the base rate, computed from the number of
optimizer steps taken; :class:`LRScheduler` writes ``base_lr * factor`` after each step.

- ``step``: multiply by ``gamma`` every ``step_size`` epochs (torch.optim.lr_scheduler.StepLR).
- ``cosine``: half a cosine from the base rate to 0 over the run (CosineAnnealingLR, eta_min=0).
- ``onecycle``: warm up from base/25 to base over 30 % of the steps, then anneal to base/25/1e4,
  both halves cosine shaped: OneCycleLR's defaults (Smith & Topin 2017, arXiv 1708.07120).
  Unlike OneCycleLR, momentum is not cycled.
- ``plateau``: multiply by ``gamma`` when the monitored validation metric has not improved for
  ``patience`` epochs (ReduceLROnPlateau).
- any of them can be preceded by a linear warm-up of ``warmup_steps`` steps (Goyal et al. 2017,
  arXiv 1706.02677: large batches need a gradual start).
"""

from __future__ import annotations

import math
from typing import Any

from nnatlas.train.config import SCHEDULERS

# OneCycleLR defaults, from torch.optim.lr_scheduler.OneCycleLR.
ONECYCLE_PCT_START = 0.3
ONECYCLE_DIV_FACTOR = 25.0
ONECYCLE_FINAL_DIV_FACTOR = 1e4


def _cosine(start: float, end: float, fraction: float) -> float:
    """Cosine interpolation from ``start`` (fraction 0) to ``end`` (fraction 1)."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))


def schedule_factor(
    name: str,
    step: int,
    total_steps: int,
    steps_per_epoch: int,
    step_size: int = 10,
    gamma: float = 0.1,
) -> float:
    """Multiplier of the base rate after ``step`` optimizer steps (not plateau: it is stateful).

    Args:
        name: none, step, cosine or onecycle.
        step: optimizer steps taken so far (0 for the first step).
        total_steps: steps in the whole run.
        steps_per_epoch: steps in one epoch (the ``step`` schedule counts epochs).
        step_size: ``step`` schedule: epochs between decays.
        gamma: ``step`` schedule: decay factor.
    """
    if name in ("none", "plateau"):
        return 1.0
    if name == "step":
        return gamma ** ((step // max(steps_per_epoch, 1)) // max(step_size, 1))
    if name == "cosine":
        return _cosine(1.0, 0.0, step / max(total_steps, 1))
    if name == "onecycle":
        initial = 1.0 / ONECYCLE_DIV_FACTOR
        final = initial / ONECYCLE_FINAL_DIV_FACTOR
        peak_step = float(ONECYCLE_PCT_START * total_steps) - 1.0
        if step <= peak_step:
            return _cosine(initial, 1.0, step / max(peak_step, 1.0))
        return _cosine(1.0, final, (step - peak_step) / max(total_steps - 1 - peak_step, 1.0))
    raise ValueError(f"unknown scheduler {name!r}; choose from {', '.join(SCHEDULERS)}")


class LRScheduler:
    """Sets the learning rate of every parameter group; call :meth:`step` after each optimizer step.

    Args:
        optimizer: anything with ``param_groups`` (a list of dicts holding ``"lr"``).
        name: one of :data:`SCHEDULERS`.
        total_steps: optimizer steps in the whole run.
        steps_per_epoch: optimizer steps per epoch.
        warmup_steps: linear warm-up from ``base_lr / warmup_steps`` to ``base_lr``.
        step_size: ``step``: epochs between decays.
        gamma: ``step`` and ``plateau``: decay factor.
        patience: ``plateau``: epochs without improvement before a decay.
        mode: ``plateau``: ``"min"`` if a smaller metric is better, else ``"max"``.
    """

    def __init__(
        self,
        optimizer: Any,
        name: str = "none",
        total_steps: int = 1,
        steps_per_epoch: int = 1,
        warmup_steps: int = 0,
        step_size: int = 10,
        gamma: float = 0.1,
        patience: int = 2,
        mode: str = "min",
    ) -> None:
        if name not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {name!r}; choose from {', '.join(SCHEDULERS)}")
        self.optimizer, self.name = optimizer, name
        self.total_steps, self.steps_per_epoch = max(total_steps, 1), max(steps_per_epoch, 1)
        self.warmup_steps, self.step_size, self.gamma = warmup_steps, step_size, gamma
        self.patience, self.mode = patience, mode
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.steps = 0
        self.plateau_best: float | None = None
        self.plateau_wait = 0
        self.plateau_decays = 0
        self._apply()

    def factor(self) -> float:
        """The multiplier for the next optimizer step."""
        factor = schedule_factor(
            self.name,
            self.steps,
            self.total_steps,
            self.steps_per_epoch,
            self.step_size,
            self.gamma,
        )
        factor *= self.gamma**self.plateau_decays
        if self.steps < self.warmup_steps:
            factor *= (self.steps + 1) / self.warmup_steps
        return factor

    def _apply(self) -> None:
        factor = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor

    def step(self) -> None:
        """Advance one optimizer step."""
        self.steps += 1
        self._apply()

    def epoch_end(self, metric: float | None) -> None:
        """Give the ``plateau`` schedule the epoch's validation metric; others ignore it."""
        if self.name != "plateau" or metric is None:
            return
        improved = self.plateau_best is None or (
            metric < self.plateau_best if self.mode == "min" else metric > self.plateau_best
        )
        if improved:
            self.plateau_best, self.plateau_wait = metric, 0
            return
        self.plateau_wait += 1
        if self.plateau_wait > self.patience:
            self.plateau_decays += 1
            self.plateau_wait = 0
            self._apply()

    @property
    def lr(self) -> float:
        """Current rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "base_lrs": list(self.base_lrs),
            "plateau_best": self.plateau_best,
            "plateau_wait": self.plateau_wait,
            "plateau_decays": self.plateau_decays,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["name"] != self.name:
            raise ValueError(
                f"LRScheduler: checkpoint was saved with scheduler {state['name']!r}, "
                f"this run uses {self.name!r}"
            )
        self.steps, self.base_lrs = int(state["steps"]), list(state["base_lrs"])
        self.plateau_best = state["plateau_best"]
        self.plateau_wait = int(state["plateau_wait"])
        self.plateau_decays = int(state["plateau_decays"])
        self._apply()
