"""CIFAR-10 ResNets and their plain twins (He, Zhang, Ren & Sun 2016, arXiv 1512.03385, §4.2).

The network is 6n+2 layers deep: a 3x3 conv with 16 filters, three stages of n basic blocks
with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling and a Linear.
ResNet-20/32/44/56 have n = 3/5/7/9 (0.27M/0.46M/0.66M/0.85M parameters, the paper's Table 6).

Shortcuts are the paper's option A, parameter-free: where a stage halves the map and doubles the
width, the shortcut takes every second pixel (stride-2 subsampling) and zero-pads the new channels.
This is what akamaster/pytorch_resnet_cifar10 does with its LambdaLayer; module and key names
(conv1, bn1, layer1.0.conv1, ..., linear) follow his, so his checkpoints load with
:func:`load_pretrained_cifar_resnet`. The plain nets are the same stacks without any shortcut,
for the paper's degradation experiment (Fig. 6: plain-56 trains worse than plain-20).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nnatlas.models.base import VisionModel, check_image_input
from nnatlas.models.registry import register_model


class ShortcutA(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad channels to ``planes``.

    A named module instead of akamaster's lambda so models pickle; it has no parameters, so the
    state_dict keys are the same as his.

    Shape:
        x: (N, in_planes, H, W) -> (N, planes, H / stride, W / stride)

    NumPy twin: nnatlas.scratch.models.resnet_cifar.ShortcutA.
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.in_planes, self.planes, self.stride = in_planes, planes, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, in_planes, H/s, W/s)
        extra = self.planes - self.in_planes
        # akamaster pads planes//4 on each side when the width doubles; the same split in general.
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))  # (N, planes, H/s, W/s)

    def extra_repr(self) -> str:
        return f"{self.in_planes}->{self.planes}, stride={self.stride}"


class CifarBasicBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers, with (residual) or without (plain) an option-A shortcut.

    Shape:
        x: (N, in_planes, H, W) -> (N, planes, H / stride, W / stride)

    NumPy twin: nnatlas.scratch.models.resnet_cifar.CifarBasicBlock.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        # Plain blocks have no shortcut at all (None), residual ones the identity or option A.
        self.shortcut: nn.Module | None = None
        if residual:
            self.shortcut = nn.Identity()
            if stride != 1 or in_planes != planes:
                self.shortcut = ShortcutA(in_planes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(VisionModel):
    """The 6n+2-layer CIFAR network of He et al. §4.2, residual or plain.

    Args:
        num_blocks: blocks per stage, n (3 for ResNet-20).
        num_classes: number of outputs.
        in_chans: image channels.
        residual: False builds the plain net (no shortcuts).

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes); trained on 32x32

    NumPy twin: nnatlas.scratch.models.resnet_cifar.CifarResNet.
    """

    def __init__(
        self, num_blocks: int, num_classes: int = 10, in_chans: int = 3, residual: bool = True
    ) -> None:
        super().__init__()
        self.in_chans, self.num_blocks, self.residual = in_chans, num_blocks, residual
        self.conv1 = nn.Conv2d(in_chans, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.in_planes = 16
        self.layer1 = self._make_layer(16, num_blocks, stride=1)  # (N, 16, 32, 32)
        self.layer2 = self._make_layer(32, num_blocks, stride=2)  # (N, 32, 16, 16)
        self.layer3 = self._make_layer(64, num_blocks, stride=2)  # (N, 64, 8, 8)
        self.linear = nn.Linear(64, num_classes)
        self.num_classes, self.num_features, self.head_name = num_classes, 64, "linear"
        for m in self.modules():
            # akamaster's _weights_init: He et al. 2015 normal init (fan_in) on convs and the
            # Linear, the paper's §4.2 "initialize the weights as in [13]".
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(CifarBasicBlock(self.in_planes, planes, s, self.residual))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, H, W) -> (N, 64, H / 4, W / 4)."""
        check_image_input("CifarResNet", x, self.in_chans)
        x = F.relu(self.bn1(self.conv1(x)))  # (N, 16, H, W)
        return self.layer3(self.layer2(self.layer1(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, 64, h, w) -> (N, num_classes)."""
        x = x.mean(dim=(2, 3))  # global average pooling: (N, 64)
        return x if pre_logits else self.linear(x)


SCRATCH_TWIN = "nnatlas.scratch.models.resnet_cifar:CifarResNet"


def _make(depth: int, residual: bool, kwargs: dict[str, object]) -> CifarResNet:
    assert (depth - 2) % 6 == 0, depth
    return CifarResNet((depth - 2) // 6, residual=residual, **kwargs)  # type: ignore[arg-type]


@register_model(family="resnet_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def resnet20(**kwargs: object) -> CifarResNet:
    """CIFAR ResNet-20 (option A), 269,722 parameters; akamaster's keys."""
    return _make(20, True, kwargs)


@register_model(family="resnet_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def resnet32(**kwargs: object) -> CifarResNet:
    """CIFAR ResNet-32 (option A), 464,154 parameters; akamaster's keys."""
    return _make(32, True, kwargs)


@register_model(family="resnet_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def resnet44(**kwargs: object) -> CifarResNet:
    """CIFAR ResNet-44 (option A), 658,586 parameters; akamaster's keys."""
    return _make(44, True, kwargs)


@register_model(family="resnet_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def resnet56(**kwargs: object) -> CifarResNet:
    """CIFAR ResNet-56 (option A), 853,018 parameters; akamaster's keys."""
    return _make(56, True, kwargs)


@register_model(family="plain_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def plain20(**kwargs: object) -> CifarResNet:
    """Plain 20-layer CIFAR net: ResNet-20 without shortcuts (degradation experiment)."""
    return _make(20, False, kwargs)


@register_model(family="plain_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def plain32(**kwargs: object) -> CifarResNet:
    """Plain 32-layer CIFAR net: ResNet-32 without shortcuts."""
    return _make(32, False, kwargs)


@register_model(family="plain_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def plain44(**kwargs: object) -> CifarResNet:
    """Plain 44-layer CIFAR net: ResNet-44 without shortcuts."""
    return _make(44, False, kwargs)


@register_model(family="plain_cifar", default_input=(3, 32, 32), scratch_twin=SCRATCH_TWIN)
def plain56(**kwargs: object) -> CifarResNet:
    """Plain 56-layer CIFAR net: ResNet-56 without shortcuts."""
    return _make(56, False, kwargs)


def _blocks_per_stage(keys: list[str]) -> int:
    """Count ``layer1.{i}.`` blocks in state_dict keys (0 when there are none)."""
    idx = {int(m.group(1)) for k in keys if (m := re.match(r"layer1\.(\d+)\.", k))}
    return max(idx) + 1 if idx else 0


def load_pretrained_cifar_resnet(model: CifarResNet, path: str | Path) -> dict[str, object]:
    """Load an akamaster/pytorch_resnet_cifar10 checkpoint (e.g. ``resnet20-12fca82f.th``).

    Accepts the ``{'best_prec1': ..., 'state_dict': ...}`` dict his training script saves, or a
    bare state_dict; strips the ``module.`` prefix that ``nn.DataParallel`` adds. Tensors are
    loaded with ``weights_only=True`` (no code runs) onto the CPU and copied into ``model``.

    Args:
        model: a :class:`CifarResNet` of the checkpoint's depth (``create_model("resnet20")``).
        path: the checkpoint file.

    Returns:
        the checkpoint's other entries, e.g. ``{"best_prec1": 91.78}`` ({} for a bare state_dict).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not such a checkpoint, or it is for another depth or class count.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CIFAR ResNet checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors come in many types; name the file and the cause
        raise ValueError(
            f"{path} is not a PyTorch checkpoint loadable with weights_only=True ({e})"
        ) from e
    extra: dict[str, object] = {}
    state = ckpt
    if isinstance(ckpt, Mapping) and "state_dict" in ckpt:
        state = ckpt["state_dict"]
        extra = {k: v for k, v in ckpt.items() if k != "state_dict"}
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(
            f"{path}: expected a state_dict or a {{'best_prec1', 'state_dict'}} checkpoint "
            f"(akamaster/pytorch_resnet_cifar10), got {type(ckpt).__name__}"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}
    ours = model.state_dict()
    got, want = _blocks_per_stage(list(state)), model.num_blocks
    if got != want:
        raise ValueError(
            f"{path} holds a {6 * got + 2}-layer net ({got} blocks per stage) but the model has "
            f"{want} blocks per stage (depth {6 * want + 2}); create the model of depth "
            f"{6 * got + 2}, e.g. create_model('resnet{6 * got + 2}')"
        )
    # Checkpoints from PyTorch < 0.4.1 have no BatchNorm ``num_batches_tracked`` counter (it only
    # matters with momentum=None); the model keeps its own.
    missing = sorted(k for k in set(ours) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(ours))
    if missing or unexpected:
        raise ValueError(
            f"{path}: not a CIFAR ResNet checkpoint for this model; missing keys {missing[:5]}, "
            f"unexpected keys {unexpected[:5]}"
        )
    for k, v in state.items():
        if v.shape != ours[k].shape:
            raise ValueError(
                f"{path}: {k} has shape {tuple(v.shape)}, the model expects {tuple(ours[k].shape)}"
                " (another num_classes or in_chans?)"
            )
    model.load_state_dict(state, strict=False)
    return extra
