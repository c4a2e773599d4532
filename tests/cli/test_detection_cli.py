"""A detection project through the command, end to end on a COCO folder the test writes:
``nnatlas train`` then ``nnatlas eval`` and ``nnatlas predict`` on the run folder alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnatlas.cli import _register, app
from nnatlas.data.detection.coco import write_coco

pytest.importorskip("torchmetrics.detection")
_register()
runner = CliRunner()
CLASSES = ["red", "blue"]
SIZE = 64


def write_squares(folder: Path, split: str, count: int, seed: int) -> None:
    """``count`` 64x64 noise images holding one or two coloured squares each (red: class 1,
    blue: class 2), as a COCO split."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / split).mkdir(parents=True, exist_ok=True)
    examples = []
    for i in range(count):
        pixels = rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
        boxes, labels = [], []
        for _ in range(1 + i % 2):
            side = int(rng.integers(14, 24))
            x, y = (int(v) for v in rng.integers(0, SIZE - side, 2))
            label = int(rng.integers(1, 3))
            pixels[y : y + side, x : x + side] = (230, 30, 30) if label == 1 else (30, 30, 230)
            boxes.append([x, y, x + side, y + side])
            labels.append(label)
        name = f"{i:03d}.png"
        Image.fromarray(pixels).save(folder / split / name)
        examples.append((name, SIZE, SIZE, np.array(boxes, float), np.array(labels)))
    write_coco(folder, split, examples, CLASSES)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    data = tmp_path_factory.mktemp("squares")
    write_squares(data, "train", 24, seed=0)
    write_squares(data, "test", 8, seed=1)
    runs = tmp_path_factory.mktemp("runs")
    run = runs / "centernet-squares"
    result = runner.invoke(app, [
        "train", "centernet_mobilenet_v2", "--data", f"coco:{data}", "--image-size", str(SIZE),
        "--model-option", "weights=null", "--epochs", "20", "--batch-size", "8",
        "--optimizer", "adam", "--lr", "0.002", "--runs-dir", str(runs),
        "--run-name", run.name, "--quiet",
        "--no-tensorboard", "--threads", "1",
    ])  # fmt: skip
    return data, run, result


def test_train_writes_a_detection_run_with_its_map_and_pictures(trained) -> None:
    _, run, result = trained
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "test_metrics.json").read_text())
    # 20 epochs on 24 images from random weights: 0.59 seen; the squares are easy to find
    assert 0.3 <= metrics["map_50"] <= 1.0 and 0.0 < metrics["map"] <= metrics["map_50"]
    assert {"ap50/red", "ap50/blue"} & set(metrics)
    for picture in ("pr_curve_test.png", "detections_test.png", "best.pt", "data.json"):
        assert (run / picture).is_file(), picture
    record = json.loads((run / "data.json").read_text())
    assert record["task"] == "detection" and record["record"]["classes"] == CLASSES


def test_eval_scores_the_run_from_its_folder_alone(trained) -> None:
    _, run, _ = trained
    result = runner.invoke(app, ["eval", str(run)])
    assert result.exit_code == 0, result.output
    assert "map_50" in result.output
    saved = json.loads((run / "test_metrics.json").read_text())["map_50"]
    assert f"{saved:.4f}"[:4] in result.output  # the same detector on the same split


def test_predict_prints_json_lines_and_writes_the_picture(trained, tmp_path: Path) -> None:
    data, run, _ = trained
    picture = tmp_path / "boxes.png"
    image = data / "test" / "000.png"
    result = runner.invoke(
        app, ["predict", str(run), str(image), "--min-score", "0", "--output", str(picture)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.output  # min-score 0: every decoded box is reported
    for box in lines:
        assert box["class"] in CLASSES and 0 <= box["score"] <= 1
        x1, y1, x2, y2 = box["box"]
        assert 0 <= x1 <= x2 <= SIZE and 0 <= y1 <= y2 <= SIZE
    scores = [b["score"] for b in lines]
    assert scores == sorted(scores, reverse=True)  # most confident first
    from PIL import Image

    assert Image.open(picture).size == (SIZE, SIZE)


def test_predict_on_a_test_example_and_refuses_a_missing_file(trained, tmp_path: Path) -> None:
    _, run, _ = trained
    result = runner.invoke(app, ["predict", str(run), "test:1", "--min-score", "1.0"])
    assert result.exit_code == 0, result.output
    assert (run / "predictions" / "test-1.png").is_file()
    if not result.stdout.strip():  # nothing sure: said on stderr, stdout stays JSON lines
        assert "no box scored at least 1.0" in result.stderr
    missing = runner.invoke(app, ["predict", str(run), str(tmp_path / "nope.png")])
    assert missing.exit_code != 0
    assert "nope.png" in " ".join(missing.output.split())
