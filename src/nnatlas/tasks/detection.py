"""Object detection: catalog datasets with boxes, torchvision's detectors and the project's own,
mAP, and predictions drawn on images.

Detectors do not fit "one input, one target, cross-entropy": torchvision's (Faster R-CNN,
SSDlite, RetinaNet ...) and :class:`~nnatlas.models.centernet.CenterNet` take a list of images
and a list of target dicts (``boxes`` (K, 4) in x1, y1, x2, y2 pixels, ``labels`` (K,) with 0
the background) and return a dict of losses in training mode. :class:`DetectionStep` sums that
dict into the loss the Trainer backpropagates and reports every part, so the history records
``train_loss_classifier``, ``train_loss_box_reg`` ... per epoch. Batches are either
``(images, targets)`` lists (a ``DataLoader`` with :func:`collate_detection`) or the padded
tensors of a split (:mod:`nnatlas.data.detection.augment`), which batch, shuffle and resume
like any other run's.

The task reads every split once at one square ``image_size`` (boxes scaled with the images),
keeps the pixels as uint8, and scores the detector after training by mAP on the test split
(:mod:`nnatlas.tasks.detection_eval`), writing the precision-recall curves and test images with
their true and predicted boxes into the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nnatlas.tasks.base import (
    DataOptions,
    Prepared,
    Task,
    TaskError,
    pick_example,
    register_task,
    split_index,
)
from nnatlas.train.steps import LossAccumulator, Step, StepOutput

DEFAULT_SIZE = 256


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
        batch: (images: list of (3, H_i, W_i) float tensors, targets: list of dicts), or
        padded tensors (images (B, 3, H, W) uint8, boxes (B, K, 4), labels (B, K), -1 unused)
    """

    engines = ("torch",)

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        if len(batch) == 3:
            from nnatlas.data.detection.augment import unpad

            images, targets = unpad(*batch)
        else:
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


@dataclass
class Detections:
    """A detector's boxes in one image (what ``nnatlas predict`` prints, one JSON line each).

    Attributes:
        input: the image file, or ``SPLIT:INDEX``.
        boxes: ``{"class", "score", "box": [x1, y1, x2, y2]}`` in the input image's pixels,
            most confident first.
        image: where the image with its boxes drawn was written (``None``: not written).
        truth: the true boxes, for ``SPLIT:INDEX`` inputs.
    """

    input: str
    boxes: list[dict[str, Any]]
    image: str | None = None
    truth: list[dict[str, Any]] | None = field(default=None)

    def __str__(self) -> str:
        return "\n".join(json.dumps(b) for b in self.boxes)


def as_tensors(examples: list[Any], slots: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Examples as padded tensors. Shape: -> (N, 3, S, S) uint8, (N, K, 4), (N, K)."""
    from nnatlas.data.detection.augment import pad_targets

    if not examples:
        return (
            torch.zeros(0, 3, 1, 1, dtype=torch.uint8),
            torch.zeros(0, slots, 4),
            torch.zeros(0, slots, dtype=torch.int64),
        )
    images = torch.from_numpy(__import__("numpy").stack([e.image for e in examples]))
    images = images.permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)
    boxes = [torch.from_numpy(e.boxes) for e in examples]
    labels = [torch.from_numpy(e.labels) for e in examples]
    return (images, *pad_targets(boxes, labels, slots))


@register_task
class Detection(Task):
    """Detect objects: Faster R-CNN, SSDlite or CenterNet on COCO or VOC folders, Penn-Fudan,
    the generated ``pasted`` sets."""

    name = "detection"
    title = "object detection"
    model_kinds = ("detection",)
    default_model = "fasterrcnn_mobilenet_v2"
    data_options = ("image_size", "augment", "limit")

    def _read(self, options: DataOptions, size: int) -> Any:
        from nnatlas.data import DatasetError
        from nnatlas.data.detection import load_detection_dataset

        try:
            return load_detection_dataset(
                options.name, options.root, val_fraction=options.val_fraction,
                seed=options.seed, image_size=size,
            )  # fmt: skip
        except DatasetError as err:
            raise TaskError(str(err)) from err

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data.detection.augment import PRESETS, BoxAugment, DetectionBatches

        if options.augment not in PRESETS:
            raise TaskError(f"--augment {options.augment!r}: choose from {', '.join(PRESETS)}")
        size = options.image_size or (entry.default_input[-1] if entry else DEFAULT_SIZE)
        if size % 32:
            raise TaskError(f"--image-size {size}: detectors here take a multiple of 32")
        splits = self._read(options, size)
        if options.limit is not None:
            splits.train = splits.train[: options.limit]
        slots = max([len(e.labels) for part in (splits.train, splits.val, splits.test)
                     for e in part] + [1])  # fmt: skip
        train = as_tensors(splits.train, slots)
        val = as_tensors(splits.val, slots) if splits.val else None
        test = as_tensors(splits.test, slots)
        record = {
            "classes": list(splits.classes),
            "image_size": size,
            "input_shape": [3, size, size],
        }
        facts = {"num_classes": len(splits.classes) + 1, "image_size": size}
        notes = list(splits.notes)
        objects = int((train[2] >= 0).sum())
        notes.append(f"{len(splits.train)} training images, {objects} boxes, {size}x{size} px")
        prepared = Prepared(train, val, test, record, facts, notes=notes)
        if options.augment != "none":
            augment = BoxAugment(options.augment, size)

            def batches(config: Any) -> DetectionBatches:
                return DetectionBatches(*train, config.batch_size, augment, seed=config.seed)

            prepared.batches = batches
        return prepared

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, ...]:
        splits = self._read(options, record["image_size"])
        if list(splits.classes) != list(record["classes"]):
            raise TaskError(
                f"dataset {options.name!r} has the classes {splits.classes}; the model was "
                f"trained on {record['classes']}"
            )
        part = getattr(splits, split)
        if split == "train" and options.limit is not None:
            part = part[: options.limit]
        return as_tensors(part, max([len(e.labels) for e in part] + [1]))

    def step(self, config: Any) -> Step:
        return DetectionStep()

    def output_metrics(self, run: Any, options: DataOptions, split: str) -> dict[str, Any]:
        """mAP@0.5, mAP@[.5:.95] and per-class AP@0.5 of the split; with a run folder, its
        precision-recall curves and a grid of images with true and predicted boxes too."""
        from nnatlas.tasks import detection_eval as ev

        images, boxes, labels = self.load_split(options, run.record, split)
        if len(images) == 0:
            return {}
        config = run.trainer.config
        predictions = ev.detect(run.model, images, run.trainer.device,
                                config.eval_batch_size or 2 * config.batch_size)  # fmt: skip
        targets = ev.truths(boxes, labels)
        classes = run.record["classes"]
        metrics, curves = ev.mean_average_precision(predictions, targets, classes)
        out: dict[str, Any] = dict(metrics)
        out["pr_curves"] = curves
        if run.dir is not None:
            title = f"{options.name}, {split} split: mAP@0.5 {metrics['map_50']:.3f}"
            written = [
                ev.plot_pr_curves(curves, title, run.dir / f"pr_curve_{split}.png"),
                ev.save_examples(images, predictions, targets, classes,
                                 run.dir / f"detections_{split}.png"),
            ]  # fmt: skip
            out["written"] = [str(p) for p in written]
        return out

    def predict(
        self, run: Any, input: str, *, min_score: float = 0.5, output: str | None = None
    ) -> Detections:
        """The boxes in an image file (or ``SPLIT:INDEX`` of the run's data), drawn into a
        copy of the image.

        Args:
            min_score: report boxes at least this confident.
            output: where to write the image with its boxes (default
                ``RUN/predictions/NAME.png``; nowhere for a run without a folder).
        """
        import numpy as np

        from nnatlas.tasks import detection_eval as ev

        size, classes = run.record["image_size"], run.record["classes"]
        truth = None
        example = split_index(input)
        if example is not None:
            split, index = example
            images, boxes, labels = self.load_split(run.options, run.record, split)
            index = pick_example((images,), input, split, index)
            pixels = images[index].permute(1, 2, 0).numpy()
            truth = ev.truths(boxes[index : index + 1], labels[index : index + 1])[0]
        else:
            pixels = _read_image(Path(input))
        height, width = pixels.shape[:2]
        from PIL import Image

        # np.array copies: torch.from_numpy warns on the read-only buffer np.asarray returns
        resized = np.array(Image.fromarray(pixels).resize((size, size), Image.BILINEAR))
        batch = torch.from_numpy(resized).permute(2, 0, 1)[None]  # (1, 3, S, S)
        found = ev.detect(run.model, batch, run.trainer.device)[0]
        keep = found["scores"] >= min_score
        scale = torch.tensor([width / size, height / size] * 2)
        found = {"boxes": found["boxes"][keep] * scale, "labels": found["labels"][keep],
                 "scores": found["scores"][keep]}  # fmt: skip
        rows = [
            {"class": classes[int(c) - 1], "score": round(float(s), 4),
             "box": [round(float(v), 1) for v in b]}
            for b, c, s in zip(found["boxes"], found["labels"], found["scores"], strict=True)
        ]  # fmt: skip
        written = None
        if output is not None or run.dir is not None:
            stem = input.replace(":", "-") if example is not None else Path(input).stem
            path = Path(output) if output else run.dir / "predictions" / f"{stem}.png"
            ev.save_picture(ev.draw_boxes(pixels, found, classes, truth, min_score), path)
            written = str(path)
        true_rows = None
        if truth is not None:
            true_rows = [{"class": classes[int(c) - 1], "box": [float(v) for v in b]}
                         for b, c in zip(truth["boxes"], truth["labels"], strict=True)]  # fmt: skip
        return Detections(input, rows, written, true_rows)


def _read_image(path: Path) -> Any:
    import numpy as np

    from nnatlas.data import DatasetError, open_image

    if not path.is_file():
        raise TaskError(f"{path}: no such image file (or give SPLIT:INDEX, e.g. test:0)")
    try:
        return np.asarray(open_image(path, "RGB"))
    except DatasetError as err:
        raise TaskError(str(err)) from err
