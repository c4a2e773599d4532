"""`nnatlas eval RUN RUN ...`: several classifier runs scored one by one and as an ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nnatlas.tasks as tasks
from nnatlas.cli import _register, app
from nnatlas.tasks.ensemble import split_probabilities
from nnatlas.tasks.run import split_tensors
from nnatlas.train.metrics import roc_auc

_register()
runner = CliRunner()


def _train(
    tmp_path: Path, name: str, seed: int = 0, lr: float = 0.05, data: str = "moons"
) -> tasks.Run:
    return tasks.train("mlp", data, epochs=2, lr=lr, seed=seed, run_dir=tmp_path / name,
                       quiet=True, tensorboard=False, threads=1)  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two MLPs on the same split (seed 0) that learned differently (other learning rates)."""
    tmp = tmp_path_factory.mktemp("ensemble")
    return _train(tmp, "a", lr=0.05).dir, _train(tmp, "b", lr=0.005).dir


def test_the_ensemble_scores_the_mean_of_the_probabilities(two_runs: tuple[Path, Path]) -> None:
    ensemble = tasks.ensemble_evaluate(list(two_runs), "test", metrics=["accuracy", "auc"])
    probs, targets = [], None
    for folder, member in zip(two_runs, ensemble.members, strict=True):
        run = tasks.load_run(folder)
        _, tensors = split_tensors(run, "test")
        probs.append(split_probabilities(run, tensors))
        targets = tensors[-1].numpy()
        alone = tasks.evaluate(run, "test", metrics=["accuracy", "auc"])
        assert member["accuracy"] == pytest.approx(alone["accuracy"])
        assert member["auc"] == pytest.approx(alone["auc"], abs=1e-6)
        assert member["loss"] == pytest.approx(alone["loss"], rel=1e-4)
    mean = (probs[0] + probs[1]) / 2
    assert ensemble.examples == len(targets)
    assert ensemble["accuracy"] == pytest.approx(float((mean.argmax(1) == targets).mean()))
    assert ensemble["auc"] == pytest.approx(roc_auc(mean[:, 1], targets), abs=1e-9)
    nll = -np.log(mean[np.arange(len(targets)), targets]).mean()
    assert ensemble["loss"] == pytest.approx(nll)
    # The members differ, so the ensemble is not one of them.
    assert ensemble.members[0]["loss"] != pytest.approx(ensemble.members[1]["loss"])


def test_runs_of_other_splits_are_refused(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    digits = [_train(tmp_path, f"d{seed}", seed=seed, data="digits").dir for seed in (0, 3)]
    with pytest.raises(tasks.TaskError, match="holds other examples"):
        tasks.ensemble_evaluate(digits)  # digits' test split is held out by the run's seed
    with pytest.raises(tasks.TaskError, match="classes"):
        tasks.ensemble_evaluate([two_runs[0], digits[0]])
    with pytest.raises(tasks.TaskError, match="at least two runs"):
        tasks.ensemble_evaluate([two_runs[0]])


def test_eval_of_two_runs_prints_each_and_the_ensemble(two_runs: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["eval", *map(str, two_runs), "--metrics", "accuracy,auc"])
    assert result.exit_code == 0, result.output
    assert "ensemble of 2 runs" in result.output and "ensemble" in result.output
    assert "auc" in result.output
    result = runner.invoke(app, ["eval", *map(str, two_runs), "--report"])
    assert result.exit_code == 2 and "--report: for one run" in result.output
