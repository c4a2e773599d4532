"""Object detection: the step that trains a detector through the task-agnostic Trainer.

Detectors do not fit "one input, one target, cross-entropy": torchvision's (Faster R-CNN,
SSDlite, RetinaNet ...) take a list of images and a list of target dicts (``boxes`` (K, 4) in
x1, y1, x2, y2 pixels, ``labels`` (K,) with 0 the background) and return a dict of losses in
training mode. :class:`DetectionStep` sums that dict into the loss the Trainer backpropagates
and reports every part, so the history records ``train_loss_classifier``,
``train_loss_box_reg`` ... per epoch. Batches come from any iterable of
``(images, targets)`` (a ``DataLoader`` with a list-keeping ``collate_fn``).

The detection task itself (catalog datasets with boxes, mAP, predictions drawn on images)
registers here with :func:`nnatlas.tasks.base.register_task` once it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnatlas.train.steps import LossAccumulator, Step, StepOutput


def _losses_in_eval(model: Any, images: list, targets: list) -> dict[str, Any]:
    """A detector's loss dict without training side effects (see :class:`DetectionStep`)."""
    from torch import nn

    frozen = (nn.modules.batchnorm._BatchNorm, nn.Dropout)
    model.train()
    for module in model.modules():
        if isinstance(module, frozen):
            module.eval()
    try:
        return model(images, targets)
    finally:
        model.eval()


def collate_detection(batch: Sequence[tuple[Any, dict[str, Any]]]) -> tuple[list, list]:
    """``collate_fn`` for detection: keep images and targets as lists (their sizes differ)."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


class DetectionStep(Step):
    """The sum of a detector's losses, with each part recorded.

    torchvision's detectors return losses only in training mode (predictions in eval mode), so
    a validation step switches the model to training mode for its forward pass, with every
    BatchNorm and Dropout layer kept in eval mode: the loss is computed without changing the
    running statistics or dropping units.

    Shape:
        batch: (images: list of (3, H_i, W_i) float tensors, targets: list of dicts)
    """

    engines = ("torch",)

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        images, targets = batch
        if training:
            parts = model(images, targets)  # {"loss_classifier": tensor, ...}
        else:
            parts = _losses_in_eval(model, images, targets)
        total = sum(parts.values())
        parts_values = {name: float(value.detach()) for name, value in parts.items()}
        return StepOutput(total, losses=parts_values)

    def metrics(self, names: Sequence[str]) -> LossAccumulator:
        return LossAccumulator()
