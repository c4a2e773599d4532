"""The learning-rate range test (Smith 2015, arXiv 1506.01186; fastai's ``lr_find``).

Train from a tiny rate, multiplying it by a constant after every step so that it grows
exponentially from ``start_lr`` to ``end_lr`` over ``steps`` steps; record the loss of each
step and stop early when it blows up: when its exponential moving average (bias-corrected, as
Adam's moments are) passes ``diverge`` times its minimum (fastai's 4), or a loss is not finite.
The loss falls once the rate is big enough to learn, fastest somewhere, then climbs when the
rate is too big.

The rules read the curve after a *centred* moving average over ``2 * half_width + 1`` steps
(5 % of the sweep a side), not the running average that decides when to stop: fastai smooths
with beta 0.98, an average over the last ~50 steps, and in a 100-step sweep whose rate grows
1.2x a step that lags the loss by a factor of about 1.2**49 = 7,600 in rate; a centred window
has no lag. Two rules read a rate off the curve:

- ``min/10``: a tenth of the rate at the smoothed loss's minimum (fastai's original rule, and
  its advice for one-cycle's peak rate: at the minimum the rate is already too big, an order
  of magnitude below it still learns fast). The suggested one.
- ``steepest``: where the smoothed loss falls fastest against log(rate) (Smith's "the rate at
  which the loss decreases the most"; fastai's ``steep``).

``min/10`` is suggested because it is the steadier of the two: on LeNet-5 / Fashion-MNIST (one
sweep, seed 0) it read 1.8e-3 to 4.5e-3 for centred windows of 3 to 17 steps, where
``steepest`` moved from 0.8e-3 to 8.5e-3 (a slope between neighbouring points is noisy).

The test trains through :func:`nnatlas.tasks.train` and the Trainer's own step, for either
engine: :class:`RangeTest` is a callback that sets the rate of the optimizer's parameter groups
after each step (after the schedule has written its own) and ends the run when the sweep is
over. The model it leaves behind is spent; nothing of it is kept but the curve.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError
from nnatlas.train.callbacks import Callback

SMOOTHING = 0.98  # fastai's beta: an average over about the last 50 steps
DIVERGE = 4.0  # fastai's stop_div: a running average at 4x its minimum has blown up
SKIP_START = 10  # fastai's skip_start: the first steps are left out of the rules
RULES = ("min/10", "steepest")


class RangeTestError(NnatlasError, ValueError):
    """Range-test options that cannot make a sweep (the message says which)."""


class SweepDone(Exception):
    """Raised by :class:`RangeTest` to end the training run when the sweep is over."""


class RangeTest(Callback):
    """Sets an exponentially growing learning rate after each step and records the losses.

    Args:
        start_lr, end_lr: the first and the last rate of the sweep.
        steps: optimizer steps the sweep takes to reach ``end_lr``.
        smoothing: the moving average's beta.
        diverge: stop once the running average exceeds ``diverge`` times its minimum.

    After the run, ``rates[i]`` is the rate step ``i`` trained with, ``losses[i]`` its loss
    and ``average[i]`` the bias-corrected running average that decides the stop; ``stop``
    says why it ended.
    """

    def __init__(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        steps: int = 100,
        smoothing: float = SMOOTHING,
        diverge: float = DIVERGE,
    ) -> None:
        if not 0 < start_lr < end_lr:
            raise RangeTestError(
                f"--start-lr {start_lr:g} and --end-lr {end_lr:g}: need 0 < start < end"
            )
        if steps < 2:
            raise RangeTestError(f"--steps must be at least 2, got {steps}")
        self.start_lr, self.end_lr, self.steps = start_lr, end_lr, steps
        self.factor = (end_lr / start_lr) ** (1.0 / (steps - 1))  # rate_{i+1} = factor * rate_i
        self.smoothing, self.diverge = smoothing, diverge
        self.rates: list[float] = []
        self.losses: list[float] = []
        self.average: list[float] = []
        self.stop = ""
        self._average = 0.0

    def rate(self, step: int) -> float:
        """The rate of step ``step`` (0-based)."""
        return self.start_lr * self.factor**step

    def _set_rate(self, trainer: Any, rate: float) -> None:
        for group in trainer.optimizer.param_groups:  # both engines keep their rate here
            group["lr"] = rate

    def on_fit_begin(self, trainer: Any) -> None:
        self._set_rate(trainer, self.rate(0))

    def on_step_end(self, trainer: Any, loss: float) -> None:
        step = len(self.losses)
        self.rates.append(self.rate(step))
        self.losses.append(loss)
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        average = self._average / (1 - self.smoothing ** (step + 1))  # bias correction
        self.average.append(average)
        lowest = min(self.average)
        blown = average > self.diverge * lowest
        # A cross-entropy "blows up" to a dead network's ln(classes) as often as to infinity:
        # a loss back above where the sweep started, after falling, is as good as lost.
        forgotten = lowest < 0.9 * self.average[0] and average > self.average[0]
        if not math.isfinite(average) or (step >= SKIP_START and (blown or forgotten)):
            self.stop = f"the loss blew up at rate {self.rates[-1]:.3g} (step {step + 1})"
            raise SweepDone(self.stop)
        if step + 1 >= self.steps:
            self.stop = f"the sweep reached {self.end_lr:g} in {self.steps} steps"
            raise SweepDone(self.stop)
        self._set_rate(trainer, self.rate(step + 1))  # the schedule just wrote its own rate


@dataclass
class LRFinder:
    """A finished range test: the curve, the suggestions and where the plot went."""

    model: str
    data: str
    engine: str
    rates: list[float]
    losses: list[float]
    smoothed: list[float]
    stop: str
    suggestions: dict[str, float] = field(default_factory=dict)
    rule: str = "min/10"
    plot: Path | None = None
    folder: Path | None = None

    @property
    def suggested(self) -> float | None:
        return self.suggestions.get(self.rule)


def smooth_centred(values: list[float], half_width: int) -> list[float]:
    """The mean of each value and its ``half_width`` neighbours on either side (fewer at the
    ends); a centred average does not lag the curve as a running one does."""
    out = []
    for i in range(len(values)):
        window = values[max(0, i - half_width) : i + half_width + 1]
        out.append(sum(window) / len(window))
    return out


def suggest(rates: list[float], smoothed: list[float]) -> dict[str, float]:
    """The rates of :data:`RULES` read off a smoothed curve (none for a curve too short).

    ``steepest`` is where the slope of the smoothed loss against log(rate), between
    neighbouring steps, is most negative, before the curve's minimum and after the first
    :data:`SKIP_START` steps (fewer for a short curve).
    """
    out: dict[str, float] = {}
    finite = [i for i, v in enumerate(smoothed) if math.isfinite(v)]
    if len(finite) < 3:
        return out
    lowest = min(finite, key=lambda i: smoothed[i])
    out["min/10"] = rates[lowest] / 10
    start = min(SKIP_START, max(lowest - 2, 0))
    slopes = [
        ((smoothed[i + 1] - smoothed[i]) / (math.log(rates[i + 1]) - math.log(rates[i])), i)
        for i in range(start, lowest)
    ]
    if slopes:
        out["steepest"] = rates[min(slopes)[1]]
    return out


def lr_find(
    model: str | None = None,
    data: str = "digits",
    *,
    engine: str = "torch",
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    folder: str | Path | None = None,
    runs_dir: str | Path = "runs",
    val_fraction: float = 0.1,
    limit: int | None = None,
    model_options: dict[str, Any] | None = None,
    **options: Any,
) -> LRFinder:
    """Run the range test of ``model`` on ``data`` and suggest a learning rate.

    Args:
        model: a zoo model (default: the dataset's preset model).
        data: a catalog dataset.
        engine: ``"torch"`` or ``"scratch"``.
        start_lr, end_lr, steps: the sweep (fastai's defaults: 1e-7 to 10 in 100 steps).
        folder: where the run, ``lr-find.png`` and ``lr-find.csv`` go (default
            ``runs_dir/lr-find/MODEL-DATA-ENGINE``; replaced on each test).
        val_fraction, limit, model_options, **options: as :func:`nnatlas.tasks.train` takes
            them; the optimizer, batch size ... of the preset apply unless given.

    Returns:
        An :class:`LRFinder`; ``suggested`` is the ``min/10`` rate.
    """
    import csv
    import io

    import nnatlas.tasks as tasks
    from nnatlas.files import write_text_atomic
    from nnatlas.train import NonFiniteLossError
    from nnatlas.train.trainer import TrainingWarning

    task = tasks.task_for(data)
    model = model or tasks.preset_for(data).model or task.default_model
    sweep = RangeTest(start_lr, end_lr, steps)
    folder = Path(folder) if folder is not None else Path(runs_dir) / "lr-find"
    if folder.name == "lr-find":
        folder = folder / f"{model}-{data.replace(':', '-').replace('/', '_')}-{engine}"
    # The sweep's own rate replaces the schedule; it ends by itself, never by early stopping.
    options.update(lr=start_lr, scheduler="none", warmup_epochs=0.0, patience=0, epochs=10**6)
    options.update(quiet=True, tensorboard=False, restore_best=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # an exploding loss is the point
        try:
            tasks.train(
                model, data, engine=engine, run_dir=folder, val_fraction=val_fraction,
                limit=limit, model_options=model_options, callbacks=[sweep], overwrite=True,
                **options,
            )  # fmt: skip
        except SweepDone:
            pass
        except NonFiniteLossError:
            sweep.stop = (
                f"the loss became infinite or NaN at rate {sweep.rate(len(sweep.losses)):.3g}"
            )
    if not sweep.stop:
        raise RangeTestError("the training run ended before the sweep did")  # pragma: no cover
    smoothed = smooth_centred(sweep.losses, max(1, steps // 20))
    found = LRFinder(model, data, engine, sweep.rates, sweep.losses, smoothed, sweep.stop)
    found.folder = folder
    found.suggestions = suggest(sweep.rates, smoothed)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["step", "lr", "loss", "smoothed", "running_average"])
    for i, row in enumerate(zip(sweep.rates, sweep.losses, smoothed, sweep.average, strict=True)):
        writer.writerow([i + 1, *row])
    write_text_atomic(folder / "lr-find.csv", buffer.getvalue())
    found.plot = plot_range_test(found, folder / "lr-find.png")
    return found


def plot_range_test(found: LRFinder, path: Path) -> Path:
    """Loss (raw and smoothed) against the rate on a log axis, the suggestions marked."""
    from nnatlas.tune import plots

    fig, axes = plots.figure(size=(6.5, 4.2))
    ax = axes[0][0]
    ax.plot(found.rates, found.losses, color="C0", alpha=0.3, label="loss of each step")
    ax.plot(found.rates, found.smoothed, color="C0", label="smoothed (centred average)")
    for (rule, rate), color in zip(found.suggestions.items(), ("C3", "C2"), strict=False):
        chosen = " (suggested)" if rule == found.rule else ""
        ax.axvline(rate, color=color, linestyle="--", label=f"{rule}: {rate:.2g}{chosen}")
    ax.set_xscale("log")
    finite = [v for v in (*found.losses, *found.smoothed) if math.isfinite(v)]
    if finite:  # the blown-up tail would squash the interesting part
        low, first = min(finite), found.smoothed[0]
        ax.set_ylim(low - 0.05 * abs(first - low) - 1e-3, max(first, low) * 1.25 + 1e-3)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"range test: {found.model} on {found.data} ({found.engine})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return plots.save(fig, path)
