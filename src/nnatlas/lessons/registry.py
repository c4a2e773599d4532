"""The path: every lesson in the order a learner takes them.

Lessons are registered by module name in :data:`PATH` and imported on first use (a lesson
module may import torch; ``nnatlas path`` and ``nnatlas --help`` need not). A module defines
one :class:`~nnatlas.lessons.base.Lesson` named ``LESSON``; adding a lesson is adding its
module and one line here (docs/LESSONS.md).
"""

from __future__ import annotations

import importlib
from functools import cache

from nnatlas.lessons.base import Lesson, LessonError

# Module names under nnatlas.lessons, in path order (the seed's stages, then within a stage
# from the first idea to the last).
PATH: tuple[str, ...] = (
    "ann_basics",
    "training_anns",
    "convolution",
    "cnn_evolution",
    "transfer",
    "detection",
    "rnn_bptt",
    "lstm_gru",
    "text_generation",
    "sentiment",
    "translation",
    "practice",
)


@cache
def _load(module_name: str) -> Lesson:
    module = importlib.import_module(f"nnatlas.lessons.{module_name}")
    lesson = getattr(module, "LESSON", None)
    if not isinstance(lesson, Lesson):
        raise LessonError(f"nnatlas.lessons.{module_name} defines no LESSON = Lesson(...)")
    return lesson


def lessons() -> list[Lesson]:
    """Every lesson, in path order."""
    found = [_load(name) for name in PATH]
    ids = [lesson.id for lesson in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LessonError(f"two lessons share the id {duplicates}")
    return found


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson called ``lesson_id`` (``nnatlas path`` lists them).

    Raises:
        LessonError: an unknown id, naming the known ones.
    """
    for lesson in lessons():
        if lesson.id == lesson_id:
            return lesson
    known = ", ".join(lesson.id for lesson in lessons())
    raise LessonError(f"no lesson {lesson_id!r}; the path's lessons: {known}")
