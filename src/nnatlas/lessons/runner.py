"""Run a lesson (or the whole path) and write its report.

:func:`run_lesson` checks the lesson's needs, runs it in a fresh folder, times it, checks each
key number against its range, records the provenance and renders the page; only a complete
report replaces the previous one (an interrupted run leaves the old report as it was).
:func:`tour` runs every lesson in path order and goes on past a lesson that is skipped or
fails; both re-render ``REPORTS/index.html``.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.files import write_json
from nnatlas.lessons import provenance, render
from nnatlas.lessons.base import Context, Lesson, LessonError, Result
from nnatlas.lessons.registry import get_lesson, lessons
from nnatlas.lessons.status import FAILED, RESULT_FILE, SKIPPED, status_of

Log = Callable[[str], None]


def _seed_everything(seed: int) -> None:
    # Lessons pass ctx.seed to what they build; these cover anything that draws globally.
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _checks(lesson: Lesson, numbers: dict[str, float], quick: bool) -> list[dict[str, Any]]:
    rows = []
    for key in lesson.key_numbers:
        value = numbers.get(key.name)
        low, high = key.expected(quick)
        rows.append(
            {
                "name": key.name,
                "label": key.label,
                "value": None if value is None else float(value),
                "shown": key.format(value),
                "low": low,
                "high": high,
                "range": f"{key.format(low)} – {key.format(high)}",
                "verdict": key.verdict(value, quick),
                "reference": key.reference.value,
                "source": key.reference.source,
            }
        )
    return rows


def _header(lesson: Lesson, quick: bool, engine: str, seed: int) -> dict[str, Any]:
    return {
        "id": lesson.id,
        "title": lesson.title,
        "stage": lesson.stage,
        "teaches": list(lesson.teaches),
        "commands": list(lesson.commands),
        "quick": quick,
        "engine": engine,
        "seed": seed,
        "notes": [],
    }


def _replace_folder(new: Path, target: Path) -> None:
    """Put the finished folder ``new`` where ``target`` is, the old one removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_lesson(
    lesson: Lesson | str,
    reports: str | Path = "reports",
    *,
    quick: bool = False,
    engine: str | None = None,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    log: Log = print,
    index: bool = True,
) -> dict[str, Any]:
    """Run ``lesson`` and write ``REPORTS/<id>/`` (``index.html``, PNGs, ``result.json``).

    Args:
        lesson: a :class:`Lesson` or its id.
        reports: the reports folder.
        quick: the quick configuration (seconds) instead of the full one (minutes).
        engine: one of ``lesson.engines`` (default: its first).
        seed: what every random choice starts from; the provenance header names it.
        overrides: configuration values that replace the declared ones (tests, exploring).
        log: prints progress lines.
        index: re-render ``REPORTS/index.html`` afterwards.

    Returns:
        The run's record (what ``result.json`` holds): ``status`` is ``"within range"``,
        ``"outside range"``, ``"skipped"`` (with ``missing``: what to get and how) or
        ``"failed"`` (with ``error``).

    Raises:
        LessonError: an unknown lesson, engine or configuration option.
    """
    lesson = get_lesson(lesson) if isinstance(lesson, str) else lesson
    engine = engine or lesson.engines[0]
    if engine not in lesson.engines:
        raise LessonError(
            f"lesson {lesson.id!r} runs with --engine {' or '.join(lesson.engines)}, not {engine!r}"
        )
    config = lesson.config(quick, overrides)
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    record = _header(lesson, quick, engine, seed) | {"config": config}
    missing = [need for need in lesson.needs if need.applies(config) and not need.present()]
    required = [need for need in missing if need.required]
    started = provenance.now()
    clock = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix=f".{lesson.id}.new-", dir=reports))
    folder.chmod(0o755)  # mkdtemp makes it private; a report is an ordinary folder
    try:
        if required:
            record |= {"status": SKIPPED, "missing": [_missing(n) for n in required]}
            log(f"{lesson.id}: skipped: " + "; ".join(f"{n.name}: {n.how}" for n in required))
        else:
            record |= _run(lesson, folder, config, quick, seed, engine, missing, log)
        seconds = time.perf_counter() - clock
        record["provenance"] = provenance.collect(seed, quick, engine, started, seconds)
        record["seconds"] = round(seconds, 2)
        _write(folder, record)
        _replace_folder(folder, reports / lesson.id)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if index:
        render.write_index(reports)
    return record


def _write(folder: Path, record: dict[str, Any]) -> None:
    write_json(folder / RESULT_FILE, record)
    render.write_lesson_page(folder, record)


def _missing(need: Any) -> dict[str, str]:
    return {"name": need.name, "how": need.how}


def _run(
    lesson: Lesson,
    folder: Path,
    config: dict[str, Any],
    quick: bool,
    seed: int,
    engine: str,
    missing: Sequence[Any],
    log: Log,
) -> dict[str, Any]:
    """Run the lesson's code into ``folder``; its results, checks and status (or the error)."""
    ctx = Context(folder, dict(config), quick, seed, engine, {n.name for n in missing}, log)
    for need in missing:
        ctx.note(f"{need.name} is not here, so this run used its fallback; to get it: {need.how}")
    _seed_everything(seed)
    try:
        result = lesson.run(ctx)
    except Exception as err:  # the tour goes on; the report shows the error (Ctrl-C still stops)
        log(f"{lesson.id}: failed: {err}")
        return {
            "status": FAILED,
            "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(),
            "notes": ctx.notes,
        }
    if not isinstance(result, Result):
        raise LessonError(
            f"lesson {lesson.id!r}: run() returned {type(result).__name__}, not Result"
        )
    for plot in result.plots:
        if not (folder / plot.file).is_file():
            raise LessonError(f"lesson {lesson.id!r}: plot {plot.file} was not written")
    checks = _checks(lesson, result.numbers, quick)
    return {
        "status": status_of(checks),
        "checks": checks,
        "numbers": {k: float(v) for k, v in result.numbers.items()},
        "tables": [
            {"title": t.title, "columns": t.columns, "rows": [_cells(t.columns, r) for r in t.rows]}
            for t in result.tables
        ],
        "plots": [{"file": p.file, "caption": p.caption} for p in result.plots],
        "notes": ctx.notes + list(result.notes),
    }


def _cells(columns: list[str], row: dict[str, Any]) -> list[dict[str, Any]]:
    """A table row as ``{"text", "num"}`` cells (numbers right-aligned by the template)."""
    out = []
    for column in columns:
        value = row.get(column)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is None:
            text = "–"
        elif isinstance(value, float):
            tiny = value != 0 and not 1e-3 <= abs(value) < 1e5
            text = f"{value:.2e}" if tiny else f"{value:.4f}"
        elif number:
            text = f"{value:,}"
        else:
            text = str(value)
        out.append({"text": text, "num": number})
    return out


def tour(
    reports: str | Path = "reports",
    *,
    quick: bool = False,
    seed: int = 0,
    only: Sequence[Lesson] | None = None,
    log: Log = print,
) -> list[dict[str, Any]]:
    """Run every lesson of the path (or ``only`` these) in order; a skipped or failed lesson
    is recorded and the tour goes on. Returns the records, in order."""
    records = []
    path = list(only) if only is not None else lessons()
    for number, lesson in enumerate(path, 1):
        log(f"[{number}/{len(path)}] {lesson.id}: {lesson.title}")
        records.append(run_lesson(lesson, reports, quick=quick, seed=seed, log=log, index=False))
    render.write_index(Path(reports))
    return records
