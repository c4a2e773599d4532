"""Box operations of the project's own detector: IoU and non-maximum suppression, in plain torch.

Non-maximum suppression (NMS) turns many overlapping detections of one object into one: sort
the boxes by score; keep the best; drop every remaining box whose IoU with it exceeds the
threshold; repeat with the best of what is left. The result equals ``torchvision.ops.nms``
(tests/models/test_detectors.py holds it); torchvision's is a compiled kernel, this one reads.
"""

from __future__ import annotations

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Shape: (N, 4) x1, y1, x2, y2 -> (N,)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every pair. Shape: (N, 4), (M, 4) -> (N, M)."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)  # (N, M)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union.clamp(min=torch.finfo(a.dtype).tiny)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression (see the module's docstring).

    Args:
        boxes: (N, 4) x1, y1, x2, y2.
        scores: (N,).
        iou_threshold: a box overlapping a kept one by more than this is dropped.

    Returns:
        (K,) int64 indices of the kept boxes, by decreasing score (as torchvision.ops.nms).
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])  # (N, N), rows and columns by score
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold  # i itself too (IoU 1): harmless, it is kept
    return order[torch.tensor(keep, dtype=torch.int64)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """NMS within each class only: boxes of different classes never suppress each other.

    The trick torchvision uses: shift each class's boxes by its own offset (larger than any
    coordinate), so boxes of two classes cannot overlap, and run one NMS.

    Shape: boxes (N, 4), scores (N,), classes (N,) -> kept indices (K,)
    """
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64)
    offsets = classes.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
