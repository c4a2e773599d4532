"""What the Trainer asks of a task for each batch: the loss, and what the metrics read.

The :class:`~nnatlas.train.trainer.Trainer` knows no task. For every batch it calls its step's
:meth:`Step.loss` and gets a :class:`StepOutput`; it then does what every task shares
(backward, clipping, the optimizer step, adding the output to the epoch's metrics). A batch is
whatever the task's data yields (a tuple of tensors, or lists of dicts for detection); the
trainer only moves it to the device.

A step is written once for both engines: the loss functions come from the trainer's engine
(``losses.cross_entropy`` returns a torch tensor with a graph under the torch engine, and a
:class:`~nnatlas.train.scratch.ScratchLoss` holding ``d loss / d logits`` under the NumPy one),
so the same :class:`ClassificationStep` trains a zoo model and its NumPy twin.

Example: a step for a model that returns a dict of losses (torchvision's detectors do)::

    class SumOfLosses(Step):
        engines = ("torch",)

        def loss(self, model, batch, losses, training):
            images, targets = batch
            parts = model(images, targets)          # {"loss_box": tensor, "loss_cls": ...}
            total = sum(parts.values())
            return StepOutput(total, losses={k: float(v) for k, v in parts.items()})

        def metrics(self, names):
            return LossAccumulator()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nnatlas.train.metrics import IGNORE_INDEX, MetricAccumulator


@dataclass
class StepOutput:
    """One batch's result, as a step returns it.

    Attributes:
        loss: what backward starts from: a scalar tensor (torch engine) or a ``ScratchLoss``
            (NumPy engine); ``float(loss)`` is its value either way.
        outputs: what the metrics read, e.g. logits (B, C) or (B, T, C); ``None`` when the
            metrics need only the losses.
        targets: the matching targets, e.g. (B,) or (B, T) class indices.
        losses: named parts of the loss as numbers (a detector's box and class losses); the
            history records their epoch means as ``train_<name>`` / ``val_<name>``.
    """

    loss: Any
    outputs: Any = None
    targets: Any = None
    losses: dict[str, float] = field(default_factory=dict)


class Metrics(Protocol):
    """Sums one phase's metrics over its batches (:class:`MetricAccumulator` is one)."""

    def add(self, out: StepOutput, loss: float) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def reset(self) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Step:
    """A task's batch step. Subclasses implement :meth:`loss`; :meth:`metrics` defaults to the
    classification metrics.

    Attributes:
        engines: the engines the step can run under (a step that calls torch-only code, such
            as a torchvision detector, says ``("torch",)``).
    """

    engines: tuple[str, ...] = ("torch", "scratch")

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        """Forward ``batch`` through ``model`` and return its loss and what the metrics read.

        Args:
            model: the model being trained (a ``torch.nn.Module`` or a scratch ``Module``).
            batch: one batch, already on the model's device (arrays under the NumPy engine).
            losses: the engine's loss functions (``losses.cross_entropy(logits, targets, ...)``).
            training: True inside a training step (label smoothing applies), False in evaluation.
        """
        raise NotImplementedError

    def metrics(self, names: Sequence[str]) -> Metrics:
        """A fresh accumulator for the metric ``names`` (from ``TrainConfig.metrics``)."""
        return MetricAccumulator(list(names))


def first_output(output: Any) -> Any:
    """The logits of a model's output: the first element of a tuple (a language model returns
    ``(logits, state)``), else the output itself."""
    return output[0] if isinstance(output, tuple) else output


class ClassificationStep(Step):
    """Cross-entropy of the model's logits against the batch's last tensor.

    Args:
        label_smoothing: applied in training steps only, so validation reports the plain
            cross-entropy, comparable across smoothing settings.
        ignore_index: targets with this value count in neither the loss nor the metrics
            (padding of variable-length targets).

    Shape:
        batch: ``(*inputs, targets)``; ``model(*inputs)`` -> logits (B, C) or (B, T, C);
        targets (B,) or (B, T) int64.
    """

    def __init__(self, label_smoothing: float = 0.0, ignore_index: int = IGNORE_INDEX) -> None:
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        *inputs, targets = batch
        logits = first_output(model(*inputs))  # (B, C) or (B, T, C)
        loss = losses.cross_entropy(
            logits,
            targets,
            label_smoothing=self.label_smoothing if training else 0.0,
            ignore_index=self.ignore_index,
        )
        return StepOutput(loss, logits, targets)


class LossAccumulator:
    """Epoch means of the loss and of its named parts, for steps without logits (detection)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.batches = 0
        self.sums: dict[str, float] = {}

    def add(self, out: StepOutput, loss: float) -> None:
        self.batches += 1
        for name, value in {"loss": loss, **out.losses}.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)

    def compute(self) -> dict[str, float]:
        if not self.batches:
            return {"loss": float("nan")}  # no batch: no number, rather than a made-up 0
        return {name: total / self.batches for name, total in self.sums.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "sums": dict(self.sums)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches, self.sums = int(state["batches"]), dict(state["sums"])
