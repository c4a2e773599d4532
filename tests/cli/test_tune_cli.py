"""``nnatlas train --config``, ``nnatlas tune``, ``nnatlas lr-find``, ``nnatlas study``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nnatlas.cli import _register, app

_register()
runner = CliRunner()
QUICK = ["--data", "digits", "--threads", "1", "--no-tensorboard"]


def cli(*args: str):
    return runner.invoke(app, list(args))


def test_a_config_file_sits_between_the_preset_and_the_command_line(tmp_path):
    options = tmp_path / "options.toml"
    options.write_text(
        'model = "mlp"\nepochs = 2\nbatch_size = 64\nlr = 0.003\nlimit = 300\n'
        "[model_options]\nhidden_sizes = [32]\n"
    )
    result = cli("train", "--config", str(options), "--lr", "0.002", *QUICK,
                 "--runs-dir", str(tmp_path), "--run-name", "r")  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["epochs"] == 2 and config["batch_size"] == 64  # the file over the preset
    assert config["lr"] == 0.002  # the command line over the file
    assert config["scheduler"] == "cosine"  # the preset where neither says
    data = json.loads((tmp_path / "r" / "data.json").read_text())
    assert data["data"]["limit"] == 300
    assert "mlp: 2,410 parameters" in result.stdout  # 64-32-10: hidden_sizes from the file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr = 0.01\nbatchsize = 3\n", "unknown option 'batchsize'; did you mean batch_size"),
        ("overwrite = true\n", "a command-line action, not an option"),
        ("lr = 'fast'\n", "--lr must be a number"),
        ("data = 3\n", "data must be text"),
        ("model_options = 3\n", "model_options must be a table"),
        ("lr = \n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_exits_2_naming_the_problem(tmp_path, text, expected):
    options = tmp_path / "bad.toml"
    options.write_text(text)
    result = cli("train", "--config", str(options), *QUICK, "--runs-dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


def test_a_tunes_best_config_trains_with_nnatlas_train(tmp_path):
    fixed = tmp_path / "fixed.json"  # options every trial shares, from a file
    fixed.write_text('{"data": "digits", "epochs": 2, "limit": 200, "batch-size": 64}')
    args = ["--trials", "2", "--space", "lr,dropout", "--dir", str(tmp_path / "t")]
    result = cli("tune", "mlp", "--config", str(fixed), *args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2 trials: 2 complete, 0 pruned, 0 fail, 0 running" in out
    assert "default configuration (the preset): val_accuracy" in out
    assert "validation examples (one standard error" in out  # the gain against its noise
    assert "retrained best (trial" in out and "test accuracy" in out
    best = tmp_path / "t" / "best-config.toml"
    text = best.read_text()
    assert "nnatlas train --config" in text
    assert "epochs = 2\n" in text and "limit = 200\n" in text and "batch_size = 64\n" in text
    again = cli("train", "--config", str(best), "--threads", "1", "--no-tensorboard",
                "--runs-dir", str(tmp_path), "--run-name", "again")  # fmt: skip
    assert again.exit_code == 0, again.output
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    test = json.loads((tmp_path / "again" / "test_metrics.json").read_text())
    assert test["accuracy"] == pytest.approx(summary["final"]["test"]["accuracy"])  # same run


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["tune", "lenet5", "--space", "dropout"], "no constructor argument dropout"),
        (["tune", "mlp", "--pruner", "asha"], "choose from median, halving, none"),
        (["lr-find", "mlp", "--start-lr", "1", "--end-lr", "0.1"], "need 0 < start < end"),
        (["study", "overfit", "--sizes", "10,many"], "'many' is not a whole number"),
        (["study", "overfit", "--regularizers", "mixup"], "unknown mixup"),
    ],
)
def test_bad_options_exit_2(tmp_path, args, expected):
    result = cli(*args, "--dir", str(tmp_path / "x"))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


def test_lr_find_prints_the_rule_and_the_command_to_train_with(tmp_path):
    result = cli("lr-find", "mlp", "--data", "digits", "--steps", "40", "--limit", "300",
                 "--dir", str(tmp_path / "f"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<- suggested" in result.stdout and "min/10" in result.stdout
    assert "train with: nnatlas train mlp --lr " in result.stdout
    assert (tmp_path / "f" / "lr-find.png").is_file()


def test_the_help_loads_neither_torch_nor_optuna():
    code = "import sys, nnatlas.cli, nnatlas.cli.commands; print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()  # fmt: skip
    assert "torch" not in loaded and "optuna" not in loaded


def test_a_misspelt_option_in_a_tunes_file_is_named_with_the_file(tmp_path):
    options = tmp_path / "t.toml"
    options.write_text('data = "digits"\nmin_frq = 2\n')
    result = cli("tune", "mlp", "--config", str(options), "--dir", str(tmp_path / "t"))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{options}: unknown option 'min_frq'; did you mean min_freq" in text.replace("│ ", "")
    assert not (tmp_path / "t").exists()
