"""Tiny lessons the framework tests run: real code through the real runner, in milliseconds."""

from __future__ import annotations

import numpy as np

from nnatlas.lessons import KeyNumber, Lesson, Plot, Reference, Result, Table, module, plots

REF = Reference("a mean of 0 for a standard normal sample", "any statistics textbook")


def _sample_mean(ctx) -> Result:
    rng = np.random.default_rng(ctx.seed)
    sample = rng.standard_normal(ctx.config["n"])
    plots.curves(
        ctx.path("sample.png"), {"sample": (range(len(sample)), sample)}, xlabel="i", ylabel="x_i"
    )
    table = Table("The sample", ["n", "mean", "std"])
    table.add(n=len(sample), mean=float(sample.mean()), std=float(sample.std()))
    return Result({"mean": float(sample.mean())}, [table], [Plot("sample.png", "the draws")])


def sample_lesson(low: float = -1.0, high: float = 1.0, lesson_id: str = "test-sample") -> Lesson:
    """Draws ``n`` standard normals and reports their mean, expected in ``[low, high]``."""
    return Lesson(
        id=lesson_id,
        title="A test lesson: the mean of a sample",
        stage=1,
        teaches=["The mean of many standard normal draws is near `0`."],
        run=_sample_mean,
        quick={"n": 200},
        full={"n": 2000},
        key_numbers=[KeyNumber("mean", "sample mean", quick=(low, high), reference=REF)],
    )


def missing_extra_lesson() -> Lesson:
    """Needs a module no installation has, so it is always skipped."""
    need = module(
        "nnatlas_test_no_such_extra", "the imaginary extra", "pip install 'nnatlas[imaginary]'"
    )
    return Lesson(
        id="test-needs-extra",
        title="A test lesson that needs an extra",
        stage=3,
        teaches=["It cannot run without its extra."],
        run=_sample_mean,
        quick={"n": 10},
        full={},
        key_numbers=[KeyNumber("mean", "sample mean", quick=(-1.0, 1.0), reference=REF)],
        needs=[need],
    )
