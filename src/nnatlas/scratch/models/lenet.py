"""LeNet-5 in NumPy (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to
document recognition"). Twin of ``nnatlas.models.lenet.LeNet5``: the same module tree, so the
state_dict keys (``features.0.weight`` ... ``classifier.4.bias``) are equal (docs/LAYOUTS.md).

Two variants share one layout:

- ``"1998"``: tanh and average pooling, the paper's squashing function and subsampling layers
  (simplified as usual: plain tanh, AvgPool2d without trainable coefficients, full C3
  connectivity, a Linear output instead of RBF units);
- ``"modern"``: ReLU and max pooling, which train faster.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import ReLU, Tanh
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.pooling import AvgPool2d, MaxPool2d
from nnatlas.scratch.sequential import Sequential

VARIANTS = {"modern": (ReLU, MaxPool2d), "1998": (Tanh, AvgPool2d)}


class LeNet5(Module):
    """LeNet-5 for 28x28 (MNIST-like) or 32x32 (the paper's padded digits) images.

    Args:
        num_classes: number of outputs.
        in_chans: image channels.
        input_size: 28 or 32. The paper fed 32x32 images; for 28x28 inputs conv1 pads by 2
            instead, so the feature maps keep the paper's sizes 28 -> 14 -> 10 -> 5.
        variant: "modern" (ReLU + MaxPool2d) or "1998" (Tanh + AvgPool2d).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights (PyTorch's default init per layer).

    Shape:
        x: (N, in_chans, input_size, input_size) -> (N, num_classes)

    See: nnatlas.models.lenet.LeNet5 (``lenet5``, ``lenet5_1998``). Check:
    ``nnatlas check "LeNet5(modern)"``. Tests: tests/scratch/test_conv_models.py.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        input_size: int = 28,
        variant: str = "modern",
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(
                f"LeNet5: input_size must be 28 or 32, got {input_size}; resize images"
            )
        if variant not in VARIANTS:
            raise ValueError(f"LeNet5: variant must be one of {list(VARIANTS)}, got {variant!r}")
        rng = rng if rng is not None else default_generator()
        act, pool = VARIANTS[variant]
        padding = 2 if input_size == 28 else 0
        self.num_classes, self.in_chans = num_classes, in_chans
        self.input_size, self.variant = input_size, variant
        kw = {"dtype": dtype, "rng": rng}
        self.features = Sequential(
            Conv2d(in_chans, 6, 5, padding=padding, **kw),  # C1: (N, 6, 28, 28)
            act(),
            pool(2),  # S2: (N, 6, 14, 14)
            Conv2d(6, 16, 5, **kw),  # C3: (N, 16, 10, 10)
            act(),
            pool(2),  # S4: (N, 16, 5, 5)
        )
        self.classifier = Sequential(
            Linear(16 * 5 * 5, 120, **kw),  # C5 (a 5x5 conv on a 5x5 map == a Linear)
            act(),
            Linear(120, 84, **kw),  # F6: 84 units, the paper's 7x12 bitmap size
            act(),
            Linear(84, num_classes, **kw),
        )
        self.num_features = 84
        self._name_children()  # errors then say "Conv2d (features.3)"

    def forward_features(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, S, S) -> (N, 16, 5, 5)."""
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ShapeError(
                f"LeNet5: expected input (N, {self.in_chans}, {self.input_size}, "
                f"{self.input_size}), got {getattr(x, 'shape', type(x).__name__)}"
            )
        if x.shape[2:] != (self.input_size, self.input_size):
            raise ShapeError(
                f"LeNet5: built for {self.input_size}x{self.input_size} inputs, got "
                f"{x.shape[2]}x{x.shape[3]}; build it with input_size={x.shape[3]} (28 or 32)"
            )
        return self.features(x)

    def forward_head(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, 16, 5, 5) -> (N, num_classes)."""
        self._cache = x.shape
        return self.classifier(x.reshape(x.shape[0], -1))  # (N, 400) -> (N, num_classes)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, S, S) -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out: (N, num_classes) -> (N, C, S, S) (None when conv1 skips it)."""
        if self._cache is None:
            raise RuntimeError("LeNet5: backward called before forward")
        grad = self.classifier.backward(grad_out).reshape(self._cache)  # (N, 16, 5, 5)
        return self.features.backward(grad)
