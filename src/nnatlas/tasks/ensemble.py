"""An ensemble of classifier runs: the mean of their class probabilities, scored on one split.

Runs trained with other seeds (or other image sizes, backbones, strategies) make different
mistakes; averaging their probabilities usually scores better than the runs one by one, and
better than the best of them chosen by a small validation split. Each run reads the split
through its own preprocessing (its image size, its normalization), so the runs need not match
in anything but the examples and their classes.

    >>> ensemble = ensemble_evaluate(["runs/a-s0", "runs/a-s1", "runs/a-s2"], "test")
    >>> ensemble["auc"], ensemble.members   # the ensemble's and each run's metrics
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.tasks.base import TaskError
from nnatlas.tasks.report import CLASSIFIER_TASKS, split_probabilities
from nnatlas.tasks.run import Evaluation, Run, _as_run, split_tensors
from nnatlas.train.metrics import MetricAccumulator

# The data options that choose which examples land in which split.
SPLIT_OPTIONS = ("val_fraction", "seed", "limit", "limit_per_class", "folds", "fold")


class EnsembleEvaluation(Evaluation):
    """The ensemble's metrics (a ``dict``), and ``members``: each run's own, in order."""

    def __init__(self, metrics: dict[str, float], dataset: str, split: str, examples: int) -> None:
        super().__init__(metrics, dataset, split, examples)
        self.members: list[dict[str, float]] = []


def ensemble_evaluate(
    runs: Sequence[Run | str | Path],
    split: str = "test",
    *,
    data: str | None = None,
    root: str | None = None,
    metrics: Sequence[str] | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> EnsembleEvaluation:
    """Average the class probabilities of several classifier runs on one split and score them.

    Args:
        runs: two or more runs (objects, folders or checkpoints) of the same classes.
        split, data, root, device: as :func:`~nnatlas.tasks.run.evaluate` takes them.
        metrics: extra metrics (default: the first run's ``config.metrics``); ``loss`` is the
            cross-entropy of the averaged probabilities.
        threads: CPU threads for runs given as paths (default: the count they trained with).

    Raises:
        TaskError: for fewer than two runs, a run that is not a classifier, runs of other
            classes, or runs whose split holds other examples (another split seed).
    """
    if len(runs) < 2:
        raise TaskError(f"an ensemble needs at least two runs, got {len(runs)}")
    loaded = [_as_run(run, device, threads) for run in runs]
    first = loaded[0]
    names = list(metrics) if metrics is not None else list(first.config.metric_names)
    total: np.ndarray | None = None
    members: list[dict[str, float]] = []
    targets0: np.ndarray | None = None
    for run in loaded:
        _check_member(run, first)
        options, tensors = split_tensors(run, split, data, root)
        targets = tensors[-1].numpy()
        if targets0 is None:
            targets0 = targets
        elif not np.array_equal(targets, targets0):
            raise TaskError(
                f"{_name(run)}: its {split} split holds other examples than {_name(first)}'s "
                f"(split options {_split_options(run)} vs {_split_options(first)}); an ensemble "
                "averages predictions of the same examples: train the runs with the same "
                "--seed and --val-fraction for the split"
            )
        probs = split_probabilities(run, tensors)
        members.append(score_probabilities(probs, targets, names))
        total = probs if total is None else total + probs
    assert total is not None and targets0 is not None
    mean = total / len(loaded)
    scores = score_probabilities(mean, targets0, names)
    result = EnsembleEvaluation(scores, options.name, split, len(targets0))
    result.members = members
    return result


def score_probabilities(
    probs: np.ndarray, targets: np.ndarray, names: list[str]
) -> dict[str, float]:
    """Metrics of probabilities (N, C): log-probabilities serve as logits (their softmax is the
    probabilities again), the loss is their mean negative log-likelihood."""
    log_probs = np.log(np.clip(probs, 1e-300, None))
    loss = float(-log_probs[np.arange(len(targets)), targets].mean())
    scores = MetricAccumulator(names)
    scores.update(loss, log_probs, targets)
    return scores.compute()


def _check_member(run: Run, first: Run) -> None:
    if run.task.name not in CLASSIFIER_TASKS:
        raise TaskError(f"{_name(run)}: an ensemble averages classifiers; this run does "
                        f"{run.task.title}")  # fmt: skip
    classes, expected = list(run.record["classes"]), list(first.record["classes"])
    if classes != expected:
        raise TaskError(
            f"{_name(run)}: classes {classes} differ from {_name(first)}'s {expected}; "
            "ensemble runs of the same dataset"
        )


def _split_options(run: Run) -> dict[str, Any]:
    return {k: getattr(run.options, k, None) for k in SPLIT_OPTIONS}


def _name(run: Run) -> str:
    return str(run.dir or run.checkpoint or run.model_name)
