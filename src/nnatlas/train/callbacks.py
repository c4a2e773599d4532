"""Callbacks: what happens around the training loop without being part of it.

The loop in :mod:`nnatlas.train.trainer` does the training, the validation, early stopping and
best-checkpoint keeping itself (so a reader sees them). Everything that only *reports* lives
here: the progress bar, the per-epoch lines, the run folder's history files and curves, and
TensorBoard. A callback overrides any of the hooks below; each gets the trainer, of which it
reads what :class:`TrainerView` lists (so this module needs no import of the trainer's).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Protocol


class TrainerView(Protocol):
    """What a callback may read of the :class:`~nnatlas.train.trainer.Trainer` it reports on."""

    config: Any  # the run's TrainConfig
    history: list[dict[str, Any]]  # one row per finished epoch
    epoch: int  # epochs completed
    step: int  # optimizer steps taken
    run_dir: Path | None
    best_epoch: int | None


class Callback:
    """Base class; every hook does nothing."""

    def on_fit_begin(self, trainer: TrainerView) -> None: ...

    def on_epoch_begin(self, trainer: TrainerView, epoch: int, num_batches: int) -> None: ...

    def on_step_end(self, trainer: TrainerView, loss: float) -> None: ...

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: TrainerView) -> None: ...


def format_row(row: dict[str, Any]) -> str:
    """``epoch 3/10  train_loss 0.4123  ...`` for a history row."""
    parts = []
    for key, value in row.items():
        if key in ("epoch", "step"):
            continue
        if key == "lr":
            parts.append(f"lr {value:.2e}")
        elif key == "time_s":
            continue  # timings vary run to run; the numbers printed should not
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A rich progress bar per epoch (with ETA and the running loss) plus one line per epoch.

    When standard output is not a terminal the bar is left out and only the lines are printed,
    so logs stay readable.
    """

    def __init__(self, show_bar: bool | None = None) -> None:
        self.show_bar = sys.stdout.isatty() if show_bar is None else show_bar
        self.progress = None
        self.task = None

    def on_fit_begin(self, trainer: TrainerView) -> None:
        if not self.show_bar:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            transient=True,
        )
        self.progress.start()

    def on_epoch_begin(self, trainer: TrainerView, epoch: int, num_batches: int) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task(
                f"epoch {epoch + 1}/{trainer.config.epochs}", total=num_batches, loss=""
            )

    def on_step_end(self, trainer: TrainerView, loss: float) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, loss=f"loss {loss:.4f}")

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        line = f"epoch {row['epoch']}/{trainer.config.epochs}  {format_row(row)}"
        if self.progress is not None:
            self.progress.remove_task(self.task)
            self.progress.console.print(line, highlight=False)
        else:
            print(line, flush=True)

    def on_fit_end(self, trainer: TrainerView) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class HistoryWriter(Callback):
    """Writes ``history.csv`` and ``history.json`` (one row per epoch) into the run folder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        write_history(trainer.history, self.run_dir)


def write_history(history: list[dict[str, Any]], run_dir: Path) -> None:
    """history.json (a list of rows) and history.csv (columns = union of the rows' keys),
    each written atomically."""
    import io

    from nnatlas.files import write_text_atomic

    write_text_atomic(run_dir / "history.json", json.dumps(history, indent=1) + "\n")
    columns: list[str] = []
    for row in history:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(run_dir / "history.csv", buffer.getvalue())


class CurvePlotter(Callback):
    """Draws ``curves.png`` at the end: loss and accuracy, train against validation."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    def on_fit_end(self, trainer: TrainerView) -> None:
        if trainer.history:
            plot_curves(trainer.history, self.run_dir / "curves.png")


def plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Loss (left) and accuracy (right) per epoch, train and validation, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot's import
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    panels = [name for name in ("loss", "accuracy") if f"train_{name}" in history[0]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        for phase, style in (("train", "-o"), ("val", "-s")):
            key = f"{phase}_{name}"
            if key in history[0]:
                ax.plot(epochs, [row[key] for row in history], style, label=phase, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel(name)
        ax.set_title(f"{name}: train vs validation")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    from nnatlas.files import atomic_target

    try:
        with atomic_target(path, suffix=".tmp.png") as tmp:  # savefig picks the format by suffix
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


class TensorBoardLogger(Callback):
    """Logs every number of each history row to TensorBoard, if ``tensorboard`` is installed."""

    def __init__(self, log_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # ImportError without tensorboard

        self.writer = SummaryWriter(log_dir=str(log_dir))

    @classmethod
    def if_available(cls, log_dir: str | Path) -> TensorBoardLogger | None:
        try:
            return cls(log_dir)
        except ImportError:
            return None

    def on_step_end(self, trainer: TrainerView, loss: float) -> None:
        self.writer.add_scalar("step/train_loss", loss, trainer.step)

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if isinstance(value, float) and key != "time_s":
                self.writer.add_scalar(f"epoch/{key}", value, row["epoch"])
        self.writer.flush()

    def on_fit_end(self, trainer: TrainerView) -> None:
        self.writer.close()


def summary_table(history: list[dict[str, Any]], test: dict[str, float] | None = None) -> Any:
    """A rich ``Table``: the last and the best epochs, and the test metrics when given."""
    from rich.table import Table

    table = Table(title="summary", show_lines=False)
    table.add_column("metric")
    table.add_column("last epoch", justify="right")
    if test:
        table.add_column("test", justify="right")
    last = history[-1] if history else {}
    names = sorted({k.split("_", 1)[1] for k in last if k.startswith(("train_", "val_"))})
    names += [name for name in (test or {}) if name not in names]
    for name in names:
        cells = []
        for phase in ("train", "val"):
            value = last.get(f"{phase}_{name}")
            if value is not None:
                cells.append(f"{phase} {value:.4f}")
        row = [name, "  ".join(cells)]
        if test:
            row.append(f"{test[name]:.4f}" if name in test else "")
        table.add_row(*row)
    return table
