"""The issues' acceptance figures, measured through the command a user types.

digits (scikit-learn's copy) runs in seconds and is part of every test run; Fashion-MNIST needs
Debian's `dataset-fashion-mnist` (`make fashion-mnist`) and takes about a minute, so it is `slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnatlas.cli import _register, app

_register()
runner = CliRunner()
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def _train(tmp_path: Path, *args: str) -> dict:
    result = runner.invoke(app, ["train", *args, "--runs-dir", str(tmp_path), "--quiet",
                                 "--run-name", "run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "run" / "test_metrics.json").read_text())


@pytest.mark.parametrize("engine", ["scratch", "torch"])
def test_mlp_on_digits_reaches_097_with_both_engines(tmp_path: Path, engine: str) -> None:
    test = _train(tmp_path, "mlp", "--engine", engine, "--data", "digits", "--seed", "0")
    assert test["accuracy"] >= 0.97


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_scratch_lenet5_on_fashion_mnist_reaches_087_in_two_epochs(tmp_path: Path) -> None:
    test = _train(tmp_path, "lenet5", "--engine", "scratch", "--data", "fashion-mnist")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["epochs"] == 2
    assert test["accuracy"] >= 0.87


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_torch_lenet5_on_fashion_mnist_reaches_089(tmp_path: Path) -> None:
    test = _train(tmp_path, "lenet5", "--data", "fashion-mnist")
    assert test["accuracy"] >= 0.89
