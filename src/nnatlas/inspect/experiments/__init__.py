"""Experiments that train many small models and measure them (``nnatlas experiment NAME``).

- ``long-memory`` (:mod:`.long_memory`): RNN vs LSTM vs GRU on the adding and copy tasks as the
  sequences grow; gradient norm per time step; forget-gate bias, clipping, a large recurrent
  init.
- ``depth`` (:mod:`.depth`): plain-20/56 vs ResNet-20/56 (He et al. 2016): the degradation
  problem in the training curves, gradient norm per layer.
- ``activations`` (:mod:`.activations`): sigmoid, tanh, ReLU and GELU MLPs from 2 to 20 layers:
  gradient norm per layer at initialization, accuracy on one budget, Xavier vs He init.

Each writes a table, plots and JSON into its folder (:mod:`.common`) and says how long it
took. ``quick=True`` runs a reduced budget meant for minutes on a laptop CPU.

They train through :class:`nnatlas.train.Trainer` with zoo models and the catalog's data
directly, not through :mod:`nnatlas.tasks` (a regression like the adding task is no task
there), so they stand on the inspect floor with the rest of the package.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from nnatlas.inspect.experiments.common import ExperimentResult, Log
from nnatlas.inspect.figures import InspectError

EXPERIMENTS = {
    "long-memory": ("long_memory", "RNN vs LSTM vs GRU on the adding and copy tasks"),
    "depth": ("depth", "plain vs residual CIFAR nets at 20 and 56 layers"),
    "activations": ("activations", "sigmoid/tanh/ReLU/GELU MLPs at depth 2..20, Xavier vs He"),
}


def run_experiment(
    name: str, folder: str | Path, quick: bool = False, log: Log | None = None, **options: Any
) -> ExperimentResult:
    """Run the experiment ``name`` and write its table, plots and JSON into ``folder``.

    Raises:
        InspectError: for an unknown name (listing the known ones).
    """
    if name not in EXPERIMENTS:
        raise InspectError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    module = importlib.import_module(f"nnatlas.inspect.experiments.{EXPERIMENTS[name][0]}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return module.run(folder, quick=quick, log=log, **options)
