"""``nnatlas check`` entries for the convolutional half of the scratch engine.

Each layer check runs a finite-difference gradient check (input and every parameter, random
upstream gradient, float64) and a float64 parity comparison with its ``torch.nn`` twin (outputs,
input and parameter gradients, buffers). The model checks (LeNet5 in both variants against the
zoo's LeNet5, the ResNet BasicBlock against the zoo's) load the same weights into both engines
and compare outputs, gradients and the weights after 3 optimizer steps; LeNet5 adds a
finite-difference check of the input and bias gradients (every weight would need two forwards
each, ~124k for LeNet).

The cases are declarative tables, one per component (``CONV_CASES``, ``POOL_CASES``,
``BATCHNORM2D_CASES``, ``LENET_CASES``, ``BLOCK_CASES``), each registered as one check per entry;
the tests in ``tests/scratch`` parametrize over these same tables.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nnatlas.bridge.checks import CheckResult, register_check
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import torch_to_scratch
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.flatten import Flatten
from nnatlas.scratch.gradcheck import gradcheck
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.models.resnet_block import BasicBlock
from nnatlas.scratch.module import Module
from nnatlas.scratch.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

LAYER_GROUP, MODEL_GROUP = "layers", "models"


def layer_check(
    name: str, scratch: Module, twin: torch.nn.Module, input_shape: tuple[int, ...], seed: int = 0
) -> CheckResult:
    """Gradcheck + parity of one layer on a random float64 input of ``input_shape``.

    The scratch layer takes the twin's weights first, so both checks see the same layer.
    """
    rng = np.random.default_rng(seed)
    # Normal inputs: distinct values, so max-pooling windows have no near-ties for the
    # finite differences to cross.
    x = rng.standard_normal(input_shape)
    parity = check_parity(scratch, twin, x, rng=rng)
    torch_to_scratch(twin, scratch)
    grad = gradcheck(scratch, x, rng=rng)
    return CheckResult(
        name,
        LAYER_GROUP,
        gradcheck_rel_error=grad.max_rel_error,
        parity_max_abs=parity.max_abs,
        detail=f"input {input_shape}",
    )


# name -> Conv2d keyword arguments and input shape (N, C, H, W); torch takes the same kwargs.
# The cases reach every branch of Conv2d.backward (tests/scratch/test_conv_layers.py holds it):
# both input-gradient routes (the full convolution at stride 1, col2im for other strides or
# when C_out >> C_in), the crop of the full convolution when the padding exceeds the kernel
# extent d (k - 1), rectangular kernels and strides, dilation, groups, depthwise, no bias.
CONV_CASES: dict[str, tuple[dict[str, Any], tuple[int, int, int, int]]] = {
    "Conv2d(3, 4, 3)": ({"in_channels": 3, "out_channels": 4, "kernel_size": 3}, (2, 3, 6, 7)),
    "Conv2d(3, 5, 3, padding=1)": (
        {"in_channels": 3, "out_channels": 5, "kernel_size": 3, "padding": 1},
        (3, 3, 5, 5),
    ),
    "Conv2d(2, 8, 3) (col2im at stride 1)": (
        {"in_channels": 2, "out_channels": 8, "kernel_size": 3},
        (2, 2, 6, 6),
    ),
    "Conv2d(stride=2, padding=1)": (
        {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
        (2, 3, 7, 6),
    ),
    "Conv2d(kernel_size=(5, 3), padding=2)": (
        {"in_channels": 2, "out_channels": 3, "kernel_size": (5, 3), "padding": 2},
        (2, 2, 5, 6),
    ),
    "Conv2d(kernel_size=(5, 3), stride=(2, 1))": (
        {"in_channels": 2, "out_channels": 3, "kernel_size": (5, 3), "stride": (2, 1)},
        (2, 2, 9, 6),
    ),
    # padding 3 > extent 2: the stride-1 route crops grad_out by 1 on each side instead of padding
    "Conv2d(padding=3 > kernel extent, crop)": (
        {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": 3},
        (2, 2, 4, 5),
    ),
    # crops H (3 > 2) and pads W (1 < 2) in one call
    "Conv2d(padding=(3, 1), crop H, pad W)": (
        {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "padding": (3, 1)},
        (2, 2, 4, 5),
    ),
    "Conv2d(dilation=2)": (
        {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "dilation": 2, "padding": 1},
        (2, 2, 7, 7),
    ),
    "Conv2d(dilation=(2, 1), stride=2)": (
        {"in_channels": 2, "out_channels": 2, "kernel_size": 2, "dilation": (2, 1), "stride": 2},
        (1, 2, 7, 6),
    ),
    "Conv2d(groups=2)": (
        {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2},
        (2, 4, 5, 6),
    ),
    "Conv2d(groups=2, stride=(1, 2))": (
        {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2, "stride": (1, 2)},
        (2, 4, 6, 7),
    ),
    "Conv2d(depthwise, groups=3)": (
        {"in_channels": 3, "out_channels": 3, "kernel_size": 3, "groups": 3, "padding": 1},
        (2, 3, 5, 5),
    ),
    "Conv2d(depthwise, groups=4, stride=2)": (
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 4, "stride": 2},
        (2, 4, 7, 7),
    ),
    "Conv2d(1x1, bias=False)": (
        {"in_channels": 3, "out_channels": 4, "kernel_size": 1, "bias": False},
        (2, 3, 4, 5),
    ),
}

# name -> (scratch factory, torch factory, input shape)
POOL_CASES: dict[
    str, tuple[Callable[[], Module], Callable[[], torch.nn.Module], tuple[int, ...]]
] = {
    "MaxPool2d(2)": (lambda: MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 7)),
    # odd sizes: the last row and column are in no window and get no gradient
    "MaxPool2d(2), odd H and W": (
        lambda: MaxPool2d(2),
        lambda: torch.nn.MaxPool2d(2),
        (2, 3, 7, 8),
    ),
    "MaxPool2d(3, stride=2, padding=1)": (
        lambda: MaxPool2d(3, stride=2, padding=1),
        lambda: torch.nn.MaxPool2d(3, stride=2, padding=1),
        (2, 2, 7, 6),
    ),
    "MaxPool2d((3, 2), stride=1)": (
        lambda: MaxPool2d((3, 2), 1),
        lambda: torch.nn.MaxPool2d((3, 2), 1),
        (1, 2, 6, 5),
    ),
    "AvgPool2d(2)": (lambda: AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 7)),
    "AvgPool2d(2), odd H and W": (
        lambda: AvgPool2d(2),
        lambda: torch.nn.AvgPool2d(2),
        (2, 3, 7, 8),
    ),
    "AvgPool2d(3, stride=2, padding=1)": (
        lambda: AvgPool2d(3, 2, 1),
        lambda: torch.nn.AvgPool2d(3, 2, 1),
        (2, 2, 9, 8),
    ),
    "AvgPool2d(3, stride=2, padding=1, count_include_pad=False)": (
        lambda: AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        lambda: torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        (2, 2, 7, 6),
    ),
    "AvgPool2d((2, 3), stride=(1, 2))": (
        lambda: AvgPool2d((2, 3), (1, 2)),
        lambda: torch.nn.AvgPool2d((2, 3), (1, 2)),
        (1, 2, 5, 7),
    ),
    "AdaptiveAvgPool2d(1)": (
        lambda: AdaptiveAvgPool2d(1),
        lambda: torch.nn.AdaptiveAvgPool2d(1),
        (2, 3, 5, 4),
    ),
    "AdaptiveAvgPool2d((3, 2))": (
        lambda: AdaptiveAvgPool2d((3, 2)),
        lambda: torch.nn.AdaptiveAvgPool2d((3, 2)),
        (2, 2, 7, 5),
    ),
    # 10 -> 4 and 6 -> 4: windows of unequal size that overlap
    "AdaptiveAvgPool2d(4)": (
        lambda: AdaptiveAvgPool2d(4),
        lambda: torch.nn.AdaptiveAvgPool2d(4),
        (1, 2, 10, 6),
    ),
    "AdaptiveAvgPool2d((None, 3))": (
        lambda: AdaptiveAvgPool2d((None, 3)),
        lambda: torch.nn.AdaptiveAvgPool2d((None, 3)),
        (1, 2, 4, 7),
    ),
    "Flatten": (lambda: Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 2)),
    "Flatten(0, 2)": (lambda: Flatten(0, 2), lambda: torch.nn.Flatten(0, 2), (2, 3, 4, 5)),
    "Flatten(2)": (lambda: Flatten(2), lambda: torch.nn.Flatten(2), (2, 3, 4, 5)),
}


def _register_conv(name: str, kwargs: dict[str, Any], shape: tuple[int, int, int, int]) -> None:
    @register_check(name, group=LAYER_GROUP)
    def _check() -> CheckResult:
        torch.manual_seed(0)
        twin = torch.nn.Conv2d(**kwargs).double()
        scratch = Conv2d(**kwargs, dtype=np.float64, rng=np.random.default_rng(0))
        return layer_check(name, scratch, twin, shape)


def _register_pool(name: str, make_scratch, make_torch, shape: tuple[int, ...]) -> None:
    @register_check(name, group=LAYER_GROUP)
    def _check() -> CheckResult:
        return layer_check(name, make_scratch(), make_torch().double(), shape)


for _name, (_kwargs, _shape) in CONV_CASES.items():
    _register_conv(_name, _kwargs, _shape)
for _name, (_make_s, _make_t, _shape) in POOL_CASES.items():
    _register_pool(_name, _make_s, _make_t, _shape)


def _random_batchnorm(channels: int, train: bool, seed: int = 0) -> torch.nn.BatchNorm2d:
    """A torch BatchNorm2d with non-trivial affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm2d(channels).double()
    with torch.no_grad():
        bn.weight.copy_(1.0 + 0.5 * torch.randn(channels, generator=gen, dtype=torch.float64))
        bn.bias.copy_(0.5 * torch.randn(channels, generator=gen, dtype=torch.float64))
        bn.running_mean.copy_(torch.randn(channels, generator=gen, dtype=torch.float64))
        bn.running_var.copy_(0.5 + torch.rand(channels, generator=gen, dtype=torch.float64))
    return bn.train(train)


# name -> training mode; both on a (4, 3, 3, 4) input with non-trivial gamma, beta and statistics
BATCHNORM2D_CASES: dict[str, bool] = {"BatchNorm2d train": True, "BatchNorm2d eval": False}


def _register_batchnorm2d(name: str, train: bool) -> None:
    @register_check(name, group=LAYER_GROUP)
    def _check() -> CheckResult:
        scratch = BatchNorm2d(3).train(train)
        return layer_check(name, scratch, _random_batchnorm(3, train), (4, 3, 3, 4))


for _name, _train in BATCHNORM2D_CASES.items():
    _register_batchnorm2d(_name, _train)


def model_parity_check(
    name: str,
    scratch: Module,
    twin: torch.nn.Module,
    x: np.ndarray,
    target: np.ndarray | None,
    optimizer: tuple[str, dict[str, Any]],
    steps: int = 3,
) -> CheckResult:
    """Same weights -> equal outputs, loss, gradients and weights after ``steps`` steps."""
    loss = "cross_entropy" if target is not None else None
    report = check_parity(
        scratch, twin, x, target=target, loss=loss, optimizer=optimizer, steps=steps
    )
    opt_name, opt_kwargs = optimizer
    return CheckResult(
        name,
        MODEL_GROUP,
        parity_max_abs=report.max_abs,
        detail=f"input {x.shape}, {steps} {opt_name} steps {opt_kwargs}",
        extra={"after_step_max_abs": float(report.max_abs_after_step or 0.0)},
    )


# name -> (variant, input size, optimizer): the scratch LeNet5 against the zoo's LeNet5
LENET_CASES: dict[str, tuple[str, int, tuple[str, dict[str, Any]]]] = {
    "LeNet5(modern)": ("modern", 28, ("sgd", {"lr": 0.1, "momentum": 0.9})),
    "LeNet5(1998)": ("1998", 32, ("adam", {"lr": 1e-2})),
}

# name -> (in_channels, out_channels, stride): the scratch BasicBlock against the zoo's
# (nnatlas.models.resnet.BasicBlock, torchvision's block and keys), with the 1x1 conv + BatchNorm
# shortcut the zoo's ResNet builds when the shape changes
BLOCK_CASES: dict[str, tuple[int, int, int]] = {
    "BasicBlock": (4, 8, 2),  # stride 2 and a channel change: the downsample shortcut
    "BasicBlock(identity shortcut)": (4, 4, 1),
}


def _lenet_check(
    name: str, variant: str, input_size: int, optimizer: tuple[str, dict[str, Any]]
) -> CheckResult:
    from nnatlas.models.lenet import LeNet5 as TorchLeNet5

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    twin = TorchLeNet5(num_classes=10, input_size=input_size, variant=variant)
    scratch = LeNet5(num_classes=10, input_size=input_size, variant=variant, rng=rng)
    x = rng.standard_normal((4, 1, input_size, input_size))
    target = rng.integers(0, 10, 4)
    result = model_parity_check(name, scratch, twin, x, target, optimizer)
    result.gradcheck_rel_error = _lenet_gradcheck(scratch, x[:1], rng)
    return result


def _lenet_gradcheck(model: LeNet5, x: np.ndarray, rng: np.random.Generator) -> float:
    """Finite differences through the whole model, for the input and every bias.

    All ~62k weights would take two forwards each; the input (784 values) and the biases
    (236) reach every layer's backward, in about 2k forwards of one image.
    """
    model = copy.deepcopy(model).to(np.float64)
    biases = [(name, p) for name, p in model.named_parameters() if name.endswith("bias")]
    report = gradcheck(model.forward, x, backward=model.backward, params=biases, rng=rng)
    return report.max_rel_error


def _zoo_basic_block(in_channels: int, out_channels: int, stride: int) -> torch.nn.Module:
    """The zoo's BasicBlock with the shortcut ``ResNet._make_layer`` gives it."""
    from nnatlas.models.resnet import BasicBlock as ZooBasicBlock
    from nnatlas.models.resnet import conv1x1

    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = torch.nn.Sequential(
            conv1x1(in_channels, out_channels, stride), torch.nn.BatchNorm2d(out_channels)
        )
    return ZooBasicBlock(in_channels, out_channels, stride, downsample)


def _block_check(name: str, in_channels: int, out_channels: int, stride: int) -> CheckResult:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    twin = _zoo_basic_block(in_channels, out_channels, stride)
    scratch = BasicBlock(in_channels, out_channels, stride=stride, rng=rng)
    x = rng.standard_normal((3, in_channels, 8, 8))
    return model_parity_check(name, scratch, twin, x, None, ("sgd", {"lr": 0.1, "momentum": 0.9}))


for _name, _case in LENET_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _lenet_check(n, *c))
for _name, _case in BLOCK_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _block_check(n, *c))
