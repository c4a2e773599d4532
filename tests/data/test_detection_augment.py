"""Boxes stay on their objects through every augmentation (flip, crop and scale, colour)."""

from __future__ import annotations

import pytest
import torch

from nnatlas.data.detection.augment import (
    BoxAugment,
    DetectionBatches,
    pad_targets,
    unpad,
)

SIZE = 64


def scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two white rectangles on black, and their boxes (x2, y2 exclusive)."""
    image = torch.zeros(3, SIZE, SIZE, dtype=torch.uint8)
    boxes = torch.tensor([[5.0, 10.0, 25.0, 20.0], [40.0, 30.0, 60.0, 58.0]])
    for x1, y1, x2, y2 in boxes.int().tolist():
        image[:, y1:y2, x1:x2] = 255
    return image, boxes, torch.tensor([1, 2])


def extent(image: torch.Tensor, box: torch.Tensor) -> list[int]:
    """The bright pixels' extent inside a box grown by 3 px (x1, y1, x2, y2)."""
    x1, y1 = (max(0, int(v) - 3) for v in box[:2])
    x2, y2 = (min(SIZE, int(v) + 4) for v in box[2:])
    ys, xs = torch.nonzero(image[0, y1:y2, x1:x2] > 127, as_tuple=True)
    return [x1 + int(xs.min()), y1 + int(ys.min()), x1 + int(xs.max()) + 1, y1 + int(ys.max()) + 1]


def test_a_flip_mirrors_the_boxes_exactly() -> None:
    image, boxes, labels = scene()
    flip = BoxAugment("light", SIZE)
    seen = set()
    for seed in range(8):
        torch.manual_seed(seed)
        out, out_boxes, out_labels = flip(image, boxes, labels)
        flipped = not torch.equal(out, image)
        seen.add(flipped)
        expected = boxes.clone()
        if flipped:
            expected[:, [0, 2]] = SIZE - boxes[:, [2, 0]]
        torch.testing.assert_close(out_boxes, expected)
        assert out_labels.tolist() == [1, 2]
        for box in out_boxes:
            assert extent(out, box) == [round(v) for v in box.tolist()]
    assert seen == {True, False}  # both branches were checked


@pytest.mark.parametrize("preset", ["standard", "strong"])
def test_crops_and_scale_jitter_keep_boxes_on_their_objects(preset: str) -> None:
    image, boxes, labels = scene()
    augment = BoxAugment(preset, SIZE)
    changed = 0
    for seed in range(12):
        torch.manual_seed(seed)
        out, out_boxes, out_labels = augment(image, boxes, labels)
        assert out.shape == (3, SIZE, SIZE) and out.dtype == torch.uint8
        assert len(out_boxes) == len(out_labels) and set(out_labels.tolist()) <= {1, 2}
        changed += not torch.allclose(out_boxes, boxes) and not torch.allclose(
            out_boxes[:, [0, 2]], SIZE - boxes[:, [2, 0]]
        )
        for box in out_boxes:
            # resampling blurs an edge by a pixel; a cut box ends at the crop's edge
            found = extent(out, box)
            assert all(abs(a - b) <= 1.5 for a, b in zip(found, box.tolist(), strict=True))
    assert changed >= 2  # some draws did crop and rescale


def test_padded_batches_round_trip_and_repeat_for_a_seed() -> None:
    image, boxes, labels = scene()
    b, l = pad_targets([boxes, boxes[:1]], [labels, labels[:1]])
    assert b.shape == (2, 2, 4) and l.tolist() == [[1, 2], [1, -1]]
    images, targets = unpad(torch.stack([image, image]), b, l)
    assert images[0].dtype == torch.float32 and float(images[0].max()) == 1.0
    torch.testing.assert_close(targets[1]["boxes"], boxes[:1])
    six = (torch.stack([image] * 6), torch.stack([b[0]] * 6), torch.stack([l[0]] * 6))
    loader = DetectionBatches(*six, 4, BoxAugment("standard", SIZE), seed=3)
    again = DetectionBatches(loader.images, loader.boxes, loader.labels, 4,
                             BoxAugment("standard", SIZE), seed=3)  # fmt: skip
    assert len(loader) == 2
    for first, second in zip(loader, again, strict=True):
        for x, y in zip(first, second, strict=True):
            torch.testing.assert_close(x, y)
