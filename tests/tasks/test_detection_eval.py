"""mAP as the project computes it: perfect detections score 1, and every kind of mistake
(shifted, missed, extra or mislabelled boxes) scores less; the curves and drawings it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("torchmetrics.detection")
from nnatlas.tasks.detection_eval import (  # noqa: E402
    mean_average_precision,
    plot_pr_curves,
    save_examples,
    truths,
)

CLASSES = ["cat", "dog"]


def scene() -> list[dict[str, torch.Tensor]]:
    """Three images, five true boxes of two classes (x1, y1, x2, y2 pixels of 100 x 100)."""
    return [
        {"boxes": torch.tensor([[10.0, 10, 40, 40], [50, 50, 90, 95]]),
         "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[5.0, 60, 35, 90]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[20.0, 20, 60, 50], [60, 5, 95, 30]]),
         "labels": torch.tensor([2, 2])},
    ]  # fmt: skip


def as_predictions(targets: list[dict], shift: float = 0.0) -> list[dict[str, torch.Tensor]]:
    return [
        {"boxes": t["boxes"] + shift, "labels": t["labels"].clone(),
         "scores": torch.linspace(0.9, 0.6, len(t["labels"]))}
        for t in targets
    ]  # fmt: skip


def scores(predictions: list[dict], targets: list[dict]) -> dict[str, float]:
    return mean_average_precision(predictions, targets, CLASSES)[0]


def test_the_truth_against_itself_scores_one() -> None:
    metrics = scores(as_predictions(scene()), scene())
    assert metrics["map_50"] == pytest.approx(1.0)
    assert metrics["map"] == pytest.approx(1.0)
    assert metrics["ap50/cat"] == pytest.approx(1.0) and metrics["ap50/dog"] == pytest.approx(1.0)


def test_shifted_boxes_score_lower_the_further_they_move() -> None:
    maps = [scores(as_predictions(scene(), shift), scene())["map"] for shift in (0, 2, 5, 10)]
    assert maps[0] == pytest.approx(1.0)
    assert maps[0] > maps[1] > maps[2] > maps[3]
    # 2 px keeps every IoU above 0.5, so mAP@0.5 is still perfect; 25 px takes them all below
    assert scores(as_predictions(scene(), 2), scene())["map_50"] == pytest.approx(1.0)
    assert scores(as_predictions(scene(), 25), scene())["map_50"] == pytest.approx(0.0)


def test_missed_extra_and_mislabelled_boxes_each_cost_ap() -> None:
    missed = as_predictions(scene())
    missed[2] = {k: v[:1] for k, v in missed[2].items()}  # one dog never found
    extra = as_predictions(scene())
    extra[1] = {  # a confident cat where there is none, ranked above the true one
        "boxes": torch.tensor([[60.0, 0, 99, 40], [5, 60, 35, 90]]),
        "labels": torch.tensor([1, 1]), "scores": torch.tensor([0.99, 0.5]),
    }  # fmt: skip
    wrong = as_predictions(scene())
    wrong[0]["labels"] = torch.tensor([2, 1])  # the cat called a dog and the dog a cat
    assert scores(missed, scene())["ap50/dog"] < 1.0 and scores(missed, scene())["ap50/cat"] == 1
    assert scores(extra, scene())["ap50/cat"] < 1.0 and scores(extra, scene())["ap50/dog"] == 1
    assert scores(wrong, scene())["map_50"] < 1.0


def test_padded_targets_unpad_to_the_true_boxes() -> None:
    boxes = torch.zeros(2, 3, 4)
    boxes[0, :2] = torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    labels = torch.tensor([[1, 2, -1], [-1, -1, -1]])
    first, second = truths(boxes, labels)
    assert first["labels"].tolist() == [1, 2] and first["boxes"].shape == (2, 4)
    assert second["boxes"].shape == (0, 4)


def test_curves_and_drawn_detections_are_written(tmp_path: Path) -> None:
    from PIL import Image

    targets = scene()
    predictions = as_predictions(targets, shift=3)
    metrics, curves = mean_average_precision(predictions, targets, CLASSES)
    assert set(curves["precision"]) == set(CLASSES) and len(curves["recall"]) == 101
    curve = plot_pr_curves(curves, f"mAP@0.5 {metrics['map_50']:.3f}", tmp_path / "pr.png")
    images = torch.randint(0, 255, (3, 3, 100, 100), dtype=torch.uint8)
    grid = save_examples(images, predictions, targets, CLASSES, tmp_path / "grid.png")
    assert Image.open(curve).size[0] > 0
    assert Image.open(grid).size == (300, 100)  # three 100 px images side by side
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left behind
