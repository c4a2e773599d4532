"""Weight files that did not come from nnatlas, evaluated as they are (needs ../shared/data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnatlas.cli import _register, app
from nnatlas.models.pretrained import SOURCES

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RESNET20 = SHARED / "pretrained" / "resnet20-12fca82f.th"
CIFAR = SHARED / "cifar10-jpeg" / "train"
pytestmark = pytest.mark.skipif(
    not (RESNET20.is_file() and CIFAR.is_dir()), reason="needs ../shared/data (pretrained, cifar10)"
)
_register()
runner = CliRunner()


def small_cifar(folder: Path, per_class: int = 20) -> str:
    for source in sorted(CIFAR.iterdir()):
        (folder / source.name).mkdir(parents=True)
        for image in sorted(source.iterdir())[:per_class]:
            shutil.copy(image, folder / source.name / image.name)
    return f"imagefolder:{folder}"


def accuracy(output: str) -> float:
    line = next(line for line in output.splitlines() if "│ accuracy" in line)
    return float(line.split("│")[2])


def test_the_akamaster_file_evaluates_best_with_the_normalization_it_was_trained_with(
    tmp_path: Path,
) -> None:
    data = small_cifar(tmp_path / "cifar")
    scores = {}
    for normalize in ("imagenet", "cifar10"):
        result = runner.invoke(app, ["eval", str(RESNET20), "--model", "resnet20", "--data", data,
                                     "--normalize", normalize, "--split", "train"])  # fmt: skip
        assert result.exit_code == 0, result.output
        scores[normalize] = accuracy(result.stdout)
    assert "confusion matrix" in result.stdout
    # These images are the training set the file learned, re-encoded as JPEG: not a test of the
    # model, but of the preprocessing. Its own trainer.py normalized with ImageNet's statistics.
    assert scores["imagenet"] > 0.8 and scores["imagenet"] > scores["cifar10"]
    assert SOURCES["resnet20"].mean == (0.485, 0.456, 0.406)


def test_a_head_of_another_size_is_refused_with_the_fix(tmp_path: Path) -> None:
    data = small_cifar(tmp_path / "two", per_class=3)
    for extra in sorted((tmp_path / "two").iterdir())[2:]:
        shutil.rmtree(extra)
    result = runner.invoke(app, ["eval", str(RESNET20), "--model", "resnet20", "--data", data])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "its head predicts 10 classes" in message and "nnatlas transfer --backbone" in message
