"""``nnatlas path``, ``nnatlas lesson run ID`` and ``nnatlas tour``: the learning path.

Each lesson runs real experiments and writes ``REPORTS/<id>/index.html`` (plots, the results
beside the literature, provenance); ``REPORTS/index.html`` lists the path. The lessons live in
:mod:`nnatlas.lessons`; this module only parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli.errors import exit_on_usage_error
from nnatlas.cli.root import app

lesson_app = typer.Typer(
    help="Run one lesson of the learning path and write its report (nnatlas path lists them)."
)
app.add_typer(lesson_app, name="lesson")

REPORTS = typer.Option(Path("reports"), "--reports", help="the reports folder")  # noqa: B008


def _print_path(reports: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from nnatlas.lessons import NOT_RUN, OUTSIDE, path_rows

    rows = path_rows(reports)
    table = Table(title="The learning path")
    for column in ("#", "lesson", "stage", "status", "key number", "time"):
        table.add_column(column)
    colours = {NOT_RUN: "dim", OUTSIDE: "red", "failed": "red", "skipped": "yellow"}
    for row in rows:
        colour = colours.get(row["status"], "green")
        status = f"[{colour}]{row['status']}[/{colour}]" + (f" ({row['mode']})" * bool(row["mode"]))
        seconds = f"{row['seconds']:.1f} s" if row["seconds"] is not None else ""
        table.add_row(
            str(row["number"]),
            f"{row['id']}: {row['title']}",
            str(row["stage"]),
            status,
            row["key"],
            seconds,
        )
    console = Console()
    console.print(table)
    todo = [r for r in rows if r["status"] in (NOT_RUN, OUTSIDE, "failed")]
    if todo:
        console.print(f"Next: nnatlas lesson run {todo[0]['id']} --quick", highlight=False)
    else:
        console.print(f"Every lesson has a report: {reports / 'index.html'}", highlight=False)


@app.command(name="path")
def path_command(reports: Path = REPORTS) -> None:
    """The learning path: each lesson's status (not run, within or outside its expected range,
    skipped) and the next command to run."""
    with exit_on_usage_error():
        _print_path(reports)


def _parse_options(items: list[str]) -> dict[str, Any]:
    """``["epochs=2", "lr=0.1"]`` -> ``{"epochs": 2, "lr": 0.1}`` (values read as JSON when
    they parse, else kept as text)."""
    import json

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: write KEY=VALUE (e.g. epochs=2)")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def _summary(record: dict[str, Any]) -> str:
    checks = "; ".join(
        f"{c['label']} = {c['shown']} ({c['verdict']} {c['range']})"
        for c in record.get("checks", [])
        if c["verdict"] != "not measured"
    )
    return f"{record['id']}: {record['status']} in {record['seconds']:.1f} s" + (
        f": {checks}" if checks else ""
    )


@lesson_app.command(name="run")
def run_command(
    lesson_id: str = typer.Argument(..., metavar="ID", help="a lesson's id (nnatlas path)"),  # noqa: B008
    quick: bool = typer.Option(False, "--quick", help="the quick configuration (seconds)"),  # noqa: B008
    engine: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="torch or scratch, where the lesson trains with one (default: its first)"
    ),
    seed: int = typer.Option(0, help="the seed every random choice starts from"),  # noqa: B008
    option: list[str] = typer.Option(  # noqa: B008
        [], "--option", "-o", help="KEY=VALUE replacing a configuration value (repeatable)"
    ),
    reports: Path = REPORTS,
) -> None:
    """Run one lesson and write its report into REPORTS/ID/ (index.html, plots, result.json).

    Exit status 1 when the lesson failed or a key number fell outside its expected range.
    """
    from nnatlas.lessons import run_lesson

    with exit_on_usage_error():
        record = run_lesson(
            lesson_id,
            reports,
            quick=quick,
            engine=engine,
            seed=seed,
            overrides=_parse_options(option),
            log=lambda line: print(line, flush=True),
        )
    print(_summary(record))
    print(f"report: {(reports / record['id'] / 'index.html').absolute()}")
    if record["status"] in ("failed", "outside range"):
        raise typer.Exit(1)


@app.command(name="tour")
def tour_command(
    quick: bool = typer.Option(False, "--quick", help="every lesson's quick configuration"),  # noqa: B008
    seed: int = typer.Option(0, help="the seed every lesson starts from"),  # noqa: B008
    reports: Path = REPORTS,
) -> None:
    """Run every lesson of the path in order and write REPORTS/index.html.

    A lesson whose data or optional extra is missing says how to get it and the tour goes on.
    Exit status 1 when a lesson failed or a key number fell outside its expected range.
    """
    import time

    from nnatlas.lessons import tour

    start = time.perf_counter()
    with exit_on_usage_error():
        records = tour(reports, quick=quick, seed=seed, log=lambda line: print(line, flush=True))
    print()
    for record in records:
        print(_summary(record))
    print()
    _print_path(reports)
    print(
        f"tour: {time.perf_counter() - start:.0f} s; the reports: "
        f"{(reports / 'index.html').absolute()}"
    )
    if any(r["status"] in ("failed", "outside range") for r in records):
        raise typer.Exit(1)
