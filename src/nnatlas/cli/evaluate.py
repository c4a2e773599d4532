"""``nnatlas eval RUN_OR_CHECKPOINT``: the metrics of a trained model on a dataset split.

The run carries what rebuilds it (the model's name and arguments, the engine, the dataset's
options and the record of its preprocessing), so :func:`nnatlas.tasks.evaluate` preprocesses
the data exactly as training did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app


@app.command(name="eval")
def evaluate(
    run: Path = typer.Argument(..., help="a run folder (uses best.pt) or a checkpoint file"),  # noqa: B008
    data: Optional[str] = typer.Option(None, "--data", "-d", help="dataset (default: the run's)"),  # noqa: B008, UP045
    split: str = typer.Option("test", help="train, val or test"),  # noqa: B008
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps (torch engine)"),  # noqa: B008
    metrics: str = typer.Option("accuracy,top5,f1", help="comma list: accuracy,top5,f1,perplexity"),  # noqa: B008
) -> None:
    """Evaluate a trained model: loss, accuracy, top-5 and macro F1 on a split."""
    from rich.console import Console
    from rich.table import Table

    import nnatlas.tasks as tasks
    from nnatlas.train.config import EXTRA_METRICS

    with exit_on_usage_error():
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        unknown = [m for m in names if m not in EXTRA_METRICS]
        if unknown:
            raise UsageError(
                f"--metrics: unknown {unknown}; choose from {', '.join(EXTRA_METRICS)}"
            )
        loaded = tasks.load_run(run, device)
        results = tasks.evaluate(loaded, split, data=data, metrics=names)
    print(
        f"{loaded.checkpoint}: {data or loaded.options.name}, {split} split, "
        f"{results.examples} examples"
    )
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in results.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)
