"""The playground: its network in the NumPy engine (residual blocks gradient-checked), its
options refused with the option's name, training that learns (three classes too), CSVs, and
the exported Python file run on its own to reproduce the lab's predictions in both engines."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nnatlas.scratch as nn
from nnatlas.lab.export import export_network
from nnatlas.lab.playground import (
    PlaygroundError,
    PlaygroundSpec,
    Residual,
    build_network,
    csv_points,
    decode_boundary,
    load_points,
    probabilities,
    train,
)


class Recorder:
    """What a lab Job offers a training: publish and checkpoint (here: record and go on)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def publish(self, kind: str, data: Any, replace: bool = False) -> None:
        self.events.append((kind, data))

    def checkpoint(self) -> None:
        pass


def trained(**options: Any) -> Any:
    spec = PlaygroundSpec.from_dict(options)
    return train(spec, load_points(spec), Recorder())


def test_a_residual_block_passes_the_gradient_check() -> None:
    rng = np.random.default_rng(0)
    block = Residual(nn.Sequential(nn.Linear(5, 5, rng=rng), nn.Tanh())).to(np.float64)
    x = rng.normal(size=(4, 5))
    assert nn.gradcheck(block, x).passed

    class Forgetful(Residual):  # a backward that forgets the shortcut
        def backward(self, grad_out: np.ndarray) -> np.ndarray:
            return self.block.backward(grad_out)

    broken = Forgetful(nn.Sequential(nn.Linear(5, 5, rng=rng), nn.Tanh())).to(np.float64)
    assert not nn.gradcheck(broken, x).passed


def test_the_network_follows_the_options() -> None:
    spec = PlaygroundSpec.from_dict(
        {
            "hidden": [6, 6, 4],
            "activations": ["relu", "gelu", "sigmoid"],
            "dropout": 0.2,
            "residual": True,
        }
    )
    net = build_network(spec, classes=3)
    names = [n for n, _ in net.named_parameters()]
    # 2 -> 6 cannot add its input; 6 -> 6 is residual; 6 -> 4 cannot.
    assert names[:2] == ["0.0.weight", "0.0.bias"]
    assert names[2:4] == ["1.block.0.weight", "1.block.0.bias"]
    assert names[4:6] == ["2.0.weight", "2.0.bias"] and names[-2:] == ["3.weight", "3.bias"]
    kinds = [type(m).__name__ for _, m in net.named_modules()]
    assert {"ReLU", "GELU", "Sigmoid", "Dropout", "Residual"} <= set(kinds)
    assert net(np.zeros((7, 2), np.float32)).shape == (7, 3)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"hidden": []}, "hidden"),
        ({"hidden": [8], "activations": ["relu", "tanh"]}, "activations"),
        ({"activations": ["swish", "tanh"]}, "swish"),
        ({"dropout": 1.0}, "dropout"),
        ({"loss": "hinge"}, "loss"),
        ({"lr": -1}, "lr"),
        ({"data": "mnist"}, "data"),
        ({"colour": "red"}, "unknown option"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, Any], words: str) -> None:
    with pytest.raises(PlaygroundError, match=words):
        PlaygroundSpec.from_dict(options)


def test_training_learns_two_and_three_classes_with_either_loss() -> None:
    moons = trained(data="moons", epochs=60, hidden=[8, 8])
    assert moons.history[-1]["test_accuracy"] > 0.9
    assert moons.history[-1]["train_loss"] < moons.history[0]["train_loss"] / 3
    spirals = trained(
        data="spirals",
        epochs=200,
        hidden=[24, 24],
        activations=["relu", "relu"],
        residual=True,
        loss="mse",
        lr=0.02,
    )
    assert spirals.classes == ["0", "1", "2"]
    chance = 1 / 3
    assert spirals.history[-1]["test_accuracy"] > chance + 0.3


def test_the_training_reports_points_metrics_and_the_boundary() -> None:
    spec = PlaygroundSpec.from_dict({"data": "xor", "epochs": 5, "report_every": 4, "grid": 16})
    job = Recorder()
    job.trained = train(spec, load_points(spec), job)
    kinds = [k for k, _ in job.events]
    assert kinds[0] == "points" and "metrics" in kinds and "boundary" in kinds
    grid = next(d for k, d in reversed(job.events) if k == "boundary")
    cls, p = decode_boundary(grid)
    assert grid["size"] == 16 and cls.shape == p.shape == (16, 16)
    assert set(cls.ravel()) == {0, 1} and p.min() >= 0.5 - 1 / 255 and p.max() <= 1
    # The grid's top-left corner is (x_min, y_max): the network's own prediction there.
    corner = probabilities(trained_net(job), np.array([[grid["box"][0], grid["box"][3]]]))
    assert cls[0, 0] == corner.argmax() and abs(p[0, 0] - corner.max()) <= 1 / 255


def trained_net(job: Any) -> Any:
    return job.trained.net


def test_csv_points_with_words_as_labels_and_clear_errors() -> None:
    rows = ["x1,x2,label"] + [f"{i % 7},{i % 5},{'cat' if i % 2 else 'dog'}" for i in range(40)]
    points = csv_points("\n".join(rows), "pets.csv", 0.25, 0)
    assert points.classes == ["cat", "dog"]
    assert len(points.x_train) + len(points.x_test) == 40 and len(points.x_test) == 10
    with pytest.raises(PlaygroundError, match="row 3"):
        csv_points("\n".join(rows[:3] + ["1,abc,cat"] + rows[3:]), "pets.csv", 0.25, 0)
    with pytest.raises(PlaygroundError, match="one class"):
        csv_points("\n".join(f"{i},{i},a" for i in range(20)), "one.csv", 0.25, 0)
    with pytest.raises(PlaygroundError, match="at least 10"):
        csv_points("1,2,a\n3,4,b\n", "short.csv", 0.25, 0)


def test_the_exported_file_rebuilds_the_network_in_both_engines(tmp_path: Path) -> None:
    run = trained(
        data="spirals",
        epochs=30,
        hidden=[12, 12],
        activations=["gelu", "tanh"],
        residual=True,
        dropout=0.1,
    )
    source = export_network(run)
    path = tmp_path / "network.py"
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["agree"] and report["largest_difference"] < 1e-5
    # And imported: its predictions on points it has never seen equal the lab's.
    module = runpy.run_path(str(path))
    fresh = np.random.default_rng(5).uniform(-1.2, 1.2, (200, 2)).astype(np.float32)
    expected = probabilities(run.net, fresh)
    for engine in ("torch", "scratch"):
        got = module["predict"](fresh, engine)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    net = module["build_torch"]()
    assert sum(p.numel() for p in net.parameters()) == run.net.num_parameters()


def test_an_edited_export_fails_its_own_check(tmp_path: Path) -> None:
    run = trained(data="moons", epochs=5)
    source = export_network(run).replace("CHECK_CLASSES = [", "CHECK_CLASSES = [7, ", 1)
    path = tmp_path / "edited.py"
    path.write_text(source)
    module = runpy.run_path(str(path))
    with pytest.raises(SystemExit, match="differ"):
        module["check"]()
