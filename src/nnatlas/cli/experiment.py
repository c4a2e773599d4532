"""``nnatlas experiment NAME [--quick]``: train many small models and measure what they learn.

``long-memory`` (RNN vs LSTM vs GRU as sequences grow), ``depth`` (plain vs residual CIFAR
nets), ``activations`` (sigmoid/tanh/ReLU/GELU MLPs as they deepen). Each writes a table,
plots and JSON into ``runs/experiments/NAME[-quick]/`` (a folder that already holds results
is kept: the new one is ``NAME-2`` ...), prints the table and the time it took.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app

NAMES = {
    "long-memory": "RNN vs LSTM vs GRU on the adding and copy tasks, T = 10..200",
    "depth": "plain-20/56 vs ResNet-20/56 on CIFAR-10 (Fashion-MNIST without it)",
    "activations": "sigmoid/tanh/ReLU/GELU MLPs at depth 2..20, Xavier vs He init",
}


@app.command(name="experiment")
def experiment(
    name: str = typer.Argument(..., help="; ".join(f"{k}: {v}" for k, v in NAMES.items())),  # noqa: B008
    quick: bool = typer.Option(False, "--quick", help="a reduced budget: minutes on a CPU"),  # noqa: B008
    out: Optional[Path] = typer.Option(  # noqa: B008, UP045
        None, help="the results folder (default runs/experiments/NAME[-quick])"
    ),
    overwrite: bool = typer.Option(False, help="replace the results already in --out"),  # noqa: B008
) -> None:
    """Run an experiment; writes table.md, results.json and the plots, prints the table."""
    from nnatlas.inspect.experiments import run_experiment

    with exit_on_usage_error():
        if name not in NAMES:
            raise UsageError(f"unknown experiment {name!r}; choose one of {', '.join(NAMES)}")
        folder = _folder(out, name, quick, overwrite)
        print(f"{name}{' (quick)' if quick else ''}: writing into {folder}", flush=True)
        result = run_experiment(name, folder, quick=quick, log=lambda line: print(line, flush=True))
    print()
    print(result.markdown())
    print()
    print(
        f"{name}: {result.seconds:.0f} s; {folder / 'table.md'}, {folder / 'results.json'}, "
        f"{len(result.plots)} plots"
    )


def _folder(out: Path | None, name: str, quick: bool, overwrite: bool) -> Path:
    """``out``, or the default folder; one that holds results moves on to ``-2``, ``-3`` ..."""
    base = out if out is not None else Path("runs") / "experiments" / (name + "-quick" * quick)
    if overwrite or not (base / "results.json").exists():
        return base
    if out is not None:
        raise UsageError(f"{out} holds an experiment's results already; add --overwrite")
    k = 2
    while (base.with_name(f"{base.name}-{k}") / "results.json").exists():
        k += 1
    return base.with_name(f"{base.name}-{k}")
