"""The transfer options that choose and score a model: flip test-time augmentation, best.pt by
validation AUC, and the command's training options reaching the run.

ResNet-20 with random weights at 32 px, on generated photos (see ``test_strategies``): no
download, no ``../shared``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from test_strategies import FAST, write_folder

import nnatlas.tasks as tasks
import nnatlas.transfer as transfer
from nnatlas.models import create_model


def test_flip_tta_scores_the_mean_of_an_image_and_its_mirror_in_eval_mode_only() -> None:
    kwargs = dict(backbone="resnet20", num_classes=2, strategy="finetune", weights=None)
    torch.manual_seed(0)
    plain = create_model("transfer", **kwargs).eval()
    tta = create_model("transfer", **kwargs, flip_tta=True)
    tta.load_state_dict(plain.state_dict())
    x = torch.rand(4, 3, 32, 32)  # (N, C, H, W)
    with torch.no_grad():
        expected = (plain(x) + plain(x.flip(-1))) / 2  # (N, 2)
        tta.eval()
        assert torch.allclose(tta(x), expected, atol=1e-6)
        assert torch.allclose(tta(x.flip(-1)), tta(x), atol=1e-6)  # mirror-invariant
        assert not torch.allclose(plain(x), expected, atol=1e-4)  # it does change the scores
        tta.train()
        plain.train()
        torch.manual_seed(1)
        trained = tta(x)
        torch.manual_seed(1)
        assert torch.allclose(trained, plain(x), atol=1e-6)  # training sees the image alone


def test_monitor_val_auc_records_auc_and_picks_best_pt_by_it(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos", per_class=20)
    run = transfer.train("resnet20", data, "finetune", weights=None, run_dir=tmp_path / "r",
                         monitor="val_auc", **{**FAST, "epochs": 3})  # fmt: skip
    aucs = [row["val_auc"] for row in run.history]
    assert run.trainer.best_epoch == 1 + max(range(len(aucs)), key=lambda i: (aucs[i], -i))
    assert run.config.monitor == "val_auc" and "auc" in run.config.metric_names


def test_the_command_passes_its_training_options_and_eval_scores_with_tta(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from nnatlas.cli import _register, app

    _register()
    data = write_folder(tmp_path / "photos", per_class=12)
    result = CliRunner().invoke(app, [
        "transfer", "--backbone", "resnet20", "--weights", "none", "--data", data,
        "--strategy", "finetune", "--epochs", "1", "--image-size", "32", "--quiet",
        "--runs-dir", str(tmp_path / "runs"), "--run-name", "t", "--threads", "1",
        "--monitor", "val_auc", "--label-smoothing", "0.1", "--backbone-lr", "0.5",
        "--flip-tta",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "t"
    config = json.loads((folder / "config.json").read_text())
    assert (config["monitor"], config["label_smoothing"], config["threads"]) == ("val_auc", 0.1, 1)
    run = tasks.load_run(folder, device="cpu")
    assert run.model.flip_tta and run.model.backbone_lr == 0.5  # the checkpoint rebuilds both
    tested = json.loads((folder / "test_metrics.json").read_text())
    evaluated = tasks.evaluate(run, "test")
    assert abs(evaluated["auc"] - tested["auc"]) < 1e-6  # eval scores as training tested
