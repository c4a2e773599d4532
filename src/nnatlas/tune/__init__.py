"""Practice tools: hyper-parameter search, the learning-rate range test, the overfitting study.

- :func:`tune` (:mod:`~nnatlas.tune.search`): an Optuna study over a search space
  (:mod:`~nnatlas.tune.space`), pruned on validation curves, the test set used once.
- :func:`lr_find` (:mod:`~nnatlas.tune.range_test`): loss against an exponentially growing
  learning rate over one sweep (Smith 2015), with a suggested rate.
- :func:`overfit_study` (:mod:`~nnatlas.tune.overfit`): the train-validation gap over model
  capacity x training-set size x regularizer.
- :mod:`~nnatlas.tune.configfile`: option files (TOML/JSON) that ``nnatlas train --config``
  reads and a tune writes.

Each tool trains through :func:`nnatlas.tasks.train` and the Trainer's callbacks, never a
loop of its own. Names are imported on first use: ``import nnatlas.tune`` loads neither
torch nor optuna.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigFileError": "configfile",
    "read_options": "configfile",
    "write_options": "configfile",
    "LRFinder": "range_test",
    "RangeTest": "range_test",
    "lr_find": "range_test",
    "overfit_study": "overfit",
    "DIMENSIONS": "space",
    "SpaceError": "space",
    "parse_space": "space",
    "TrialReporter": "search",
    "TuneError": "search",
    "TuneResult": "search",
    "tune": "search",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nnatlas.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnatlas.tune.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
