"""Transfer learning: a pretrained backbone adapted to a new, usually small, dataset.

    import nnatlas.transfer as transfer
    run = transfer.train("mobilenet_v2", "imagefolder:photos", strategy="features")
    table = transfer.compare("mobilenet_v2", "imagefolder:photos", train_sizes=[8, 16, 32])

The backbones, their offline weights and the strategies are models of the zoo
(:mod:`nnatlas.models.pretrained`, :class:`nnatlas.models.TransferNet`), so a transfer run is
an ordinary run folder; this package chooses each strategy's training options, compares the
strategies, and evaluates weight files that did not come from nnatlas. It drives
:mod:`nnatlas.tasks`, one floor below it. Names are imported on first use (no torch on import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "STRATEGY_OPTIONS": "strategies",
    "train": "strategies",
    "compare": "compare",
    "Comparison": "compare",
    "evaluate_weights": "weights",
    "NORMALIZATIONS": "weights",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from nnatlas.transfer.compare import Comparison, compare
    from nnatlas.transfer.strategies import STRATEGY_OPTIONS, train
    from nnatlas.transfer.weights import NORMALIZATIONS, evaluate_weights


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nnatlas.transfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnatlas.transfer.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
