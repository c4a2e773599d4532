"""The lesson framework: ranges and flags, status storage, the runner, skipping and the tour."""

from __future__ import annotations

import json
import math

import pytest
from lesson_helpers import missing_extra_lesson, sample_lesson

from nnatlas.lessons import (
    NOT_RUN,
    OUTSIDE,
    SKIPPED,
    WITHIN,
    KeyNumber,
    LessonError,
    Need,
    Reference,
    get_lesson,
    lessons,
    read_status,
    run_lesson,
    tour,
)
from nnatlas.lessons.status import status_of

REF = Reference("v", "s")


def test_a_key_number_is_within_its_modes_range_or_flagged_outside() -> None:
    key = KeyNumber("acc", "accuracy", quick=(0.8, 0.9), full=(0.95, 1.0), reference=REF)
    assert key.verdict(0.85, quick=True) == "within"
    assert key.verdict(0.8, quick=True) == "within"  # inclusive
    assert key.verdict(0.85, quick=False) == "outside"  # the full run is held to its own range
    assert key.verdict(0.97, quick=True) == "outside"
    assert key.verdict(math.nan, quick=True) == "outside"
    assert key.verdict(None, quick=True) == "outside"
    only_quick = KeyNumber("x", "x", quick=(0.0, 1.0), reference=REF)
    assert only_quick.expected(quick=False) == (0.0, 1.0)


def test_status_is_within_only_when_every_number_is() -> None:
    assert status_of([{"verdict": "within"}, {"verdict": "within"}]) == WITHIN
    assert status_of([{"verdict": "within"}, {"verdict": "outside"}]) == OUTSIDE
    assert status_of([]) == OUTSIDE


def test_a_declaration_with_a_reversed_range_or_no_key_number_is_refused() -> None:
    with pytest.raises(LessonError, match="range"):
        sample_lesson(low=1.0, high=0.0)
    lesson = sample_lesson()
    with pytest.raises(LessonError, match="has no option"):
        lesson.config(quick=True, overrides={"epochs": 3})
    assert lesson.config(quick=False) == {"n": 2000}


def test_the_path_lists_the_lessons_in_order_and_names_unknown_ids() -> None:
    ids = [lesson.id for lesson in lessons()]
    assert ids[0] == "ann-basics" and len(ids) == len(set(ids))
    with pytest.raises(LessonError, match="ann-basics"):
        get_lesson("no-such-lesson")


def test_a_run_writes_its_record_page_and_plot_and_the_status_follows(tmp_path) -> None:
    assert read_status(tmp_path, "test-sample") == NOT_RUN
    record = run_lesson(sample_lesson(), tmp_path, quick=True, seed=3, log=lambda _: None)
    assert record["status"] == WITHIN
    folder = tmp_path / "test-sample"
    assert {"index.html", "result.json", "sample.png"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "result.json").read_text())["numbers"] == record["numbers"]
    assert read_status(tmp_path, "test-sample") == WITHIN
    page = (folder / "index.html").read_text()
    assert 'id="flag"' not in page and "seed 3" in page
    index = (tmp_path / "index.html").read_text()
    assert "test-sample/index.html" in index and "within range" in index


def test_a_number_outside_its_range_is_flagged_on_the_page_and_in_the_status(tmp_path) -> None:
    record = run_lesson(sample_lesson(5.0, 6.0), tmp_path, quick=True, log=lambda _: None)
    assert record["status"] == OUTSIDE
    assert read_status(tmp_path, "test-sample") == OUTSIDE
    page = (tmp_path / "test-sample" / "index.html").read_text()
    assert 'id="flag"' in page and "Outside the expected range" in page


def test_a_second_run_replaces_the_report_and_a_corrupt_record_counts_as_not_run(tmp_path) -> None:
    run_lesson(sample_lesson(5.0, 6.0), tmp_path, quick=True, log=lambda _: None)
    run_lesson(sample_lesson(), tmp_path, quick=True, log=lambda _: None)
    assert read_status(tmp_path, "test-sample") == WITHIN
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left
    (tmp_path / "test-sample" / "result.json").write_text("{half")
    assert read_status(tmp_path, "test-sample") == NOT_RUN


def test_a_missing_extra_skips_the_lesson_with_the_how_to_and_the_tour_goes_on(tmp_path) -> None:
    lines: list[str] = []
    records = tour(
        tmp_path, quick=True, only=[missing_extra_lesson(), sample_lesson()], log=lines.append
    )
    assert [r["status"] for r in records] == [SKIPPED, WITHIN]
    assert records[0]["missing"] == [
        {"name": "the imaginary extra", "how": "pip install 'nnatlas[imaginary]'"}
    ]
    assert any("pip install 'nnatlas[imaginary]'" in line for line in lines)
    page = (tmp_path / "test-needs-extra" / "index.html").read_text()
    assert "pip install &#39;nnatlas[imaginary]&#39;" in page
    index = (tmp_path / "index.html").read_text()
    assert "skipped" in index and "test-sample/index.html" in index


def test_an_optional_need_is_noted_only_by_the_configurations_that_use_it(tmp_path) -> None:
    from dataclasses import replace

    absent = Need("the big sample", "make big-sample", lambda: False, required=False,
                  used=lambda config: config["n"] > 1000)  # fmt: skip
    lesson = replace(sample_lesson(), needs=[absent])
    quick = run_lesson(lesson, tmp_path / "quick", quick=True, log=lambda _: None)
    assert not any("big sample" in note for note in quick["notes"])  # n = 200 does not use it
    full = run_lesson(lesson, tmp_path / "full", quick=False, log=lambda _: None)
    assert any("make big-sample" in note for note in full["notes"])


def test_an_unknown_engine_is_refused_naming_the_choices(tmp_path) -> None:
    with pytest.raises(LessonError, match="--engine torch"):
        run_lesson(sample_lesson(), tmp_path, quick=True, engine="jax", log=lambda _: None)


def test_a_lesson_that_raises_is_recorded_as_failed_and_the_tour_goes_on(tmp_path) -> None:
    from dataclasses import replace

    def broken(ctx):
        raise ValueError("the lesson's own bug")

    failing = replace(sample_lesson(lesson_id="test-broken"), run=broken)
    records = tour(tmp_path, quick=True, only=[failing, sample_lesson()], log=lambda _: None)
    assert [r["status"] for r in records] == ["failed", WITHIN]
    assert "the lesson's own bug" in records[0]["error"]
    assert "the lesson&#39;s own bug" in (tmp_path / "test-broken" / "index.html").read_text()
