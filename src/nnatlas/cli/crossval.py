"""k-fold cross-validation from the command line: ``nnatlas train`` and ``nnatlas transfer``
with ``--folds K`` train a run per fold (:mod:`nnatlas.tasks.crossval`) and print the folds'
validation scores, their spread and the pooled out-of-fold scores.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnatlas.tasks.crossval import CrossValidation


def cross_validate_runs(
    command: str,
    train_fold: Callable[[int, Path], Any],
    folds: int,
    folder: Path,
    *,
    overwrite: bool,
    resume: bool = False,
    describe: dict[str, Any],
) -> CrossValidation:
    """:func:`~nnatlas.tasks.crossval.cross_validate`, saying which fold trains where, with the
    ``nnatlas COMMAND ...`` line typed kept in ``cv.json``."""
    from nnatlas.tasks.crossval import cross_validate

    def announced(fold: int, run_dir: Path) -> Any:
        print(f"fold {fold} of {folds} -> {run_dir}", flush=True)
        return train_fold(fold, run_dir)

    if sys.argv[1:2] == [command]:  # typed, not called through a test runner or the API
        describe = {"command": "nnatlas " + shlex.join(sys.argv[1:]), **describe}
    return cross_validate(
        announced, folds, folder, overwrite=overwrite, resume=resume, describe=describe
    )


def print_cross_validation(cv: CrossValidation) -> None:
    """The folds' validation scores, their mean and sd, the pooled out-of-fold scores, and how
    to test the fold runs together once the recipe is chosen."""
    from rich.console import Console
    from rich.table import Table

    rows, pooled = cv.rows, cv.pooled
    names = list(pooled)
    table = Table(title=f"cross-validation ({cv.folder}): validation of each fold")
    for column in ("fold", "train", "val", *names, "epochs", "seconds"):
        table.add_column(column, justify="right")
    for row in rows:
        cells = [str(row["fold"]), str(row["train"]), str(row["val"])]
        cells += [f"{row[n]:.4f}" for n in names] + [str(row["epochs"]), f"{row['seconds']:.0f}"]
        table.add_row(*cells)
    spread = [cv.summary(n) for n in names]
    table.add_row("mean", "", "", *(f"{m:.4f}±{s:.4f}" for m, s in spread), "", "")
    total = sum(row["val"] for row in rows)
    table.add_row("pooled", "", str(total), *(f"{pooled[n]:.4f}" for n in names), "", "")
    Console(width=140).print(table)
    folds = " ".join(row["run"] for row in rows)
    print("pooled: every held-out example scored by the run that did not train on it")
    print(f"test the chosen recipe once, its fold runs together: nnatlas eval {folds}")
    for path in cv.files:
        print(f"wrote {path}")
