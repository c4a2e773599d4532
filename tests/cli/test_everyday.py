"""Everyday use through the command: one's own folder, CSV and text file; runs that carry their
data; the metrics people expect; extending and interrupting runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from image_writers import write_mnist_like
from nnatlas.cli import _register, app

_register()
runner = CliRunner()
FAST = ["--quiet", "--no-tensorboard", "--threads", "1"]


def cli(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args])


def flat(result: object) -> str:
    return " ".join(result.output.split())  # rich wraps long messages


def write_photos(folder: Path, per_class: int = 30) -> Path:
    """32x32 RGB photos: a red square on noise (class red) or a blue one (class blue)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("blue", 2)):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
            x, y = rng.integers(0, 16, 2)
            pixels[y : y + 14, x : x + 14, channel] = 230
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return folder


def write_reviews(path: Path) -> Path:
    good = ["a wonderful film", "great acting and a moving story", "i loved every minute"]
    bad = ["a dull mess", "terrible acting and a boring story", "i hated every minute"]
    rows = ["id,review,sentiment"] + [f"{i},{t},pos" for i, t in enumerate(good * 20)]
    rows += [f"{i},{t},neg" for i, t in enumerate(bad * 20)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_an_image_folder_of_32px_photos_trains_with_the_default_model(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    result = cli("train", "--data", f"imagefolder:{photos}", "--epochs", "3",
                 "--runs-dir", tmp_path / "runs", "--run-name", "p", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "images read at 28x28, lenet5's input size" in flat(result)
    record = json.loads((tmp_path / "runs" / "p" / "data.json").read_text())["record"]
    assert record["input_shape"] == [3, 28, 28] and record["classes"] == ["blue", "red"]
    # The header comes before the first epoch, also when the output is not a terminal.
    assert result.stdout.index("model  lenet5") < result.stdout.index("summary")


def test_a_csv_whose_text_column_is_review(tmp_path: Path) -> None:
    csv = write_reviews(tmp_path / "reviews.csv")
    runs = tmp_path / "runs"
    result = cli("train", "--data", f"csv:{csv}", "--runs-dir", runs, *FAST)
    assert result.exit_code == 2
    assert "Name the columns with --text-column and --label-column" in flat(result)
    columns = ["--text-column", "review", "--label-column", "sentiment"]
    result = cli("train", "--data", f"csv:{csv}", *columns, "--epochs", "4",
                 "--runs-dir", runs, "--run-name", "c", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "model  lstm_classifier" in result.stdout  # the text task's default model
    predicted = cli("predict", runs / "c", "i loved this wonderful film")
    assert predicted.exit_code == 0 and "pos" in predicted.stdout


def test_a_latin_1_text_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(("Le café était très bon, à côté de la gare.\n" * 120).encode("latin-1"))
    runs = tmp_path / "runs"
    result = cli("train", "--data", f"text:{notes}", "--runs-dir", runs, *FAST)
    assert result.exit_code == 2 and "--encoding latin-1" in flat(result)
    result = cli("train", "--data", f"text:{notes}", "--encoding", "latin-1", "--epochs", "1",
                 "--batch-size", "8", "--runs-dir", runs, "--run-name", "l", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    vocab = json.loads((runs / "l" / "data.json").read_text())["record"]["vocab"]["itos"]
    assert "é" in vocab and "ô" in vocab


def test_a_run_remembers_its_data_root_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "empty-cache"))  # no other copy to find
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    write_mnist_like(tmp_path / "my-mnist", n_train=80, n_test=30)
    monkeypatch.chdir(tmp_path)
    result = cli("train", "mlp", "--data", "mnist", "--data-root", "my-mnist", "--epochs", "2",
                 "--runs-dir", "runs", "--run-name", "m", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "runs" / "m" / "test_metrics.json").read_text())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    evaluated = cli("eval", "../runs/m", "--metrics", "accuracy")
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{saved['loss']:.4f}" in evaluated.stdout
    assert cli("predict", "../runs/m", "test:0").exit_code == 0
    # The data moved: the run says where it looked, and --data-root points at the new place.
    (tmp_path / "my-mnist").rename(tmp_path / "moved")
    lost = cli("eval", "../runs/m")
    assert lost.exit_code == 2 and "--data-root" in flat(lost)
    found = cli("eval", "../runs/m", "--data-root", tmp_path / "moved", "--metrics", "accuracy")
    assert found.exit_code == 0 and f"{saved['loss']:.4f}" in found.stdout


def test_a_binary_task_reports_auc_and_a_confusion_matrix(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    runs = tmp_path / "runs"
    result = cli("train", "--data", f"imagefolder:{photos}", "--epochs", "3",
                 "--runs-dir", runs, "--run-name", "b", *FAST)  # fmt: skip
    assert result.exit_code == 0 and "test auc" in result.stdout and "test pr_auc" in result.stdout
    test = json.loads((runs / "b" / "test_metrics.json").read_text())
    assert 0.0 <= test["auc"] <= 1.0
    evaluated = cli("eval", runs / "b", "--report")
    assert evaluated.exit_code == 0, evaluated.output
    assert "auc" in evaluated.stdout and "confusion matrix" in evaluated.stdout
    assert "precision" in evaluated.stdout and "most confidently wrong" in flat(evaluated)
    matrix = json.loads((runs / "b" / "eval-test" / "confusion_matrix.json").read_text())
    assert np.asarray(matrix["counts"]).sum() == 9  # the 15% test split of 60 photos
    assert (runs / "b" / "eval-test" / "confusion_matrix.png").stat().st_size > 1000


def test_resume_with_epochs_extends_a_finished_run_to_the_numbers_of_a_longer_one(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    common = ["mlp", "--data", "digits", "--scheduler", "none", "--runs-dir", runs, *FAST]
    assert cli("train", *common, "--epochs", "2", "--run-name", "short").exit_code == 0
    extended = cli("train", "--resume", "--run-name", "short", "--runs-dir", runs,
                   "--epochs", "4", "--quiet")  # fmt: skip
    assert extended.exit_code == 0, extended.output
    assert cli("train", *common, "--epochs", "4", "--run-name", "long").exit_code == 0
    short, long = (json.loads((runs / n / "history.json").read_text()) for n in ("short", "long"))
    assert len(short) == 4
    for a, b in zip(short, long, strict=True):
        assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    assert json.loads((runs / "short" / "test_metrics.json").read_text()) == json.loads(
        (runs / "long" / "test_metrics.json").read_text()
    )
    again = cli("train", "--resume", "--run-name", "short", "--runs-dir", runs, "--epochs", "3")
    assert again.exit_code == 2 and "has trained 4 epoch(s) already" in flat(again)


def test_limit_trains_on_a_stratified_subset(tmp_path: Path) -> None:
    result = cli("train", "mlp", "--data", "digits", "--limit", "200", "--epochs", "1",
                 "--runs-dir", tmp_path, "--run-name", "small", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "200 train / 153 val / 270 test" in result.stdout


def test_data_options_of_another_task_are_refused(tmp_path: Path) -> None:
    result = cli("train", "mlp", "--data", "digits", "--text-column", "review",
                 "--runs-dir", tmp_path, *FAST)  # fmt: skip
    assert result.exit_code == 2
    assert "--text-column does not apply to image classification" in flat(result)


def test_ctrl_c_stops_after_a_step_saves_and_prints_the_resume_command(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    same = ["mlp", "--data", "digits", "--epochs", "60", "--batch-size", "8", "--threads", "1",
            "--no-tensorboard", "--runs-dir", str(runs)]  # fmt: skip
    args = ["train", *same, "--run-name", "i"]
    command = [sys.executable, "-c", "from nnatlas.cli import main; main()", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)  # fmt: skip
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("epoch 2/60"):
            process.send_signal(signal.SIGINT)
            break
    output = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=60) == 130, output
    assert "training stopped by Ctrl-C after step" in output
    assert f"resume with: nnatlas train --resume --run-name i --runs-dir {runs}" in output
    assert "Traceback" not in output
    resumed = cli("train", "--resume", "--run-name", "i", "--runs-dir", runs)
    assert resumed.exit_code == 0, resumed.output
    straight = cli("train", *same, "--run-name", "s", "--quiet")
    assert straight.exit_code == 0, straight.output
    assert json.loads((runs / "i" / "test_metrics.json").read_text()) == json.loads(
        (runs / "s" / "test_metrics.json").read_text()
    )


def test_eval_threads_overrides_the_count_the_run_trained_with(tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    photos = write_photos(tmp_path / "photos", per_class=10)
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        trained = cli("train", "--data", f"imagefolder:{photos}", "--epochs", "1",
                      "--runs-dir", runs, "--run-name", name, *FAST)  # fmt: skip
        assert trained.exit_code == 0, trained.output
    try:
        own = cli("eval", runs / "a", "--metrics", "accuracy")
        assert own.exit_code == 0 and torch.get_num_threads() == 1  # the run's saved count
        given = cli("eval", runs / "a", "--metrics", "accuracy", "--threads", "2")
        assert given.exit_code == 0 and torch.get_num_threads() == 2
        accuracy = [
            [line for line in r.stdout.splitlines() if "accuracy" in line] for r in (own, given)
        ]
        assert accuracy[0] == accuracy[1] and accuracy[0]  # the same model, other threads
        torch.set_num_threads(1)
        ensemble = cli("eval", runs / "a", runs / "b", "--threads", "2")
        assert ensemble.exit_code == 0 and torch.get_num_threads() == 2, ensemble.output
        refused = cli("eval", runs / "a", "--threads", "-1")
        assert refused.exit_code != 0 and "--threads" in flat(refused)
    finally:
        torch.set_num_threads(before)
