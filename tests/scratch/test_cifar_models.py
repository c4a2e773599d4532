"""The NumPy twins of the zoo's CNNs (CIFAR ResNets and plain nets, the torchvision-style ResNets,
VGG, AlexNet): the checks of
their tables pass, the option-A shortcut does what the paper says, keys and parameter counts
equal the zoo's for every registry entry, errors name the model, a tiny batch is learned, and
the full-width models (slow) match the zoo too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge import checks_vision
from nnatlas.bridge.checks import GRADCHECK_TOL, PARITY_TOL
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.zoo import scratch_twin
from nnatlas.models import create_model
from nnatlas.models import vgg as zoo_vgg
from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models import VGG, AlexNet, CifarResNet, ResNet, ShortcutA
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.optim import Adam

VISION = sorted(
    name
    for name, check in check_registry._CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_vision"
)
CIFAR = ["resnet20", "resnet32", "resnet44", "resnet56", "plain20", "plain32", "plain44", "plain56"]


def test_one_check_per_entry_of_the_checks_own_tables() -> None:
    tables = (
        checks_vision.SHORTCUT_CASES,
        checks_vision.CIFAR_BLOCK_CASES,
        checks_vision.CIFAR_CASES,
        checks_vision.BOTTLENECK_CASES,
        checks_vision.RESNET_CASES,
        checks_vision.VGG_CASES,
        checks_vision.ALEXNET_CASES,
    )
    assert sorted(name for table in tables for name in table) == VISION


# The torchvision-style ResNets at full width take 20-30 s each on 2 cores.
VISION_CASES = [
    pytest.param(name, marks=pytest.mark.slow) if name in checks_vision.RESNET_CASES else name
    for name in VISION
]


@pytest.mark.parametrize("name", VISION_CASES)
def test_check_passes(name: str) -> None:
    result = check_registry._CHECKS[name].run()
    assert result.passed, result
    assert result.parity_max_abs <= PARITY_TOL
    assert result.gradcheck_rel_error is not None and result.gradcheck_rel_error <= GRADCHECK_TOL


def test_option_a_shortcut_subsamples_and_zero_pads() -> None:
    x = np.arange(2 * 4 * 4 * 4, dtype=np.float64).reshape(2, 4, 4, 4)
    layer = ShortcutA(4, 8, stride=2)
    out = layer(x)
    assert out.shape == (2, 8, 2, 2)
    np.testing.assert_array_equal(out[:, 2:6], x[:, :, ::2, ::2])  # 2 zero channels each side
    assert not out[:, :2].any() and not out[:, 6:].any()
    grad = layer.backward(np.ones_like(out))
    assert grad[:, :, ::2, ::2].all() and grad.sum() == 2 * 4 * 4  # skipped pixels get 0


@pytest.mark.parametrize("name", CIFAR)
def test_keys_and_sizes_equal_the_zoo_for_every_entry(name: str) -> None:
    torch.manual_seed(0)
    zoo = create_model(name, num_classes=7, in_chans=1)
    twin = scratch_twin(zoo)
    assert isinstance(twin, CifarResNet) and twin.residual == name.startswith("resnet")
    assert list(twin.state_dict()) == list(zoo.state_dict())
    assert twin.num_parameters() == sum(p.numel() for p in zoo.parameters())
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert twin(x).shape == (2, 7)  # global pooling: Fashion-MNIST's 28x28 as well as 32x32


@pytest.mark.parametrize(("name", "block", "layers"), [
    ("resnet18", "basic", [2, 2, 2, 2]), ("resnet50", "bottleneck", [3, 4, 6, 3]),
])  # fmt: skip
def test_torchvision_style_resnet_twins_have_the_zoos_keys(name, block, layers) -> None:
    torch.manual_seed(0)
    zoo = create_model(name, num_classes=10)
    twin = scratch_twin(zoo)
    assert isinstance(twin, ResNet) and (twin.block, twin.layers) == (block, layers)
    assert list(twin.state_dict()) == list(zoo.state_dict())
    assert twin.num_parameters() == sum(p.numel() for p in zoo.parameters())


def test_vgg_and_alexnet_twins_use_the_zoo_models_own_tables() -> None:
    zoo = create_model("vgg16_bn", num_classes=10, pool_size=1, hidden=64)
    twin = scratch_twin(zoo)
    assert isinstance(twin, VGG) and twin.cfg == zoo_vgg.CFGS["D"] and twin.batch_norm
    assert list(twin.state_dict()) == list(zoo.state_dict())
    small = scratch_twin(create_model("alexnet_small", hidden=64))
    assert isinstance(small, AlexNet) and small.cfg[0] == (64, 5, 1, 2, True)
    assert small(np.zeros((2, 3, 32, 32), dtype=np.float32)).shape == (2, 10)


def test_bad_inputs_name_the_model() -> None:
    model = CifarResNet(1, rng=np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"CifarResNet: expected input \(N, 3, H, W\)"):
        model(np.zeros((2, 1, 32, 32), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"VGG: expected input \(N, 3, H, W\)"):
        VGG([4, "M"], pool_size=1, hidden=8)(np.zeros((2, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="conv widths and 'M'"):
        VGG([4, "max"])
    with pytest.raises(ValueError, match="planes >= in_planes"):
        ShortcutA(8, 4, 2)


def test_resnet_twin_overfits_one_tiny_batch() -> None:
    rng = np.random.default_rng(0)
    model = scratch_twin(create_model("resnet20", num_classes=4))
    x = rng.standard_normal((8, 3, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        model.zero_grad()
        losses.append(float(criterion(model(x), y)))
        model.backward(criterion.backward())
        optimizer.step()
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("vgg11_bn", {"pool_size": 1, "hidden": 512, "dropout": 0.0}, (2, 3, 32, 32)),
        ("alexnet_small", {"dropout": 0.0}, (2, 3, 32, 32)),
        ("resnet56", {}, (4, 3, 32, 32)),
    ],
)
def test_full_width_models_match_the_zoo_through_three_steps(name, kwargs, shape) -> None:
    torch.manual_seed(0)
    zoo = create_model(name, num_classes=10, **kwargs)
    rng = np.random.default_rng(1)
    report = check_parity(
        scratch_twin(zoo), zoo, rng.standard_normal(shape), target=rng.integers(0, 10, shape[0]),
        loss="cross_entropy", optimizer=("sgd", {"lr": 0.05, "momentum": 0.9}), steps=3,
    )  # fmt: skip
    assert report.passed, report
