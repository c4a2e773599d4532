"""ResNet for ImageNet-size inputs (He, Zhang, Ren & Sun 2016, "Deep residual learning",
arXiv 1512.03385), with torchvision's modules and state_dict keys (conv1, bn1, layer1.0.conv1,
layer2.0.downsample.0, fc ...), so torchvision's weights load unchanged.

An architecture is data: a block type and the number of blocks per stage, (BasicBlock, [2, 2, 2, 2])
for ResNet-18, as in the paper's Table 1. Shortcuts that change shape are 1x1 conv + BatchNorm
projections ("option B"). Bottleneck puts the stride on its 3x3 conv ("ResNet v1.5", as
torchvision and NVIDIA do), which is slightly more accurate than the paper's stride on the 1x1.
"""

from __future__ import annotations

import torch
from torch import nn

from nnatlas.models.base import VisionModel, check_image_input
from nnatlas.models.registry import register_model


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 conv, padding 1, no bias (the BatchNorm that follows has its own shift)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 conv without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus the shortcut (ResNet-18/34).

    Shape:
        x: (N, in_planes, H, W) -> (N, planes, H / stride, W / stride)

    NumPy twin: nnatlas.scratch.models.resnet_block.BasicBlock.
    """

    expansion = 1

    def __init__(
        self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) plus the shortcut (ResNet-50 and deeper).

    Shape:
        x: (N, in_planes, H, W) -> (N, 4 * planes, H / stride, W / stride)

    NumPy twin: nnatlas.scratch.models.resnet.Bottleneck.
    """

    expansion = 4

    def __init__(
        self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)  # v1.5: stride here, not on conv1
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(VisionModel):
    """ImageNet-style ResNet: 7x7 stem, max pool, four stages (64-128-256-512 planes), global
    average pooling, one Linear.

    Args:
        block: BasicBlock or Bottleneck.
        layers: blocks per stage, e.g. [2, 2, 2, 2].
        num_classes: number of outputs.
        in_chans: image channels.
        zero_init_residual: start each block's last BatchNorm at gamma = 0, so every residual
            branch begins as the identity (Goyal et al. 2017, arXiv 1706.02677: +0.2-0.3 %).

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes); any H, W >= 32 (stride 32 overall)

    NumPy twin: nnatlas.scratch.models.resnet.ResNet.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        in_chans: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.in_planes = 64
        self.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = 512 * block.expansion
        self.fc = nn.Linear(self.num_features, num_classes)
        self.num_classes, self.head_name = num_classes, "fc"

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He et al. 2015 (arXiv 1502.01852) init for ReLU nets, as torchvision does.
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.in_planes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.in_planes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.in_planes, planes, stride, downsample)]
        self.in_planes = planes * block.expansion
        layers += [block(self.in_planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, H, W) -> (N, num_features, H / 32, W / 32)."""
        check_image_input("ResNet", x, self.in_chans)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, num_features, h, w) -> (N, num_classes)."""
        x = torch.flatten(self.avgpool(x), 1)  # (N, num_features)
        return x if pre_logits else self.fc(x)


SCRATCH_TWIN = "nnatlas.scratch.models.resnet:ResNet"

# The paper's Table 1: blocks per stage.
ARCHS: dict[str, tuple[type[BasicBlock | Bottleneck], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}


@register_model(family="resnet", scratch_twin=SCRATCH_TWIN)
def resnet18(**kwargs: object) -> ResNet:
    """ResNet-18, 11,689,512 parameters (torchvision keys)."""
    return ResNet(*ARCHS["resnet18"], **kwargs)  # type: ignore[arg-type]


@register_model(family="resnet", scratch_twin=SCRATCH_TWIN)
def resnet34(**kwargs: object) -> ResNet:
    """ResNet-34, 21,797,672 parameters (torchvision keys)."""
    return ResNet(*ARCHS["resnet34"], **kwargs)  # type: ignore[arg-type]


@register_model(family="resnet", scratch_twin=SCRATCH_TWIN)
def resnet50(**kwargs: object) -> ResNet:
    """ResNet-50 (bottleneck blocks, v1.5), 25,557,032 parameters (torchvision keys)."""
    return ResNet(*ARCHS["resnet50"], **kwargs)  # type: ignore[arg-type]
