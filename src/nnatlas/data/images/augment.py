"""Augmentation presets, batched tensor augmentation, and adapters for pretrained backbones.

Two ways to augment, same presets:

* :func:`build_transforms` returns a per-image ``torchvision.transforms.v2`` pipeline, for data
  streamed from disk (image folders with a DataLoader).
* :class:`BatchAugment` augments a whole in-memory batch (N, C, H, W) at once with tensor ops
  and an explicit ``torch.Generator``: no Python loop per image (on a 512 x 1 x 28 x 28 batch,
  one thread, it ran 12-40x faster than the per-image pipeline; measure with
  ``benchmarks/augment_batched.py``), and the same generator state gives the same batch.

Presets (cumulative):
    ``none``: nothing.
    ``light``: horizontal flip + random crop with zero padding of H/8 (CIFAR-style, He et al.
        2015 pad 4 on 32x32).
    ``standard``: + rotation up to 15 degrees + brightness/contrast jitter 0.2.
    ``strong``: + random erasing (Zhong et al. 2017, arXiv:1708.04896; p=0.5, 2-25 % of the area).
    ``imagenet``: horizontal flip + random resized crop (8-100 % of the area, aspect ratio 3/4 to
        4/3, resized back to the input's size): the ImageNet training recipe (Szegedy et al.
        2015) and torchvision's, the usual one for fine-tuning an ImageNet backbone.

Flipping a digit makes another glyph; pass ``flip=False`` for digits and text-like images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from nnatlas.data.catalog import DatasetError
from nnatlas.data.images.splits import ImageSplits, Split

if TYPE_CHECKING:  # torchvision is imported where it is used: it is slow to import
    from torchvision.transforms import v2


@dataclass(frozen=True)
class AugmentConfig:
    """What :class:`BatchAugment` does. Probabilities are per image."""

    flip: bool = False
    crop_padding: float = 0.0  # fraction of H padded on each side before the random crop
    rotation: float = 0.0  # max degrees, uniform in [-rotation, rotation]
    brightness: float = 0.0  # factor uniform in [1 - b, 1 + b]
    contrast: float = 0.0  # factor uniform in [1 - c, 1 + c] around each image's mean
    erase_p: float = 0.0
    erase_area: tuple[float, float] = (0.02, 0.25)
    erase_value: float = 0.0
    resized_crop: tuple[float, float] | None = None  # area fraction range of a random crop


PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "light": AugmentConfig(flip=True, crop_padding=0.125),
    "standard": AugmentConfig(
        flip=True, crop_padding=0.125, rotation=15.0, brightness=0.2, contrast=0.2
    ),
    "strong": AugmentConfig(
        flip=True, crop_padding=0.125, rotation=15.0, brightness=0.2, contrast=0.2, erase_p=0.5
    ),
    "imagenet": AugmentConfig(flip=True, resized_crop=(0.08, 1.0)),
}


def get_preset(preset: str | AugmentConfig, **overrides: object) -> AugmentConfig:
    """The :class:`AugmentConfig` of a preset name (or a config), with ``overrides`` applied."""
    if isinstance(preset, AugmentConfig):
        return replace(preset, **overrides)
    if preset not in PRESETS:
        raise ValueError(f"augmentation preset {preset!r} unknown; choose one of {list(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


class BatchAugment:
    """Augment an in-memory batch with tensor operations.

    Args:
        preset: a preset name or an :class:`AugmentConfig`.
        **overrides: fields of :class:`AugmentConfig` to change (e.g. ``flip=False``).

    Shape:
        x: (N, C, H, W) float in [0, 1] -> (N, C, H, W), same dtype and device.

    Example::

        augment = BatchAugment("light", flip=False)
        g = torch.Generator().manual_seed(0)
        xb = augment(xb, g)
    """

    def __init__(self, preset: str | AugmentConfig = "light", **overrides: object) -> None:
        self.config = get_preset(preset, **overrides)

    def __repr__(self) -> str:
        return f"BatchAugment({self.config})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"BatchAugment: x should be (N, C, H, W), got shape {tuple(x.shape)}")
        cfg, g = self.config, generator
        N = x.shape[0]

        # Random numbers are drawn on the CPU generator and moved, so a CPU generator drives
        # a GPU batch and the result does not depend on the device.
        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=g).to(x.device)

        if cfg.flip:
            mask = (rand(N) < 0.5).view(N, 1, 1, 1)
            x = torch.where(mask, x.flip(-1), x)
        if cfg.resized_crop is not None:
            x = self._resized_crop(x, cfg.resized_crop, g)
        if cfg.crop_padding > 0:
            x = self._random_crop(x, max(1, round(cfg.crop_padding * x.shape[-2])), g)
        if cfg.rotation > 0:
            x = self._rotate(x, (rand(N) * 2 - 1) * cfg.rotation)
        if cfg.brightness > 0:
            x = x * (1 + (rand(N, 1, 1, 1) * 2 - 1) * cfg.brightness)
        if cfg.contrast > 0:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
            x = (x - mean) * (1 + (rand(N, 1, 1, 1) * 2 - 1) * cfg.contrast) + mean
        if cfg.brightness > 0 or cfg.contrast > 0:
            x = x.clamp(0.0, 1.0)
        if cfg.erase_p > 0:
            x = self._erase(x, g)
        return x

    @staticmethod
    def _random_crop(x: torch.Tensor, pad: int, g: torch.Generator | None) -> torch.Tensor:
        N, C, H, W = x.shape
        padded = F.pad(x, (pad, pad, pad, pad))  # (N, C, H + 2p, W + 2p), zero padding
        top = torch.randint(0, 2 * pad + 1, (N,), generator=g).to(x.device)
        left = torch.randint(0, 2 * pad + 1, (N,), generator=g).to(x.device)
        rows = (top[:, None] + torch.arange(H, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
        cols = (left[:, None] + torch.arange(W, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
        n = torch.arange(N, device=x.device)[:, None, None, None]
        c = torch.arange(C, device=x.device)[None, :, None, None]
        return padded[n, c, rows, cols]  # gathered: (N, C, H, W)

    @staticmethod
    def _resized_crop(
        x: torch.Tensor, area: tuple[float, float], g: torch.Generator | None
    ) -> torch.Tensor:
        # A crop of a random area fraction and log-uniform aspect ratio, at a random place,
        # resampled to (H, W): one affine grid for the batch, as RandomResizedCrop per image.
        N = x.shape[0]
        fraction = area[0] + torch.rand(N, generator=g) * (area[1] - area[0])
        log_r = math.log(3 / 4) + torch.rand(N, generator=g) * (math.log(4 / 3) - math.log(3 / 4))
        width = (fraction * log_r.exp()).sqrt().clamp(max=1.0)  # of the image's width
        height = (fraction / log_r.exp()).sqrt().clamp(max=1.0)
        # Centres in [-1, 1] coordinates that keep the crop inside the image.
        cx = (torch.rand(N, generator=g) * 2 - 1) * (1 - width)
        cy = (torch.rand(N, generator=g) * 2 - 1) * (1 - height)
        zero = torch.zeros(N)
        affine = torch.stack(
            [torch.stack([width, zero, cx], 1), torch.stack([zero, height, cy], 1)], 1
        ).to(device=x.device, dtype=x.dtype)  # (N, 2, 3)
        grid = F.affine_grid(affine, list(x.shape), align_corners=False)  # (N, H, W, 2)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    @staticmethod
    def _rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
        theta = degrees * (math.pi / 180.0)
        cos, sin, zero = theta.cos(), theta.sin(), torch.zeros_like(theta)
        affine = torch.stack(
            [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1
        )
        grid = F.affine_grid(affine.to(x.dtype), list(x.shape), align_corners=False)  # (N, H, W, 2)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _erase(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        N, _, H, W = x.shape
        lo, hi = self.config.erase_area
        area = (lo + torch.rand(N, generator=g) * (hi - lo)) * H * W
        # log-uniform aspect ratio in [0.3, 3.3], torchvision's RandomErasing default.
        log_r = math.log(0.3) + torch.rand(N, generator=g) * (math.log(3.3) - math.log(0.3))
        ratio = log_r.exp()
        h = (area * ratio).sqrt().round().clamp(1, H)
        w = (area / ratio).sqrt().round().clamp(1, W)
        top = (torch.rand(N, generator=g) * (H - h + 1)).floor()
        left = (torch.rand(N, generator=g) * (W - w + 1)).floor()
        apply = torch.rand(N, generator=g) < self.config.erase_p
        rows = torch.arange(H)[None, :]  # (1, H)
        cols = torch.arange(W)[None, :]  # (1, W)
        in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (N, H)
        in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (N, W)
        mask = (in_rows[:, :, None] & in_cols[:, None, :] & apply[:, None, None])[:, None]
        return torch.where(mask.to(x.device), torch.full_like(x, self.config.erase_value), x)


def build_transforms(
    preset: str = "none",
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    size: int | None = None,
    flip: bool = True,
) -> v2.Compose:
    """A per-image ``torchvision.transforms.v2`` pipeline for a preset.

    Args:
        preset: ``none | light | standard | strong | imagenet``.
        mean, std: per-channel statistics for ``Normalize`` (skipped when ``None``).
        size: resize (shorter side) and centre-crop to ``size`` first, when given.
        flip: allow horizontal flips (off for digits).

    Returns:
        ``v2.Compose`` mapping a PIL image or uint8 tensor (C, H, W) to float32 (C, H, W).
    """
    from torchvision.transforms import v2

    cfg = get_preset(preset)
    steps: list = [v2.ToImage()]
    if size is not None:
        steps += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    if cfg.resized_crop is not None:
        steps.append(_ResizedCrop(cfg.resized_crop))
    if cfg.flip and flip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.crop_padding > 0:
        steps.append(_PadCrop(cfg.crop_padding))
    if cfg.rotation > 0:
        steps.append(v2.RandomRotation(cfg.rotation))
    if cfg.brightness > 0 or cfg.contrast > 0:
        steps.append(v2.ColorJitter(brightness=cfg.brightness, contrast=cfg.contrast))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if cfg.erase_p > 0:
        steps.append(v2.RandomErasing(p=cfg.erase_p, scale=cfg.erase_area, value=cfg.erase_value))
    if mean is not None and std is not None:
        steps.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(steps)


class _PadCrop(torch.nn.Module):
    """RandomCrop to the input's own size with padding ``fraction * H`` (size known at call)."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction

    def forward(self, img):  # noqa: ANN001, ANN201 - any v2 image type
        from torchvision.transforms import v2

        h, w = img.shape[-2:]
        return v2.RandomCrop((h, w), padding=max(1, round(self.fraction * h)))(img)


class _ResizedCrop(torch.nn.Module):
    """RandomResizedCrop back to the input's own size (size known at call)."""

    def __init__(self, area: tuple[float, float]) -> None:
        super().__init__()
        self.area = area

    def forward(self, img):  # noqa: ANN001, ANN201 - any v2 image type
        from torchvision.transforms import v2

        return v2.RandomResizedCrop(tuple(img.shape[-2:]), scale=self.area, antialias=True)(img)


# ---------------------------------------------------------------- channels and sizes

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as PIL's convert("L")


def to_rgb(x: torch.Tensor | ImageSplits) -> torch.Tensor | ImageSplits:
    """Grayscale to RGB by repeating the channel (a tensor, or every split of an ImageSplits,
    whose mean/std are repeated too).

    Shape:
        x: (N, 1, H, W) -> (N, 3, H, W); 3-channel input is returned unchanged.
    """
    if isinstance(x, ImageSplits):
        if x.in_chans == 3:
            return x
        train, val, test = (Split(to_rgb(s.x), s.y) for s in (x.train, x.val, x.test))
        return replace(x, train=train, val=val, test=test, mean=x.mean * 3, std=x.std * 3)
    if x.shape[1] == 3:
        return x
    if x.shape[1] != 1:
        raise ValueError(f"to_rgb: expected 1 or 3 channels, got shape {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1).contiguous()


def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """RGB to luma. Shape: (N, 3, H, W) -> (N, 1, H, W)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


class BatchResize:
    """Resize (and optionally convert to RGB) a batch on the fly, for backbones that want
    224x224 RGB when the whole dataset at that size would not fit in memory.

    Shape:
        x: (N, C, H, W) -> (N, 3 if rgb else C, size, size).
    """

    def __init__(self, size: int = 224, rgb: bool = True) -> None:
        self.size, self.rgb = size, rgb

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
            )
        return to_rgb(x) if self.rgb else x


def resize_for_backbone(
    splits: ImageSplits, size: int = 224, rgb: bool = True, max_bytes: float = 4e9
) -> ImageSplits:
    """Resize every split to ``size`` x ``size`` (RGB by default) for a pretrained backbone.

    Mean and std are recomputed on the resized training split.

    Raises:
        DatasetError: when the result would exceed ``max_bytes``; use :class:`BatchResize` per
            batch instead.

    Shape:
        split.x: (N, C, H, W) -> (N, 3, size, size).
    """
    channels = 3 if rgb else splits.in_chans
    n = len(splits.train) + len(splits.val) + len(splits.test)
    needed = n * channels * size * size * 4
    if needed > max_bytes:
        raise DatasetError(
            f"resize_for_backbone({splits.name!r}, size={size}): {n} images would need "
            f"{needed / 1e9:.1f} GB (limit {max_bytes / 1e9:.1f} GB); resize per batch with "
            "BatchResize(size) instead, or pass a larger max_bytes"
        )
    resize = BatchResize(size, rgb)

    def convert(split: Split) -> Split:
        chunks = [resize(split.x[i : i + 512]) for i in range(0, max(len(split), 1), 512)]
        x = torch.cat(chunks) if len(split) else resize(split.x)
        return Split(x.clamp_(0.0, 1.0), split.y)

    train = convert(splits.train)
    mean = train.x.mean(dim=(0, 2, 3))
    std = train.x.std(dim=(0, 2, 3), unbiased=False).clamp_min(1e-8)
    return replace(
        splits,
        train=train,
        val=convert(splits.val),
        test=convert(splits.test),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
    )
