"""The overfitting study: its verdicts on known numbers, and a small real sweep on digits."""

from __future__ import annotations

import json

import pytest

from nnatlas.tune.overfit import StudyError, design, overfit_study, summarize


def row(capacity, size, reg, gap, test=0.9, val_examples=10_000):
    return dict(capacity=capacity, size=size, regularizer=reg, gap=gap, test_accuracy=test,
                val_examples=val_examples, train_accuracy=1.0, val_accuracy=1.0 - gap)  # fmt: skip


def test_the_findings_say_where_the_gap_shrinks_and_where_it_does_not():
    rows = [
        row("large", 100, "none", 0.30, 0.70),
        row("large", 300, "none", 0.32, 0.75),  # grows on the way: said so
        row("large", 1000, "none", 0.05, 0.90),
        row("large", 100, "dropout", 0.20, 0.74),
        row("large", 100, "augmentation", 0.40, 0.60),
        row("large", 100, "label_smoothing", 0.296, 0.70),  # within noise: 0.0046 here
    ]
    lines = summarize(rows)
    assert lines[0].startswith("more data, large MLP") and "0.300 -> 0.320 -> 0.050" in lines[0]
    assert "shrinks; not at every step (100->300: GROWS)" in lines[0]
    assert "dropout" in lines[1] and lines[1].count("shrinks") == 1 and "(+0.040)" in lines[1]
    assert "augmentation" in lines[2] and "GROWS" in lines[2] and "(-0.100)" in lines[2]
    assert "within noise (+-0.005)" in lines[3]
    assert lines[4] == (
        "in all, of 3 regularized runs the gap shrinks 1 (dropout at 100); within noise 1 "
        "(label_smoothing at 100); GROWS 1 (augmentation at 100)"
    )


def test_designs():
    quick = design(True)
    assert quick.data == "digits" and len(quick.runs()) == 18
    assert design(False, data="digits").runs().__len__() == 2 * 3 * 7
    with pytest.raises(StudyError, match="unknown mixup"):
        design(True, regularizers=["mixup"])
    with pytest.raises(StudyError, match="at least 10 examples"):
        design(True, sizes=[5, 100])


def test_a_small_sweep_measures_the_gap_and_continues_from_its_results(tmp_path):
    seen = []
    result = overfit_study(
        True,
        "digits",
        folder=tmp_path,
        epochs=3,
        sizes=[60, 240],
        regularizers=["dropout"],
        on_run=lambda r, i, n: seen.append(i),
    )
    assert seen == list(range(6))  # small & large at 2 sizes, + dropout on large at 2 sizes
    sizes = sorted({r["size"] for r in result.rows})
    assert sizes == [60, 240]
    for r in result.rows:
        assert r["gap"] == pytest.approx(r["train_accuracy"] - r["val_accuracy"])
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["epochs"] == 3
    assert any(line.startswith("more data, large MLP") for line in result.findings)
    assert any(line.startswith("dropout, large MLP, 60 examples") for line in result.findings)
    for name in ("table", "findings", "plot"):
        assert result.files[name].stat().st_size > 0
    assert (tmp_path / "overfit.csv").read_text().count("\n") == 7
    # Asked again, every run comes from results.json: same rows, same recorded seconds.
    again = overfit_study(True, "digits", folder=tmp_path, epochs=3, sizes=[60, 240],
                          regularizers=["dropout"])  # fmt: skip
    assert [r["seconds"] for r in again.rows] == [r["seconds"] for r in result.rows]
    assert len(json.loads((tmp_path / "results.json").read_text())) == 6
