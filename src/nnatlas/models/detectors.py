"""torchvision's detectors on the MobileNetV2 trunk: Faster R-CNN (two stages) and SSDlite
(one stage), sized for small images on a CPU.

Both take and return what torchvision's detectors do: ``model(images, targets)`` in training
mode gives a dict of losses; ``model(images)`` in eval mode gives one dict per image with
``boxes`` (K, 4) x1, y1, x2, y2 pixels, ``labels`` (K,) (1-based, 0 is the background) and
``scores`` (K,). Images are lists of (3, H, W) floats in [0, 1]; the model normalizes them with
ImageNet's statistics and, being built for one ``image_size``, does not resize them.

Faster R-CNN (Ren et al. 2015, arXiv 1506.01497) settings, changed from torchvision's defaults
for 256 px images with a few objects: anchors of 1/16 to 1/2 of the image side in three aspect
ratios on the stride-16 map; 600 / 300 region proposals before / after NMS in training (2000 /
2000 by default) and 300 / 100 in testing, 128 sampled per image for the box head (512); a box
head of two 256-wide layers on the 7x7x96 pooled features (1024 wide by default). Measured on
this CPU: 0.03 s per 256 px image and step with the trunk frozen, 0.1-0.3 s with it learning.
"""

from __future__ import annotations

from torch import nn

from nnatlas.models.detection_backbone import (
    IMAGENET,
    STRIDE16_CHANNELS,
    TrunkSchedule,
    mobilenet_trunk,
)
from nnatlas.models.registry import register_model


def _inputs(options: dict) -> dict:
    """What the pretrained weights expect: the detector normalizes inside, so only the source."""
    weights = options.get("weights", "pretrained")
    return {"source": "ImageNet MobileNetV2 weights"} if weights else {}


class _TrunkFeatures(nn.Module):
    """The trunk as torchvision's detectors want a backbone: a dict of maps, ``out_channels``.
    NumPy twin: none yet."""

    def __init__(self, trunk: nn.Sequential) -> None:
        super().__init__()
        self.trunk = trunk
        self.out_channels = STRIDE16_CHANNELS

    def forward(self, x):  # (N, 3, H, W) -> {"0": (N, 96, H/16, W/16)}
        return {"0": self.trunk(x)}


class FasterRCNNMobileNet(TrunkSchedule, nn.Module):
    """torchvision's FasterRCNN on the MobileNetV2 trunk (see the module's docstring).
    NumPy twin: none yet.

    Args:
        num_classes: classes including the background (the dataset's + 1).
        weights: ``"pretrained"`` (ImageNet, offline), a weight file, or ``None`` (random).
        image_size: the square image side it is built for.
        freeze_epochs: epochs the trunk stays frozen before it is fine-tuned.
        backbone_lr: the trunk's rate as a multiple of the rest's, once it learns.

    Shape:
        images: [(3, image_size, image_size)] * N -> losses, or [{"boxes", "labels", "scores"}]
    """

    def __init__(
        self, num_classes: int = 2, weights: str | None = "pretrained", image_size: int = 256,
        freeze_epochs: int = 0, backbone_lr: float = 1.0,
    ) -> None:  # fmt: skip
        from torchvision.models.detection import FasterRCNN
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
        from torchvision.models.detection.rpn import AnchorGenerator
        from torchvision.ops import MultiScaleRoIAlign

        super().__init__()
        trunk = mobilenet_trunk(weights)
        sizes = tuple(max(4, round(image_size * f)) for f in (1 / 16, 1 / 8, 1 / 4, 1 / 2))
        self.detector = FasterRCNN(
            _TrunkFeatures(trunk),
            num_classes=None,
            rpn_anchor_generator=AnchorGenerator((sizes,), ((0.5, 1.0, 2.0),)),
            box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
            box_head=TwoMLPHead(STRIDE16_CHANNELS * 7 * 7, 256),
            box_predictor=FastRCNNPredictor(256, num_classes),
            min_size=image_size, max_size=image_size,
            image_mean=list(IMAGENET[0]), image_std=list(IMAGENET[1]),
            rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
            rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
            box_batch_size_per_image=128, box_score_thresh=0.01,
        )  # fmt: skip
        self.num_classes, self.image_size = num_classes, image_size
        self.setup_schedule(freeze_epochs, backbone_lr, weights is not None)

    @property
    def trunk(self) -> nn.Sequential:  # one module, one set of state_dict keys
        return self.detector.backbone.trunk

    def forward(self, images, targets=None):
        return self.detector(images, targets)


class SSDLiteMobileNet(TrunkSchedule, nn.Module):
    """torchvision's SSD with SSDlite heads (Sandler et al. 2018, arXiv 1801.04381, section
    6.2) on the MobileNetV2 trunk: the stride-16 map and three extra depthwise-separable
    stages (stride 32, 64, 128), default boxes of 0.2 to 0.95 of the image side. NumPy twin:
    none yet.

    Args: as :class:`FasterRCNNMobileNet`.
    """

    def __init__(
        self, num_classes: int = 2, weights: str | None = "pretrained", image_size: int = 256,
        freeze_epochs: int = 0, backbone_lr: float = 1.0,
    ) -> None:  # fmt: skip
        from functools import partial

        from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
        from torchvision.models.detection.ssd import SSD
        from torchvision.models.detection.ssdlite import SSDLiteHead, _extra_block

        super().__init__()
        trunk = mobilenet_trunk(weights)
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
        widths = [STRIDE16_CHANNELS, 256, 128, 128]
        pairs = zip(widths[:-1], widths[1:], strict=True)
        extras = nn.ModuleList(_extra_block(a, b, norm) for a, b in pairs)
        backbone = _SSDFeatures(trunk, extras)
        anchors = DefaultBoxGenerator([[2, 3]] * len(widths), min_ratio=0.2, max_ratio=0.95)
        head = SSDLiteHead(widths, anchors.num_anchors_per_location(), num_classes, norm)
        self.detector = SSD(
            backbone, anchors, (image_size, image_size), num_classes, head=head,
            image_mean=list(IMAGENET[0]), image_std=list(IMAGENET[1]), score_thresh=0.01,
            topk_candidates=100, detections_per_img=100,
        )  # fmt: skip
        self.num_classes, self.image_size = num_classes, image_size
        self.setup_schedule(freeze_epochs, backbone_lr, weights is not None)

    @property
    def trunk(self) -> nn.Sequential:  # one module, one set of state_dict keys
        return self.detector.backbone.trunk

    def forward(self, images, targets=None):
        return self.detector(images, targets)


class _SSDFeatures(nn.Module):
    """The trunk and SSDlite's extra stages, as SSD wants them. NumPy twin: none yet."""

    def __init__(self, trunk: nn.Sequential, extras: nn.ModuleList) -> None:
        super().__init__()
        self.trunk, self.extras = trunk, extras

    def forward(self, x):  # (N, 3, H, W) -> maps at strides 16, 32, 64, 128
        maps = [self.trunk(x)]
        for block in self.extras:
            maps.append(block(maps[-1]))
        return {str(i): m for i, m in enumerate(maps)}


@register_model(family="detection", kind="detection", default_input=(3, 256, 256),
                fits=("num_classes", "image_size"), inputs=_inputs)  # fmt: skip
def fasterrcnn_mobilenet_v2(**kwargs: object) -> FasterRCNNMobileNet:
    """Faster R-CNN (torchvision) on a MobileNetV2 trunk."""
    return FasterRCNNMobileNet(**kwargs)  # type: ignore[arg-type]


@register_model(family="detection", kind="detection", default_input=(3, 256, 256),
                fits=("num_classes", "image_size"), inputs=_inputs)  # fmt: skip
def ssdlite_mobilenet_v2(**kwargs: object) -> SSDLiteMobileNet:
    """SSDlite (torchvision) on a MobileNetV2 trunk."""
    return SSDLiteMobileNet(**kwargs)  # type: ignore[arg-type]
