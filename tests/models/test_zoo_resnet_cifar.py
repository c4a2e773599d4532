"""CIFAR ResNets: option-A shortcuts, plain twins, and akamaster's pretrained checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nnatlas.models import create_model, load_pretrained_cifar_resnet
from nnatlas.models.resnet_cifar import CifarBasicBlock, ShortcutA

REPO_ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = REPO_ROOT.parent / "shared" / "data" / "pretrained"
RESNET20_CKPT = PRETRAINED / "resnet20-12fca82f.th"


def test_option_a_shortcut_subsamples_and_zero_pads() -> None:
    x = torch.randn(2, 16, 8, 8)
    y = ShortcutA(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    # akamaster: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))
    torch.testing.assert_close(y, F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 8, 8)), rtol=0, atol=0)
    assert y[:, :8].abs().sum() == 0 and y[:, 24:].abs().sum() == 0


def test_plain_block_has_no_shortcut_and_residual_block_adds_it() -> None:
    torch.manual_seed(0)
    residual = CifarBasicBlock(16, 16).eval()
    plain = CifarBasicBlock(16, 16, residual=False).eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        branch = residual.bn2(residual.conv2(F.relu(residual.bn1(residual.conv1(x)))))
        torch.testing.assert_close(residual(x), F.relu(branch + x))
        torch.testing.assert_close(plain(x), F.relu(branch))
    assert plain.shortcut is None


def test_depth_and_keys_match_akamaster() -> None:
    model = create_model("resnet56")
    keys = list(model.state_dict())
    assert keys[0] == "conv1.weight" and "layer1.8.conv2.weight" in keys
    assert "layer1.9.conv1.weight" not in keys and keys[-2:] == ["linear.weight", "linear.bias"]
    convs = [k for k in keys if k.endswith("conv1.weight") or k.endswith("conv2.weight")]
    assert len(convs) + 1 == 56  # 6n+2 = 56 weighted layers: 55 convs + the Linear


# akamaster's files and the test accuracy (%) each checkpoint records (his README's table).
CHECKPOINTS = {
    "resnet20": ("resnet20-12fca82f.th", 91.78),
    "resnet32": ("resnet32-d509ac18.th", 92.78),
    "resnet44": ("resnet44-014dd654.th", 93.14),
    "resnet56": ("resnet56-4bfd9763.th", 93.62),
}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_akamaster_checkpoint_loads(name: str) -> None:
    filename, best_prec1 = CHECKPOINTS[name]
    path = PRETRAINED / filename
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    model = create_model(name)
    extra = load_pretrained_cifar_resnet(model, path)
    assert extra["best_prec1"] == pytest.approx(best_prec1, abs=0.01)
    raw = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    ours = model.state_dict()
    for key, value in raw.items():
        torch.testing.assert_close(ours[key.removeprefix("module.")], value, rtol=0, atol=0)
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(4, 3, 32, 32))
    assert out.shape == (4, 10) and torch.isfinite(out).all()


@pytest.mark.shared
@pytest.mark.skipif(not RESNET20_CKPT.is_file(), reason=f"{RESNET20_CKPT} is absent")
def test_checkpoint_of_another_depth_is_refused() -> None:
    with pytest.raises(ValueError, match=r"20-layer net .*create_model\('resnet20'\)"):
        load_pretrained_cifar_resnet(create_model("resnet32"), RESNET20_CKPT)


def test_bare_state_dict_with_module_prefix_loads(tmp_path: Path) -> None:
    source = create_model("resnet20")
    path = tmp_path / "bare.th"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    target = create_model("resnet20")
    assert load_pretrained_cifar_resnet(target, path) == {}
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.th"
    garbage.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="notes.th is not a PyTorch checkpoint"):
        load_pretrained_cifar_resnet(create_model("resnet20"), garbage)
    other = tmp_path / "other.th"
    torch.save({"state_dict": create_model("lenet5").state_dict()}, other)
    with pytest.raises(ValueError, match="other.th"):
        load_pretrained_cifar_resnet(create_model("resnet20"), other)
    with pytest.raises(FileNotFoundError, match="missing.th"):
        load_pretrained_cifar_resnet(create_model("resnet20"), tmp_path / "missing.th")


def test_checkpoint_for_other_class_count_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c100.th"
    torch.save(
        {"best_prec1": 0.0, "state_dict": create_model("resnet20", num_classes=100).state_dict()},
        path,
    )
    with pytest.raises(ValueError, match=r"linear.weight has shape \(100, 64\)"):
        load_pretrained_cifar_resnet(create_model("resnet20"), path)
