"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document
recognition"), twin of the scratch ``LeNet5``; keys follow docs/LAYOUTS.md.

Two variants share one layout:

- ``"1998"``: tanh and average pooling, as the paper's squashing function and subsampling layers.
  Simplified the usual way: plain tanh instead of 1.7159 tanh(2a/3), AvgPool2d instead of the
  trainable-coefficient subsampling, full C3 connectivity instead of the paper's partial table,
  and a Linear output instead of the Euclidean RBF units.
- ``"modern"``: ReLU and max pooling, which train faster with SGD (the usual textbook LeNet).
"""

from __future__ import annotations

import torch
from torch import nn

from nnatlas.models.base import VisionModel, check_image_input
from nnatlas.models.registry import register_model

VARIANTS = {"modern": (nn.ReLU, nn.MaxPool2d), "1998": (nn.Tanh, nn.AvgPool2d)}
INPUT_SIZES = (28, 32)  # 28 px images get a 2-pixel pad on the first conv, as the paper's 32


class LeNet5(VisionModel):
    """LeNet-5 for 28x28 (MNIST) or 32x32 (the paper's padded digits) images.

    Args:
        num_classes: number of outputs.
        in_chans: image channels.
        input_size: 28 or 32. The paper fed 32x32 images (28x28 digits centred with a 2-pixel
            border); for 28x28 inputs conv1 pads by 2 instead, so the feature maps keep the
            paper's sizes 28 -> 14 -> 10 -> 5.
        variant: "modern" (ReLU + MaxPool2d) or "1998" (Tanh + AvgPool2d).

    Shape:
        x: (N, in_chans, input_size, input_size) -> (N, num_classes)

    NumPy twin: nnatlas.scratch.models.lenet.LeNet5, both variants.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        input_size: int = 28,
        variant: str = "modern",
    ) -> None:
        super().__init__()
        if input_size not in INPUT_SIZES:
            raise ValueError(
                f"LeNet5: input_size must be 28 or 32, got {input_size}; resize images"
            )
        if variant not in VARIANTS:
            raise ValueError(f"LeNet5: variant must be one of {list(VARIANTS)}, got {variant!r}")
        act, pool = VARIANTS[variant]
        padding = 2 if input_size == 28 else 0
        self.in_chans, self.input_size, self.variant = in_chans, input_size, variant
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 6, 5, padding=padding),  # C1: (N, 6, 28, 28)
            act(),
            pool(2),  # S2: (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5),  # C3: (N, 16, 10, 10)
            act(),
            pool(2),  # S4: (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),  # C5 (a 5x5 conv on a 5x5 map == a Linear)
            act(),
            nn.Linear(120, 84),  # F6: 84 units, the paper's 7x12 bitmap size
            act(),
            nn.Linear(84, num_classes),
        )
        self.num_classes, self.num_features, self.head_name = num_classes, 84, "classifier.4"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, S, S) -> (N, 16, 5, 5)."""
        check_image_input("LeNet5", x, self.in_chans)
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"LeNet5: built for {self.input_size}x{self.input_size} inputs, got "
                f"{tuple(x.shape[-2:])}; build it with input_size={x.shape[-1]} (28 or 32)"
            )
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, 16, 5, 5) -> (N, num_classes) (or (N, 84) with pre_logits)."""
        x = torch.flatten(x, 1)  # (N, 400)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


@register_model(
    family="lenet",
    default_input=(1, 28, 28),
    fits=("num_classes", "in_chans", "input_size"),
    scratch_twin="nnatlas.scratch.models.lenet:LeNet5",
    input_sizes=INPUT_SIZES,
)
def lenet5(num_classes: int = 10, in_chans: int = 1, **kwargs: object) -> LeNet5:
    """LeNet-5, modern (ReLU + max pooling) unless variant="1998"."""
    return LeNet5(num_classes=num_classes, in_chans=in_chans, **kwargs)  # type: ignore[arg-type]


@register_model(
    family="lenet",
    default_input=(1, 28, 28),
    fits=("num_classes", "in_chans", "input_size"),
    scratch_twin="nnatlas.scratch.models.lenet:LeNet5",
    input_sizes=INPUT_SIZES,
)
def lenet5_1998(num_classes: int = 10, in_chans: int = 1, **kwargs: object) -> LeNet5:
    """LeNet-5 as in 1998: tanh and average pooling."""
    kwargs.setdefault("variant", "1998")
    return LeNet5(num_classes=num_classes, in_chans=in_chans, **kwargs)  # type: ignore[arg-type]
