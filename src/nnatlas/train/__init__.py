"""Training: one loop for both engines, with metrics, schedules, checkpoints and run folders.

Quick start::

    from nnatlas.train import TrainConfig, create_trainer
    trainer = create_trainer(model, TrainConfig(epochs=5, engine="torch"), run_dir="runs/demo")
    history = trainer.fit((x_train, y_train), (x_val, y_val))
    print(trainer.evaluate((x_test, y_test)))

The names below are imported on first use (PEP 562), so ``from nnatlas.train.config import
TrainConfig`` (what the command's ``--help`` needs) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Callback": "callbacks",
    "plot_curves": "callbacks",
    "summary_table": "callbacks",
    "write_history": "callbacks",
    "CheckpointError": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_atomic": "checkpoint",
    "seed_everything": "checkpoint",
    "ConfigError": "config",
    "TrainConfig": "config",
    "TensorLoader": "data",
    "MetricAccumulator": "metrics",
    "accuracy": "metrics",
    "macro_f1": "metrics",
    "perplexity": "metrics",
    "LRScheduler": "schedulers",
    "schedule_factor": "schedulers",
    "ScratchLoss": "scratch",
    "ScratchTrainer": "scratch",
    "create_trainer": "scratch",
    "ClassificationStep": "steps",
    "LossAccumulator": "steps",
    "Step": "steps",
    "StepOutput": "steps",
    "NonFiniteLossError": "trainer",
    "TrainingInterrupted": "trainer",
    "Trainer": "trainer",
    "resolve_device": "trainer",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from nnatlas.train.callbacks import Callback, plot_curves, summary_table, write_history
    from nnatlas.train.checkpoint import (
        CheckpointError,
        load_checkpoint,
        save_atomic,
        seed_everything,
    )
    from nnatlas.train.config import ConfigError, TrainConfig
    from nnatlas.train.data import TensorLoader
    from nnatlas.train.metrics import MetricAccumulator, accuracy, macro_f1, perplexity
    from nnatlas.train.schedulers import LRScheduler, schedule_factor
    from nnatlas.train.scratch import ScratchLoss, ScratchTrainer, create_trainer
    from nnatlas.train.steps import ClassificationStep, LossAccumulator, Step, StepOutput
    from nnatlas.train.trainer import (
        NonFiniteLossError,
        Trainer,
        TrainingInterrupted,
        resolve_device,
    )


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nnatlas.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnatlas.train.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
