"""k-fold cross-validation: the folds partition train + validation, the test split stays, the
command trains a run per fold and scores each on the examples it held out.

The data and backbone are the small ones of ``test_strategies`` (random-weight ResNet-20 at
32 px), so the runs take seconds; what is checked is which examples go where and that the
scores are the runs' own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_strategies import write_folder
from typer.testing import CliRunner

import nnatlas.tasks as tasks
from nnatlas.data import cross_validation_fold, fold_indices, load_image_dataset
from nnatlas.tasks.base import DataOptions, TaskError


def test_folds_are_stratified_balanced_and_seeded() -> None:
    y = np.array([0] * 23 + [1] * 9 + [2] * 4)
    assigned = fold_indices(y, 5, seed=3)
    sizes = np.bincount(assigned, minlength=5)
    assert sizes.sum() == len(y) and sizes.max() - sizes.min() <= 1
    for c in range(3):  # each class dealt as evenly as it can be
        per_fold = np.bincount(assigned[y == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (c, per_fold)
    assert np.array_equal(assigned, fold_indices(y, 5, seed=3))
    assert not np.array_equal(assigned, fold_indices(y, 5, seed=4))


def test_the_folds_partition_train_and_validation_and_keep_the_test_split(
    tmp_path: Path,
) -> None:
    data = write_folder(tmp_path / "photos", per_class=20)
    splits = load_image_dataset(data, val_fraction=0.2, seed=0, image_size=32)
    pool = torch.cat([splits.train.x, splits.val.x]).flatten(1)
    seen = []
    for fold in range(4):
        part = cross_validation_fold(splits, 4, fold)
        assert len(part.train) + len(part.val) == len(pool)
        assert torch.equal(part.test.x, splits.test.x)  # never pooled
        assert part.mean == pytest.approx(tuple(part.train.x.mean(dim=(0, 2, 3)).tolist()))
        seen.append(part.val.x.flatten(1))
    held = torch.cat(seen)
    # Every pooled example is held out exactly once: the held-out rows are the pool, reordered.
    assert len(held) == len(pool)
    assert {tuple(row.tolist()) for row in held} == {tuple(row.tolist()) for row in pool}
    assert len({tuple(row.tolist()) for row in pool}) == len(pool)  # no two photos alike


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (dict(folds=5), "a run trains one fold of 5, from 0 to 4"),
        (dict(folds=5, fold=5), "a run trains one fold of 5"),
        (dict(fold=1), "say how many folds with --folds K"),
        (dict(folds=1, fold=0), "--folds must be between 2 and 100"),
    ],
)
def test_fold_options_are_checked(options: dict, expected: str) -> None:
    with pytest.raises(TaskError, match=expected):
        DataOptions("digits", **options)


def test_a_task_without_folds_refuses_them() -> None:
    with pytest.raises(TaskError, match="--folds"):
        tasks.train("mlp", "moons", folds=3, fold=0, epochs=1, quiet=True, tensorboard=False)


def _invoke(args: list[str]) -> object:
    from nnatlas.cli import _register, app

    _register()
    return CliRunner().invoke(app, args)


def test_the_command_cross_validates_and_eval_reproduces_each_fold(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos", per_class=12)
    command = [
        "transfer", "--backbone", "resnet20", "--weights", "none", "--data", data,
        "--strategy", "features", "--epochs", "2", "--image-size", "32", "--quiet",
        "--threads", "1", "--folds", "3", "--runs-dir", str(tmp_path / "runs"),
        "--run-name", "cv",
    ]  # fmt: skip
    result = _invoke(command)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "cv"
    saved = json.loads((folder / "cv.json").read_text())
    rows = saved["folds"]
    assert [row["fold"] for row in rows] == [0, 1, 2]
    pooled_examples = sum(row["val"] for row in rows)
    assert all(row["train"] + row["val"] == pooled_examples for row in rows)
    # Accuracy over the pooled held-out examples is the folds' accuracies weighted by size.
    weighted = sum(row["accuracy"] * row["val"] for row in rows) / pooled_examples
    assert saved["pooled"]["accuracy"] == pytest.approx(weighted)
    assert "auc" in saved["pooled"]
    assert "pooled" in result.stdout and "nnatlas eval" in result.stdout
    assert "test accuracy" not in result.stdout  # the recipe is chosen without the test split
    # eval reads the fold's own validation examples again from the run's saved options.
    for row in rows:
        evaluated = tasks.evaluate(row["run"], "val")
        assert evaluated["accuracy"] == pytest.approx(row["accuracy"])
        assert evaluated.examples == row["val"]
    again = _invoke(command)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert json.loads((folder / "cv.json").read_text()) == saved  # untouched


def test_one_fold_alone_and_folds_with_compare(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "photos")
    base = [
        "transfer", "--backbone", "resnet20", "--weights", "none", "--data", data,
        "--epochs", "1", "--image-size", "32", "--quiet", "--threads", "1",
        "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    one = _invoke([*base, "--folds", "4", "--fold", "2", "--run-name", "f2"])
    assert one.exit_code == 0, one.output
    run = tasks.load_run(tmp_path / "runs" / "f2")
    assert (run.options.folds, run.options.fold) == (4, 2)
    wrong = _invoke([*base, "--fold", "1"])
    assert wrong.exit_code == 2 and "--folds K" in wrong.output
    compared = _invoke([*base, "--folds", "3", "--strategy", "scratch,features"])
    assert compared.exit_code == 2 and "cross-validates one --strategy" in compared.output


def test_train_cross_validates_a_zoo_model_on_digits(tmp_path: Path) -> None:
    command = [
        "train", "mlp", "--data", "digits", "--epochs", "1", "--folds", "3", "--quiet",
        "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    result = _invoke(command)
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name == "cv3-mlp-digits-torch-s0"
    saved = json.loads((folder / "cv.json").read_text())
    assert saved["model"] == "mlp" and saved["engine"] == "torch"
    rows = saved["folds"]
    # digits has no official validation split: the pool is its training split (85% of 1,797).
    assert sum(row["val"] for row in rows) == rows[0]["train"] + rows[0]["val"] == 1527
    assert 0.5 < saved["pooled"]["accuracy"] <= 1.0
    resumed = _invoke([*command, "--resume", "--run-name", "x"])
    said = " ".join(resumed.output.split())  # the error is wrapped to the terminal's width
    assert resumed.exit_code == 2 and "holds no fold runs; nothing to continue" in said


def test_resume_keeps_the_folds_trained_so_far(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    base = ["train", "mlp", "--data", "digits", "--epochs", "1", "--quiet", "--folds", "3"]
    one = _invoke([*base, "--fold", "0", "--runs-dir", str(runs / "cv"), "--run-name", "fold-0"])
    assert one.exit_code == 0, one.output
    kept = (runs / "cv" / "fold-0" / "best.pt").stat().st_mtime_ns
    refused = _invoke([*base, "--runs-dir", str(runs), "--run-name", "cv"])
    assert refused.exit_code == 2 and "fold-0" in refused.output  # it holds a run
    resumed = _invoke([*base, "--runs-dir", str(runs), "--run-name", "cv", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert (runs / "cv" / "fold-0" / "best.pt").stat().st_mtime_ns == kept  # not trained again
    assert "fold 0 of 3" not in resumed.stdout and "fold 2 of 3" in resumed.stdout
    rows = json.loads((runs / "cv" / "cv.json").read_text())["folds"]
    assert [row["fold"] for row in rows] == [0, 1, 2]
    assert rows[0]["accuracy"] == pytest.approx(
        tasks.evaluate(runs / "cv" / "fold-0", "val")["accuracy"]
    )
