"""AlexNet in NumPy (Krizhevsky, Sutskever & Hinton 2012): the twin of the zoo's ``alexnet`` and
``alexnet_small``, with torchvision's module indices (``features.0`` ... ``classifier.6``), so
state_dict keys are equal.

The conv stages are a table of ``(out_channels, kernel_size, stride, padding, pool)`` rows, the
zoo's ``nnatlas.models.alexnet.CFGS`` (the bridge passes the zoo model's own rows, so there is one
table): a conv, a ReLU and, where ``pool`` is set, the paper's overlapping 3x3 stride-2 max
pooling (§3.4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnatlas.scratch.activations import ReLU
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.conv_pool_head import ConvPoolClassifier
from nnatlas.scratch.module import Module
from nnatlas.scratch.pooling import AdaptiveAvgPool2d, MaxPool2d
from nnatlas.scratch.sequential import Sequential

ConvRow = tuple[int, int, int, int, bool]  # out_channels, kernel_size, stride, padding, pool


def make_features(
    cfg: Sequence[ConvRow],
    in_chans: int,
    dtype: type[np.floating] = np.float32,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """The conv stack of a table of :data:`ConvRow` (indices match torchvision's ``features``)."""
    rng = rng if rng is not None else default_generator()
    layers: list[Module] = []
    prev = in_chans
    for out_channels, kernel_size, stride, padding, pool in cfg:
        layers.append(
            Conv2d(prev, out_channels, kernel_size, stride, padding, dtype=dtype, rng=rng)
        )
        layers.append(ReLU())
        if pool:
            layers.append(MaxPool2d(3, 2))
        prev = out_channels
    return Sequential(*layers)


class AlexNet(ConvPoolClassifier):
    """Five conv stages, AdaptiveAvgPool2d(pool_size), Dropout-Linear-ReLU twice, Linear.

    Args:
        cfg: the conv table (``nnatlas.models.alexnet.CFGS["small"]`` or ``["imagenet"]``).
        num_classes: number of outputs.
        in_chans: image channels.
        pool_size: side of the pooled map fed to the classifier (6 as torchvision; 3 small).
        hidden: width of the two hidden Linears (4096 in the paper; 1024 small).
        dropout: before each hidden Linear (0.5 in the paper, §4.2).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights and the dropout masks.

    Shape:
        x: (N, in_chans, H, W) -> (N, num_classes)

    See: nnatlas.models.alexnet.AlexNet (``alexnet``, ``alexnet_small``). Check:
    ``nnatlas check "AlexNet(small, widths / 16)"``. Tests: tests/scratch/test_cifar_models.py.
    """

    def __init__(
        self,
        cfg: Sequence[ConvRow],
        num_classes: int = 1000,
        in_chans: int = 3,
        pool_size: int = 6,
        hidden: int = 4096,
        dropout: float = 0.5,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        self.cfg = [tuple(row) for row in cfg]
        self.num_classes, self.in_chans, self.pool_size = num_classes, in_chans, pool_size
        self.hidden, self.dropout, self.num_features = hidden, dropout, hidden
        kw = {"dtype": dtype, "rng": rng}
        self.features = make_features(cfg, in_chans, **kw)
        self.avgpool = AdaptiveAvgPool2d((pool_size, pool_size))
        flat = self.cfg[-1][0] * pool_size * pool_size
        self.classifier = Sequential(
            Dropout(dropout, rng=rng),
            Linear(flat, hidden, **kw),
            ReLU(),
            Dropout(dropout, rng=rng),
            Linear(hidden, hidden, **kw),
            ReLU(),
            Linear(hidden, num_classes, **kw),
        )
        self._name_children()

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, hidden={self.hidden}, num_classes={self.num_classes}"
