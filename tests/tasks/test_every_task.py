"""Each kind of task trains, evaluates and predicts through ``nnatlas.tasks`` alone.

The whole round runs in a fresh interpreter that never imports ``nnatlas.cli``, so the test
proves that the Python API stands on its own (the lessons and the lab call it the same way).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _write_inputs(folder: Path) -> dict[str, str]:
    """Small real-format files for the text tasks: a CSV of reviews, a corpus, sentence pairs."""
    good = ["a wonderful film", "great acting and a moving story", "i loved every minute"]
    bad = ["a dull mess", "terrible acting and a boring story", "i hated every minute"]
    rows = ["text,label"] + [f"{t},pos" for t in good * 20] + [f"{t},neg" for t in bad * 20]
    (folder / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    verse = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n"
    (folder / "sonnet.txt").write_text(verse * 80, encoding="utf-8")
    numbers = ["one", "two", "three", "four", "five"]
    french = ["un", "deux", "trois", "quatre", "cinq"]
    pairs = [
        f"{numbers[i]} {numbers[j]}\t{french[i]} {french[j]}" for i in range(5) for j in range(5)
    ]
    (folder / "pairs.txt").write_text("\n".join(pairs * 8) + "\n", encoding="utf-8")
    return {
        "csv": f"csv:{folder / 'reviews.csv'}",
        "text": f"text:{folder / 'sonnet.txt'}",
        "pairs": f"pairs:{folder / 'pairs.txt'}",
    }


SCRIPT = """
import json, sys
import nnatlas.tasks as tasks

runs, data = sys.argv[1], json.loads(sys.argv[2])
quick = dict(runs_dir=runs, quiet=True, tensorboard=False, threads=1)
cases = [
    ("mlp", "digits", dict(epochs=2), "test:0"),
    ("mlp", "moons", dict(epochs=3), "0.5,0.25"),
    (None, data["csv"], dict(epochs=3, batch_size=16), "a wonderful story"),
    (None, data["text"], dict(epochs=1, batch_size=8), "Thou"),
    (None, data["pairs"], dict(epochs=3, batch_size=16, lr=5e-3), "two three"),
]
out = {}
for model, name, options, example in cases:
    run = tasks.train(model, name, **quick, **options)
    evaluated = tasks.evaluate(run.dir)
    prediction = tasks.predict(run.dir, example)
    out[run.task.name] = {
        "model": run.model_name,
        "test": run.test_metrics,
        "evaluated": dict(evaluated),
        "examples": evaluated.examples,
        "prediction": type(prediction).__name__,
        "text": str(prediction),
        "files": sorted(p.name for p in run.dir.iterdir()),
    }
out["cli_imported"] = any(m == "nnatlas.cli" or m.startswith("nnatlas.cli.") for m in sys.modules)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def every_task(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("tasks")
    data = _write_inputs(folder)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(folder / "runs"), json.dumps(data)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_task_needs_the_command(every_task: dict) -> None:
    assert every_task["cli_imported"] is False


@pytest.mark.parametrize(
    ("task", "model", "prediction"),
    [
        ("image_classification", "mlp", "ClassPrediction"),
        ("tabular_classification", "mlp", "ClassPrediction"),
        ("text_classification", "lstm_classifier", "ClassPrediction"),
        ("language_modeling", "lstm_lm", "Generation"),
        ("seq2seq", "seq2seq", "Translation"),
    ],
)
def test_each_task_trains_evaluates_and_predicts_from_its_folder(
    every_task: dict, task: str, model: str, prediction: str
) -> None:
    got = every_task[task]
    assert got["model"] == model  # the dataset's preset, else the task's default model
    assert got["prediction"] == prediction
    assert got["examples"] > 0
    # Evaluating the folder reproduces the test metrics the training run wrote.
    assert got["evaluated"]["loss"] == pytest.approx(got["test"]["loss"], rel=1e-6)
    for name in ("config.json", "data.json", "best.pt", "last.pt", "test_metrics.json"):
        assert name in got["files"]


def test_the_tasks_learn(every_task: dict) -> None:
    assert every_task["image_classification"]["test"]["accuracy"] > 0.8  # 10 classes
    assert every_task["tabular_classification"]["test"]["accuracy"] > 0.9  # 2 classes
    assert every_task["text_classification"]["test"]["accuracy"] > 0.9  # repeated phrases
    # 24 distinct characters and 4 reserved tokens: a model that learned nothing scores ~28.
    assert every_task["language_modeling"]["test"]["perplexity"] < 20
    assert every_task["seq2seq"]["test"]["accuracy"] > 0.9  # a word-for-word code
    assert every_task["seq2seq"]["text"] == "deux trois"
    assert every_task["language_modeling"]["text"].startswith("Thou")
