"""Training: one loop for both engines, with metrics, schedules, checkpoints and run folders.

Quick start::

    from nnatlas.train import TrainConfig, create_trainer
    trainer = create_trainer(model, TrainConfig(epochs=5, engine="torch"), run_dir="runs/demo")
    history = trainer.fit((x_train, y_train), (x_val, y_val))
    print(trainer.evaluate((x_test, y_test)))
"""

from nnatlas.train.callbacks import Callback, plot_curves, summary_table, write_history
from nnatlas.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_atomic,
    seed_everything,
)
from nnatlas.train.config import TrainConfig
from nnatlas.train.data import TensorLoader
from nnatlas.train.metrics import MetricAccumulator, accuracy, macro_f1, perplexity
from nnatlas.train.schedulers import LRScheduler, schedule_factor
from nnatlas.train.scratch import ScratchTrainer, create_trainer
from nnatlas.train.trainer import NonFiniteLossError, Trainer, resolve_device

__all__ = [
    "Callback",
    "CheckpointError",
    "LRScheduler",
    "MetricAccumulator",
    "NonFiniteLossError",
    "ScratchTrainer",
    "TensorLoader",
    "TrainConfig",
    "Trainer",
    "accuracy",
    "create_trainer",
    "load_checkpoint",
    "macro_f1",
    "perplexity",
    "plot_curves",
    "resolve_device",
    "save_atomic",
    "schedule_factor",
    "seed_everything",
    "summary_table",
    "write_history",
]
