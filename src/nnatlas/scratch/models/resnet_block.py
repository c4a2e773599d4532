"""The ResNet basic block in NumPy (He, Zhang, Ren & Sun 2015, arXiv 1512.03385, Fig. 2).

Twin of the zoo's ``nnatlas.models.resnet.BasicBlock``, which is torchvision's
(``torchvision.models.resnet.BasicBlock``): the same names (``conv1``, ``bn1``, ``conv2``, ``bn2``,
and ``downsample.0``/``downsample.1`` when the shortcut needs a projection), so the state_dict
keys match both and weights load unchanged (docs/LAYOUTS.md).
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module
from nnatlas.scratch.sequential import Sequential


class BasicBlock(Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Args:
        in_channels: C_in.
        out_channels: C_out (the block's width; ``expansion`` is 1).
        stride: stride of conv1 (2 halves H and W).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights.

    The shortcut is the identity when the shape is kept; otherwise a 1x1 convolution with the
    block's stride plus BatchNorm (torchvision's ``downsample``, "option B" of the paper).
    The 3x3 convolutions have no bias: the BatchNorm that follows would cancel it.

    Shape:
        x: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)

    See: nnatlas.models.resnet.BasicBlock (torchvision's block and keys). Check:
    ``nnatlas check "BasicBlock"``. Tests: tests/scratch/test_conv_models.py.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        kw = {"bias": False, "dtype": dtype, "rng": rng}
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, **kw)
        self.bn1 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu1 = ReLU()  # torchvision reuses one ReLU; here each use keeps its own cache
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, **kw)
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu2 = ReLU()
        self.downsample: Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, **kw),
                BatchNorm2d(out_channels, dtype=dtype),
            )
        self._name_children()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x (N, C_in, H, W) -> (N, C_out, H', W')."""
        out = self.relu1(self.bn1(self.conv1(x)))  # (N, C_out, H', W')
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + identity)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out (N, C_out, H', W') -> (N, C_in, H, W)."""
        grad = self.relu2.backward(grad_out)  # flows into both branches of the sum
        grad_main = grad
        for layer in (self.bn2, self.conv2, self.relu1, self.bn1, self.conv1):  # forward reversed
            grad_main = layer.backward(grad_main)
        grad_short = grad if self.downsample is None else self.downsample.backward(grad)
        if grad_main is None:  # conv1.requires_input_grad is False
            return None
        return grad_main + grad_short
