"""The backbone both detectors share: MobileNetV2's first blocks, pretrained or not, with the
freeze-then-fine-tune schedule of a transfer run.

Only the blocks up to stride 16 are kept (``features[:14]``, 96 channels, 1.8M of MobileNetV2's
3.5M parameters): at 256 px the stride-32 map is 8x8 cells, coarse for objects of 40 px, and
its 1280 channels made Faster R-CNN's box head 7x slower per image on this CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnatlas.errors import NnatlasError

STRIDE8_BLOCKS, STRIDE16_BLOCKS = 7, 14  # features[:7] ends at stride 8 (32 ch), [:14] at 16
STRIDE8_CHANNELS, STRIDE16_CHANNELS = 32, 96
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def mobilenet_trunk(weights: str | None) -> nn.Sequential:
    """MobileNetV2 ``features[:14]`` with ImageNet weights (``"pretrained"``, found offline), a
    weight file's, or random ones (``None``). Shape: (N, 3, H, W) -> (N, 96, H/16, W/16)."""
    from nnatlas.models.mobilenet import MobileNetV2

    net = MobileNetV2()
    if weights is not None and not next(net.parameters()).is_meta:  # meta: shapes only
        from nnatlas.models.pretrained import load_weights, weight_source

        path = weight_source("mobilenet_v2").locate() if weights == "pretrained" else weights
        load_weights(net, path, source="mobilenet_v2")
    return net.features[:STRIDE16_BLOCKS]


class TrunkSchedule:
    """Freeze-then-fine-tune for a detector whose backbone is ``self.trunk``.

    ``freeze_epochs`` epochs train the rest with the trunk frozen, then the trunk learns too,
    at ``backbone_lr`` times the rate of the rest (``parameter_groups``). A pretrained trunk
    keeps its BatchNorm layers in eval mode throughout (ImageNet's statistics: batches of a
    few detection images estimate them badly, as torchvision's FrozenBatchNorm2d assumes); a
    random one needs its BatchNorm to learn from the batches.
    """

    trunk: nn.Sequential
    freeze_epochs: int
    backbone_lr: float
    pretrained: bool

    def setup_schedule(self, freeze_epochs: int, backbone_lr: float, pretrained: bool) -> None:
        if freeze_epochs < 0 or backbone_lr < 0:
            raise NnatlasError(
                f"freeze_epochs ({freeze_epochs}) and backbone_lr ({backbone_lr}) must be >= 0"
            )
        self.freeze_epochs, self.backbone_lr = freeze_epochs, backbone_lr
        self.pretrained = pretrained
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """The Trainer calls this before each epoch (0-based)."""
        learns = epoch >= self.freeze_epochs
        for p in self.trunk.parameters():
            p.requires_grad_(learns)

    def train(self, mode: bool = True) -> Any:
        nn.Module.train(self, mode)  # type: ignore[arg-type]
        if self.pretrained:
            for m in self.trunk.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        trunk = {id(p) for p in self.trunk.parameters()}
        rest = [p for p in self.parameters() if id(p) not in trunk]  # type: ignore[attr-defined]
        return [
            {"params": rest, "lr": lr},
            {"params": list(self.trunk.parameters()), "lr": lr * self.backbone_lr},
        ]


def stack_images(images: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Same-sized images as one ImageNet-normalized batch.

    Shape: [(3, H, W)] * N in [0, 1] -> (N, 3, H, W)
    """
    x = torch.stack(list(images)) if not isinstance(images, torch.Tensor) else images
    mean = torch.tensor(IMAGENET[0], device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET[1], device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
