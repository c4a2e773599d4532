"""A small anchor-free detector written to be read: CenterNet ("Objects as Points", Zhou, Wang
& Krähenbühl 2019, arXiv 1904.07850) on the MobileNetV2 trunk.

An object is the peak of a heatmap at its box's centre, plus the box's size read at that peak.

**Network.** The trunk's stride-16 map (96 channels) is upsampled 2x and joined with its
stride-8 map (32 channels); a 3x3 convolution mixes them into 64 channels at stride 8 (a
256 px image gives a 32x32 grid). Three small heads read every cell: ``heatmap`` (C channels,
one per class, a sigmoid probability that an object of that class is centred there), ``size``
(2: the box's width and height, in grid cells) and ``offset`` (2: where in its cell the centre
lies, 0..1, which the stride-8 grid rounds away).

**Target assignment.** Each true box of class c, centre (cx, cy) / 8 on the grid, owns the
cell p = floor(centre). The heatmap target of class c is a Gaussian around p with a standard
deviation proportional to the box's width and height (TTFNet's elliptical Gaussian, Liu et al.
2019, arXiv 1909.00700: sigma = ALPHA * side / 6), the element-wise maximum where two boxes of
one class overlap; 1 exactly at p. Size and offset targets exist at p only: (w, h) / 8 and
centre - p.

**Loss.** Heatmap: the penalty-reduced focal loss of CornerNet (Law & Deng 2018, arXiv
1808.01244) with alpha = 2, beta = 4: at a peak, -(1 - p)^2 log p; elsewhere
-(1 - y)^4 p^2 log(1 - p), so cells near a centre (y close to 1) are barely punished for firing,
and the many easy background cells add little (the (p)^2 factor). Summed and divided by the
number of objects. Size and offset: L1 at the peaks, divided by the number of objects; size
weighted 0.1 as in the paper (its values are larger).

**Decoding and non-maximum suppression.** A cell is a detection when its heatmap value is the
maximum of its 3x3 neighbourhood (a max-pool comparison: CenterNet's NMS-free "peak
extraction"); the ``top_k`` highest peaks over all classes become boxes centre + offset ±
size / 2, scaled back to pixels. Two neighbouring cells can both peak on one object when its
Gaussian is flat, so a class-wise greedy NMS (:func:`nnatlas.models.box_ops.batched_nms`,
IoU > ``nms_iou`` suppressed) removes such duplicates last.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnatlas.models.box_ops import batched_nms
from nnatlas.models.detection_backbone import (
    STRIDE8_BLOCKS,
    STRIDE8_CHANNELS,
    STRIDE16_CHANNELS,
    TrunkSchedule,
    mobilenet_trunk,
    stack_images,
)
from nnatlas.models.detectors import _inputs
from nnatlas.models.registry import register_model

STRIDE = 8
ALPHA = 0.54  # TTFNet's Gaussian: sigma = ALPHA * side / 6
HEATMAP_PRIOR = 0.1  # initial heatmap probability everywhere (the paper's bias -2.19)
SIZE_WEIGHT = 0.1


def _head(channels: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(channels, out, 1))  # fmt: skip


class CenterNet(TrunkSchedule, nn.Module):
    """CenterNet on the MobileNetV2 trunk (see the module's docstring). NumPy twin: none yet.

    Args:
        num_classes: classes including the background (the dataset's + 1), as torchvision's
            detectors count them; heatmap channel c - 1 is label c.
        weights: ``"pretrained"`` (ImageNet, offline), a weight file, or ``None`` (random).
        image_size: the square image side (a multiple of 16).
        freeze_epochs, backbone_lr: the trunk's schedule (:class:`TrunkSchedule`).
        width: channels of the neck and heads.
        top_k: peaks decoded per image.
        score_threshold: detections below this heatmap score are dropped.
        nms_iou: the class-wise NMS threshold of the last step.

    Shape:
        images: [(3, H, W)] * N in [0, 1] -> losses {"loss_heatmap", "loss_size",
        "loss_offset"} in training; [{"boxes" (K, 4), "labels" (K,), "scores" (K,)}] * N in eval
    """

    def __init__(
        self, num_classes: int = 2, weights: str | None = "pretrained", image_size: int = 256,
        freeze_epochs: int = 0, backbone_lr: float = 1.0, width: int = 64, top_k: int = 100,
        score_threshold: float = 0.01, nms_iou: float = 0.5,
    ) -> None:  # fmt: skip
        super().__init__()
        if image_size % 16:
            raise ValueError(f"CenterNet: image_size must be a multiple of 16, got {image_size}")
        self.trunk = mobilenet_trunk(weights)
        self.neck = nn.Sequential(
            nn.Conv2d(STRIDE8_CHANNELS + STRIDE16_CHANNELS, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.heatmap = _head(width, num_classes - 1)
        self.size = _head(width, 2)
        self.offset = _head(width, 2)
        nn.init.constant_(self.heatmap[-1].bias, -torch.log(torch.tensor(1 / HEATMAP_PRIOR - 1)))
        self.num_classes, self.image_size = num_classes, image_size
        self.top_k, self.score_threshold, self.nms_iou = top_k, score_threshold, nms_iou
        self.setup_schedule(freeze_epochs, backbone_lr, weights is not None)

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shape: x (N, 3, H, W) normalized -> heatmap logits (N, C, H/8, W/8), size and
        offset (N, 2, H/8, W/8)."""
        s8 = self.trunk[:STRIDE8_BLOCKS](x)  # (N, 32, H/8, W/8)
        s16 = self.trunk[STRIDE8_BLOCKS:](s8)  # (N, 96, H/16, W/16)
        up = F.interpolate(s16, size=s8.shape[-2:], mode="nearest")
        z = self.neck(torch.cat([s8, up], dim=1))  # (N, width, H/8, W/8)
        return self.heatmap(z), self.size(z), self.offset(z)

    def forward(self, images, targets=None):
        x = stack_images(images)
        logits, size, offset = self.maps(x)
        if self.training:
            if targets is None:
                raise ValueError("CenterNet in training mode needs targets")
            return self.loss(logits, size, offset, targets)
        return self.decode(logits, size, offset)

    # -- target assignment and loss --------------------------------------------------------------
    def assign(
        self, targets: list[dict[str, torch.Tensor]], shape: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training targets on the grid (see the module's docstring).

        Returns:
            heatmap (N, C, h, w) in [0, 1]; and for the M objects of the batch: their cells
            ``(image, y, x)`` as (M, 3) int64, size (M, 2) and offset (M, 2) targets.
        """
        h, w = shape
        heat = torch.zeros(len(targets), self.num_classes - 1, h, w)
        ys, xs = torch.arange(h).float()[:, None], torch.arange(w).float()[None, :]
        cells, sizes, offsets = [], [], []
        for n, target in enumerate(targets):
            for box, label in zip(target["boxes"].cpu(), target["labels"].cpu(), strict=True):
                grid = box / STRIDE
                cx, cy = (grid[0] + grid[2]) / 2, (grid[1] + grid[3]) / 2
                bw, bh = (grid[2] - grid[0]).clamp(min=1e-3), (grid[3] - grid[1]).clamp(min=1e-3)
                px, py = cx.floor().clamp(0, w - 1), cy.floor().clamp(0, h - 1)
                sx, sy = (ALPHA * bw / 6).clamp(min=0.5), (ALPHA * bh / 6).clamp(min=0.5)
                gauss = torch.exp(-((xs - px) ** 2) / (2 * sx**2) - (ys - py) ** 2 / (2 * sy**2))
                c = int(label) - 1
                heat[n, c] = torch.maximum(heat[n, c], gauss)  # 1 exactly at (py, px)
                cells.append([n, int(py), int(px)])
                sizes.append([bw, bh])
                offsets.append([cx - px, cy - py])
        cells_t = torch.tensor(cells, dtype=torch.int64).reshape(-1, 3)
        return (
            heat,
            cells_t,
            torch.tensor(sizes).reshape(-1, 2),
            torch.tensor(offsets).reshape(-1, 2),
        )

    def loss(self, logits, size, offset, targets) -> dict[str, torch.Tensor]:
        """Focal heatmap loss and L1 size and offset losses (see the module's docstring)."""
        heat, cells, size_t, offset_t = self.assign(targets, tuple(logits.shape[-2:]))
        heat = heat.to(logits.device)
        p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
        peak = heat.eq(1.0).float()
        pos = -((1 - p) ** 2) * torch.log(p) * peak
        neg = -((1 - heat) ** 4) * p**2 * torch.log(1 - p) * (1 - peak)
        objects = max(len(cells), 1)
        n, y, x = cells.T.to(logits.device)
        size_p = size[n, :, y, x]  # (M, 2) at the objects' cells
        offset_p = offset[n, :, y, x]
        return {
            "loss_heatmap": (pos.sum() + neg.sum()) / objects,
            "loss_size": SIZE_WEIGHT
            * F.l1_loss(size_p, size_t.to(size), reduction="sum")
            / objects,
            "loss_offset": F.l1_loss(offset_p, offset_t.to(offset), reduction="sum") / objects,
        }

    # -- decoding ----------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, logits, size, offset) -> list[dict[str, torch.Tensor]]:
        """Peaks -> boxes in pixels, then class-wise NMS (see the module's docstring)."""
        scores_map = torch.sigmoid(logits)  # (N, C, h, w)
        peaks = scores_map == F.max_pool2d(scores_map, 3, stride=1, padding=1)
        scores_map = scores_map * peaks
        n_img, classes, h, w = scores_map.shape
        results = []
        for i in range(n_img):
            flat = scores_map[i].reshape(-1)  # (C * h * w,)
            k = min(self.top_k, flat.numel())
            scores, index = flat.topk(k)
            keep = scores > self.score_threshold
            scores, index = scores[keep], index[keep]
            label = index // (h * w)
            y, x = (index % (h * w)) // w, index % w
            cx = x.float() + offset[i, 0, y, x]
            cy = y.float() + offset[i, 1, y, x]
            bw, bh = size[i, 0, y, x].clamp(min=0), size[i, 1, y, x].clamp(min=0)
            boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * STRIDE
            boxes = boxes.clamp(0, self.image_size)
            kept = batched_nms(boxes.cpu(), scores.cpu(), label.cpu(), self.nms_iou)
            kept = kept.to(boxes.device)
            results.append(
                {"boxes": boxes[kept], "labels": label[kept] + 1, "scores": scores[kept]}
            )
        return results


@register_model(family="detection", kind="detection", default_input=(3, 256, 256),
                fits=("num_classes", "image_size"), inputs=_inputs)  # fmt: skip
def centernet_mobilenet_v2(**kwargs: object) -> CenterNet:
    """CenterNet: the project's anchor-free detector, on a MobileNetV2 trunk."""
    return CenterNet(**kwargs)  # type: ignore[arg-type]
