"""What the experiments share: their result (a table, plots, JSON), their folder, training runs.

An experiment trains many small models with the project's own pieces (zoo models, the
catalog's data, :class:`nnatlas.train.Trainer` with a task-free :class:`~nnatlas.train.Step`)
and measures them with :mod:`nnatlas.inspect`. It writes into its folder:

- ``table.md``: the results table (also printed by ``nnatlas experiment``);
- ``results.json``: every number of the table and of the plots, the budget, the wall time and
  the machine it ran on;
- one PNG per plot, each with its JSON beside it.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnatlas.inspect.figures import plain
from nnatlas.train.callbacks import Callback

Log = Callable[[str], None]


@dataclass
class Table:
    """Rows of an experiment's table; each row a dict with the ``columns`` as keys."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in self.columns) + " |")
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"
    return str(value)


@dataclass
class ExperimentResult:
    """What an experiment wrote: its folder, tables, plots and the wall time."""

    name: str
    folder: Path
    quick: bool
    tables: list[Table]
    plots: list[Path]
    seconds: float
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        parts = [table.markdown() for table in self.tables]
        parts += [f"- {note}" for note in self.notes]
        return "\n\n".join(parts)


def machine() -> dict[str, Any]:
    """Where the numbers were measured (airbench's habit: hardware and runtime first)."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def write(result: ExperimentResult, budget: dict[str, Any]) -> ExperimentResult:
    """Write ``table.md`` and ``results.json`` into the result's folder."""
    from nnatlas.files import write_json, write_text_atomic

    mode = "quick" if result.quick else "full"
    header = f"# {result.name} ({mode}), {result.seconds:.0f} s\n\n"
    write_text_atomic(result.folder / "table.md", header + result.markdown() + "\n")
    write_json(
        result.folder / "results.json",
        plain(
            {
                "experiment": result.name,
                "quick": result.quick,
                "seconds": result.seconds,
                "budget": budget,
                "machine": machine(),
                "tables": [
                    {"title": t.title, "columns": t.columns, "rows": t.rows} for t in result.tables
                ],
                "plots": [p.name for p in result.plots],
                "notes": result.notes,
                "numbers": result.numbers,
            }
        ),
    )
    return result


@dataclass
class Trained:
    """A model trained by :func:`train_torch`: its trainer, wall time, and why it stopped
    early (a loss that became NaN: ``diverged``) or None; ``warnings`` the Trainer gave."""

    trainer: Any
    seconds: float
    diverged: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.trainer.history


def train_torch(
    model: Any,
    train: Sequence[Any],
    val: Sequence[Any] | None,
    step: Any,
    callbacks: Sequence[Any] = (),
    **config: Any,
) -> Trained:
    """Train a torch model in memory with the project's Trainer.

    ``config`` holds :class:`~nnatlas.train.TrainConfig` fields; the run is quiet, keeps no
    folder, uses one thread unless told otherwise (small models: see nnatlas.threads) and
    keeps its last weights (an experiment compares where a budget ends, not its best epoch).
    A loss that becomes NaN ends the run, which is reported, not raised: a diverging run is
    one of the results (the clipping ablation).
    """
    import warnings

    from nnatlas.train import NonFiniteLossError, TrainConfig, create_trainer

    options = dict(quiet=True, tensorboard=False, threads=1, restore_best=False, metrics="")
    options.update(config)
    config = TrainConfig(engine="torch", **options)
    trainer = create_trainer(model, config, step=step, callbacks=list(callbacks))
    start, diverged = time.perf_counter(), None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trainer.fit(tuple(train), None if val is None else tuple(val))
        except NonFiniteLossError as err:
            diverged = str(err).split(";")[0]
    seen = list(dict.fromkeys(str(w.message) for w in caught))
    return Trained(trainer, time.perf_counter() - start, diverged, seen)


class StepLosses(Callback):
    """Keeps the training loss of every step (the history has one row per epoch); a run
    that diverged keeps the steps before its loss became NaN or infinite."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_step_end(self, trainer: Any, loss: float) -> None:
        self.losses.append(float(loss))


class Clock:
    """Wall time since creation, and a log line with it."""

    def __init__(self, log: Log | None) -> None:
        self.start, self.log = time.perf_counter(), log

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def say(self, message: str) -> None:
        if self.log is not None:
            self.log(f"[{self.seconds:6.1f} s] {message}")
