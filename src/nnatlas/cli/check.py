"""``nnatlas check``: gradient checks and PyTorch parity for every scratch component."""

from __future__ import annotations

import json
import time
import traceback
from typing import TYPE_CHECKING

import typer

from nnatlas.cli import app

if TYPE_CHECKING:  # the registry is imported lazily: it loads torch and every check module
    from nnatlas.bridge.registry import Check, CheckResult


def select_checks(name: str) -> list[Check]:
    """The registered checks that ``name`` selects, case-insensitively.

    ``"all"`` selects everything; otherwise a group name (e.g. ``"layers"``), else every check
    whose name starts with ``name`` (``"gelu"``: GELU and GELU(approximate='tanh')), else every
    check whose name contains it (``"amsgrad"``).

    Raises:
        KeyError: nothing matches; the message lists the groups and check names.
    """
    from nnatlas.bridge.registry import all_checks

    checks = list(all_checks().values())
    key = name.strip().lower()
    if key == "all":
        return checks
    for matches in (
        [c for c in checks if c.group.lower() == key],
        [c for c in checks if c.name.lower().startswith(key)],  # "gelu" -> GELU and its variants
        [c for c in checks if key in c.name.lower()],
    ):
        if matches:
            return matches
    groups = sorted({c.group for c in checks})
    raise KeyError(
        f"no check matches {name!r}. Use 'all', a group ({', '.join(groups)}) or a check name: "
        + ", ".join(c.name for c in checks)
    )


def run_checks(checks: list[Check]) -> list[CheckResult]:
    """Run ``checks``; a check that raises becomes a failed result whose detail is the error."""
    import torch

    from nnatlas.bridge.registry import CheckResult
    from nnatlas.scratch import manual_seed

    results = []
    for check in checks:
        # Same numbers on every run, whatever ran before: seed both engines' default generators.
        torch.manual_seed(0)
        manual_seed(0)
        start = time.perf_counter()
        try:
            result = check.run()
        except Exception as err:  # noqa: BLE001 - report every broken check, keep going
            last = traceback.extract_tb(err.__traceback__)[-1]
            result = CheckResult(
                check.name,
                check.group,
                detail=f"{type(err).__name__}: {err} ({last.filename}:{last.lineno})",
            )
        # Report under the registered name, which is unique and what selection matches.
        result.name, result.group = check.name, check.group
        result.extra["seconds"] = time.perf_counter() - start
        results.append(result)
    return results


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
    """Prove the NumPy engine right: finite-difference gradient checks (float64, bar 1e-6 relative
    error) and parity with PyTorch (same weights, float64, bar 1e-10 max abs difference).

    Exit status: 0 when every selected check passes, 1 when any fails, 2 for an unknown name.
    """
    from rich.console import Console
    from rich.table import Table

    from nnatlas.bridge.registry import GRADCHECK_TOL, PARITY_TOL

    try:
        checks = select_checks(name)
    except KeyError as err:
        typer.echo(f"nnatlas check: {err.args[0]}", err=True)
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
