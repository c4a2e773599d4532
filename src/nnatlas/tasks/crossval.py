"""k-fold cross-validation of one recipe: a run per fold, scored on the examples it held out.

A validation split of 78 images (BreastMNIST's) cannot tell two recipes apart: one image is
1.3 points of accuracy. Cross-validation pools the training and validation examples, deals them
into ``folds`` stratified folds, and trains one run per fold with that fold held out, so every
pooled example is scored once by a model that did not train on it. The out-of-fold
probabilities, pooled, give one score over all of them (``pooled``); the runs' own scores give
its spread from fold to fold. The test split plays no part: choose the recipe here, then test
the chosen one once (its fold runs together are an ensemble: ``nnatlas eval F/fold-0 ...``).

    cv = cross_validate(lambda fold, folder: train(..., folds=5, fold=fold, run_dir=folder),
                        folds=5, folder="runs/cv-a")
    cv.pooled["auc"], cv.summary("auc")   # over all pooled examples; mean and sd over folds

Everything lands in ``folder``: ``fold-0`` ... run folders and ``cv.json`` / ``cv.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.tasks.base import TaskError

RESULT_FILE = "cv.json"


@dataclass
class CrossValidation:
    """The folds' validation scores and the out-of-fold scores over every pooled example.

    Attributes:
        folder: where the fold runs and the result files are.
        rows: one dict per fold: ``fold``, ``train``, ``val`` (examples), each validation
            metric of the run's kept weights, ``epochs``, ``seconds``, ``run``.
        pooled: the metrics of all folds' held-out probabilities taken together.
        files: the result files written.
    """

    folder: Path
    rows: list[dict[str, Any]]
    pooled: dict[str, float]
    files: list[Path] = field(default_factory=list)

    def summary(self, metric: str) -> tuple[float, float]:
        """The mean of ``metric`` over the folds and its standard deviation (n - 1)."""
        values = [row[metric] for row in self.rows]
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def cross_validate(
    train_fold: Callable[[int, Path], Any],
    folds: int,
    folder: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    describe: dict[str, Any] | None = None,
) -> CrossValidation:
    """Train one run per fold with ``train_fold(fold, run_folder)`` and score each on the fold
    it held out.

    Args:
        train_fold: trains the classifier run of one fold into the given folder (with
            ``folds=folds, fold=fold`` among its data options) and returns it.
        folds: how many folds.
        folder: the cross-validation's folder; fold ``i`` trains in ``folder/fold-i``.
        overwrite: replace an earlier cross-validation in ``folder`` (without it, one is
            refused before anything trains).
        resume: continue an interrupted cross-validation: a fold that finished is scored as
            it is, one stopped part-way continues from its ``last.pt``
            (:func:`~nnatlas.tasks.run.resume`), and only the folds never started call
            ``train_fold``.
        describe: what was cross-validated (command, options), kept in ``cv.json``.

    Raises:
        TaskError: for an earlier result in ``folder`` without ``overwrite``, or a run that is
            not a classifier or does not hold out the fold it was asked for.
    """
    from nnatlas.tasks.ensemble import score_probabilities
    from nnatlas.tasks.report import CLASSIFIER_TASKS, split_probabilities
    from nnatlas.tasks.run import load_run, split_tensors
    from nnatlas.tasks.run import resume as resume_run

    folder = Path(folder)
    if resume and overwrite:
        raise TaskError("--resume keeps the folds trained so far; --overwrite replaces them")
    if resume and not any(folder.glob("fold-*")):
        raise TaskError(f"--resume: {folder} holds no fold runs; nothing to continue")
    if not overwrite and not resume and (folder / RESULT_FILE).exists():
        raise TaskError(
            f"{folder} holds an earlier cross-validation; pass --overwrite to replace it, or "
            "choose another --runs-dir or --run-name"
        )
    rows: list[dict[str, Any]] = []
    held_probs, held_targets = [], []
    for fold in range(folds):
        start, run_dir = time.perf_counter(), folder / f"fold-{fold}"
        if resume and (run_dir / "test_metrics.json").is_file():  # finished before
            run = load_run(run_dir)
            seconds = sum(float(epoch.get("time_s", 0.0)) for epoch in run.history)
        else:
            if resume and (run_dir / "last.pt").is_file():
                run = resume_run(run_dir)
            else:
                run = train_fold(fold, run_dir)
            seconds = time.perf_counter() - start
        if run.task.name not in CLASSIFIER_TASKS:
            raise TaskError(f"cross-validation scores classifiers; this run does {run.task.title}")
        if (run.options.folds, run.options.fold) != (folds, fold):
            raise TaskError(
                f"{run.dir}: trained with --folds {run.options.folds} --fold {run.options.fold}, "
                f"not fold {fold} of {folds}"
            )
        _, tensors = split_tensors(run, "val")
        probs, targets = split_probabilities(run, tensors), tensors[-1].numpy()
        held_probs.append(probs)
        held_targets.append(targets)
        sizes = run.trainer.extra.get("sizes", {})
        row = {"fold": fold, "train": sizes.get("train"), "val": len(targets)}
        row.update(score_probabilities(probs, targets, list(run.config.metric_names)))
        row.update(epochs=len(run.history), seconds=round(seconds, 1), run=str(run.dir))
        rows.append(row)
    names = [k for k in rows[0] if k not in ("fold", "train", "val", "epochs", "seconds", "run")]
    pooled = score_probabilities(np.concatenate(held_probs), np.concatenate(held_targets), names)
    result = CrossValidation(folder, rows, pooled)
    result.files = _write(result, describe or {})
    return result


def _write(result: CrossValidation, describe: dict[str, Any]) -> list[Path]:
    from nnatlas.files import write_json, write_text_atomic

    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(result.rows[0]))
    writer.writeheader()
    writer.writerows(result.rows)
    summary = {name: dict(zip(("mean", "sd"), result.summary(name), strict=True))
               for name in result.pooled}  # fmt: skip
    document = {**describe, "folds": result.rows, "pooled": result.pooled, "summary": summary}
    return [
        write_text_atomic(result.folder / "cv.csv", buffer.getvalue()),
        write_json(result.folder / RESULT_FILE, document),
    ]


def load_cross_validation(folder: str | Path) -> dict[str, Any]:
    """What :func:`cross_validate` wrote in ``folder`` (``folds``, ``pooled``, ``summary``)."""
    return json.loads((Path(folder) / RESULT_FILE).read_text())
