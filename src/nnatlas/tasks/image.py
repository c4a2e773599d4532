"""Image classification: a catalog image dataset, normalized once in memory, any image model.

Every split is normalized with the training split's per-channel mean and std (kept in the run's
record, so a new image is normalized the same way); augmentation, when asked for, runs per batch
in [0, 1] pixel space before normalization.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnatlas.tasks.base import (
    DataOptions,
    Prepared,
    Task,
    TaskError,
    limit_rows,
    pick_example,
    register_task,
    split_index,
)
from nnatlas.tasks.results import ClassPrediction


def normalizer(
    mean: list[float] | None, std: list[float] | None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> (x - mean) / std`` per channel (identity without statistics).

    Shape: x (N, C, H, W) -> (N, C, H, W)
    """
    if not mean:
        return lambda x: x
    m, s = torch.tensor(mean), torch.tensor(std)

    def normalize(x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # (1, C, 1, 1)
        return (x - m.to(x.device).view(shape)) / s.to(x.device).view(shape)

    return normalize


class AugmentThenNormalize:
    """The training batch transform: augment in [0, 1] pixel space, then normalize."""

    def __init__(self, augment: Any, normalize: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.augment, self.normalize = augment, normalize

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.normalize(self.augment(x, generator))


def top_classes(probs: torch.Tensor, classes: list[str], top: int) -> list[tuple[str, float]]:
    """The ``top`` most likely ``(class, probability)`` pairs. Shape: probs (C,)."""
    if top < 1:
        raise TaskError(f"--top must be at least 1, got {top}")
    order = probs.argsort(descending=True)[:top]
    return [(str(classes[i]), float(probs[i])) for i in order.tolist()]


def read_image(path: Path, shape: list[int], invert: bool = False) -> torch.Tensor:
    """An image file as a (1, C, H, W) float tensor in [0, 1] of the run's input shape (16-bit
    files scaled, decompression bombs refused: :func:`nnatlas.data.open_image`)."""
    from PIL import Image

    from nnatlas.data import DatasetError, open_image

    channels, height, width = shape
    if not path.is_file():
        raise TaskError(f"{path}: no such image file (or give SPLIT:INDEX, e.g. test:0)")
    try:
        image = open_image(path, "L" if channels == 1 else "RGB")
    except DatasetError as err:
        raise TaskError(str(err)) from err
    image = image.resize((width, height), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    x = x.view(1, height, width, -1).permute(0, 3, 1, 2)[:, :channels]  # (1, C, H, W)
    return 1.0 - x if invert else x


def _statistics(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of a training split. Shape: x (N, C, H, W)."""
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3), unbiased=False).clamp_min(1e-8)
    return [float(v) for v in mean], [float(v) for v in std]


def _convert(x: torch.Tensor, channels: int | None, size: int | None) -> torch.Tensor:
    """Pixels in [0, 1] to ``channels`` and ``size`` x ``size`` (antialiased bilinear).

    Shape: (N, C, H, W) -> (N, channels or C, size or H, size or W)
    """
    from nnatlas.data import to_grayscale, to_rgb

    if channels == 1:
        x = to_grayscale(x)
    elif channels == 3:
        x = to_rgb(x)
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    return x


@register_task
class ImageClassification(Task):
    """Classify images: LeNet, AlexNet, VGG, ResNet ... on digits, Fashion-MNIST, CIFAR-10,
    MedMNIST, an image folder."""

    name = "image_classification"
    title = "image classification"
    model_kinds = ("image",)
    default_model = "lenet5"
    data_options = ("image_size", "channels", "augment", "limit", "limit_per_class", "normalize")
    data_options += ("folds", "fold")

    @staticmethod
    def _read(options: DataOptions, size: int | None) -> Any:
        """The dataset's splits in [0, 1], folders read at ``size`` (others at their own), with
        train and validation dealt again into folds for ``--folds``/``--fold``."""
        from nnatlas.data import cross_validation_fold, get_spec, load_image_dataset

        reader = {"image_size": size} if size and get_spec(options.name).takes("image_size") else {}
        splits = load_image_dataset(
            options.name, options.root, val_fraction=options.val_fraction, seed=options.seed,
            **reader,
        )  # fmt: skip
        if options.folds is None:
            return splits
        return cross_validation_fold(splits, options.folds, options.fold)

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import AUGMENT_PRESETS, BatchAugment, get_spec

        if options.augment not in AUGMENT_PRESETS:
            raise TaskError(
                f"--augment {options.augment!r}: choose from {', '.join(AUGMENT_PRESETS)}"
            )
        size, notes = options.image_size, []
        if size is None and entry is not None and get_spec(options.name).takes("image_size"):
            size = entry.default_input[-1]  # a folder of any sizes: the model's own input size
            notes.append(f"images read at {size}x{size}, {entry.name}'s input size (--image-size)")
        splits = self._read(options, size)
        height = int(splits.train.x.shape[-2])
        sizes = getattr(entry, "input_sizes", None)
        if size is None and sizes and height not in sizes:
            size = entry.default_input[-1]
            notes.append(
                f"{height}x{height} images resized to {size}x{size}: {entry.name} takes "
                f"{' or '.join(map(str, sizes))} px (choose with --image-size)"
            )
        native = int(splits.train.x.shape[1])
        if options.channels is not None and options.channels != native:
            notes.append(
                f"{native}-channel images converted to {options.channels} channels"
                + (" (the gray value repeated) for the model's RGB stem" if native == 1 else "")
            )
        parts = {
            name: (_convert(part.x, options.channels, size), part.y)
            for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test))
        }
        parts["train"] = limit_rows(
            parts["train"], options.limit, options.seed, per_class=options.limit_per_class
        )
        x_train = parts["train"][0]
        mean, std = options.normalize or _statistics(x_train)
        channels, height, width = x_train.shape[1:]
        record = {
            "classes": list(splits.classes),
            "mean": mean,
            "std": std,
            "input_shape": [channels, height, width],
            "convert": {"channels": options.channels, "size": size},  # redone by load_split
        }
        normalize = normalizer(mean, std)
        val = (normalize(parts["val"][0]), parts["val"][1]) if len(parts["val"][0]) else None
        test = (normalize(parts["test"][0]), parts["test"][1])
        facts = {
            "num_classes": len(splits.classes),
            "in_chans": channels,
            "input_size": height,
            "in_features": channels * height * width,  # an MLP flattens the image
        }
        if options.augment == "none":
            train = (normalize(x_train), parts["train"][1])
            return Prepared(train, val, test, record, facts, notes=notes)
        augment = AugmentThenNormalize(BatchAugment(options.augment), normalize)
        return Prepared(parts["train"], val, test, record, facts, augment, notes=notes)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from nnatlas.data import DataNotFoundError, DatasetError, get_spec, load_image_split

        # Redo what training did to its images (nothing, for a dataset the model took as is).
        convert = record.get("convert") or {"channels": None, "size": None}
        try:
            splits = self._read(options, convert["size"])
            part, num_classes = getattr(splits, split), len(splits.classes)
        except (DatasetError, DataNotFoundError):
            if split != "test":
                raise
            # A dataset whose training part may be absent (e.g. MNIST's test set alone): its
            # official test split is enough to evaluate on.
            part = load_image_split(options.name, "test", root=options.root)
            classes = getattr(get_spec(options.name), "classes", None)
            num_classes = len(classes) if classes else int(part.y.max()) + 1
        x = _convert(part.x, convert["channels"], convert["size"])
        if list(x.shape[1:]) != list(record["input_shape"]):
            raise TaskError(
                f"dataset {options.name!r} has inputs {tuple(x.shape[1:])}; the model was "
                f"trained on {tuple(record['input_shape'])}"
            )
        if num_classes > len(record["classes"]):
            raise TaskError(
                f"dataset {options.name!r} has {num_classes} classes; the model predicts "
                f"{len(record['classes'])}"
            )
        x, y = (
            limit_rows((x, part.y), options.limit, options.seed, per_class=options.limit_per_class)
            if split == "train"
            else (x, part.y)
        )
        return normalizer(record["mean"], record["std"])(x), y

    def predict(
        self, run: Any, input: str, *, top: int = 3, invert: bool = False
    ) -> ClassPrediction:
        """The ``top`` classes of an image file, or of ``SPLIT:INDEX`` of the run's dataset.

        Args:
            top: how many classes to list.
            invert: invert the image first (dark strokes on light paper, for digit models).
        """
        record = run.record
        label = None
        example = split_index(input)
        if example is not None:
            split, index = example
            x_all, y_all = self.load_split(run.options, record, split)
            index = pick_example((x_all,), input, split, index)
            x, label = x_all[index : index + 1], int(y_all[index])
        else:
            x = read_image(Path(input), record["input_shape"], invert)
            x = normalizer(record["mean"], record["std"])(x)
        probs = run.trainer.predict(x)[0]  # (C,)
        classes = record["classes"]
        true_class = None if label is None else str(classes[label])
        return ClassPrediction(input, top_classes(probs, classes, top), true_class)
