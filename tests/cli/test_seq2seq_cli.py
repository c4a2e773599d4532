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
from nnatlas.models.seq2seq import Seq2Seq
from nnatlas.tasks.base import DataOptions, get_task
from nnatlas.tasks.seq2seq import Seq2SeqStep
from nnatlas.train import TrainConfig, create_trainer
from nnatlas.train.metrics import IGNORE_INDEX

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
    assert "accuracy" in result.output and "decoded greedy" in result.output
    greedy = _printed(result.output, "bleu")
    result = runner.invoke(app, ["eval", str(runs / "d"), "--beam", "1"])
    assert result.exit_code == 0, result.output
    assert _printed(result.output, "bleu") == greedy  # beam 1 is greedy decoding
    result = runner.invoke(app, ["eval", str(runs / "d"), "--beam", "3"])
    assert result.exit_code == 0, result.output
    assert "decoded beam 3" in result.output and 0.0 <= _printed(result.output, "bleu") <= 100.0
    result = runner.invoke(app, ["eval", str(runs / "d"), "--beam", "0"])
    assert result.exit_code == 2 and "--beam must be at least 1" in result.output

    result = runner.invoke(app, ["predict", str(runs / "d"), "september 27, 1994"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", result.stdout.strip()), result.stdout
    result = runner.invoke(app, ["predict", str(runs / "d"), "test:0"])
    assert result.exit_code == 0, result.output
    assert "reference: " in result.stdout


def _printed(output: str, metric: str) -> float:
    """The value of one metric in `nnatlas eval`'s table."""
    match = re.search(rf"{metric}\s*│\s*([0-9.]+)", output)
    assert match, output
    return float(match.group(1))


def test_beam_is_refused_for_a_classifier(tmp_path: Path) -> None:
    args = ["train", "mlp", "--data", "moons", "--epochs", "1", "--runs-dir", str(tmp_path),
            "--run-name", "m", "--quiet", "--no-tensorboard"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["eval", str(tmp_path / "m"), "--beam", "2"])
    assert result.exit_code == 2 and "--beam is for translation runs" in result.output


def test_a_classifier_on_sentence_pairs_is_refused(tmp_path: Path, small_dates: None) -> None:
    result = runner.invoke(app, ["train", "mlp", "--data", "dates", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "seq2seq" in result.output


def test_pair_tensors_mark_target_padding_as_ignored(small_dates: None) -> None:
    prepared = get_task("seq2seq").load(DataOptions("dates"))
    src, src_lengths, tgt_in, tgt_out = prepared.train
    assert bool((src_lengths == (src != 0).sum(1)).all())  # lengths count the real tokens
    assert bool((tgt_in[:, 0] == 2).all())  # <bos>
    assert bool((tgt_out == 3).sum(1).eq(1).all())  # one <eos> per target
    # tgt_out is tgt_in shifted left: padding of tgt_in is ignored in tgt_out, nothing else is.
    assert torch.equal(tgt_out[:, :-1] == IGNORE_INDEX, tgt_in[:, 1:] == 0)
    assert not bool((tgt_out == 0).any())


def test_padding_counts_in_neither_loss_nor_accuracy() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(10, 12, embed_dim=8, hidden_size=16)
    src = torch.tensor([[5, 6, 7, 0, 0], [5, 0, 0, 0, 0]])  # wider than the longest source
    src_lengths = torch.tensor([3, 1])
    tgt_in = torch.tensor([[2, 8, 9, 0, 0], [2, 4, 0, 0, 0]])
    tgt_out = torch.tensor([[8, 9, 3, IGNORE_INDEX, IGNORE_INDEX], [4, 3] + [IGNORE_INDEX] * 3])
    config = TrainConfig(metrics="accuracy", quiet=True, tensorboard=False)
    trainer = create_trainer(net, config, step=Seq2SeqStep())
    metrics = trainer.evaluate((src, src_lengths, tgt_in, tgt_out))

    with torch.no_grad():
        full = net.eval()(src[:, :3], tgt_in, src_lengths=src_lengths)  # all 5 decoder steps
    real = tgt_out != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(full[real], tgt_out[real])
    assert metrics["loss"] == pytest.approx(float(expected), rel=1e-5)
    correct = (full.argmax(-1) == tgt_out)[real].float().mean()
    assert metrics["accuracy"] == pytest.approx(float(correct))
    # The training loss ignores padded positions too, whatever their logits.
    noisy = full.clone()
    noisy[~real] = 100.0 * torch.randn_like(noisy[~real])
    loss = trainer.losses.cross_entropy(noisy, tgt_out)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
