"""Multilayer perceptron, the first network of the path.

Twin of the zoo's ``mlp``, with the keys of docs/LAYOUTS.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnatlas.scratch.activations import ACTIVATIONS, get_activation
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError, check_ndim
from nnatlas.scratch.sequential import Sequential


class MLP(Module):
    """Per hidden layer Linear [-> BatchNorm1d] -> activation [-> Dropout], then a Linear head.

    The module tree equals the PyTorch zoo's ``mlp``, so the state_dict keys match
    (``features.0.weight``, ..., ``head.bias``) and weights move with
    :mod:`nnatlas.bridge.transfer`.

    Args:
        in_features: values per example after flattening (e.g. 784 for 28x28 images).
        num_classes: outputs (logits) per example.
        hidden_sizes: widths of the hidden layers, in order (at least one).
        activation: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"`` or ``"leaky_relu"``.
        dropout: drop probability after each activation (0 adds no Dropout layer).
        batchnorm: add BatchNorm1d after each hidden Linear.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights and the dropout masks.

    Shape:
        x: (N, *) with prod(*) == in_features -> (N, num_classes)

    See: nnatlas.models.mlp.MLP (the zoo's ``mlp``). Check:
    ``nnatlas check "MLP (scratch model, cross-entropy, SGD step)"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_sizes: Sequence[int] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if not hidden_sizes:
            raise ValueError("MLP: hidden_sizes needs at least one width, e.g. (256, 128)")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        rng = rng if rng is not None else default_generator()
        # The constructor arguments, kept so a twin (nnatlas.bridge.zoo) can rebuild the model.
        self.in_features, self.num_classes = in_features, num_classes
        self.hidden_sizes, self.activation = tuple(hidden_sizes), activation
        self.dropout_p, self.batchnorm = dropout, batchnorm
        layers: list[Module] = []
        prev = in_features
        for width in hidden_sizes:
            layers.append(Linear(prev, width, dtype=dtype, rng=rng))
            if batchnorm:
                layers.append(BatchNorm1d(width, dtype=dtype))
            layers.append(get_activation(activation))
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng))
            prev = width
        self.features = Sequential(*layers)
        self.head = Linear(prev, num_classes, dtype=dtype, rng=rng)
        self._name_children()

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_ndim(
            self, x, f"(N, *) with {self.in_features} values per example", tuple(range(2, 8))
        )
        flat = x.reshape(x.shape[0], -1)  # (N, in_features)
        if flat.shape[1] != self.in_features:
            raise ShapeError(
                f"{self.layer_name}: expected (N, *) with {self.in_features} values per example, "
                f"got {x.shape} ({flat.shape[1]} values)"
            )
        self._cache = x.shape
        return self.head(self.features(flat))  # (N, num_classes)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        grad = self.features.backward(self.head.backward(grad_out))  # (N, in_features)
        return grad.reshape(self._cache)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_classes={self.num_classes}"
