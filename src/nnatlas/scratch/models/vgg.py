"""VGG in NumPy (Simonyan & Zisserman 2015, arXiv 1409.1556): the twin of the zoo's ``vgg11`` ...
``vgg19_bn``.

The architecture is data, as in torchvision: a configuration is a list of 3x3-conv widths with
``"M"`` for 2x2 max pooling (the paper's Table 1; the zoo keeps the table, ``nnatlas.models.vgg
.CFGS``, and the bridge passes the zoo model's own list here, so there is one table). Module
indices (``features.0``, ``features.1`` ..., ``classifier.0``/``3``/``6``) equal torchvision's,
so state_dict keys are equal.

Two heads share one layout: the ImageNet one (``pool_size=7``, ``hidden=4096``: a 224 px input
leaves a 7x7 map) and a CIFAR-sized one (``pool_size=1``, ``hidden=512``: a 32 px input leaves
1x1, and 4096-wide layers on 512 features would be 97% of the parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.conv_pool_head import ConvPoolClassifier
from nnatlas.scratch.module import Module
from nnatlas.scratch.pooling import AdaptiveAvgPool2d, MaxPool2d
from nnatlas.scratch.sequential import Sequential

Config = Sequence[int | str]


def make_layers(
    cfg: Config,
    batch_norm: bool = False,
    in_chans: int = 3,
    dtype: type[np.floating] = np.float32,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """VGG's conv stack: 3x3 convs (padding 1 keeps the size), [BatchNorm2d], ReLU; "M" pools."""
    rng = rng if rng is not None else default_generator()
    layers: list[Module] = []
    prev = in_chans
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(2, 2))  # halves H and W
            continue
        if not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"VGG: a configuration holds conv widths and 'M', got {v!r}")
        layers.append(Conv2d(prev, int(v), 3, padding=1, dtype=dtype, rng=rng))
        if batch_norm:
            layers.append(BatchNorm2d(int(v), dtype=dtype))
        layers.append(ReLU())
        prev = int(v)
    return Sequential(*layers)


class VGG(ConvPoolClassifier):
    """VGG: conv stack, AdaptiveAvgPool2d(pool_size), Linear-ReLU-Dropout twice, Linear.

    Args:
        cfg: conv widths and "M" (e.g. ``nnatlas.models.vgg.CFGS["A"]`` for VGG-11).
        batch_norm: BatchNorm2d after every conv (the ``_bn`` models).
        num_classes: number of outputs.
        in_chans: image channels.
        dropout: after each hidden Linear (0.5 in the paper, §3.1).
        pool_size: side of the pooled map fed to the classifier (7: ImageNet, 1: CIFAR).
        hidden: width of the two hidden Linears (4096: ImageNet, 512: CIFAR).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights and the dropout masks.

    Shape:
        x: (N, in_chans, H, W), H and W at least 2 ** (number of "M") -> (N, num_classes)

    See: nnatlas.models.vgg.VGG (``vgg11`` ... ``vgg19_bn``). Check:
    ``nnatlas check "VGG11 (widths / 16, CIFAR head)"``. Tests: tests/scratch/test_cifar_models.py.
    """

    def __init__(
        self,
        cfg: Config,
        batch_norm: bool = False,
        num_classes: int = 1000,
        in_chans: int = 3,
        dropout: float = 0.5,
        pool_size: int = 7,
        hidden: int = 4096,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        widths = [v for v in cfg if v != "M"]
        if not widths:
            raise ValueError(f"VGG: the configuration has no convolution: {list(cfg)}")
        self.cfg, self.batch_norm, self.num_classes = list(cfg), batch_norm, num_classes
        self.in_chans, self.dropout, self.pool_size = in_chans, dropout, pool_size
        self.hidden, self.num_features = hidden, hidden
        kw = {"dtype": dtype, "rng": rng}
        self.features = make_layers(cfg, batch_norm, in_chans, **kw)
        self.avgpool = AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = Sequential(
            Linear(int(widths[-1]) * pool_size * pool_size, hidden, **kw),
            ReLU(),
            Dropout(dropout, rng=rng),
            Linear(hidden, hidden, **kw),
            ReLU(),
            Dropout(dropout, rng=rng),
            Linear(hidden, num_classes, **kw),
        )
        self._name_children()

    def extra_repr(self) -> str:
        return (
            f"convs={sum(v != 'M' for v in self.cfg)}, batch_norm={self.batch_norm}, "
            f"pool_size={self.pool_size}, hidden={self.hidden}, num_classes={self.num_classes}"
        )
