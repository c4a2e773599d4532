"""``nnatlas study overfit``: experiments that show a practice at work, one sub-command each.

The work is done by :func:`nnatlas.tune.overfit_study`; this module parses and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app

study_app = typer.Typer(
    help="Experiments on real data that show a practice at work (overfitting ...).",
    no_args_is_help=True,
)
app.add_typer(study_app, name="study")


def _sizes(text: str | None) -> list[int | None] | None:
    if text is None:
        return None
    out: list[int | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise UsageError(f"--sizes: {part!r} is not a whole number or 'all'") from None
    if not out:
        raise UsageError("--sizes: give sizes such as 100,300,all")
    return out


@study_app.command("overfit")
def overfit(
    quick: bool = typer.Option(
        False,
        "--quick",
        help="18 runs on digits, a few minutes on 2 cores (else every "
        "combination, on Fashion-MNIST when installed)",
    ),  # fmt: skip
    data: str | None = typer.Option(
        None,
        "--data",
        "-d",
        help="an image dataset (default: digits with --quick, else "
        "fashion-mnist when /usr/share/datasets/fashion-mnist exists, else digits)",
    ),  # fmt: skip
    sizes: str | None = typer.Option(
        None,
        help="training-set sizes, e.g. 100,300,all (default: digits 100,300,all; "
        "fashion-mnist 500,2000,8000,all)",
    ),  # fmt: skip
    regularizers: str | None = typer.Option(
        None,
        help="comma list to compare with none: weight_decay, dropout, augmentation, "
        "early_stopping, batch_norm, label_smoothing (default: all)",
    ),  # fmt: skip
    epochs: int | None = typer.Option(None, help="epochs of every run (default 40)"),
    seed: int = typer.Option(0, help="seed of every run"),
    dir: Path | None = typer.Option(  # noqa: B008
        None, "--dir", help="the study's folder (default runs/study-overfit-DATA)"
    ),
) -> None:
    """Sweep MLP capacity x training-set size x regularizer (none, weight decay, dropout,
    augmentation, early stopping, batch norm, label smoothing); measure the train-validation
    accuracy gap and the test accuracy of each run.

    Prints a table and findings (where the gap shrinks, and where it does not); writes
    overfit.csv, overfit.png and findings.txt. Finished runs are kept: an interrupted study
    continues where it stopped. Example: nnatlas study overfit --quick
    """
    from rich.console import Console
    from rich.table import Table

    from nnatlas.tune import overfit_study

    def progress(row: dict[str, Any], index: int, total: int) -> None:
        print(
            f"[{index + 1:2d}/{total}] {row['capacity']:<5} {row['size']:>6} examples  "
            f"{row['regularizer']:<15} train {row['train_accuracy']:.3f}  val "
            f"{row['val_accuracy']:.3f}  gap {row['gap']:+.3f}  test {row['test_accuracy']:.3f}",
            flush=True,
        )

    with exit_on_usage_error():
        result = overfit_study(
            quick, data, folder=dir, epochs=epochs, sizes=_sizes(sizes), seed=seed,
            regularizers=regularizers.split(",") if regularizers else None, on_run=progress,
        )  # fmt: skip
    plan = result.design
    table = Table(title=f"overfitting on {plan.data}: MLP, {plan.epochs} epochs, seed {plan.seed}")
    for column in ("capacity", "train examples", "regularizer", "train acc", "val acc", "gap",
                   "test acc"):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("capacity", "regularizer") else "right"
        )
    for r in result.rows:
        table.add_row(
            r["capacity"], str(r["size"]), r["regularizer"], f"{r['train_accuracy']:.3f}",
            f"{r['val_accuracy']:.3f}", f"{r['gap']:+.3f}", f"{r['test_accuracy']:.3f}",
        )  # fmt: skip
    Console(width=120).print(table)
    print("findings (gap = train accuracy - validation accuracy, final weights, eval mode):")
    for line in result.findings:
        print(f"  {line}")
    for name, path in result.files.items():
        print(f"{name:<9} {path}")
    sys.stdout.flush()
