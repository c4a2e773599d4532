"""``nnatlas check`` entries for the NumPy twins of the zoo's CNNs: the CIFAR ResNets and plain
nets (and their option-A shortcut and block), the ImageNet-style ResNets (and the bottleneck
block), VGG and AlexNet.

Every model check builds the zoo model through its registry entry (or its class, for the blocks),
gives the scratch twin its weights (:func:`nnatlas.bridge.zoo.scratch_twin`) and runs
:func:`nnatlas.bridge.parity.check_parity` in float64: outputs, loss, input and parameter
gradients, BatchNorm buffers and the weights after three optimizer steps. A finite-difference
check covers the input and the small parameters (biases, BatchNorm weights): every weight would
take two forwards each, millions of them for VGG. The blocks and the shortcut, which are small,
are checked on every parameter.

The cases are declarative tables (``SHORTCUT_CASES``, ``CIFAR_BLOCK_CASES``, ``CIFAR_CASES``,
``BOTTLENECK_CASES``, ``RESNET_CASES``, ``VGG_CASES``, ``ALEXNET_CASES``), one check per
entry; tests/scratch/test_cifar_models.py parametrizes over the same tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnatlas.bridge.checks import CheckResult, register_check
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import torch_to_scratch
from nnatlas.bridge.zoo import scratch_twin
from nnatlas.models import alexnet as zoo_alexnet
from nnatlas.models import create_model
from nnatlas.models import resnet as zoo_resnet
from nnatlas.models import resnet_cifar as zoo_cifar
from nnatlas.models import vgg as zoo_vgg
from nnatlas.scratch.gradcheck import gradcheck, gradcheck_directions
from nnatlas.scratch.models import resnet, resnet_cifar
from nnatlas.scratch.module import Module

LAYER_GROUP, MODEL_GROUP = "layers", "models"
Optimizer = tuple[str, dict[str, Any]]
SGD = ("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4})

# name -> (in_planes, planes, stride)
SHORTCUT_CASES: dict[str, tuple[int, int, int]] = {
    "ShortcutA": (4, 8, 2),  # the width doubles and the map halves, as between stages
    "ShortcutA(odd extra channels, stride 3)": (3, 6, 3),
}
# name -> (in_planes, planes, stride, residual)
CIFAR_BLOCK_CASES: dict[str, tuple[int, int, int, bool]] = {
    "CifarBasicBlock(option A)": (4, 8, 2, True),
    "CifarBasicBlock(identity)": (4, 4, 1, True),
    "CifarBasicBlock(plain)": (4, 8, 2, False),
}
# name -> (registry name, input shape, optimizer); the zoo's widths, a small input
CIFAR_CASES: dict[str, tuple[str, tuple[int, ...], Optimizer]] = {
    "CifarResNet(resnet20)": ("resnet20", (4, 3, 16, 16), SGD),
    "CifarResNet(resnet56)": ("resnet56", (2, 3, 8, 8), ("adam", {"lr": 1e-3})),
    "CifarResNet(plain20)": ("plain20", (4, 3, 16, 16), SGD),
}
# name -> (in_planes, planes, stride): the projection shortcut, and the identity
BOTTLENECK_CASES: dict[str, tuple[int, int, int]] = {
    "Bottleneck(projection, stride 2)": (4, 2, 2),
    "Bottleneck(identity)": (8, 2, 1),
}
# The torchvision-style ResNets at the zoo's widths (11.7M / 25.6M parameters) on small images:
# 64 px leave a 2x2 map to layer4, whose BatchNorm then sees more than one value per image.
# ResNet-50 takes 4 images: with 2, its three steps part the engines by 1.3e-10 (a layer4
# BatchNorm over 8 values amplifies float64 rounding; at 32 px, over 2 values, by thousands).
RESNET_CASES: dict[str, tuple[str, tuple[int, ...], Optimizer]] = {
    "ResNet(resnet18, 64 px)": ("resnet18", (2, 3, 64, 64), SGD),
    "ResNet(resnet50, 64 px)": ("resnet50", (4, 3, 64, 64), SGD),
}
# VGG and AlexNet are checked on their own tables (the zoo's CFGS rows: every depth, every conv
# and pooling of the registry's models) with the widths divided by 16: the same code paths, and
# seconds instead of minutes for 130M float64 parameters copied, stepped and compared.
# tests/scratch/test_cifar_models.py runs the full-width vgg11 and alexnet_small (marked slow).
WIDTH_DIVISOR = 16
# Dropout is 0 in training mode (the engines draw different masks) and 0.5 in eval mode (where it
# is the identity). name -> (configuration, batch_norm, pool_size, train mode), on (2, 3, 32, 32)
VGG_CASES: dict[str, tuple[str, bool, int, bool]] = {
    "VGG11 (widths / 16, CIFAR head)": ("A", False, 1, True),
    "VGG13_bn (widths / 16, CIFAR head)": ("B", True, 1, True),
    "VGG16_bn (widths / 16, eval, dropout 0.5)": ("D", True, 1, False),
    "VGG19_bn (widths / 16, CIFAR head)": ("E", True, 1, True),
    # The ImageNet head's 7x7 pooling, here copying a 1x1 map 49 times (as torchvision does for
    # inputs smaller than 224 px).
    "VGG11 (widths / 16, ImageNet head 7x7)": ("A", False, 7, True),
}
# name -> (configuration, pool_size, input side, train mode); the ImageNet table's 11x11
# stride-4 first conv needs 64 px
ALEXNET_CASES: dict[str, tuple[str, int, int, bool]] = {
    "AlexNet(small, widths / 16)": ("small", 3, 32, True),
    "AlexNet(small, widths / 16, eval, dropout 0.5)": ("small", 3, 28, False),
    "AlexNet(ImageNet table, widths / 16, 64 px)": ("imagenet", 6, 64, True),
}


def narrow(cfg: list, divisor: int = WIDTH_DIVISOR) -> list:
    """A VGG or AlexNet table with every width divided by ``divisor`` (at least 2)."""
    if cfg and isinstance(cfg[0], tuple):  # AlexNet rows (out_channels, kernel, stride, pad, pool)
        return [row._replace(out_channels=max(2, row.out_channels // divisor)) for row in cfg]
    return [v if v == "M" else max(2, v // divisor) for v in cfg]


def _randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial gamma, beta and running statistics, so eval mode is more than the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1.0 + 0.3 * torch.randn(c, generator=gen))
                m.bias.copy_(0.3 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.3 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
    return model


def _directional_gradcheck(model: Module, x: np.ndarray, seed: int) -> float:
    """Finite differences through the whole model (float64) along random directions over the
    input and every parameter at once (two forwards each, whatever the model's size)."""
    report = gradcheck_directions(model, x, rng=np.random.default_rng(seed), directions=3)
    return report.max_rel_error


def model_check(
    name: str,
    twin: torch.nn.Module,
    input_shape: tuple[int, ...],
    optimizer: Optimizer,
    train: bool = True,
) -> CheckResult:
    """Parity through ``optimizer`` steps (cross-entropy) and a directional gradcheck."""
    rng = np.random.default_rng(1)
    twin = _randomize_batchnorm(twin).double().train(train)
    scratch = scratch_twin(twin)
    x = rng.standard_normal(input_shape)
    target = rng.integers(0, 10, input_shape[0])
    report = check_parity(
        scratch, twin, x, target=target, loss="cross_entropy", optimizer=optimizer, steps=3
    )
    opt_name, opt_kwargs = optimizer
    return CheckResult(
        name,
        MODEL_GROUP,
        gradcheck_rel_error=_directional_gradcheck(scratch, x, seed=2),
        parity_max_abs=report.max_abs,
        detail=f"input {input_shape}, 3 {opt_name} steps {opt_kwargs}, train={train}",
        extra={"after_step_max_abs": float(report.max_abs_after_step or 0.0)},
    )


def _full_check(
    name: str, group: str, scratch: Module, twin: torch.nn.Module, shape
) -> CheckResult:
    """Gradcheck of the input and every parameter, and parity with a random upstream gradient."""
    rng = np.random.default_rng(0)
    twin = _randomize_batchnorm(twin).double()
    torch_to_scratch(twin, scratch.to(np.float64))  # gradcheck at the weights parity uses
    x = rng.standard_normal(shape)
    parity = check_parity(scratch, twin, x, rng=rng, optimizer=SGD, steps=3)
    grad = gradcheck(scratch, x, rng=rng)
    return CheckResult(
        name, group, gradcheck_rel_error=grad.max_rel_error, parity_max_abs=parity.max_abs,
        detail=f"input {shape}",
    )  # fmt: skip


def _shortcut_check(name: str, in_planes: int, planes: int, stride: int) -> CheckResult:
    # No parameters: parity of output and input gradient only (no optimizer).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, in_planes, 7, 6))  # odd H: the subsampled map rounds up
    scratch = resnet_cifar.ShortcutA(in_planes, planes, stride)
    parity = check_parity(scratch, zoo_cifar.ShortcutA(in_planes, planes, stride), x, rng=rng)
    grad = gradcheck(scratch, x, rng=rng)
    return CheckResult(
        name, LAYER_GROUP, gradcheck_rel_error=grad.max_rel_error,
        parity_max_abs=parity.max_abs, detail=f"input {x.shape}",
    )  # fmt: skip


def _block_check(name: str, in_planes: int, planes: int, stride: int, residual: bool):
    torch.manual_seed(0)
    twin = zoo_cifar.CifarBasicBlock(in_planes, planes, stride, residual)
    scratch = resnet_cifar.CifarBasicBlock(in_planes, planes, stride, residual)
    return _full_check(name, MODEL_GROUP, scratch, twin, (2, in_planes, 5, 5))


def _cifar_check(name: str, zoo_name: str, shape: tuple[int, ...], optimizer: Optimizer):
    torch.manual_seed(0)
    twin = create_model(zoo_name, num_classes=10, in_chans=shape[1])
    return model_check(name, twin, shape, optimizer)


def _bottleneck_check(name: str, in_planes: int, planes: int, stride: int) -> CheckResult:
    torch.manual_seed(0)
    out = planes * zoo_resnet.Bottleneck.expansion
    downsample = None
    if stride != 1 or in_planes != out:
        downsample = torch.nn.Sequential(
            zoo_resnet.conv1x1(in_planes, out, stride), torch.nn.BatchNorm2d(out)
        )
    twin = zoo_resnet.Bottleneck(in_planes, planes, stride, downsample)
    scratch = resnet.Bottleneck(in_planes, planes, stride)
    return _full_check(name, MODEL_GROUP, scratch, twin, (2, in_planes, 5, 5))


def _vgg_check(name: str, cfg: str, batch_norm: bool, pool_size: int, train: bool):
    torch.manual_seed(0)
    twin = zoo_vgg.VGG(
        narrow(zoo_vgg.CFGS[cfg]), batch_norm, num_classes=10, dropout=0.0 if train else 0.5,
        pool_size=pool_size, hidden=32,
    )  # fmt: skip
    return model_check(name, twin, (2, 3, 32, 32), ("sgd", {"lr": 0.05, "momentum": 0.9}), train)


def _alexnet_check(name: str, cfg: str, pool_size: int, side: int, train: bool):
    torch.manual_seed(0)
    twin = zoo_alexnet.AlexNet(
        narrow(zoo_alexnet.CFGS[cfg]), num_classes=10, pool_size=pool_size, hidden=32,
        dropout=0.0 if train else 0.5,
    )  # fmt: skip
    return model_check(name, twin, (2, 3, side, side), ("adam", {"lr": 1e-3}), train)


for _name, _case in SHORTCUT_CASES.items():
    register_check(_name, group=LAYER_GROUP)(lambda n=_name, c=_case: _shortcut_check(n, *c))
for _name, _case in CIFAR_BLOCK_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _block_check(n, *c))
for _name, _case in CIFAR_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _cifar_check(n, *c))
for _name, _case in BOTTLENECK_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _bottleneck_check(n, *c))
for _name, _case in RESNET_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _cifar_check(n, *c))
for _name, _case in VGG_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _vgg_check(n, *c))
for _name, _case in ALEXNET_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _alexnet_check(n, *c))
