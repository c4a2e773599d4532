"""An exponential moving average of a model's weights (``--ema DECAY``).

After every optimizer step the average moves a little towards the current weights::

    average = decay * average + (1 - decay) * weights

so it is a smoothed copy of the last ``1 / (1 - decay)`` steps' weights (1,000 steps at decay
0.999). Each step's weights carry the noise of its mini-batch; their average sits nearer the
middle of the valley they wander in and usually generalises a little better and varies less from
seed to seed (Polyak and Juditsky 1992; TensorFlow's ``ExponentialMovingAverage``; timm's
``ModelEmaV3``). Training itself is unchanged: the optimizer steps the raw weights; validation,
best.pt and the final model use the average.

Early on the average would be dominated by the random initial weights, so the decay starts low
and grows to ``decay`` as TensorFlow's ``num_updates`` rule does: ``min(decay, (1 + n) / (10 +
n))`` at update n. Until it reaches ``decay`` the average spans about the last tenth of the steps
taken (decay 0.999 is reached after 8,991 updates). Floating-point buffers (batch norm's running
statistics) are averaged too; integer ones (its batch counter) are copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


class WeightAverage:
    """The running average of a model's parameters and floating-point buffers.

    Args:
        decay: the weight kept per update, in [0, 1): 0.999 averages about the last 1,000 steps.
        state: the model's live tensors by name (the average starts as their copy, on their
            device).
    """

    def __init__(self, decay: float, state: Mapping[str, torch.Tensor]) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"--ema must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average = {name: value.detach().clone() for name, value in state.items()}

    def current_decay(self) -> float:
        """The decay of the next update: ``min(decay, (1 + n) / (10 + n))``."""
        n = self.updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, state: Mapping[str, torch.Tensor]) -> None:
        """Move the average towards the model's current tensors (one optimizer step)."""
        if state.keys() != self.average.keys():
            missing = sorted(set(self.average) ^ set(state))
            raise KeyError(f"the weight average and the model differ in {missing[:5]}")
        weight = 1.0 - self.current_decay()
        averages, values = [], []
        for name, value in state.items():
            average = self.average[name]
            if average.is_floating_point():
                averages.append(average)
                values.append(value.detach().to(average.dtype))
            else:
                average.copy_(value)
        if averages:
            torch._foreach_lerp_(averages, values, weight)  # one fused pass over every tensor
        self.updates += 1

    def state(self) -> dict[str, torch.Tensor]:
        """A detached copy of the averaged weights (on the CPU), as a model state dict."""
        return {name: value.detach().cpu().clone() for name, value in self.average.items()}

    def load(self, state: Mapping[str, Any], updates: int) -> None:
        """Replace the average (``state()`` of a checkpoint) and its update count."""
        for name, average in self.average.items():
            if name not in state:
                raise KeyError(f"the checkpoint's weight average has no {name!r}")
            average.copy_(torch.as_tensor(state[name]))
        self.updates = int(updates)
