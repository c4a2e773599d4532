"""Nothing lost, nothing silently wrong: the fault probe's cases, re-run through the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nnatlas.cli import _register, app

_register()
runner = CliRunner()
FAST = ["--quiet", "--no-tensorboard", "--threads", "1"]
DIGITS = ["train", "mlp", "--data", "digits", "--epochs", "2", *FAST]


def cli(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def flat(result: object) -> str:
    return " ".join(result.output.split())


def command(*args: object, **kwargs: object) -> subprocess.CompletedProcess:
    """The real `nnatlas` entry point in a fresh interpreter (signals, warnings, exit codes)."""
    code = "from nnatlas.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kwargs)  # fmt: skip


# -- data loss ---------------------------------------------------------------------------------
def test_a_named_run_folder_is_never_replaced_without_overwrite(tmp_path: Path) -> None:
    assert cli(*DIGITS, "--epochs", "4", "--runs-dir", tmp_path, "--run-name", "a").exit_code == 0
    before = (tmp_path / "a" / "best.pt").read_bytes()
    again = cli(*DIGITS, "--epochs", "1", "--runs-dir", tmp_path, "--run-name", "a")
    assert again.exit_code == 2
    assert "already holds a run (4 epoch(s), test accuracy" in flat(again)
    assert "--resume" in flat(again) and "--overwrite" in flat(again)
    assert (tmp_path / "a" / "best.pt").read_bytes() == before  # untouched
    replaced = cli(*DIGITS, "--epochs", "1", "--runs-dir", tmp_path, "--run-name", "a",
                   "--overwrite")  # fmt: skip
    assert replaced.exit_code == 0
    assert len(json.loads((tmp_path / "a" / "history.json").read_text())) == 1


def test_a_default_run_name_moves_on_to_a_free_folder(tmp_path: Path) -> None:
    first = cli(*DIGITS, "--runs-dir", tmp_path)
    second = cli(*DIGITS, "--runs-dir", tmp_path)
    assert first.exit_code == second.exit_code == 0
    assert "holds an earlier run; this one goes to" in flat(second)
    assert "mlp-digits-torch-s0-2" in second.stdout
    assert (tmp_path / "mlp-digits-torch-s0" / "best.pt").is_file()
    assert (tmp_path / "mlp-digits-torch-s0-2" / "best.pt").is_file()


def test_two_trainings_into_one_folder_the_second_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    args = ["train", "mlp", "--data", "digits", "--epochs", "300", "--batch-size", "8",
            "--runs-dir", tmp_path, "--run-name", "busy", "--threads", "1"]  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, "-c", "from nnatlas.cli import main; main()", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for line in first.stdout:  # wait until it trains
            if line.startswith("epoch 1/"):
                break
        second = cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "busy", "--overwrite")
        assert second.exit_code == 2
        assert f"is in use: process {first.pid}" in flat(second)
    finally:
        first.kill()
        first.wait()
    # A lock whose process is gone is stale: the next training takes it over.
    assert (tmp_path / "busy" / ".lock").is_file()
    third = cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "busy", "--overwrite")
    assert third.exit_code == 0, third.output


def test_temporaries_of_killed_writers_are_cleaned_on_start(tmp_path: Path) -> None:
    assert cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "t").exit_code == 0
    stale = tmp_path / "t" / ".last.pt.k2x9.tmp"
    stale.write_bytes(b"half a checkpoint")
    resumed = cli("train", "--resume", "--run-name", "t", "--runs-dir", tmp_path, "--epochs", "3")
    assert resumed.exit_code == 0, resumed.output
    assert not stale.exists()


def test_a_resumed_run_refuses_data_that_changed(tmp_path: Path) -> None:
    from PIL import Image

    for name, value in (("dark", 40), ("light", 200)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(12):
            Image.new("L", (20, 20), value + i).save(tmp_path / "photos" / name / f"{i}.png")
    data = f"imagefolder:{tmp_path / 'photos'}"
    trained = cli("train", "mlp", "--data", data, "--epochs", "1", "--runs-dir", tmp_path / "r",
                  "--run-name", "f", *FAST)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    Image.new("L", (20, 20), 90).save(tmp_path / "photos" / "dark" / "new.png")
    resumed = cli("train", "--resume", "--run-name", "f", "--runs-dir", tmp_path / "r",
                  "--epochs", "2")  # fmt: skip
    assert resumed.exit_code == 2 and "the data changed since this run started" in flat(resumed)


# -- silently wrong results ----------------------------------------------------------------------
def test_all_nan_weights_are_refused_by_eval_and_predict(tmp_path: Path) -> None:
    assert cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "n").exit_code == 0
    best = tmp_path / "n" / "best.pt"
    ckpt = torch.load(best, weights_only=True)
    ckpt["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                     for k, v in ckpt["model"].items()}  # fmt: skip
    torch.save(ckpt, best)
    for args in (["eval", tmp_path / "n"], ["predict", tmp_path / "n", "test:0"]):
        result = cli(*args)
        assert result.exit_code == 2 and "NaN or infinite values" in flat(result)


def test_an_exploding_loss_is_flagged(tmp_path: Path) -> None:
    result = command(*DIGITS, "--lr", "1e9", "--epochs", "1", "--runs-dir", tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert "warning: the training loss exploded from" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_nan_validation_loss_never_becomes_the_best_epoch() -> None:
    from nnatlas.train import ClassificationStep, TrainConfig, create_trainer

    class NanOnFirstValidation(ClassificationStep):
        calls = 0

        def loss(self, model, batch, losses, training):  # type: ignore[override]
            out = super().loss(model, batch, losses, training)
            if not training:
                NanOnFirstValidation.calls += 1
                if NanOnFirstValidation.calls == 1:
                    out.loss = out.loss * float("nan")
            return out

    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.arange(64) % 2
    model = torch.nn.Linear(4, 2)
    config = TrainConfig(epochs=3, quiet=True, tensorboard=False, lr=1e-2)
    trainer = create_trainer(model, config, step=NanOnFirstValidation())
    with pytest.warns(UserWarning, match="val_loss is nan at epoch 1"):
        history = trainer.fit((x, y), (x, y))
    assert history[0]["val_loss"] != history[0]["val_loss"]  # NaN
    assert trainer.best_epoch in (2, 3)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["great film,pos", "loved it,pos", "fine work,pos", "so good,pos"],
            "one class only (pos)",
        ),
        (["great film,pos", "dull mess,neg", "loved it,pos"], "the test split is empty"),
    ],
)
def test_degenerate_datasets_are_refused(tmp_path: Path, rows: list[str], message: str) -> None:
    csv = tmp_path / "tiny.csv"
    csv.write_text("text,label\n" + "\n".join(rows) + "\n")
    result = cli("train", "--data", f"csv:{csv}", "--runs-dir", tmp_path, *FAST)
    assert result.exit_code == 2 and message in flat(result)


def test_an_image_given_to_a_text_model_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    rows = [f"{t},{label}" for t, label in (("a great film", "pos"), ("a dull mess", "neg"))] * 10
    (tmp_path / "r.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    trained = cli("train", "--data", f"csv:{tmp_path / 'r.csv'}", "--epochs", "1",
                  "--runs-dir", tmp_path, "--run-name", "t", *FAST)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    Image.new("RGB", (8, 8)).save(tmp_path / "cat.png")
    result = cli("predict", tmp_path / "t", tmp_path / "cat.png")
    assert result.exit_code == 2 and "is an image file, but this run classifies texts" in flat(
        result
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--patience", "-1", "--patience must be at least 0"),
        ("--grad-clip", "-1", "--grad-clip must be at least 0.0"),
        ("--warmup-epochs", "-1", "--warmup-epochs must be at least 0.0"),
        ("--checkpoint-every", "-1", "--checkpoint-every must be at least 0"),
        ("--step-size", "0", "--step-size must be at least 1"),
        ("--weight-decay", "-1", "--weight-decay must be at least 0.0"),
        ("--seed", "-1", "--seed must be at least 0"),
        ("--seed", str(10**30), "--seed must be at least 0 and below"),
        ("--eval-batch-size", "-5", "--eval-batch-size must be at least 0"),
        ("--limit", "0", "--limit must be at least 1"),
        ("--image-size", "-3", "--image-size must be between 4 and 4096"),
        ("--encoding", "klingon", "not an encoding Python knows"),
    ],
)
def test_bad_option_values_exit_2_naming_the_option(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    result = cli(*DIGITS, option, value, "--runs-dir", tmp_path)
    assert result.exit_code == 2 and message in flat(result)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_bad_predict_options_exit_2(tmp_path: Path) -> None:
    assert cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "p").exit_code == 0
    for args, message in ((["--top", "0"], "--top must be at least 1"),):
        result = cli("predict", tmp_path / "p", "test:0", *args)
        assert result.exit_code == 2 and message in flat(result)


# -- raw tracebacks ------------------------------------------------------------------------------
def test_a_full_disk_is_an_error_naming_the_file_and_leaves_nothing_half_written(
    tmp_path: Path,
) -> None:
    # RLIMIT_FSIZE makes every write past 200 kB fail with EFBIG, as a full disk fails.
    code = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "from nnatlas.cli import main; main()"
    )
    args = [*DIGITS, "--runs-dir", tmp_path, "--run-name", "full"]
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "cannot write" in result.stderr and "free some space" in result.stderr
    assert "Traceback" not in result.stderr
    left = sorted(p.name for p in (tmp_path / "full").iterdir())
    assert not [name for name in left if name.endswith(".tmp") or name == ".lock"], left
    assert (tmp_path / "full" / "config.json").stat().st_size > 0  # never a 0-byte config


def test_a_runs_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("not a folder")
    result = cli(*DIGITS, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2 and "cannot write" in flat(result)


def test_a_corpus_shorter_than_one_window_is_an_error(tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("to be or not to be " * 105)  # ~2,000 characters
    result = cli("train", "--data", f"text:{short}", "--runs-dir", tmp_path, *FAST)
    assert result.exit_code == 2 and "fewer than one window of 128" in flat(result)


def test_a_checkpoint_without_its_model_info_is_refused(tmp_path: Path) -> None:
    torch.save({"format": "nnatlas-checkpoint", "version": 1, "model": {}}, tmp_path / "x.pt")
    result = cli("eval", tmp_path / "x.pt")
    assert result.exit_code == 2
    assert "checkpoint without engine, model_info, config" in flat(result)


def _long_training(tmp_path: Path) -> subprocess.Popen:
    """A 300-epoch digits run into tmp_path/c, in a process of its own (for signals)."""
    args = ["train", "mlp", "--data", "digits", "--epochs", "300", "--batch-size", "8",
            "--runs-dir", tmp_path, "--run-name", "c", "--threads", "1"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", "from nnatlas.cli import main; main()", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def test_ctrl_c_between_steps_saves_and_tells_how_to_resume(tmp_path: Path) -> None:
    process = _long_training(tmp_path)
    for line in process.stdout:
        if line.startswith("epoch 1/"):
            time.sleep(0.2)  # somewhere in the middle of epoch 2
            process.send_signal(2)
            break
    output = process.stdout.read()
    assert process.wait(timeout=60) == 130, output
    assert "saved" in output and "resume with: nnatlas train --resume --run-name c" in output
    assert "Traceback" not in output
    assert torch.load(tmp_path / "c" / "last.pt", weights_only=True)["step"] > 0


def test_a_second_ctrl_c_stops_at_once_and_still_says_how_to_resume(tmp_path: Path) -> None:
    process = _long_training(tmp_path)
    for line in process.stdout:
        if line.startswith("epoch 1/"):  # last.pt exists from here on
            process.send_signal(2)
            process.send_signal(2)  # before the step in progress can end
            break
    output = process.stdout.read()
    assert process.wait(timeout=60) == 130, output
    assert "Traceback" not in output
    assert "resume with: nnatlas train --resume --run-name c" in output, output
    assert torch.load(tmp_path / "c" / "last.pt", weights_only=True)["step"] > 0


def test_predict_refuses_a_decompression_bomb_and_reads_16_bit_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from PIL import Image

    assert cli(*DIGITS, "--runs-dir", tmp_path, "--run-name", "i").exit_code == 0
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((16, 16), 60000, dtype=np.uint16)).save(deep)  # nearly white
    result = cli("predict", tmp_path / "i", deep)
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    result = cli("predict", tmp_path / "i", deep)
    assert result.exit_code == 2 and "too large to decode safely" in flat(result)
