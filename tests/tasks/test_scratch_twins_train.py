"""The NumPy twins of the CNNs, the text classifiers and seq2seq train through ``nnatlas.tasks``
with ``engine="scratch"`` as their zoo models do, write the same run folder, and ``evaluate`` and
``predict`` work from it; the recurrent twins train to the zoo's numbers (float32 rounding
apart: they have no BatchNorm, whose float32 sums the engines order differently)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nnatlas.tasks as tasks


def _reviews(folder: Path) -> str:
    good = ["a wonderful film", "great acting and a moving story", "i loved every minute"]
    bad = ["a dull mess", "terrible acting and a boring story", "i hated every minute"]
    rows = ["text,label"] + [f"{t},pos" for t in good * 12] + [f"{t},neg" for t in bad * 12]
    (folder / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return f"csv:{folder / 'reviews.csv'}"


def _pairs(folder: Path) -> str:
    numbers, french = ["one", "two", "three", "four"], ["un", "deux", "trois", "quatre"]
    pairs = [
        f"{numbers[i]} {numbers[j]}\t{french[i]} {french[j]}" for i in range(4) for j in range(4)
    ]
    (folder / "pairs.txt").write_text("\n".join(pairs * 6) + "\n", encoding="utf-8")
    return f"pairs:{folder / 'pairs.txt'}"


COMMON = dict(quiet=True, tensorboard=False, threads=1, seed=1)


@pytest.mark.parametrize(
    ("model", "data", "options", "example"),
    [
        (
            "gru_classifier", "csv",
            dict(epochs=2, batch_size=8, model_options={"hidden_size": 16, "embed_dim": 16}),
            "a moving story",
        ),
        pytest.param(
            "seq2seq", "pairs",
            dict(epochs=2, batch_size=16, lr=5e-3, model_options={"hidden_size": 16}),
            "two three",
        ),
    ],
)  # fmt: skip
def test_recurrent_twins_train_to_the_zoos_numbers(
    tmp_path: Path, model: str, data: str, options: dict, example: str
) -> None:
    name = _reviews(tmp_path) if data == "csv" else _pairs(tmp_path)
    theirs = tasks.train(model, name, engine="torch", run_dir=tmp_path / "t", **COMMON, **options)
    ours = tasks.train(model, name, engine="scratch", run_dir=tmp_path / "s", **COMMON, **options)
    for a, b in zip(ours.history, theirs.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    assert ours.test_metrics["loss"] == pytest.approx(theirs.test_metrics["loss"], rel=1e-4)
    # The scratch run folder serves evaluate and predict on its own, as the torch one does.
    assert tasks.evaluate(ours.dir)["loss"] == pytest.approx(ours.test_metrics["loss"], rel=1e-6)
    assert str(tasks.predict(ours.dir, example)) == str(tasks.predict(theirs.dir, example))
    assert sorted(p.name for p in ours.dir.iterdir()) == sorted(
        p.name for p in theirs.dir.iterdir()
    )


def test_seq2seq_twin_predicts_with_beam_search(tmp_path: Path) -> None:
    options = dict(epochs=3, batch_size=16, lr=1e-2, model_options={"hidden_size": 16})
    run = tasks.train("seq2seq", _pairs(tmp_path), engine="scratch", run_dir=tmp_path / "s",
                      **COMMON, **options)  # fmt: skip
    prediction = tasks.predict(run.dir, "test:0", beam=3)
    assert prediction.reference is not None and isinstance(prediction.output, str)


def test_resnet20_twin_trains_on_images_and_serves_its_folder(tmp_path: Path) -> None:
    run = tasks.train(
        "resnet20", "digits", engine="scratch", run_dir=tmp_path / "r", epochs=1,
        batch_size=32, lr=3e-3, limit=320, **COMMON,
    )  # fmt: skip
    assert run.history and run.test_metrics["accuracy"] > 0.2  # 10 classes, 10 steps
    assert tasks.evaluate(run.dir)["loss"] == pytest.approx(run.test_metrics["loss"], rel=1e-6)
    assert tasks.predict(run.dir, "test:0").true_class is not None
