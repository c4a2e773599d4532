"""The sequence applications' options of `nnatlas train` (model options, vocabularies,
truncation, word language models, truncated BPTT, the direction of a pair file) reach the run,
and `predict` reads them back from it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from nnatlas.cli import _register, app
from nnatlas.cli.train import parse_model_options

_register()
runner = CliRunner()
FAST = ["--quiet", "--no-tensorboard", "--threads", "1"]


def cli(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def flat(result: object) -> str:
    return " ".join(result.output.split())  # rich wraps long messages


def test_model_options_are_read_as_json_values() -> None:
    given = ["bidirectional=true", "hidden_size=16", "dropout=0.1", "cell=gru", "x=True"]
    assert parse_model_options(given) == {
        "bidirectional": True, "hidden_size": 16, "dropout": 0.1, "cell": "gru", "x": True,
    }  # fmt: skip


def test_a_bidirectional_classifier_with_vocabulary_options(tmp_path: Path) -> None:
    csv = tmp_path / "reviews.csv"
    rows = ["a great film,pos", "truly great fun,pos", "a dull film,neg", "truly dull fun,neg"]
    csv.write_text("text,label\n" + "\n".join(rows * 10 + ["zany great,pos"]) + "\n")
    runs = tmp_path / "runs"
    result = cli("train", "lstm_classifier", "--data", f"csv:{csv}", "--epochs", "2",
                 "--model-option", "bidirectional=true", "--model-option", "hidden_size=16",
                 "--model-option", "embed_dim=8",
                 "--min-freq", "2", "--max-len", "2", "--truncate-side", "pre", "--lr", "0.01",
                 "--batch-size", "8", "--runs-dir", runs, "--run-name", "bi", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((runs / "bi" / "data.json").read_text())
    assert saved["data"]["min_freq"] == 2 and saved["data"]["truncate_side"] == "pre"
    assert saved["record"]["max_len"] == 2 and "zany" not in saved["record"]["vocab"]["itos"]
    info = torch.load(runs / "bi" / "best.pt", weights_only=False)["model_info"]
    assert info["kwargs"]["bidirectional"] is True and info["kwargs"]["hidden_size"] == 16
    predicted = cli("predict", runs / "bi", "truly great")
    assert predicted.exit_code == 0, predicted.output
    assert "label pos (probability 0." in predicted.stdout
    bad = cli("train", "--data", f"csv:{csv}", "--model-option", "bidirectional",
              "--runs-dir", runs, *FAST)  # fmt: skip
    assert bad.exit_code == 2 and "give KEY=VALUE" in flat(bad)
    refused = cli("train", "--data", f"csv:{csv}", "--bptt", "16", "--runs-dir", runs, *FAST)
    assert refused.exit_code == 2 and "--bptt does not apply to text classification" in flat(
        refused
    )


def test_a_word_language_model_with_truncated_bptt(tmp_path: Path) -> None:
    corpus = tmp_path / "verse.txt"
    corpus.write_text("Shall I compare thee to a summer's day? Thou art more lovely.\n" * 60)
    runs = tmp_path / "runs"
    result = cli("train", "gru_lm", "--data", f"text:{corpus}", "--tokenizer", "word",
                 "--bptt", "10", "--epochs", "2", "--batch-size", "4",
                 "--model-option", "hidden_size=32", "--model-option", "embed_dim=16",
                 "--runs-dir", runs, "--run-name", "w", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((runs / "w" / "data.json").read_text())
    assert saved["data"]["tokenizer"] == "word" and saved["record"]["bptt"] == 10
    assert saved["record"]["tokenizer"]["type"] == "word"
    predicted = cli("predict", runs / "w", "Thou art", "--length", "5")
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.startswith("Thou art ") and len(predicted.stdout.split()) == 7


def test_reverse_pairs_is_recorded(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("one two\tun deux\ntwo one\tdeux un\n" * 20)
    runs = tmp_path / "runs"
    result = cli("train", "--data", f"pairs:{pairs}", "--reverse-pairs", "--epochs", "1",
                 "--model-option", "hidden_size=16", "--runs-dir", runs, "--run-name", "r",
                 *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((runs / "r" / "data.json").read_text())
    assert saved["data"]["reverse_pairs"] is True and saved["record"]["direction"] == "tgt -> src"
    assert "un" in saved["record"]["src_vocab"]["itos"]
