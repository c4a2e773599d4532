"""Every lesson of the path runs end to end at a tiny configuration, and its numbers come from
the run: another seed gives other numbers, and the provenance header names the seed."""

from __future__ import annotations

import json

import pytest

from nnatlas.lessons import FAILED, PATH, get_lesson, lessons, run_lesson

# Each lesson's smallest configuration that still runs every part (seconds): not its quick
# budget, whose ranges `nnatlas tour --quick` checks.
TINY = {
    "ann-basics": {"points": 120, "steps": 60, "check_points": 4, "digits_epochs": 1},
    "training-anns": {"depth": 3, "width": 16, "deep_epochs": 1, "epochs": 1},
    "cnn-evolution": {
        "per_class": 4,
        "epochs": 1,
        "train": ["lenet5"],
        "time_repeats": 1,
        "time_batch": 2,
        "depth_batch": 2,
    },
    "rnn-bptt": {"length": 8, "hidden": 8, "train_size": 64, "steps": 5},
    "lstm-gru": {"length": 6, "hidden": 4, "train_size": 64, "steps": 3, "window": 2},
    "convolution": {
        "data": "digits",
        "digits_epochs": 1,
        "parity_images": 2,
        "speed_examples": 200,
    },
    "transfer": {"image_size": 32, "test_images": 100, "per_class": 5, "sweep": [5], "epochs": 1},
    "detection": {"image_size": 64, "limit": 16, "epochs": 1, "freeze_epochs": 1},
    "text-generation": {"limit": 40, "epochs": 1, "hidden": 32, "sample_length": 20},
    "sentiment": {"limit": 300, "epochs": 1, "hidden": 16, "synthetic": 800},
    "translation": {"pairs": 400, "epochs": 1, "hidden": 32, "beam": 2},
    "practice": {"trials": 2, "epochs": 2, "overfit_epochs": 2, "regularizers": ["dropout"]},
}


def test_every_lesson_has_a_tiny_configuration() -> None:
    assert {lesson.id for lesson in lessons()} == set(TINY), "add the lesson's TINY entry"
    assert len(PATH) == len(TINY)


@pytest.mark.parametrize("lesson_id", list(TINY))
def test_a_lesson_runs_end_to_end_and_its_record_is_complete(tmp_path, lesson_id) -> None:
    lesson = get_lesson(lesson_id)
    record = run_lesson(lesson, tmp_path, quick=True, overrides=TINY[lesson_id], log=lambda _: None)
    assert record["status"] != FAILED, record.get("traceback")
    if record["status"] == "skipped":
        pytest.skip(f"{lesson_id} needs {record['missing']}")
    assert set(record["numbers"]) >= {key.name for key in lesson.key_numbers if not key.optional}
    assert all(c["verdict"] in ("within", "outside", "not measured") for c in record["checks"])
    folder = tmp_path / lesson_id
    for plot in record["plots"]:
        assert (folder / plot["file"]).stat().st_size > 1000
    assert json.loads((folder / "result.json").read_text())["numbers"] == record["numbers"]


def test_another_seed_gives_other_numbers_and_the_header_names_it(tmp_path) -> None:
    tiny = TINY["ann-basics"]
    first = run_lesson(
        "ann-basics", tmp_path / "a", quick=True, seed=1, overrides=tiny, log=lambda _: None
    )
    second = run_lesson(
        "ann-basics", tmp_path / "b", quick=True, seed=2, overrides=tiny, log=lambda _: None
    )
    assert first["numbers"] != second["numbers"]
    page = (tmp_path / "b" / "ann-basics" / "index.html").read_text()
    assert "<strong>seed 2</strong>" in page and "--seed 2" in page
    shown = [c["shown"] for c in second["checks"]]
    assert all(value in page for value in shown)  # the page shows this run's numbers
    assert second["provenance"]["seed"] == 2


def test_without_the_pretrained_extra_detection_trains_the_random_trunk_and_says_so(
    tmp_path,
) -> None:
    from dataclasses import replace

    lesson = get_lesson("detection")
    absent = [replace(n, present=lambda: False) if "pretrained" in n.name else n
              for n in lesson.needs]  # fmt: skip
    record = run_lesson(replace(lesson, needs=absent), tmp_path, quick=True,
                        overrides=TINY["detection"], log=lambda _: None)  # fmt: skip
    assert record["status"] != FAILED, record.get("traceback")
    assert set(record["numbers"]) == {"map50_random"}
    assert any("make pretrained" in note for note in record["notes"])
    assert any("only the random trunk trained" in note for note in record["notes"])
    verdicts = {c["name"]: c["verdict"] for c in record["checks"]}
    assert verdicts["map50_pretrained"] == verdicts["pretrained_gain"] == "not measured"
