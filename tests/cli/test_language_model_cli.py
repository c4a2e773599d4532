"""`nnatlas train` on a character corpus trains a language model; `predict` continues a prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnatlas.cli import _register, app

_register()
runner = CliRunner()


@pytest.fixture
def corpus(tmp_path: Path) -> str:
    verse = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n"
    path = tmp_path / "sonnet.txt"
    path.write_text(verse * 60, encoding="utf-8")  # ~4,800 characters: a few windows of 128
    return f"text:{path}"


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_a_corpus_trains_a_language_model_and_predict_continues_a_prompt(
    tmp_path: Path, corpus: str, engine: str
) -> None:
    runs = tmp_path / "runs"
    args = ["train", "--data", corpus, "--engine", engine, "--epochs", "2", "--batch-size", "8",
            "--runs-dir", str(runs), "--run-name", "lm", "--quiet", "--no-tensorboard"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    history = json.loads((runs / "lm" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert json.loads((runs / "lm" / "test_metrics.json").read_text())["perplexity"] > 1.0
    result = runner.invoke(app, ["predict", str(runs / "lm"), "Thou", "--length", "40"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Thou") and len(result.stdout.strip()) >= 40


def test_a_classifier_on_a_corpus_is_refused(corpus: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "mlp", "--data", corpus, "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "language modelling trains" in result.output
