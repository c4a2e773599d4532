"""From one seed both engines start from the same weights and see the same batches, so a NumPy
twin trains to the numbers of its PyTorch model (float32 rounding apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nnatlas.tasks as tasks


def _corpus(folder: Path) -> str:
    verse = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n"
    (folder / "sonnet.txt").write_text(verse * 40, encoding="utf-8")
    return f"text:{folder / 'sonnet.txt'}"


@pytest.mark.parametrize(
    ("model", "data", "options"),
    [
        ("mlp", "digits", dict(epochs=2)),
        ("gru_lm", "corpus", dict(epochs=2, batch_size=4, model_options={"hidden_size": 32})),
    ],
)
def test_both_engines_train_to_the_same_numbers(
    tmp_path: Path, model: str, data: str, options: dict
) -> None:
    data = _corpus(tmp_path) if data == "corpus" else data
    common = dict(quiet=True, tensorboard=False, threads=1, seed=1, **options)
    torch_run = tasks.train(model, data, engine="torch", run_dir=tmp_path / "t", **common)
    numpy_run = tasks.train(model, data, engine="scratch", run_dir=tmp_path / "s", **common)
    assert len(numpy_run.history) == len(torch_run.history) == options["epochs"]
    for ours, theirs in zip(numpy_run.history, torch_run.history, strict=True):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
    assert numpy_run.test_metrics["loss"] == pytest.approx(torch_run.test_metrics["loss"], rel=1e-5)
    assert numpy_run.test_metrics["accuracy"] == pytest.approx(
        torch_run.test_metrics["accuracy"], abs=1e-3
    )
