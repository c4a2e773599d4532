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
    """An image file as a (1, C, H, W) float tensor in [0, 1] of the run's input shape."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    if not path.is_file():
        raise TaskError(f"{path}: no such image file (or give SPLIT:INDEX, e.g. test:0)")
    try:
        image = Image.open(path).convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise TaskError(f"{path}: not an image PIL can read ({err})") from err
    image = image.resize((width, height), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    x = x.view(1, height, width, -1).permute(0, 3, 1, 2)[:, :channels]  # (1, C, H, W)
    return 1.0 - x if invert else x


@register_task
class ImageClassification(Task):
    """Classify images: LeNet, AlexNet, VGG, ResNet ... on digits, Fashion-MNIST, CIFAR-10,
    MedMNIST, an image folder."""

    name = "image_classification"
    title = "image classification"
    model_kinds = ("image",)
    default_model = "lenet5"

    def load(self, options: DataOptions) -> Prepared:
        from nnatlas.data import AUGMENT_PRESETS, BatchAugment, load_image_dataset

        if options.augment not in AUGMENT_PRESETS:
            raise TaskError(
                f"--augment {options.augment!r}: choose from {', '.join(AUGMENT_PRESETS)}"
            )
        splits = load_image_dataset(
            options.name, root=options.root, val_fraction=options.val_fraction, seed=options.seed
        )
        channels, height, width = splits.train.x.shape[1:]
        record = {
            "classes": list(splits.classes),
            "mean": list(splits.mean),
            "std": list(splits.std),
            "input_shape": [channels, height, width],
        }
        normalize = normalizer(record["mean"], record["std"])
        val = (normalize(splits.val.x), splits.val.y) if len(splits.val) else None
        test = (normalize(splits.test.x), splits.test.y)
        facts = {
            "num_classes": len(splits.classes),
            "in_chans": channels,
            "input_size": height,
            "in_features": channels * height * width,  # an MLP flattens the image
        }
        if options.augment == "none":
            train = (normalize(splits.train.x), splits.train.y)
            return Prepared(train, val, test, record, facts)
        augment = AugmentThenNormalize(BatchAugment(options.augment), normalize)
        return Prepared((splits.train.x, splits.train.y), val, test, record, facts, augment)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from nnatlas.data import (
            DataNotFoundError,
            DatasetError,
            get_spec,
            load_image_dataset,
            load_image_split,
        )

        try:
            splits = load_image_dataset(
                options.name, options.root, val_fraction=options.val_fraction, seed=options.seed
            )
            part, num_classes = getattr(splits, split), len(splits.classes)
        except (DatasetError, DataNotFoundError):
            if split != "test":
                raise
            # A dataset whose training part may be absent (e.g. MNIST's test set alone): its
            # official test split is enough to evaluate on.
            part = load_image_split(options.name, "test", root=options.root)
            classes = getattr(get_spec(options.name), "classes", None)
            num_classes = len(classes) if classes else int(part.y.max()) + 1
        if list(part.x.shape[1:]) != list(record["input_shape"]):
            raise TaskError(
                f"dataset {options.name!r} has inputs {tuple(part.x.shape[1:])}; the model was "
                f"trained on {tuple(record['input_shape'])}"
            )
        if num_classes > len(record["classes"]):
            raise TaskError(
                f"dataset {options.name!r} has {num_classes} classes; the model predicts "
                f"{len(record['classes'])}"
            )
        return normalizer(record["mean"], record["std"])(part.x), part.y

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
