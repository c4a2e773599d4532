"""`nnatlas inspect RUN --what ...` on runs the command trained: each plot is written into the
run folder and its path printed; a sentiment LSTM's gates render over a typed sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nnatlas.cli import _register, app

_register()
runner = CliRunner()
FAST = ["--quiet", "--no-tensorboard", "--threads", "1", "--seed", "0"]


def cli(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def train(runs: Path, name: str, *args: object) -> Path:
    result = cli("train", *args, "--runs-dir", runs, "--run-name", name, *FAST)
    assert result.exit_code == 0, result.output
    return runs / name


def inspected(run: Path, *args: object) -> dict:
    """Run `nnatlas inspect`; check the printed PNG and JSON paths; return the JSON."""
    result = cli("inspect", run, *args)
    assert result.exit_code == 0, result.output
    png, js = (Path(line) for line in result.stdout.split())
    assert png.parent == run / "inspect" and png.suffix == ".png" and js == png.with_suffix(".json")
    with Image.open(png) as image:
        image.verify()
    return json.loads(js.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def photos(runs: Path) -> Path:
    """LeNet-5 on 32x32 photos: a red square on noise (class red) or a blue one (blue)."""
    rng = np.random.default_rng(0)
    folder = runs.parent / "photos"
    for name, channel in (("red", 0), ("blue", 2)):
        (folder / name).mkdir(parents=True)
        for i in range(24):
            pixels = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
            x, y = rng.integers(0, 16, 2)
            pixels[y : y + 14, x : x + 14, channel] = 230
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return train(runs, "photos", "--data", f"imagefolder:{folder}", "--epochs", "2")


@pytest.fixture(scope="module")
def reviews(runs: Path) -> Path:
    """An LSTM sentiment classifier on a small CSV of reviews."""
    good = ["a wonderful film", "great acting and a moving story", "i loved every minute"]
    bad = ["a dull mess", "terrible acting and a boring story", "i hated every minute"]
    rows = ["text,label"] + [f"{t},pos" for t in good * 15] + [f"{t},neg" for t in bad * 15]
    path = runs.parent / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return train(
        runs,
        "reviews",
        "lstm_classifier",
        "--data",
        f"csv:{path}",
        "--epochs",
        "2",
        "--batch-size",
        "16",
    )


def test_image_run_filters_maps_saliency_gradcam_confusion(photos: Path) -> None:
    data = inspected(photos, "--what", "filters")
    assert data["layer"] == "features.0" and data["shape"][:2] == [6, 3]
    data = inspected(photos, "--what", "featuremaps")  # test:0 by default
    assert data["layer"] == "features.0" and data["shown"] == 6
    image = next((photos.parent.parent / "photos" / "red").iterdir())
    data = inspected(photos, "--what", "gradcam", "--input", image, "--target", "red")
    assert data["class_name"] == "red" and data["layer"] == "features"
    assert (photos / "inspect" / f"gradcam-{image.stem}.png").is_file()
    data = inspected(photos, "--what", "saliency", "--input", "test:1")
    assert len(data["saliency"]) == 28  # read at 28x28, lenet5's input size
    data = inspected(photos, "--what", "confusion")
    assert data["classes"] == ["blue", "red"]
    sizes = json.loads((photos / "data.json").read_text())["sizes"]
    assert sum(map(sum, data["counts"])) == sizes["test"]
    data = inspected(photos, "--what", "curves")
    assert data["epochs"] == [1, 2]


def test_gradient_flow_of_a_run_at_initialization_and_trained(photos: Path) -> None:
    data = inspected(photos, "--what", "gradflow", "--examples", "8")
    start, trained = data["at initialization"], data["after training (best.pt)"]
    assert [r["name"] for r in start["layers"]] == [r["name"] for r in trained["layers"]]
    assert start["layers"] != trained["layers"]  # the weights moved
    data = inspected(photos, "--what", "histograms", "--examples", "8")
    assert data["layers"][0]["layer"] == "features.0.weight"


def test_the_gates_of_a_sentiment_lstm_over_a_typed_sentence(reviews: Path) -> None:
    data = inspected(reviews, "--what", "gates", "--input", "i loved every minute")
    assert data["tokens"] == ["i", "loved", "every", "minute"]  # padding left out
    assert sorted(data["gates"]) == ["f", "g", "i", "o"]
    assert np.asarray(data["gates"]["f"]).shape[0] == 4
    assert (reviews / "inspect" / "gates-i-loved-every-minute.png").is_file()
    data = inspected(reviews, "--what", "gates", "--input", "a wonderful zebra")
    assert data["tokens"] == ["a", "wonderful", "<unk>"]
    data = inspected(reviews, "--what", "states", "--examples", "4")
    assert len(data["paths"]) == 4 and data["layer"] == "rnn.l0"
    data = inspected(reviews, "--what", "gradflow", "--examples", "8")
    steps = data["after training (best.pt)"]["recurrent"]["rnn.l0"]
    assert len(steps) > 4 and all(v >= 0 for v in steps)
    data = inspected(reviews, "--what", "confusion")
    assert all("text" in e for e in data["examples"])


def test_boundary_and_attention_runs(runs: Path, tmp_path: Path) -> None:
    moons = train(runs, "moons", "--data", "moons", "--epochs", "2")
    data = inspected(moons, "--what", "boundary")
    assert np.asarray(data["predicted"]).shape == (150, 150)
    pairs = tmp_path / "pairs.txt"
    words = ["one", "two", "three", "four", "five", "six"]
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(80):
        sentence = list(rng.choice(words, size=3))
        lines.append(" ".join(sentence) + "\t" + " ".join(reversed(sentence)))
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    seq = train(runs, "pairs", "--data", f"pairs:{pairs}", "--epochs", "1")
    data = inspected(seq, "--what", "attention", "--input", "one two three")
    assert data["source"] == ["one", "two", "three"]
    np.testing.assert_allclose(np.asarray(data["weights"]).sum(axis=1), 1.0, rtol=1e-5)


def test_inspect_refuses_what_a_run_cannot_show(photos: Path, reviews: Path) -> None:
    result = cli("inspect", photos, "--what", "gates", "--input", "hello")
    assert result.exit_code == 2 and "for tokens or lm models" in " ".join(result.output.split())
    result = cli("inspect", photos, "--what", "nonsense")
    assert result.exit_code == 2 and "choose one of" in result.output
    result = cli("inspect", reviews, "--what", "gradcam")
    assert result.exit_code == 2
    result = cli("inspect", photos, "--what", "boundary")
    assert result.exit_code == 2 and "2-D points" in " ".join(result.output.split())
