"""The ImageNet-style ResNets in NumPy (He, Zhang, Ren & Sun 2015, arXiv 1512.03385, Table 1):
ResNet-18/34 from basic blocks, ResNet-50 from bottleneck blocks (torchvision's v1.5, the
stride on the 3x3 convolution).

Twin of the zoo's ``nnatlas.models.resnet.ResNet``, which has torchvision's names: ``conv1``,
``bn1``, ``layer1`` ... ``layer4`` (each block ``conv1``/``bn1`` ... and ``downsample.0``/``.1``
for the projection shortcut), ``fc``; so the state_dict keys equal the zoo's and torchvision's
(docs/LAYOUTS.md) and pretrained weights load unchanged. The basic block is
:class:`nnatlas.scratch.models.resnet_block.BasicBlock`.

The NumPy engine is meant for small images: at 224x224 its im2col columns hold 9 copies of every
feature map (see :mod:`nnatlas.scratch.conv`). The twin exists to prove the architecture equal
and to run it on small inputs; train ImageNet-sized models with ``--engine torch``.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.resnet_block import BasicBlock
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.pooling import MaxPool2d
from nnatlas.scratch.sequential import Sequential


class Bottleneck(Module):
    """``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))``: a 1x1
    convolution to ``planes`` channels, a 3x3 with the block's stride, a 1x1 out to
    ``4 * planes``.

    Args:
        in_channels: C_in.
        planes: width of the middle 3x3 convolution; the block outputs ``4 * planes``.
        stride: stride of the 3x3 convolution (torchvision's v1.5; the paper strides conv1).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights.

    The shortcut is the identity when the shape is kept, otherwise ``downsample``: a 1x1
    convolution with the block's stride and a BatchNorm ("option B").

    Shape:
        x: (N, C_in, H, W) -> (N, 4 * planes, H / stride, W / stride)

    See: nnatlas.models.resnet.Bottleneck. Check: ``nnatlas check "Bottleneck(identity)"``.
    Tests: tests/scratch/test_cifar_models.py.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        kw = {"bias": False, "dtype": dtype, "rng": rng}
        out_channels = planes * self.expansion
        self.conv1 = Conv2d(in_channels, planes, 1, **kw)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.relu1 = ReLU()  # torchvision reuses one ReLU; here each use keeps its own cache
        self.conv2 = Conv2d(planes, planes, 3, stride=stride, padding=1, **kw)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        self.relu2 = ReLU()
        self.conv3 = Conv2d(planes, out_channels, 1, **kw)
        self.bn3 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu3 = ReLU()
        self.downsample: Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, **kw),
                BatchNorm2d(out_channels, dtype=dtype),
            )
        self._name_children()

    def _main(self) -> tuple[Module, ...]:
        return (self.conv1, self.bn1, self.relu1, self.conv2, self.bn2, self.relu2, self.conv3,
                self.bn3)  # fmt: skip

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x (N, C_in, H, W) -> (N, 4 * planes, H', W')."""
        out = x
        for layer in self._main():
            out = layer(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu3(out + identity)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out (N, 4 * planes, H', W') -> (N, C_in, H, W)."""
        grad = self.relu3.backward(grad_out)  # the sum sends this to both branches unchanged
        grad_main = grad
        for layer in reversed(self._main()):
            grad_main = layer.backward(grad_main)
        grad_short = grad if self.downsample is None else self.downsample.backward(grad)
        if grad_main is None:  # conv1.requires_input_grad is False
            return None
        return grad_main + grad_short


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
}


class ResNet(Module):
    """ImageNet-style ResNet: 7x7 stride-2 stem, 3x3 stride-2 max pooling, four stages of
    64-128-256-512 planes (stride 2 from the second on), global average pooling, one Linear.

    Args:
        block: "basic" (ResNet-18/34) or "bottleneck" (ResNet-50).
        layers: blocks per stage, e.g. [2, 2, 2, 2] (ResNet-18).
        num_classes: number of outputs.
        in_chans: image channels.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights (the bridge overwrites them with the zoo's).

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes); any H, W >= 32 (stride 32 overall).

    See: nnatlas.models.resnet.ResNet (``resnet18/34/50``, torchvision's keys). Check:
    ``nnatlas check "ResNet(resnet18, 64 px)"``. Tests: tests/scratch/test_cifar_models.py.
    """

    def __init__(
        self,
        block: str,
        layers: list[int],
        num_classes: int = 1000,
        in_chans: int = 3,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"ResNet: block must be one of {list(BLOCKS)}, got {block!r}")
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"ResNet: layers must be 4 counts >= 1, got {layers}")
        rng = rng if rng is not None else default_generator()
        self.block, self.layers = block, list(layers)
        self.num_classes, self.in_chans = num_classes, in_chans
        kind = BLOCKS[block]
        self.conv1 = Conv2d(in_chans, 64, 7, stride=2, padding=3, bias=False, dtype=dtype, rng=rng)
        self.bn1 = BatchNorm2d(64, dtype=dtype)
        self.relu = ReLU()
        self.maxpool = MaxPool2d(3, stride=2, padding=1)
        stages, in_channels = [], 64
        for planes, count, stride in zip((64, 128, 256, 512), layers, (1, 2, 2, 2), strict=True):
            blocks = []
            for s in [stride] + [1] * (count - 1):
                blocks.append(kind(in_channels, planes, s, dtype, rng))
                in_channels = planes * kind.expansion
            stages.append(Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = 512 * kind.expansion
        self.fc = Linear(self.num_features, num_classes, dtype=dtype, rng=rng)
        self._name_children()

    def _stem_and_stages(self) -> tuple[Module, ...]:
        return (self.conv1, self.bn1, self.relu, self.maxpool, self.layer1, self.layer2,
                self.layer3, self.layer4)  # fmt: skip

    def forward_features(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, num_features, H / 32, W / 32)."""
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ShapeError(
                f"ResNet: expected input (N, {self.in_chans}, H, W), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        for layer in self._stem_and_stages():  # (N, 64, H/4, W/4) after the max pooling
            x = layer(x)
        return x

    def forward_head(self, x: np.ndarray) -> np.ndarray:
        """Global average pooling and ``fc``. Shape: x: (N, F, h, w) -> (N, num_classes)."""
        self._cache = x.shape
        return self.fc(x.mean(axis=(2, 3)))  # (N, F) -> (N, num_classes)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out: (N, num_classes) -> (N, C, H, W) (None when conv1 skips it)."""
        if self._cache is None:
            raise RuntimeError("ResNet: backward called before forward")
        n, c, h, w = self._cache
        grad = self.fc.backward(grad_out)  # (N, F)
        # The mean gives each of the h * w positions an equal share.
        grad = np.broadcast_to((grad / (h * w))[:, :, None, None], self._cache)
        for layer in reversed(self._stem_and_stages()):
            grad = layer.backward(grad)
        return grad

    def extra_repr(self) -> str:
        return f"block={self.block!r}, layers={self.layers}, num_classes={self.num_classes}"
