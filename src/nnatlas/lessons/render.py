"""Report pages from Jinja2 templates (``templates/`` in this package).

A lesson's page (``REPORTS/<id>/index.html``) and the path's index (``REPORTS/index.html``)
are rendered from the run records alone, so a page shows exactly what its run measured. The
CSS is inline and the plots are PNG files beside the page: a report folder reads offline,
copied anywhere.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from nnatlas.files import write_text_atomic
from nnatlas.lessons.base import STAGES
from nnatlas.lessons.registry import lessons
from nnatlas.lessons.status import NOT_RUN, read_record

_CODE = re.compile(r"`([^`]+)`")


def prose(text: str) -> Any:
    """Escaped text with ```code``` spans as ``<code>`` (the lessons' only markup)."""
    from markupsafe import Markup, escape

    parts = _CODE.split(str(text))  # even: text, odd: code
    return Markup("").join(
        Markup("<code>{}</code>").format(p) if i % 2 else escape(p) for i, p in enumerate(parts)
    )


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("nnatlas.lessons", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a field missing from a record is a bug, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["prose"] = prose
    env.globals["STAGES"] = STAGES
    return env


def render(template: str, **values: Any) -> str:
    return _environment().get_template(template).render(**values)


def write_lesson_page(folder: Path, record: dict[str, Any]) -> Path:
    """``folder/index.html`` for one run's ``record``."""
    return write_text_atomic(folder / "index.html", render("lesson.html.j2", r=record))


def path_rows(reports: Path) -> list[dict[str, Any]]:
    """One row per lesson of the path (then any other lesson with a report here, as a test
    lesson): its id, title, stage, status, time, first key number and report link."""
    rows, seen = [], set()
    for number, lesson in enumerate(lessons(), 1):
        seen.add(lesson.id)
        rows.append(_row(reports, number, lesson.id, lesson.title, lesson.stage))
    others = sorted(p.parent.name for p in Path(reports).glob("*/result.json"))
    for lesson_id in others:
        record = read_record(reports, lesson_id)
        if lesson_id not in seen and record:
            rows.append(_row(reports, len(rows) + 1, lesson_id, record["title"], record["stage"]))
    return rows


def _row(reports: Path, number: int, lesson_id: str, title: str, stage: int) -> dict[str, Any]:
    record = read_record(reports, lesson_id)
    row = {"number": number, "id": lesson_id, "title": title, "stage": stage, "status": NOT_RUN}
    row.update(seconds=None, mode="", key="", link=None, flagged=False)
    if record:
        checks = record.get("checks") or []
        row.update(
            status=record["status"], seconds=record.get("seconds"), link=f"{lesson_id}/index.html"
        )
        row.update(mode="quick" if record.get("quick") else "full")
        measured = [c for c in checks if c["verdict"] != "not measured"]
        row["key"] = "; ".join(f"{c['label']}: {c['shown']}" for c in measured[:1])
        row["flagged"] = any(c["verdict"] == "outside" for c in checks)
    return row


def write_index(reports: Path) -> Path:
    """``REPORTS/index.html``: the path with each lesson's status and a link to its report."""
    rows = path_rows(Path(reports))
    return write_text_atomic(Path(reports) / "index.html", render("index.html.j2", rows=rows))
