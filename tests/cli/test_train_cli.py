"""``nnatlas train / eval / predict`` on digits (sklearn's copy: no download, seconds)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from image_writers import write_image_folder
from nnatlas.cli import _register, app

_register()
runner = CliRunner()
QUICK = ["--data", "digits", "--epochs", "3", "--threads", "1", "--no-tensorboard"]


def train(tmp_path, *args: str):
    return runner.invoke(app, ["train", *args, *QUICK, "--runs-dir", str(tmp_path)])


def test_train_twice_prints_identical_numbers_and_writes_the_run(tmp_path):
    first = train(tmp_path, "mlp", "--run-name", "a")
    second = train(tmp_path, "mlp", "--run-name", "a", "--overwrite")
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert "epoch 3/3" in first.stdout and "val_accuracy" in first.stdout
    run = tmp_path / "a"
    test = json.loads((run / "test_metrics.json").read_text())
    assert f"test accuracy {test['accuracy']:.4f}" in first.stdout
    assert test["accuracy"] > 0.85  # 3 epochs; the full preset (30 epochs) reaches ~0.98
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 3 and config["scheduler"] == "cosine"  # CLI over dataset preset
    assert len(json.loads((run / "history.json").read_text())) == 3


def test_scratch_engine_writes_the_same_history_columns(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "t").exit_code == 0
    result = train(tmp_path, "mlp", "--engine", "scratch", "--run-name", "s")
    assert result.exit_code == 0, result.output
    t, s = (json.loads((tmp_path / n / "history.json").read_text()) for n in "ts")
    assert [list(row) for row in t] == [list(row) for row in s]
    assert s[-1]["val_accuracy"] > 0.85


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuchnet"], "Valid names:"),
        (["mlp", "--optimizer", "lion"], "is not one of sgd, momentum"),
        (["mobilenet_v2", "--engine", "scratch"], "--engine scratch trains alexnet, alexnet_small"),
        (["mlp", "--monitor", "val_top5"], "choose from val_loss, val_accuracy, val_f1"),
    ],
)
def test_bad_names_exit_2_with_the_valid_choices(tmp_path, args, expected):
    result = train(tmp_path, *args)
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())


def test_unknown_dataset_exits_2_listing_datasets(tmp_path):
    result = runner.invoke(app, ["train", "mlp", "--data", "nosuch", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "fashion-mnist" in result.output


def test_eval_and_predict_a_run(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "r").exit_code == 0
    saved = json.loads((tmp_path / "r" / "test_metrics.json").read_text())
    result = runner.invoke(app, ["eval", str(tmp_path / "r"), "--metrics", "accuracy"])
    assert result.exit_code == 0, result.output
    assert (
        f"{saved['accuracy']:.4f}" in result.stdout
    )  # best.pt gives the training run's test score
    result = runner.invoke(app, ["predict", str(tmp_path / "r"), "test:3"])
    assert result.exit_code == 0, result.output
    assert "true class" in result.stdout


def test_eval_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint at all")
    result = runner.invoke(app, ["eval", str(bogus)])
    assert result.exit_code == 2 and "not a readable checkpoint" in result.output


def test_eval_and_predict_refuse_bad_options_and_print_input_literally(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "r", "--epochs", "1").exit_code == 0
    result = runner.invoke(app, ["eval", str(tmp_path / "r"), "--metrics", "accuracy,bleu"])
    assert result.exit_code == 2 and "choose from accuracy, top5" in " ".join(result.output.split())
    result = runner.invoke(app, ["predict", str(tmp_path / "r"), "val:x"])
    assert result.exit_code == 2 and "val:x: after val: give an example number" in result.output


def test_resume_refuses_a_corrupt_last_checkpoint(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "last.pt").write_bytes(b"half a file")
    result = runner.invoke(
        app, ["train", "--run-name", "bad", "--runs-dir", str(tmp_path), "--resume"]
    )
    assert result.exit_code == 2 and "not a readable checkpoint" in " ".join(result.output.split())


def test_resume_continues_a_run_with_its_saved_config(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "c").exit_code == 0
    before = json.loads((tmp_path / "c" / "test_metrics.json").read_text())
    result = runner.invoke(
        app, ["train", "--run-name", "c", "--runs-dir", str(tmp_path), "--resume", "--lr", "9"]
    )
    assert result.exit_code == 0, result.output
    assert "resuming" in result.stdout and "ignoring --lr" in result.stdout
    assert json.loads((tmp_path / "c" / "test_metrics.json").read_text()) == before


def test_resume_without_a_run_exits_2(tmp_path):
    result = runner.invoke(
        app, ["train", "--run-name", "x", "--runs-dir", str(tmp_path), "--resume"]
    )
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())


def test_val_fraction_out_of_range_exits_2(tmp_path):
    result = train(tmp_path, "mlp", "--val-fraction", "1.5")
    assert result.exit_code == 2 and "--val-fraction must be in [0, 1)" in result.output


def test_resume_with_another_models_checkpoint_exits_2(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "a", "--epochs", "1").exit_code == 0
    # A checkpoint whose model differs from what its own record says cannot be resumed.
    ckpt = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    ckpt["model"] = {k: v[..., :1] for k, v in ckpt["model"].items()}  # wrong shapes
    torch.save(ckpt, tmp_path / "a" / "last.pt")
    result = runner.invoke(
        app, ["train", "--run-name", "a", "--runs-dir", str(tmp_path), "--resume"]
    )
    assert result.exit_code == 2 and "another model" in " ".join(result.output.split())


def test_eval_on_another_dataset_names_the_mismatch(tmp_path):
    assert train(tmp_path, "mlp", "--run-name", "m", "--epochs", "1").exit_code == 0
    result = runner.invoke(app, ["eval", str(tmp_path / "m"), "--data", "moons"])
    assert result.exit_code == 2
    assert "this run does image classification" in " ".join(result.output.split())
    folder = write_image_folder(tmp_path / "photos", {"a": 4, "b": 4})  # RGB, resized to 128 px
    result = runner.invoke(app, ["eval", str(tmp_path / "m"), "--data", f"imagefolder:{folder}"])
    assert result.exit_code == 2
    assert "the model was trained on (1, 8, 8)" in " ".join(result.output.split())


@pytest.mark.parametrize("restore_best", ["--restore-best", "--no-restore-best"])
def test_ema_run_is_evaluated_with_its_averaged_weights(tmp_path, restore_best):
    """--ema: the test score, best.pt, last.pt and `nnatlas eval` all use the average."""
    args = ("mlp", "--run-name", "e", "--ema", "0.9", restore_best)
    result = train(tmp_path, *args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "e" / "test_metrics.json").read_text())
    last = torch.load(tmp_path / "e" / "last.pt", weights_only=True)
    assert last["ema"]["updates"] == last["step"]
    weights = next(iter(last["model"]))  # the first layer's weights
    assert not torch.equal(last["model"][weights], last["ema"]["training"][weights])
    for name in ("best.pt", "last.pt"):
        checkpoint = str(tmp_path / "e" / name)
        evaluated = runner.invoke(app, ["eval", checkpoint, "--metrics", "accuracy"])
        assert evaluated.exit_code == 0, evaluated.output
        if name == ("best.pt" if restore_best == "--restore-best" else "last.pt"):
            assert f"{saved['accuracy']:.4f}" in evaluated.stdout


def test_ema_without_validation_says_the_kept_epochs_figure_is_of_the_raw_weights(tmp_path):
    result = train(tmp_path, "mlp", "--run-name", "n", "--ema", "0.9", "--val-fraction", "0")
    assert result.exit_code == 0, result.output
    assert "the best train_loss" in result.stdout
    assert "of the raw weights: the model kept is their average" in " ".join(result.stdout.split())
