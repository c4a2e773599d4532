"""`nnatlas train` on sentence pairs trains the zoo's seq2seq; `eval` and `predict` rebuild it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import nnatlas.data
from nnatlas.cli import _register, app
from nnatlas.cli.pairs import IGNORE_INDEX, TeacherForced, load_pair_splits
from nnatlas.models.seq2seq import Seq2Seq
from nnatlas.train import TrainConfig, create_trainer

_register()
runner = CliRunner()


@pytest.fixture
def small_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dates`` with 1,500 training pairs instead of 20,000, so a run takes seconds."""
    load = nnatlas.data.load_translation_pairs

    def smaller(name: str, root: Any = None, **options: Any) -> Any:
        if name == "dates":
            options.update(n_train=1500, n_val=100, n_test=100)
        return load(name, root, **options)

    monkeypatch.setattr(nnatlas.data, "load_translation_pairs", smaller)


def test_dates_train_eval_predict(tmp_path: Path, small_dates: None) -> None:
    runs = tmp_path / "runs"
    args = ["train", "--data", "dates", "--epochs", "4", "--batch-size", "32", "--lr", "5e-3",
            "--runs-dir", str(runs), "--run-name", "d", "--quiet", "--no-tensorboard"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    history = json.loads((runs / "d" / "history.json").read_text())
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    test = json.loads((runs / "d" / "test_metrics.json").read_text())
    assert test["accuracy"] > 0.6  # target tokens, padding excluded (chance is ~1/14)

    result = runner.invoke(app, ["eval", str(runs / "d")])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output

    result = runner.invoke(app, ["predict", str(runs / "d"), "september 27, 1994"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", result.stdout.strip()), result.stdout
    result = runner.invoke(app, ["predict", str(runs / "d"), "test:0"])
    assert result.exit_code == 0, result.output
    assert "reference: " in result.stdout


def test_a_classifier_on_sentence_pairs_is_refused(tmp_path: Path, small_dates: None) -> None:
    result = runner.invoke(app, ["train", "mlp", "--data", "dates", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "seq2seq" in result.output


def test_pair_tensors_mark_target_padding_as_ignored(small_dates: None) -> None:
    data = load_pair_splits("dates", None, 0.1, seed=0)
    S = data.src_len
    x, y = data.train.x, data.train.y
    tgt_in = x[:, S:]
    assert x.shape[1] == S + y.shape[1]
    assert bool((tgt_in[:, 0] == 2).all())  # <bos>
    assert bool((y == 3).sum(1).eq(1).all())  # one <eos> per target
    # tgt_out is tgt_in shifted left: padding of tgt_in is ignored in y, nothing else is.
    assert torch.equal(y[:, :-1] == IGNORE_INDEX, tgt_in[:, 1:] == 0)
    assert not bool((y == 0).any())


def test_padding_counts_in_neither_loss_nor_accuracy() -> None:
    torch.manual_seed(0)
    net = TeacherForced(Seq2Seq(10, 12, embed_dim=8, hidden_size=16), src_len=4)
    x = torch.tensor([[5, 6, 7, 0, 2, 8, 9, 0], [5, 0, 0, 0, 2, 4, 0, 0]])
    y = torch.tensor([[8, 9, 3, IGNORE_INDEX], [4, 3, IGNORE_INDEX, IGNORE_INDEX]])
    trainer = create_trainer(net, TrainConfig(metrics="accuracy", quiet=True, tensorboard=False))
    metrics = trainer.evaluate((x, y))

    with torch.no_grad():
        logits = net.eval()(x)  # (2, 4, 12)
        full = net.seq2seq(x[:, :4], x[:, 4:])  # decoding all 4 steps, not just the 3 needed
    real = y != IGNORE_INDEX
    assert torch.allclose(logits[real], full[real], atol=1e-6)
    expected = torch.nn.functional.cross_entropy(logits[real], y[real])
    assert metrics["loss"] == pytest.approx(float(expected), rel=1e-5)
    correct = (logits.argmax(-1) == y)[real].float().mean()
    assert metrics["accuracy"] == pytest.approx(float(correct))
    # The training loss ignores padded positions too, whatever their logits.
    noisy = logits.clone()
    noisy[~real] = 100.0 * torch.randn_like(noisy[~real])
    loss = trainer.criterion(noisy.reshape(-1, 12), y.reshape(-1))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
