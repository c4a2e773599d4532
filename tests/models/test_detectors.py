"""The detectors: the project's box operations against torchvision's, every registered detector
through one training and one inference step, and CenterNet's target assignment and decoding
agreeing with each other."""

from __future__ import annotations

import pytest
import torch

from nnatlas.models import create_model, list_models
from nnatlas.models.box_ops import batched_nms, box_iou, nms
from nnatlas.models.centernet import STRIDE, CenterNet

ops = pytest.importorskip("torchvision.ops")
DETECTORS = sorted(list_models(kind="detection"))


def random_boxes(n: int, seed: int, side: float = 100.0) -> tuple[torch.Tensor, torch.Tensor]:
    """n boxes crowded into a (side x side) image, so many overlap, and distinct scores."""
    g = torch.Generator().manual_seed(seed)
    corner = torch.rand(n, 2, generator=g) * side * 0.7
    size = 5 + torch.rand(n, 2, generator=g) * side * 0.3
    boxes = torch.cat([corner, corner + size], dim=1)
    return boxes, torch.rand(n, generator=g)


def test_box_iou_equals_torchvision() -> None:
    a, _ = random_boxes(30, seed=1)
    b, _ = random_boxes(20, seed=2)
    torch.testing.assert_close(box_iou(a, b), ops.box_iou(a, b))
    assert box_iou(a[:1], a[:1]).item() == pytest.approx(1.0)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_equals_torchvision(threshold: float, seed: int) -> None:
    boxes, scores = random_boxes(200, seed)
    ours, theirs = nms(boxes, scores, threshold), ops.nms(boxes, scores, threshold)
    assert 0 < len(ours) <= len(boxes)
    assert torch.equal(ours, theirs)  # the same boxes, in the same (score) order


def test_nms_keeps_everything_when_nothing_overlaps_and_drops_a_duplicate() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = torch.tensor([0.5, 0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]  # box 0 duplicates the better box 2


def test_batched_nms_equals_torchvision_and_keeps_classes_apart() -> None:
    boxes, scores = random_boxes(150, seed=3)
    classes = torch.randint(0, 4, (150,), generator=torch.Generator().manual_seed(3))
    ours = batched_nms(boxes, scores, classes, 0.5)
    assert torch.equal(ours, ops.batched_nms(boxes, scores, classes, 0.5))
    same = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10.0]])
    two = batched_nms(same, torch.tensor([0.9, 0.8]), torch.tensor([1, 2]), 0.5)
    assert sorted(two.tolist()) == [0, 1]  # identical boxes of two classes both stay
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).numel() == 0


def two_images(size: int) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, size, size, generator=g) for _ in range(2)]
    targets = [
        {"boxes": torch.tensor([[4.0, 6.0, 40.0, 44.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[10.0, 8.0, 30.0, 20.0], [32, 30, 60, 62]]),
         "labels": torch.tensor([2, 1])},
    ]  # fmt: skip
    return images, targets


def test_the_zoo_lists_every_detector() -> None:
    assert {"fasterrcnn_mobilenet_v2", "ssdlite_mobilenet_v2", "centernet_mobilenet_v2"} <= set(
        DETECTORS
    )


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_trains_one_step_and_predicts_boxes_in_the_image(name: str) -> None:
    size = 64
    model = create_model(name, num_classes=3, weights=None, image_size=size)
    images, targets = two_images(size)
    model.train()
    losses = model(images, targets)
    assert losses and all(v.ndim == 0 and torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    learning = [p for p in model.parameters() if p.requires_grad]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learning)
    model.eval()
    with torch.no_grad():
        found = model(images)
    assert len(found) == 2
    for detections in found:
        k = len(detections["scores"])
        assert detections["boxes"].shape == (k, 4) and detections["labels"].shape == (k,)
        if k:
            assert detections["boxes"].min() >= 0 and detections["boxes"].max() <= size
            assert set(detections["labels"].tolist()) <= {1, 2}  # never the background


def pretrained_or_skip(name: str, **options: object) -> torch.nn.Module:
    from nnatlas.models.pretrained import weight_source

    try:
        weight_source("mobilenet_v2").locate()
    except Exception as err:  # the optional extra is not installed
        pytest.skip(f"ImageNet MobileNetV2 weights absent: {err}")
    return create_model(name, weights="pretrained", **options)


@pytest.mark.parametrize("name", DETECTORS)
def test_a_frozen_pretrained_trunk_learns_nothing_until_its_epoch(name: str) -> None:
    model = pretrained_or_skip(name, num_classes=2, image_size=64, freeze_epochs=1)
    before = {k: v.clone() for k, v in model.trunk.state_dict().items()}
    model.set_epoch(0)
    model.train()
    assert not any(p.requires_grad for p in model.trunk.parameters())
    images, targets = two_images(64)
    targets = [{**t, "labels": torch.ones_like(t["labels"])} for t in targets]
    sum(model(images, targets).values()).backward()
    for key, value in model.trunk.state_dict().items():  # BatchNorm statistics included
        assert torch.equal(value, before[key]), key
    model.set_epoch(1)
    model.train()
    assert all(p.requires_grad for p in model.trunk.parameters())
    groups = model.parameter_groups(0.1)
    assert [len(g["params"]) for g in groups][1] == len(list(model.trunk.parameters()))


def test_centernet_targets_peak_at_the_box_centre_and_decode_back_to_the_box() -> None:
    """Maps built from the assigned targets (a sure peak, the true size and offset) decode to
    the true boxes: assignment and decoding use the same geometry."""
    size = 64
    model = CenterNet(num_classes=3, weights=None, image_size=size).eval()
    _, targets = two_images(size)
    grid = size // STRIDE
    heat, cells, sizes, offsets = model.assign(targets, (grid, grid))
    assert heat.shape == (2, 2, grid, grid) and cells.shape == (3, 3)
    for (n, y, x), target_label in zip(cells.tolist(), [1, 2, 1], strict=True):
        assert heat[n, target_label - 1, y, x] == 1.0
    assert heat.eq(1.0).sum() == 3  # one peak per object
    logits = torch.where(heat.eq(1.0), torch.tensor(20.0), torch.tensor(-20.0))
    size_map, offset_map = torch.zeros(2, 2, grid, grid), torch.zeros(2, 2, grid, grid)
    for (n, y, x), wh, off in zip(cells.tolist(), sizes, offsets, strict=True):
        size_map[n, :, y, x], offset_map[n, :, y, x] = wh, off
    decoded = model.decode(logits, size_map, offset_map)
    for found, target in zip(decoded, targets, strict=True):
        order = torch.argsort(found["boxes"][:, 0])
        truth = torch.argsort(target["boxes"][:, 0])
        torch.testing.assert_close(found["boxes"][order], target["boxes"][truth])
        assert torch.equal(found["labels"][order], target["labels"][truth])


def test_centernet_refuses_training_without_targets_and_a_size_off_the_grid() -> None:
    model = CenterNet(num_classes=2, weights=None, image_size=64).train()
    with pytest.raises(ValueError, match="needs targets"):
        model([torch.rand(3, 64, 64)])
    with pytest.raises(ValueError, match="multiple of 16"):
        CenterNet(num_classes=2, weights=None, image_size=70)
