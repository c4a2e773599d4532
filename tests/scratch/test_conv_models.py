"""Scratch LeNet-5 and ResNet BasicBlock: shapes, keys equal to the PyTorch twins, parity
through optimizer steps, clear errors, and the "overfit one tiny batch" end-to-end test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from nnatlas.bridge.checks_conv import BLOCK_CASES, LENET_CASES
from nnatlas.bridge.parity import check_parity
from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.models.resnet_block import BasicBlock
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.optim import Adam

TorchLeNet5 = pytest.importorskip("nnatlas.models.lenet").LeNet5


@pytest.mark.parametrize("variant", ["modern", "1998"])
@pytest.mark.parametrize("input_size", [28, 32])
def test_lenet_forward_shapes_and_keys(variant: str, input_size: int) -> None:
    model = LeNet5(
        num_classes=7,
        in_chans=3,
        input_size=input_size,
        variant=variant,
        rng=np.random.default_rng(0),
    )
    x = np.random.default_rng(1).standard_normal((5, 3, input_size, input_size)).astype(np.float32)
    features = model.forward_features(x)
    assert features.shape == (5, 16, 5, 5)
    out = model(x)
    assert out.shape == (5, 7) and out.dtype == np.float32 and np.isfinite(out).all()
    grad_x = model.backward(np.ones_like(out))
    assert grad_x.shape == x.shape
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    twin = TorchLeNet5(num_classes=7, in_chans=3, input_size=input_size, variant=variant)
    assert list(model.state_dict()) == list(twin.state_dict())
    assert model.num_parameters() == sum(p.numel() for p in twin.parameters())


# The cases are the LeNet5 checks' own table (nnatlas.bridge.checks_conv.LENET_CASES).
@pytest.mark.parametrize(
    ("variant", "input_size", "optimizer"), LENET_CASES.values(), ids=LENET_CASES
)
def test_lenet_parity_through_three_steps(variant: str, input_size: int, optimizer) -> None:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    scratch = LeNet5(input_size=input_size, variant=variant, rng=rng)
    twin = TorchLeNet5(input_size=input_size, variant=variant)
    x = rng.standard_normal((6, 1, input_size, input_size))
    y = rng.integers(0, 10, 6)
    report = check_parity(
        scratch, twin, x, target=y, loss="cross_entropy", optimizer=optimizer, steps=3
    )
    assert report.passed, report
    assert report.max_abs_after_step is not None and len(report.max_abs_param_grad) == 10


def test_lenet_errors_name_the_layer() -> None:
    model = LeNet5(input_size=28)
    with pytest.raises(ShapeError, match=r"LeNet5: built for 28x28 inputs, got 32x32"):
        model(np.zeros((2, 1, 32, 32), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"LeNet5: expected input \(N, 1, 28, 28\)"):
        model(np.zeros((2, 3, 28, 28), dtype=np.float32))
    # A layer used on its own inside the model names its path.
    with pytest.raises(
        ShapeError,
        match=r"Conv2d \(features\.3\): expected input \(N, 6, H, W\), got \(128, 3, 28, 28\)",
    ):
        model.features[3](np.zeros((128, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="input_size must be 28 or 32"):
        LeNet5(input_size=64)
    with pytest.raises(ValueError, match="variant"):
        LeNet5(variant="2024")


def test_lenet_overfits_one_tiny_batch() -> None:
    """16 random images with random labels: a working model + backward + Adam memorizes them."""
    rng = np.random.default_rng(0)
    model = LeNet5(rng=rng)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    criterion, opt = CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(80):
        opt.zero_grad()
        loss = float(criterion(model(x), y))
        first = loss if first is None else first
        model.backward(criterion.backward())
        opt.step()
    model.eval()
    assert loss < 0.05 * first
    assert (model(x).argmax(axis=1) == y).all()


# The BasicBlock checks' own cases (nnatlas.bridge.checks_conv.BLOCK_CASES); the check proves
# the zoo's block, this test torchvision's.
@pytest.mark.parametrize(("c_in", "c_out", "stride"), BLOCK_CASES.values(), ids=BLOCK_CASES)
def test_basic_block_matches_torchvision(c_in: int, c_out: int, stride: int) -> None:
    from torchvision.models.resnet import BasicBlock as TorchBasicBlock

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    downsample = None
    if stride != 1 or c_in != c_out:
        downsample = torch.nn.Sequential(
            torch.nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), torch.nn.BatchNorm2d(c_out)
        )
    twin = TorchBasicBlock(c_in, c_out, stride=stride, downsample=downsample)
    block = BasicBlock(c_in, c_out, stride=stride, rng=rng)
    assert sorted(block.state_dict()) == sorted(twin.state_dict())
    x = rng.standard_normal((3, c_in, 8, 8))
    report = check_parity(block, twin, x, optimizer=("sgd", {"lr": 0.1, "momentum": 0.9}), steps=2)
    assert report.passed, report
    assert report.max_abs_buffers  # BatchNorm running statistics were compared


def test_lenet_save_load_roundtrip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    model = LeNet5(variant="1998", rng=rng)
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    path = model.save(tmp_path / "lenet.npz")
    other = LeNet5(variant="1998", rng=np.random.default_rng(1))
    assert not np.allclose(other(x), model(x))
    other.load(path)
    np.testing.assert_array_equal(other(x), model(x))


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
@pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST IDX files absent (Debian package dataset-fashion-mnist)",
)
def test_scratch_lenet_reaches_087_on_fashion_mnist_in_two_epochs() -> None:
    """The acceptance bar of `nnatlas train lenet5 --engine scratch`; a few minutes on 2 cores."""
    script = Path(__file__).parents[2] / "benchmarks" / "scratch_lenet_fashion.py"
    spec = importlib.util.spec_from_file_location("scratch_lenet_fashion", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.train(FASHION_DIR, epochs=2, seed=0) >= 0.87
