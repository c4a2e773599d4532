"""``nnatlas check``: gradient checks and PyTorch parity for every scratch component."""

from __future__ import annotations

import json

import typer

from nnatlas.cli.root import app


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


@app.command()
def check(
    name: str = typer.Argument(
        "all",
        help="'all', a group (activations, layers, losses, optim, recurrent, models, ...) or "
        "a component name or part of one (gelu, LSTM, amsgrad); case-insensitive.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as a JSON list."),
) -> None:
    """Prove the NumPy engine right: gradient checks and float64 parity with PyTorch.

    Finite-difference gradient checks (float64, bar 1e-6 relative error) and parity with
    PyTorch (same weights, float64, bar 1e-10 max abs difference).

    Exit status: 0 when every selected check passes, 1 when any fails, 2 for an unknown name.
    """
    from rich.console import Console
    from rich.table import Table

    # Imported here: the checks load torch and every check module.
    from nnatlas.bridge.checks import (
        GRADCHECK_TOL,
        PARITY_TOL,
        UnknownCheckError,
        run_checks,
        select_checks,
    )

    try:
        checks = select_checks(name)
    except UnknownCheckError as err:
        from nnatlas.cli.errors import print_error

        print_error("error", err)
        raise typer.Exit(2) from None
    results = run_checks(checks)
    failed = [r for r in results if not r.passed]
    if as_json:
        typer.echo(
            json.dumps([r.as_dict() | {"seconds": r.extra["seconds"]} for r in results], indent=2)
        )
    else:
        table = Table(
            title=f"nnatlas check {name}: gradcheck rel error <= {GRADCHECK_TOL:.0e}, "
            f"parity vs torch (float64) <= {PARITY_TOL:.0e}"
        )
        table.add_column("component", overflow="fold")
        table.add_column("group")
        table.add_column("rel error vs numeric", justify="right")
        table.add_column("max abs vs torch", justify="right")
        table.add_column("result")
        for r in results:
            status = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
            table.add_row(
                r.name, r.group, _fmt(r.gradcheck_rel_error), _fmt(r.parity_max_abs), status
            )
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze names into 80 columns
            console = Console(width=140)
        console.print(table)
        for r in failed:
            console.print(f"[red]FAIL[/] {r.name}: {r.detail or 'no measurement'}", markup=True)
        console.print(f"{len(results) - len(failed)}/{len(results)} passed")
    if failed:
        raise typer.Exit(1)
