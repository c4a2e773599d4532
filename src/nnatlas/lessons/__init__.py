"""The learning path: lessons that run real experiments and write reports.

Each lesson is one module here that declares a :class:`Lesson` (what it teaches, what it
needs, a quick and a full configuration, its key numbers with expected ranges and literature
references) and a ``run(ctx) -> Result`` function that uses the public API only
(:mod:`nnatlas.tasks`, :mod:`nnatlas.inspect`, :mod:`nnatlas.models`, :mod:`nnatlas.scratch`,
:mod:`nnatlas.bridge` ...)::

    import nnatlas.lessons as lessons
    record = lessons.run_lesson("ann-basics", "reports", quick=True, seed=1)
    record["status"], record["numbers"]         # 'within range', {'test_accuracy': ...}
    lessons.tour("reports", quick=True)           # every lesson; reports/index.html

The path's order is :data:`~nnatlas.lessons.registry.PATH`; reports are rendered from
Jinja2 templates (``templates/``) by :mod:`.render`; docs/LESSONS.md is the contract for
writing a lesson.
"""

from nnatlas.lessons.base import (
    STAGES,
    Context,
    KeyNumber,
    Lesson,
    LessonError,
    Need,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)
from nnatlas.lessons.needs import dataset, module
from nnatlas.lessons.registry import PATH, get_lesson, lessons
from nnatlas.lessons.render import path_rows, write_index
from nnatlas.lessons.runner import run_lesson, tour
from nnatlas.lessons.status import (
    FAILED,
    NOT_RUN,
    OUTSIDE,
    SKIPPED,
    WITHIN,
    read_record,
    read_status,
)

__all__ = [
    "FAILED",
    "NOT_RUN",
    "OUTSIDE",
    "PATH",
    "SKIPPED",
    "STAGES",
    "WITHIN",
    "Context",
    "KeyNumber",
    "Lesson",
    "LessonError",
    "Need",
    "Plot",
    "Reference",
    "Result",
    "Table",
    "dataset",
    "get_lesson",
    "lessons",
    "module",
    "paragraphs",
    "path_rows",
    "read_record",
    "read_status",
    "run_lesson",
    "tour",
    "write_index",
]
