"""Where a lesson stands: its last run's record under the reports folder.

Each run writes ``REPORTS/<id>/result.json`` (atomically); its ``status`` is one of
:data:`STATUSES`. A lesson without the file has not been run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnatlas.files import write_json

NOT_RUN = "not run"
WITHIN = "within range"
OUTSIDE = "outside range"
SKIPPED = "skipped"  # a required dataset or extra is missing; the record says how to get it
FAILED = "failed"  # the lesson raised an error; the record holds the message
STATUSES = (NOT_RUN, WITHIN, OUTSIDE, SKIPPED, FAILED)
RESULT_FILE = "result.json"


def status_of(checks: list[dict[str, Any]]) -> str:
    """:data:`WITHIN` when every measured key number's verdict is ``"within"`` (and one was
    measured), else :data:`OUTSIDE`."""
    measured = [c for c in checks if c["verdict"] != "not measured"]
    return WITHIN if measured and all(c["verdict"] == "within" for c in measured) else OUTSIDE


def record_path(reports: Path, lesson_id: str) -> Path:
    return Path(reports) / lesson_id / RESULT_FILE


def read_record(reports: Path, lesson_id: str) -> dict[str, Any] | None:
    """The last run's record of ``lesson_id``, or ``None`` when it has not run (or the file
    is unreadable: a record half-written by hand counts as not run, never as a result)."""
    path = record_path(reports, lesson_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("status") in STATUSES else None


def read_status(reports: Path, lesson_id: str) -> str:
    record = read_record(reports, lesson_id)
    return record["status"] if record else NOT_RUN


def write_record(reports: Path, record: dict[str, Any]) -> Path:
    return write_json(record_path(reports, record["id"]), record)
