"""Strategies side by side: the same backbone, split and seed, one run per strategy (and per
number of labelled examples), a table and plots.

    table = compare("mobilenet_v2", "imagefolder:photos", train_sizes=[8, 16, 32])
    table.rows[0]  # {"strategy": "scratch", "per_class": 8, "accuracy": 0.61, ...}

Everything lands in ``runs_dir/compare-BACKBONE-DATA/``: one ordinary run folder per row,
``table.csv`` / ``table.json``, ``strategies.png`` and, with several sizes, ``sweep.png``
(test accuracy against labelled examples per class: "transfer learning suits little data",
measured).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLUMNS = ("strategy", "per_class", "train", "accuracy", "auc", "trainable", "frozen",
           "epochs", "seconds", "run")  # fmt: skip


@dataclass
class Comparison:
    """The rows of a comparison and where its files are.

    Attributes:
        folder: the comparison's folder.
        rows: one dict per run, with the keys of :data:`COLUMNS` (``auc`` for two classes).
        files: the table and plot files written.
    """

    folder: Path
    rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)

    def best(self) -> dict[str, Any]:
        """The row with the highest test accuracy."""
        return max(self.rows, key=lambda row: row["accuracy"])


def compare(
    backbone: str,
    data: str,
    strategies: Sequence[str] | None = None,
    *,
    train_sizes: Sequence[int] | None = None,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    weights: str | None = "pretrained",
    overwrite: bool = False,
    **options: Any,
) -> Comparison:
    """Train ``backbone`` on ``data`` with each strategy (and each ``train_sizes`` labelled
    examples per class), then write the table and plots.

    Args:
        strategies: default every one of :data:`nnatlas.models.STRATEGIES`.
        train_sizes: labelled training examples per class (a stratified subset of the training
            split); default all of it.
        overwrite: replace the runs of an earlier comparison in the same folder (without it,
            such a run is refused before anything trains).
        **options: for every run (``epochs``, ``image_size`` ...), over each strategy's defaults.
    """
    import nnatlas.tasks as tasks
    from nnatlas.models import STRATEGIES
    from nnatlas.tasks.run import default_run_name
    from nnatlas.transfer.strategies import train

    strategies = list(strategies or STRATEGIES)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise tasks.TaskError(f"unknown strategies {unknown}; choose from {', '.join(STRATEGIES)}")
    name = default_run_name(backbone, data, "compare", seed).removesuffix("-compare-s0")
    folder = Path(runs_dir) / f"compare-{name}"
    if not overwrite and (folder / "table.json").exists():
        raise tasks.TaskError(
            f"{folder} holds an earlier comparison; pass --overwrite to replace it, or choose "
            "another --runs-dir"
        )
    rows = []
    for per_class in list(train_sizes or [None]):
        for strategy in strategies:
            start = time.perf_counter()
            run = train(
                backbone, data, strategy, weights=weights, seed=seed, limit_per_class=per_class,
                run_dir=folder / f"{strategy}-{per_class or 'all'}", overwrite=overwrite, **options,
            )  # fmt: skip
            rows.append(_row(run, strategy, per_class, time.perf_counter() - start))
    comparison = Comparison(folder, rows)
    comparison.files = _write(comparison, backbone, data)
    return comparison


def _row(run: Any, strategy: str, per_class: int | None, seconds: float) -> dict[str, Any]:
    test = run.test_metrics or {}
    counts = run.model.parameter_counts()
    return {
        "strategy": strategy,
        "per_class": per_class,
        "train": run.trainer.extra["sizes"]["train"],
        "accuracy": test.get("accuracy"),
        "auc": test.get("auc"),
        "trainable": counts[0],
        "frozen": counts[1],
        "epochs": len(run.history),
        "seconds": round(seconds, 1),
        "run": str(run.dir),
    }


def _write(comparison: Comparison, backbone: str, data: str) -> list[Path]:
    from nnatlas.files import write_json, write_text_atomic

    folder = comparison.folder
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(comparison.rows)
    files = [
        write_text_atomic(folder / "table.csv", buffer.getvalue()),
        write_json(
            folder / "table.json", {"backbone": backbone, "data": data, "rows": comparison.rows}
        ),  # fmt: skip
        _plot_strategies(comparison, backbone, data, folder / "strategies.png"),
    ]
    sizes = sorted({row["per_class"] for row in comparison.rows if row["per_class"]})
    if len(sizes) > 1:
        files.append(_plot_sweep(comparison, sizes, backbone, data, folder / "sweep.png"))
    return files


def _figure(path: Path, draw: Any) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnatlas.files import atomic_target

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    draw(ax)
    fig.tight_layout()
    try:
        with atomic_target(path, suffix=".tmp.png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def _plot_strategies(comparison: Comparison, backbone: str, data: str, path: Path) -> Path:
    """Test accuracy per strategy (with all labelled examples, or the largest size)."""
    largest = max((row["per_class"] or 0) for row in comparison.rows)
    rows = [row for row in comparison.rows if (row["per_class"] or 0) == largest]

    def draw(ax: Any) -> None:
        ax.bar([r["strategy"] for r in rows], [r["accuracy"] for r in rows], color="tab:blue")
        for i, r in enumerate(rows):
            ax.text(i, r["accuracy"] + 0.01, f"{r['accuracy']:.3f}\n{r['seconds']:.0f} s",
                    ha="center", fontsize=8)  # fmt: skip
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{backbone} on {data.split('/')[-1]}: strategies")

    return _figure(path, draw)


def _plot_sweep(
    comparison: Comparison, sizes: list[int], backbone: str, data: str, path: Path
) -> Path:
    """Test accuracy against labelled examples per class, one line per strategy."""

    def draw(ax: Any) -> None:
        for strategy in dict.fromkeys(row["strategy"] for row in comparison.rows):
            points = sorted((r["per_class"], r["accuracy"]) for r in comparison.rows
                            if r["strategy"] == strategy and r["per_class"])  # fmt: skip
            ax.plot(*zip(*points, strict=True), "-o", label=strategy, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("labelled training examples per class")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{backbone} on {data.split('/')[-1]}: accuracy vs labelled data")
        ax.grid(alpha=0.3)
        ax.legend()

    return _figure(path, draw)


def format_table(rows: list[dict[str, Any]]) -> list[list[str]]:
    """The rows as strings for printing (``-`` for missing values)."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4f}" if value <= 1 else f"{value:.1f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    return [[cell(row[c]) for c in COLUMNS[:-1]] for row in rows]


def load_table(folder: str | Path) -> list[dict[str, Any]]:
    """The rows a comparison wrote in ``folder``."""
    return json.loads((Path(folder) / "table.json").read_text())["rows"]
