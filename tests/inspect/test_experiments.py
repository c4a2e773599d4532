"""The experiments end to end on tiny budgets: each writes its table, results.json and valid
PNGs, and its numbers are the ones it printed. (The real budgets are measured by `nnatlas
experiment NAME [--quick]`; their tables are in the README.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnatlas.inspect.experiments import run_experiment
from nnatlas.inspect.figures import InspectError


def written(result, folder: Path) -> dict:  # type: ignore[no-untyped-def]
    """table.md and results.json exist and agree with the result; every plot is a PNG."""
    assert (folder / "table.md").read_text().count("|") > 10
    data = json.loads((folder / "results.json").read_text())
    assert data["experiment"] == result.name and data["seconds"] == pytest.approx(result.seconds)
    assert [t["rows"] for t in data["tables"]] == [
        json.loads(json.dumps(t.rows, default=float).replace("NaN", "null")) for t in result.tables
    ]
    for plot in result.plots:
        with Image.open(plot) as image:
            image.verify()
        assert plot.with_suffix(".json").is_file()
    return data


def test_long_memory_on_a_tiny_budget(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_experiment(
        "long-memory",
        tmp_path,
        quick=True,
        log=lines.append,
        lengths=(5,),
        copy_lengths=(4,),
        train_size=128,
        epochs=1,
        ablation_length=5,
        eval_size=32,
        hidden_size=6,
        copy_len=2,
    )
    data = written(result, tmp_path)
    adding = data["tables"][0]["rows"]
    assert [row["T"] for row in adding] == [5]
    assert any(f"adding T=5 lstm: test MSE {adding[0]['LSTM']:.4f}" in line for line in lines)
    ablations = data["tables"][3]["rows"]
    # the table's LSTM is the forget-bias-1 arm: one training, the same number
    assert ablations[1]["setting"] == "1" and ablations[1]["test MSE"] == adding[0]["LSTM"]
    assert [r["setting"] for r in ablations[2:]] == [
        "sgd lr 0.05, clip at 1",
        "sgd lr 0.05, no clipping",
    ]
    steps = data["numbers"]["gradients"]["adding"]["LSTM at init"]
    assert len(steps) == 5 and all(v > 0 for v in steps)


@pytest.mark.slow  # four CIFAR nets up to 56 layers: about 25 s on 2 loaded cores
def test_depth_on_a_tiny_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    for c in range(10):
        (images / f"c{c}").mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / f"c{c}" / f"{i}.png")
    out = tmp_path / "out"
    result = run_experiment(
        "depth",
        out,
        quick=True,
        data=f"imagefolder:{images}",
        per_class=4,
        image_size=8,
        epochs=1,
        batch_size=16,
        threads=1,
    )
    data = written(result, out)
    rows = {row["model"]: row for row in data["tables"][0]["rows"]}
    assert sorted(rows) == ["ResNet-20", "ResNet-56", "plain-20", "plain-56"]
    assert rows["plain-56"]["layers"] == 56
    assert isinstance(data["numbers"]["degradation_shown"], bool)
    per_layer = data["numbers"]["models"]["plain-56"]["grad_norms_init"]
    assert len(per_layer) == 56  # 55 convolutions and the head: every weight layer


@pytest.mark.slow  # reads all of Fashion-MNIST first: about 25 s on 2 loaded cores
def test_activations_on_a_tiny_budget(tmp_path: Path) -> None:
    result = run_experiment(
        "activations",
        tmp_path,
        quick=True,
        depths=(2, 3),
        train_size=200,
        test_size=100,
        epochs=1,
        width=8,
    )
    data = written(result, tmp_path)
    accuracy = data["tables"][0]["rows"]
    assert [row["hidden layers"] for row in accuracy] == [2, 3]
    assert all(0.0 <= row["relu/he"] <= 1.0 for row in accuracy)
    gradients = data["tables"][1]["rows"]
    assert len(gradients) == 8  # four activations, two initializations


def test_an_unknown_experiment_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="long-memory"):
        run_experiment("width", tmp_path)
