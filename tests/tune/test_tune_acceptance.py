"""The issue's acceptance experiments, at full size (``make test-slow``; minutes each)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nnatlas.tasks as tasks
from nnatlas.tune import lr_find, overfit_study, tune

pytestmark = pytest.mark.slow
FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_a_20_trial_tune_of_the_digits_mlp_beats_the_preset_and_tests_once(tmp_path):
    result = tune("mlp", "digits", trials=20, folder=tmp_path / "t")
    assert result.complete and len(result.rows) == 20
    assert result.count("PRUNED") >= 1  # the median rule stopped some curves early
    assert result.best["value"] > result.default["value"]
    assert result.test_uses == 1 and result.final["trial"] == result.best["number"]
    assert result.final["test"]["accuracy"] > 0.95


@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST not installed (make fashion-mnist)")
def test_lr_find_on_lenet5_fashion_mnist_agrees_with_the_preset(tmp_path):
    found = lr_find("lenet5", "fashion-mnist", folder=tmp_path / "f")
    preset = 6e-3  # the fashion-mnist preset's one-cycle peak
    assert preset / 3 <= found.suggested <= preset * 3, found.suggestions
    run = tasks.train("lenet5", "fashion-mnist", run_dir=tmp_path / "r", lr=found.suggested,
                      quiet=True)  # fmt: skip
    assert run.test_metrics["accuracy"] >= 0.8989 - 0.01  # the preset's figure, 5 epochs


def test_the_quick_overfitting_study_shows_the_gap_shrinking_with_data(tmp_path):
    result = overfit_study(True, folder=tmp_path)
    plain = sorted(
        (r for r in result.rows if r["regularizer"] == "none" and r["capacity"] == "large"),
        key=lambda r: r["size"],
    )
    assert plain[0]["gap"] > plain[-1]["gap"] + 0.02
    assert len(result.rows) == 18 and result.files["plot"].is_file()
