"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), with torchvision's layout and state_dict keys.

The ImageNet model is torchvision's single-tower version from Krizhevsky 2014 ("One weird trick",
arXiv 1404.5997): 64-192-384-256-256 filters instead of the 2012 paper's two GPU halves
(96-256-384-384-256), 61.1M parameters. The architecture is a table of conv stages, so the
small-input variant for 28/32 px images is the same code with another table.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from nnatlas.models.base import VisionModel, check_image_input
from nnatlas.models.registry import register_model


class ConvSpec(NamedTuple):
    """One conv stage: Conv2d(out_channels, kernel_size, stride, padding) + ReLU (+ MaxPool)."""

    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    pool: bool  # overlapping MaxPool2d(3, 2) after the ReLU (2012 paper, section 3.4)


SCRATCH_TWIN = "nnatlas.scratch.models.alexnet:AlexNet"

CFGS: dict[str, list[ConvSpec]] = {
    # torchvision / arXiv 1404.5997: 224 -> 55 -> 27 -> 13 -> 6 with the three poolings.
    "imagenet": [
        ConvSpec(64, 11, 4, 2, True),
        ConvSpec(192, 5, 1, 2, True),
        ConvSpec(384, 3, 1, 1, False),
        ConvSpec(256, 3, 1, 1, False),
        ConvSpec(256, 3, 1, 1, True),
    ],
    # 28/32 px: an 11x11 stride-4 first layer would leave a 1x1 map after pooling, so the first
    # conv is 5x5 stride 1, as in Krizhevsky's cuda-convnet CIFAR-10 nets; 32 -> 15 -> 7 -> 3.
    "small": [
        ConvSpec(64, 5, 1, 2, True),
        ConvSpec(192, 5, 1, 2, True),
        ConvSpec(384, 3, 1, 1, False),
        ConvSpec(256, 3, 1, 1, False),
        ConvSpec(256, 3, 1, 1, True),
    ],
}


def make_features(cfg: list[ConvSpec], in_chans: int) -> nn.Sequential:
    """Build the conv stack of a :data:`CFGS` table (indices match torchvision's ``features``)."""
    layers: list[nn.Module] = []
    prev = in_chans
    for spec in cfg:
        layers.append(
            nn.Conv2d(prev, spec.out_channels, spec.kernel_size, spec.stride, spec.padding)
        )
        layers.append(nn.ReLU(inplace=True))
        if spec.pool:
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
        prev = spec.out_channels
    return nn.Sequential(*layers)


class AlexNet(VisionModel):
    """AlexNet: five conv stages, adaptive average pooling, three fully connected layers.

    Args:
        cfg: a :data:`CFGS` table.
        num_classes: number of outputs.
        in_chans: image channels.
        pool_size: side of the AdaptiveAvgPool2d output (6 as torchvision, so any input of at
            least 63 px works).
        hidden: width of the two hidden fully connected layers (4096 in the paper).
        dropout: dropout before each hidden Linear; 0.5 in the 2012 paper (section 4.2).

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes)

    NumPy twin: nnatlas.scratch.models.alexnet.AlexNet.
    """

    def __init__(
        self,
        cfg: list[ConvSpec],
        num_classes: int = 1000,
        in_chans: int = 3,
        pool_size: int = 6,
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        # The constructor arguments, kept so the bridge can build the NumPy twin from the model.
        self.cfg, self.in_chans, self.pool_size = list(cfg), in_chans, pool_size
        self.hidden, self.dropout = hidden, dropout
        self.features = make_features(cfg, in_chans)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        flat = cfg[-1].out_channels * pool_size * pool_size
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(flat, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
        self.num_classes, self.num_features, self.head_name = num_classes, hidden, "classifier.6"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, H, W) -> (N, 256, H', W')."""
        check_image_input("AlexNet", x, self.in_chans)
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, 256, H', W') -> (N, num_classes) (or (N, hidden) with pre_logits)."""
        x = torch.flatten(self.avgpool(x), 1)  # (N, 256 * pool_size**2)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


@register_model(family="alexnet", default_input=(3, 224, 224), scratch_twin=SCRATCH_TWIN)
def alexnet(num_classes: int = 1000, in_chans: int = 3, **kwargs: object) -> AlexNet:
    """AlexNet for ImageNet-size inputs (torchvision keys, 61,100,840 parameters)."""
    return AlexNet(CFGS["imagenet"], num_classes, in_chans, **kwargs)  # type: ignore[arg-type]


@register_model(family="alexnet", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def alexnet_small(num_classes: int = 10, in_chans: int = 3, **kwargs: object) -> AlexNet:
    """AlexNet for 28/32 px images: 5x5 first conv, 3x3 pooled map, 1024-wide hidden layers."""
    kwargs.setdefault("pool_size", 3)
    kwargs.setdefault("hidden", 1024)
    return AlexNet(CFGS["small"], num_classes, in_chans, **kwargs)  # type: ignore[arg-type]
