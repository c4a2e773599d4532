"""The interface every vision model of the zoo shares (timm's): features, head, classifier reset.

``forward(x) == forward_head(forward_features(x))``; transfer learning replaces the last Linear
with :meth:`VisionModel.reset_classifier` and freezes or fine-tunes the rest.
"""

from __future__ import annotations

import torch
from torch import nn


class VisionModel(nn.Module):
    """Base class of the zoo's image classifiers.

    Subclasses set ``num_classes``, ``num_features`` (the width entering the final Linear) and
    ``head_name`` (the dotted name of that Linear, e.g. ``"fc"`` or ``"classifier.6"``), and
    implement :meth:`forward_features` and :meth:`forward_head`.

    NumPy twin: none yet (a base class: each subclass names its own).
    """

    num_classes: int
    num_features: int
    head_name: str

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone output (a feature map for CNNs, a vector for the MLP)."""
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooling and classifier on :meth:`forward_features`' output.

        Args:
            x: the features.
            pre_logits: return the (N, num_features) input of the final Linear instead of logits.
        """
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, C, H, W) -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear (or ``nn.Identity`` after ``reset_classifier(0)``)."""
        return self.get_submodule(self.head_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final Linear by a freshly initialised one with ``num_classes`` outputs.

        ``num_classes=0`` puts ``nn.Identity`` there, so ``forward`` returns the pooled features
        (timm's convention). The new layer lives on the old one's device and dtype.
        """
        if num_classes < 0:
            raise ValueError(f"reset_classifier: num_classes must be >= 0, got {num_classes}")
        ref = next(self.parameters())
        head: nn.Module = (
            nn.Linear(self.num_features, num_classes, device=ref.device, dtype=ref.dtype)
            if num_classes > 0
            else nn.Identity()
        )
        self.set_submodule(self.head_name, head)
        self.num_classes = num_classes


def check_image_input(model: str, x: torch.Tensor, in_chans: int) -> None:
    """Raise a ValueError naming ``model`` unless ``x`` is (N, in_chans, H, W)."""
    if x.ndim != 4 or x.shape[1] != in_chans:
        raise ValueError(
            f"{model}: expected input (N, {in_chans}, H, W), got shape {tuple(x.shape)}; "
            f"build the model with in_chans={x.shape[1] if x.ndim == 4 else '?'} "
            "or convert the images"
        )
