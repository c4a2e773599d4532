"""``nnatlas demo``: the main job on data that needs no download.

It proves the NumPy engine equal to PyTorch (``nnatlas check all``), then trains the same MLP
on scikit-learn's bundled digits with both engines and compares them. Nothing is downloaded:
digits ships inside scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nnatlas.cli.errors import exit_on_usage_error
from nnatlas.cli.root import app


@app.command()
def demo(
    runs_dir: Path = typer.Option(Path("runs"), help="where the two run folders are written"),  # noqa: B008
) -> None:
    """The main job: prove the NumPy engine equal to PyTorch, then train an MLP on digits with both.

    Step 1 runs every gradient check and float64 parity check (as `nnatlas check all`).
    Step 2 trains `mlp` on scikit-learn's digits (1,797 8x8 images, no download) with the
    NumPy engine and with PyTorch, from the same seed, and prints both test accuracies.
    Exit status 1 when a check fails.
    """
    from rich.console import Console
    from rich.table import Table

    import nnatlas.tasks as tasks
    from nnatlas.cli.check import check as run_check_command

    console = Console()
    console.rule("[bold]1/2  Are the two engines equal?  (nnatlas check all)")
    console.print(
        "Each NumPy component is checked against central finite differences and against its\n"
        "PyTorch twin loaded with the same weights, in float64.\n"
    )
    try:
        run_check_command("all", as_json=False)
    except typer.Exit as stop:
        if stop.exit_code:
            console.print("[red]a check failed: the engines are not proven equal; stopping.[/red]")
            raise
    console.rule("[bold]2/2  Train the same MLP with both engines on digits")
    runs = []
    for engine in ("scratch", "torch"):
        console.print(
            f"\n[bold]engine = {engine}[/bold]  (nnatlas train mlp --data digits --engine {engine})"
        )
        run_dir = runs_dir / f"demo-mlp-digits-{engine}"
        # The demo owns its demo-* folders: a second `make demo` replaces them (said below).
        with exit_on_usage_error():  # e.g. another demo training into the folder right now
            runs.append(
                tasks.train("mlp", "digits", engine=engine, run_dir=run_dir, overwrite=True)
            )

    table = Table(title="MLP on digits (stratified split; test = 15% held out)")
    for column in ("engine", "epochs", "test accuracy", "test loss", "wall time"):
        table.add_column(column)
    for run in runs:
        test = run.test_metrics or {}
        table.add_row(
            run.config.engine,
            str(len(run.history)),
            f"{test.get('accuracy', float('nan')):.4f}",
            f"{test['loss']:.6f}",
            f"{run.seconds:.1f} s",
        )
    console.print(table)
    gap = abs(runs[0].test_metrics["loss"] - runs[1].test_metrics["loss"])
    console.print(
        "Both engines start from the same initial weights (the NumPy model is the PyTorch one's "
        "twin, copied by nnatlas.bridge) and see the same batches in the same order; only "
        f"float32 rounding differs. The two test losses differ by {gap:.1e}."
    )
    for run in runs:
        console.print(
            f"{run.config.engine}: curves, history and checkpoints in {run.dir}/", highlight=False
        )
    console.print("(the next demo replaces these two demo-* folders; `nnatlas train` never does)")
    console.print(
        "Next: `nnatlas models list`, `nnatlas data list`, "
        "`nnatlas train lenet5 --data fashion-mnist` (after `make fashion-mnist`)."
    )
