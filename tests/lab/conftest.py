"""The lab under test: real uvicorn servers in threads, and the tiny runs the explorers need.

The runs are trained once per session through nnatlas.tasks (seconds, tiny models): LeNet-5 on
32x32 photos of a red or a blue square (the CNN explorer's run) and an LSTM sentiment
classifier on a small CSV of reviews (the sequence explorer's run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lab_helpers import Served, serve, square_photo


@pytest.fixture(scope="session")
def lab_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lab")
    dirs = {name: root / name for name in ("runs", "data", "reports")}
    for folder in dirs.values():
        folder.mkdir()
    return dirs


@pytest.fixture(scope="session")
def trained_runs(lab_dirs: dict[str, Path]) -> dict[str, str]:
    """Run names: ``cnn`` (LeNet-5 on squares) and ``lstm`` (sentiment LSTM), in runs/."""
    import nnatlas.tasks as tasks

    rng = np.random.default_rng(0)
    photos = lab_dirs["data"] / "squares"
    for name, channel in (("red", 0), ("blue", 2)):
        (photos / name).mkdir(parents=True)
        for i in range(20):
            square_photo(rng, channel).save(photos / name / f"{i}.png")
    good = ["a wonderful film", "great acting and a moving story", "i loved every minute"]
    bad = ["a dull mess", "terrible acting and a boring story", "i hated every minute"]
    rows = ["text,label"] + [f"{t},pos" for t in good * 12] + [f"{t},neg" for t in bad * 12]
    reviews = lab_dirs["data"] / "reviews.csv"
    reviews.write_text("\n".join(rows) + "\n", encoding="utf-8")
    common = dict(runs_dir=lab_dirs["runs"], quiet=True, tensorboard=False, threads=1, seed=0)
    tasks.train("lenet5", f"imagefolder:{photos}", run_name="cnn-squares", epochs=2, **common)
    tasks.train(
        "lstm_classifier",
        f"csv:{reviews}",
        run_name="lstm-reviews",
        epochs=2,
        batch_size=16,
        **common,
    )
    report = lab_dirs["reports"] / "01-ann"
    report.mkdir()
    (report / "index.html").write_text(
        "<html><head><title>Lesson 1: the artificial neuron</title></head>"
        "<body><h1>Lesson 1</h1><p id='finding'>a hidden layer bends the boundary</p>"
        "</body></html>",
        encoding="utf-8",
    )
    return {"cnn": "cnn-squares", "lstm": "lstm-reviews"}


@pytest.fixture(scope="session")
def lab(lab_dirs: dict[str, Path], trained_runs: dict[str, str]) -> Iterator[Served]:
    """One lab on 127.0.0.1 for the session (upload limit 256 KB)."""
    with serve(
        runs_dir=lab_dirs["runs"],
        data_dir=lab_dirs["data"],
        reports_dir=lab_dirs["reports"],
        max_upload_bytes=256 * 1024,
    ) as served:
        yield served
