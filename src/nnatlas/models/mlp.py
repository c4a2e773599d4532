"""The multilayer perceptron: the first model of the path (ANN), twin of the scratch ``MLP``.

Layout (keys) follows docs/LAYOUTS.md so the NumPy twin loads this state_dict unchanged:
``features.{i}`` are Linear / BatchNorm1d / activation / Dropout in that order per hidden layer,
``head`` is the final Linear.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nnatlas.models.base import VisionModel
from nnatlas.models.registry import register_model

# Name -> layer; the scratch engine implements the same five with torch's defaults
# (LeakyReLU slope 0.01, exact erf GELU).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation layer for ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None


class MLP(VisionModel):
    """Fully connected classifier on flattened inputs.

    Args:
        in_features: size of one flattened example (784 for 28x28 grey images).
        num_classes: number of outputs.
        hidden_sizes: width of each hidden layer, in order (at least one).
        activation: "relu", "tanh", "sigmoid", "gelu" or "leaky_relu".
        dropout: drop probability after each activation (0 disables; no layer is added).
        batchnorm: insert BatchNorm1d between each Linear and its activation (Ioffe & Szegedy
            2015 normalise pre-activations).

    Shape:
        x: (N, *) with prod(*) == in_features -> (N, num_classes)

    NumPy twin: nnatlas.scratch.models.mlp.MLP.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_sizes: Sequence[int] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        if not hidden_sizes:
            raise ValueError("MLP: hidden_sizes needs at least one width; use a Linear otherwise")
        layers: list[nn.Module] = []
        prev = in_features
        for width in hidden_sizes:
            layers.append(nn.Linear(prev, width))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = width
        # The constructor arguments, kept so a twin (nnatlas.bridge.zoo) can rebuild the model.
        self.in_features, self.hidden_sizes = in_features, tuple(hidden_sizes)
        self.activation, self.dropout_p, self.batchnorm = activation, dropout, batchnorm
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(prev, num_classes)
        self.num_classes = num_classes
        self.num_features = prev
        self.head_name = "head"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x: (N, *) -> (N, hidden_sizes[-1])."""
        x = x.reshape(x.shape[0], -1)  # (N, in_features)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP: an example flattens to {x.shape[1]} values, expected in_features="
                f"{self.in_features}; build the MLP with in_features={x.shape[1]}"
            )
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, hidden_sizes[-1]) -> (N, num_classes)."""
        return x if pre_logits else self.head(x)


@register_model(
    family="mlp",
    default_input=(1, 28, 28),
    fits=("num_classes", "in_chans", "input_size", "in_features"),
    scratch_twin="nnatlas.scratch.models.mlp:MLP",
)
def mlp(
    num_classes: int = 10,
    in_chans: int = 1,
    input_size: int = 28,
    in_features: int | None = None,
    **kwargs: object,
) -> MLP:
    """Multilayer perceptron (default 784-256-128-10) on flattened images."""
    if in_features is None:
        in_features = in_chans * input_size * input_size
    return MLP(in_features, num_classes, **kwargs)  # type: ignore[arg-type]
