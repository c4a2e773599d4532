"""``nnatlas lr-find MODEL --data DATASET``: the learning-rate range test, with a plot.

The work is done by :func:`nnatlas.tune.lr_find`; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nnatlas.cli.errors import exit_on_usage_error
from nnatlas.cli.root import app


def lr_find(
    model: str | None = typer.Argument(
        None, help="zoo model name (default: the dataset's preset model)"
    ),
    data: str = typer.Option("digits", "--data", "-d", help="catalog dataset name"),
    engine: str = typer.Option("torch", help="torch or scratch (NumPy): the same Trainer"),
    start_lr: float = typer.Option(1e-7, help="the sweep's first learning rate"),
    end_lr: float = typer.Option(10.0, help="the sweep's last learning rate"),
    steps: int = typer.Option(100, help="optimizer steps from --start-lr to --end-lr"),
    optimizer: str | None = typer.Option(None, help="optimizer (default: the preset's)"),
    batch_size: int | None = typer.Option(None, help="batch size (default: the preset's)"),
    weight_decay: float | None = typer.Option(None, help="L2 penalty (default: the preset's)"),
    seed: int = typer.Option(0, help="seed of the weights and the batch order"),
    limit: int | None = typer.Option(None, help="train on at most N examples"),
    dir: Path | None = typer.Option(  # noqa: B008
        None,
        "--dir",
        help="folder of the plot and curve (default RUNS_DIR/lr-find/MODEL-DATA-ENGINE)",
    ),
    runs_dir: Path = typer.Option(Path("runs"), help="where the lr-find folder goes"),  # noqa: B008
) -> None:
    """Find a learning rate: a short run with the rate growing each step, plotted and suggested.

    The rate grows exponentially each step; the suggestion is a tenth of the rate at the
    smoothed loss's minimum (min/10).

    Also printed: the steepest-descent rule (where the smoothed loss falls fastest). The sweep
    stops when the running loss passes 4x its minimum or climbs back above its start.
    Example: nnatlas lr-find lenet5 --data fashion-mnist, then nnatlas train lenet5 --data
    fashion-mnist --lr RATE
    """
    from nnatlas.tune import lr_find as run_lr_find

    options = dict(optimizer=optimizer, batch_size=batch_size, weight_decay=weight_decay)
    options = {k: v for k, v in options.items() if v is not None}
    with exit_on_usage_error():
        found = run_lr_find(
            model, data, engine=engine, start_lr=start_lr, end_lr=end_lr, steps=steps,
            folder=dir, runs_dir=runs_dir, limit=limit, seed=seed, **options,
        )  # fmt: skip
    print(f"range test of {found.model} on {found.data} ({found.engine} engine): "
          f"{len(found.losses)} steps, {found.stop}")  # fmt: skip
    if not found.suggestions:
        print("the curve is too short to read a rate off: give more --steps or a wider range")
        raise typer.Exit(1)
    for rule, rate in found.suggestions.items():
        chosen = "  <- suggested" if rule == found.rule else ""
        print(f"{rule:<9} {rate:.3g}{chosen}")
    if found.suggested is not None:
        data_flag = f" --data {found.data}" if found.data != "digits" else ""
        engine_flag = f" --engine {found.engine}" if found.engine != "torch" else ""
        flags = f"{data_flag}{engine_flag} --lr {found.suggested:.2g}"
        print(f"train with: nnatlas train {found.model}{flags}")
    print(f"plot {found.plot}")


app.command(name="lr-find")(lr_find)
