"""Box-aware augmentation (torchvision.transforms.v2 with ``tv_tensors.BoundingBoxes``) and the
padded batches a detection run trains on.

A split is held as three tensors, so it batches like any other (``TensorLoader``) and a run's
fingerprint covers it: images (N, 3, S, S) uint8, boxes (N, K, 4) float32 ``x1, y1, x2, y2``
pixels and labels (N, K) int64, a row's unused slots padded with label -1 (and box zeros).
:func:`unpad` turns a batch back into torchvision's lists of images and target dicts.

The presets (each image on its own; a transform moves pixels and boxes together):

- ``light``: horizontal flip (p = 0.5);
- ``standard``: flip, then with p = 0.5 a random crop of 50-100% of the area (aspect 3:4 to
  4:3) resized back to S x S: a scale jitter and a crop in one; boxes are clipped to the crop
  and those left smaller than ``MIN_SIDE`` pixels are dropped
  (``SanitizeBoundingBoxes``);
- ``strong``: ``standard`` plus colour jitter (brightness, contrast, saturation 0.3, hue 0.05).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

PRESETS = ("none", "light", "standard", "strong")
MIN_SIDE = 2.0  # pixels: a box cropped thinner than this shows too little of its object
PAD_LABEL = -1


def pad_targets(
    boxes: list[torch.Tensor], labels: list[torch.Tensor], slots: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-image boxes and labels into padded tensors.

    Shape: boxes[i] (K_i, 4), labels[i] (K_i,) -> (N, K, 4), (N, K); K = max K_i (or ``slots``)
    """
    k = max([len(b) for b in boxes] + [slots or 0, 1])
    out_boxes = torch.zeros(len(boxes), k, 4)
    out_labels = torch.full((len(boxes), k), PAD_LABEL, dtype=torch.int64)
    for i, (b, l) in enumerate(zip(boxes, labels, strict=True)):
        out_boxes[i, : len(b)] = b
        out_labels[i, : len(l)] = l
    return out_boxes, out_labels


def unpad(
    images: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """A padded batch as torchvision detectors take it: float images in [0, 1], target dicts.

    Shape: images (B, 3, H, W) uint8, boxes (B, K, 4), labels (B, K) ->
        [(3, H, W)] * B, [{"boxes": (K_i, 4), "labels": (K_i,)}] * B
    """
    pixels = images.float() / 255.0 if images.dtype == torch.uint8 else images
    targets = []
    for b, l in zip(boxes, labels, strict=True):
        keep = l != PAD_LABEL
        targets.append({"boxes": b[keep], "labels": l[keep]})
    return list(pixels), targets


def build_augment(preset: str) -> Any:
    """The v2 transform of a preset (``None`` for ``none``), taking and returning
    ``(image, BoundingBoxes, labels)``."""
    from torchvision.transforms import v2

    if preset not in PRESETS:
        raise ValueError(f"--augment {preset!r}: choose from {', '.join(PRESETS)}")
    if preset == "none":
        return None
    steps: list[Any] = [v2.RandomHorizontalFlip(0.5)]
    if preset in ("standard", "strong"):
        crop = v2.RandomResizedCrop(1, scale=(0.5, 1.0), ratio=(0.75, 4 / 3), antialias=True)
        steps.append(v2.RandomApply([crop], p=0.5))
    if preset == "strong":
        steps.append(v2.ColorJitter(0.3, 0.3, 0.3, 0.05))
    steps.append(v2.ClampBoundingBoxes())
    steps.append(v2.SanitizeBoundingBoxes(min_size=MIN_SIDE, labels_getter=lambda s: s[2]))
    return v2.Compose(steps)


class BoxAugment:
    """Augment one image and its boxes with a preset, keeping the image's size.

    Call: ``(image (3, S, S) uint8, boxes (K, 4), labels (K,)) -> the same, K possibly fewer``
    """

    def __init__(self, preset: str, size: int) -> None:
        from torchvision.transforms import v2

        self.preset, self.size = preset, size
        self.transform = build_augment(preset)
        if self.transform is not None:
            for step in self.transform.transforms:  # the crop resizes back to the run's size
                inner = getattr(step, "transforms", [step])
                for t in inner:
                    if isinstance(t, v2.RandomResizedCrop):
                        t.size = [size, size]

    def __call__(
        self, image: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from torchvision import tv_tensors

        if self.transform is None:
            return image, boxes, labels
        height, width = image.shape[-2:]
        wrapped = tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width))
        image, wrapped, labels = self.transform(tv_tensors.Image(image), wrapped, labels)
        return image.as_subclass(torch.Tensor), wrapped.as_subclass(torch.Tensor), labels


class DetectionBatches:
    """Shuffled, augmented training batches of a padded split, the same each time for a seed.

    Iterating gives ``(images (B, 3, S, S) uint8, boxes (B, K, 4), labels (B, K))``, each image
    augmented on its own. torchvision's transforms draw from torch's global generator, so each
    batch forks it and seeds it from this loader's generator: the run stays reproducible and
    the caller's random state is left alone.
    """

    def __init__(
        self, images: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor,
        batch_size: int, augment: BoxAugment, seed: int = 0,
    ) -> None:  # fmt: skip
        self.images, self.boxes, self.labels = images, boxes, labels
        self.batch_size, self.augment = batch_size, augment
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.images), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))
            # Seeded per batch, and never across a yield: two loaders iterated side by side
            # (or a caller drawing numbers between batches) cannot change each other's draws.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                batch = self._batch(order[start : start + self.batch_size].tolist())
            yield batch

    def _batch(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, boxes, labels = [], [], []
        for i in rows:
            keep = self.labels[i] != PAD_LABEL
            out = self.augment(self.images[i], self.boxes[i][keep], self.labels[i][keep])
            images.append(out[0])
            boxes.append(out[1])
            labels.append(out[2])
        return (torch.stack(images), *pad_targets(boxes, labels, self.boxes.shape[1]))
