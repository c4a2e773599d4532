"""Tasks: build a zoo model for a dataset, train it, evaluate it, predict with it.

One module per kind of task (:mod:`~nnatlas.tasks.image`, :mod:`~nnatlas.tasks.tabular`,
:mod:`~nnatlas.tasks.text`, :mod:`~nnatlas.tasks.language`, :mod:`~nnatlas.tasks.seq2seq`;
:mod:`~nnatlas.tasks.detection` holds the step detection trains with), each owning its data
preparation, the arguments it fits a model to, its batch step and its predictions. The command,
the lessons and the lab all go through the functions below::

    import nnatlas.tasks as tasks
    run = tasks.train("lenet5", data="fashion-mnist", epochs=3)
    tasks.evaluate(run.dir, split="test")
    tasks.predict(run.dir, "image.png", top=3)

Names are imported on first use, so ``import nnatlas.tasks`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DataOptions": "base",
    "Prepared": "base",
    "Task": "base",
    "TaskError": "base",
    "get_task": "base",
    "list_tasks": "base",
    "register_task": "base",
    "Preset": "presets",
    "preset_for": "presets",
    "resolve_config": "presets",
    "normalizer": "image",
    "read_image": "image",
    "front_padded": "text",
    "EnsembleEvaluation": "ensemble",
    "ensemble_evaluate": "ensemble",
    "ClassificationReport": "report",
    "classification_report": "report",
    "ClassPrediction": "results",
    "Generation": "results",
    "Translation": "results",
    "Evaluation": "run",
    "Run": "run",
    "evaluate": "run",
    "load_run": "run",
    "predict": "run",
    "resume": "run",
    "task_for": "run",
    "train": "run",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from nnatlas.tasks.base import (
        DataOptions,
        Prepared,
        Task,
        TaskError,
        get_task,
        list_tasks,
        register_task,
    )
    from nnatlas.tasks.ensemble import EnsembleEvaluation, ensemble_evaluate
    from nnatlas.tasks.image import normalizer, read_image
    from nnatlas.tasks.presets import Preset, preset_for, resolve_config
    from nnatlas.tasks.report import ClassificationReport, classification_report
    from nnatlas.tasks.results import ClassPrediction, Generation, Translation
    from nnatlas.tasks.run import (
        Evaluation,
        Run,
        evaluate,
        load_run,
        predict,
        resume,
        task_for,
        train,
    )
    from nnatlas.tasks.text import front_padded


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nnatlas.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnatlas.tasks.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
