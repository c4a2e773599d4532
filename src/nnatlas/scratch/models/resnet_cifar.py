"""The CIFAR-10 ResNets and plain nets in NumPy (He, Zhang, Ren & Sun 2016, arXiv 1512.03385,
§4.2): the twins of the zoo's ``resnet20/32/44/56`` and ``plain20/32/56``.

6n+2 layers: a 3x3 conv with 16 filters, three stages of n basic blocks (16, 32, 64 filters on
32x32, 16x16, 8x8 maps), global average pooling and a Linear. Module names (``conv1``, ``bn1``,
``layer1.0.conv1`` ... ``linear``) are the zoo's, which are akamaster/pytorch_resnet_cifar10's,
so state_dict keys are equal and his checkpoints load into both engines.

The shortcut is the paper's option A, parameter-free: subsample by the stride and zero-pad the new
channels. Its backward is the adjoint of that copy: take the channels that were not padding and
put them back on the strided grid.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError, check_ndim
from nnatlas.scratch.sequential import Sequential


class ShortcutA(Module):
    """Option-A shortcut: ``x[:, :, ::stride, ::stride]`` zero-padded to ``planes`` channels.

    The ``planes - in_planes`` new channels are split as the zoo (and akamaster) does:
    ``extra // 2`` before the input's channels, the rest after. No parameters.

    Args:
        in_planes: C_in.
        planes: C_out >= C_in.
        stride: the subsampling step.

    Shape:
        x: (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))

    See: nnatlas.models.resnet_cifar.ShortcutA. Check: ``nnatlas check "ShortcutA"``. Tests:
    tests/scratch/test_cifar_models.py.
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        if planes < in_planes or stride < 1:
            raise ValueError(
                f"ShortcutA: needs planes >= in_planes and stride >= 1, got {in_planes} -> "
                f"{planes}, stride {stride}"
            )
        self.in_planes, self.planes, self.stride = in_planes, planes, stride
        self.pad_before = (planes - in_planes) // 2

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_ndim(self, x, f"(N, {self.in_planes}, H, W)", (4,))
        if x.shape[1] != self.in_planes:
            raise ShapeError(
                f"{self.layer_name}: expected input (N, {self.in_planes}, H, W), got {x.shape}"
            )
        s, lo = self.stride, self.pad_before
        sub = x[:, :, ::s, ::s]  # (N, C_in, H/s, W/s)
        out = np.zeros((x.shape[0], self.planes) + sub.shape[2:], dtype=x.dtype)
        out[:, lo : lo + self.in_planes] = sub  # (N, C_out, H/s, W/s)
        self._cache = x.shape
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        s, lo = self.stride, self.pad_before
        grad = np.zeros(self._cache, dtype=grad_out.dtype)  # pixels the stride skipped get 0
        grad[:, :, ::s, ::s] = grad_out[:, lo : lo + self.in_planes]  # padding channels: no input
        return grad

    def extra_repr(self) -> str:
        return f"{self.in_planes}->{self.planes}, stride={self.stride}"


class CifarBasicBlock(Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, or without the sum (plain).

    Args:
        in_planes: C_in.
        planes: C_out.
        stride: stride of conv1 (2 halves H and W).
        residual: False builds the plain block (no shortcut at all).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights.

    The shortcut is the identity when the shape is kept, else :class:`ShortcutA`; the 3x3
    convolutions have no bias (the BatchNorm after each would cancel it).

    Shape:
        x: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)

    See: nnatlas.models.resnet_cifar.CifarBasicBlock. Check:
    ``nnatlas check "CifarBasicBlock(option A)"``. Tests: tests/scratch/test_cifar_models.py.
    """

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        residual: bool = True,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        kw = {"bias": False, "dtype": dtype, "rng": rng}
        self.conv1 = Conv2d(in_planes, planes, 3, stride=stride, padding=1, **kw)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(planes, planes, 3, padding=1, **kw)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        self.relu2 = ReLU()
        self.residual = residual
        # None: the identity (or, for a plain block, no shortcut); the zoo's nn.Identity has no
        # keys either.
        self.shortcut: ShortcutA | None = None
        if residual and (stride != 1 or in_planes != planes):
            self.shortcut = ShortcutA(in_planes, planes, stride)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x (N, C_in, H, W) -> (N, C_out, H', W')."""
        out = self.relu1(self.bn1(self.conv1(x)))  # (N, C_out, H', W')
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return self.relu2(out)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out (N, C_out, H', W') -> (N, C_in, H, W)."""
        grad = self.relu2.backward(grad_out)  # the sum sends this to both branches unchanged
        grad_main = grad
        for layer in (self.bn2, self.conv2, self.relu1, self.bn1, self.conv1):  # forward reversed
            grad_main = layer.backward(grad_main)
        if not self.residual or grad_main is None:  # grad_main is None when conv1 skips it
            return grad_main
        return grad_main + (grad if self.shortcut is None else self.shortcut.backward(grad))


class CifarResNet(Module):
    """The 6n+2-layer CIFAR network of He et al. §4.2, residual or plain.

    Args:
        num_blocks: blocks per stage, n (3 for ResNet-20, 9 for ResNet-56).
        num_classes: number of outputs.
        in_chans: image channels.
        residual: False builds the plain net (no shortcuts, the paper's Fig. 6 baseline).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights (the bridge overwrites them with the zoo's).

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes); any H, W (global pooling), trained on 32x32.

    See: nnatlas.models.resnet_cifar.CifarResNet (``resnet20/32/44/56``, ``plain20/32/56``).
    Check: ``nnatlas check "CifarResNet(resnet20)"``. Tests: tests/scratch/test_cifar_models.py.
    """

    def __init__(
        self,
        num_blocks: int,
        num_classes: int = 10,
        in_chans: int = 3,
        residual: bool = True,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"CifarResNet: num_blocks must be >= 1, got {num_blocks}")
        rng = rng if rng is not None else default_generator()
        self.num_blocks, self.num_classes, self.in_chans = num_blocks, num_classes, in_chans
        self.residual, self.num_features = residual, 64
        self.conv1 = Conv2d(in_chans, 16, 3, padding=1, bias=False, dtype=dtype, rng=rng)
        self.bn1 = BatchNorm2d(16, dtype=dtype)
        self.relu = ReLU()
        stages, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):  # (N, 16, 32, 32) ... (N, 64, 8, 8)
            blocks = []
            for s in [stride] + [1] * (num_blocks - 1):
                blocks.append(CifarBasicBlock(in_planes, planes, s, residual, dtype, rng))
                in_planes = planes
            stages.append(Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = Linear(64, num_classes, dtype=dtype, rng=rng)
        self._name_children()

    def forward_features(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, 64, H / 4, W / 4)."""
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ShapeError(
                f"CifarResNet: expected input (N, {self.in_chans}, H, W), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 16, H, W)
        return self.layer3(self.layer2(self.layer1(x)))

    def forward_head(self, x: np.ndarray) -> np.ndarray:
        """Global average pooling and the Linear. Shape: x: (N, 64, h, w) -> (N, num_classes)."""
        self._cache = x.shape
        return self.linear(x.mean(axis=(2, 3)))  # (N, 64) -> (N, num_classes)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out: (N, num_classes) -> (N, C, H, W) (None when conv1 skips it)."""
        if self._cache is None:
            raise RuntimeError("CifarResNet: backward called before forward")
        n, c, h, w = self._cache
        grad = self.linear.backward(grad_out)  # (N, 64)
        # The mean gives each of the h * w positions an equal share.
        grad = np.broadcast_to((grad / (h * w))[:, :, None, None], self._cache)
        for layer in (self.layer3, self.layer2, self.layer1, self.relu, self.bn1, self.conv1):
            grad = layer.backward(grad)
        return grad

    def extra_repr(self) -> str:
        depth = 6 * self.num_blocks + 2
        return f"depth={depth}, residual={self.residual}, num_classes={self.num_classes}"
