"""VGG (Simonyan & Zisserman 2015, "Very deep convolutional networks", arXiv 1409.1556).

Declared as data, as torchvision does: each configuration of the paper's Table 1 is a list of
3x3-conv widths with "M" for 2x2 max pooling, and :func:`make_layers` builds it. State_dict keys
(``features.*``, ``classifier.*``) equal torchvision's, so its ImageNet weights load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from nnatlas.models.base import VisionModel, check_image_input
from nnatlas.models.registry import register_model

# Table 1 of the paper: A = VGG11, B = VGG13, D = VGG16, E = VGG19 (conv widths, "M" = max pool).
CFGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
    + [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
DEPTH_TO_CFG = {11: "A", 13: "B", 16: "D", 19: "E"}
SCRATCH_TWIN = "nnatlas.scratch.models.vgg:VGG"


def make_layers(cfg: list[int | str], batch_norm: bool = False, in_chans: int = 3) -> nn.Sequential:
    """Build VGG's conv stack: 3x3 convs (padding 1 keeps the size), ReLU, optional BatchNorm."""
    layers: list[nn.Module] = []
    prev = in_chans
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        assert isinstance(v, int)
        layers.append(nn.Conv2d(prev, v, kernel_size=3, padding=1))
        if batch_norm:  # the _bn models postdate the paper (BatchNorm is from 2015)
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        prev = v
    return nn.Sequential(*layers)


class VGG(VisionModel):
    """VGG network: conv stack, AdaptiveAvgPool2d(pool_size), three fully connected layers.

    Args:
        cfg: a :data:`CFGS` entry.
        batch_norm: add BatchNorm2d after every conv.
        num_classes: number of outputs.
        in_chans: image channels.
        dropout: dropout after each hidden Linear (0.5 in the paper, section 3.1).
        pool_size: side of the pooled map the classifier reads: 7 for ImageNet (a 224 px input
            leaves 7x7; torchvision's keys and weights), 1 for a CIFAR-sized head (32 px leave
            1x1, where the 7x7 pooling would only copy one value 49 times).
        hidden: width of the two hidden Linears: 4096 (ImageNet), 512 for the CIFAR-sized head
            (as the CIFAR VGGs, e.g. chengyangfu/pytorch-vgg-cifar10).

    Shape:
        x: (N, in_chans, H, W) with H, W >= 32 (five 2x2 poolings) -> (N, num_classes)

    NumPy twin: nnatlas.scratch.models.vgg.VGG.
    """

    def __init__(
        self,
        cfg: list[int | str],
        batch_norm: bool = False,
        num_classes: int = 1000,
        in_chans: int = 3,
        dropout: float = 0.5,
        pool_size: int = 7,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        # The constructor arguments, kept so the bridge can build the NumPy twin from the model.
        self.cfg, self.batch_norm, self.in_chans, self.dropout = (
            list(cfg),
            batch_norm,
            in_chans,
            dropout,
        )
        self.pool_size, self.hidden = pool_size, hidden
        self.features = make_layers(cfg, batch_norm, in_chans)
        # Adaptive pooling to the 7x7 map a 224 px input gives, so smaller inputs reuse the
        # ImageNet classifier (torchvision's choice).
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        width = [v for v in cfg if v != "M"][-1]
        self.classifier = nn.Sequential(
            nn.Linear(int(width) * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        self.num_classes, self.num_features, self.head_name = num_classes, hidden, "classifier.6"
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's: He et al. 2015 (arXiv 1502.01852) normal init for the ReLU convs, which
        # lets the 16/19-layer nets train from scratch (the paper pre-trained A to initialise
        # the deeper ones), and N(0, 0.01) for the Linears, the paper's section 3.1.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, H, W) -> (N, 512, H / 32, W / 32)."""
        check_image_input("VGG", x, self.in_chans)
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, 512, h, w) -> (N, num_classes) (or (N, hidden) with pre_logits)."""
        x = torch.flatten(self.avgpool(x), 1)  # (N, 512 * pool_size**2): 25088 for ImageNet
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


def _vgg(depth: int, batch_norm: bool, kwargs: dict[str, object]) -> VGG:
    return VGG(CFGS[DEPTH_TO_CFG[depth]], batch_norm, **kwargs)  # type: ignore[arg-type]


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg11(**kwargs: object) -> VGG:
    """VGG-11 (configuration A), 132.9M parameters."""
    return _vgg(11, False, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg13(**kwargs: object) -> VGG:
    """VGG-13 (configuration B), 133.0M parameters."""
    return _vgg(13, False, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg16(**kwargs: object) -> VGG:
    """VGG-16 (configuration D), 138.4M parameters."""
    return _vgg(16, False, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg19(**kwargs: object) -> VGG:
    """VGG-19 (configuration E), 143.7M parameters."""
    return _vgg(19, False, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg11_bn(**kwargs: object) -> VGG:
    """VGG-11 with BatchNorm after every conv."""
    return _vgg(11, True, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg13_bn(**kwargs: object) -> VGG:
    """VGG-13 with BatchNorm after every conv."""
    return _vgg(13, True, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg16_bn(**kwargs: object) -> VGG:
    """VGG-16 with BatchNorm after every conv."""
    return _vgg(16, True, kwargs)


@register_model(family="vgg", scratch_twin=SCRATCH_TWIN)
def vgg19_bn(**kwargs: object) -> VGG:
    """VGG-19 with BatchNorm after every conv."""
    return _vgg(19, True, kwargs)
