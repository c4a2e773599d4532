"""Training curves from a run's history: every metric, train against validation, per epoch.

``history`` is what the Trainer records (``run.history``, ``history.json``): one dict per
epoch with ``epoch``, ``lr``, ``train_<metric>`` and ``val_<metric>``. Where ``curves.png``
of a run shows the loss and accuracy, :func:`plot_curves` shows every metric and the learning
rate, and :func:`plot_curve_comparison` puts several runs on the same axes (an experiment's
plain-20 against plain-56).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnatlas.inspect.figures import Figure, InspectError, figure, save

LOG_SCALE = ("loss", "perplexity")  # metrics that span decades early in training


def metric_names(history: Sequence[dict[str, Any]]) -> list[str]:
    """The metrics recorded in a history (``loss`` first), without their phase prefix."""
    names: dict[str, None] = {}
    for row in history:
        for key in row:
            if key.startswith(("train_", "val_")):
                names[key.split("_", 1)[1]] = None
    return sorted(names, key=lambda n: (n != "loss", n))


def _check(history: Sequence[dict[str, Any]]) -> None:
    if not history:
        raise InspectError("the history is empty: train at least one epoch first")


def plot_curves(
    history: Sequence[dict[str, Any]], path: str | Path, title: str | None = None
) -> Figure:
    """One panel per metric (train and validation), and the learning rate when it changes."""
    _check(history)
    metrics = metric_names(history)
    rates = [row.get("lr") for row in history]
    show_lr = len({r for r in rates if r is not None}) > 1
    fig, axes = figure(columns=len(metrics) + show_lr, size=(4.2, 3.4))
    epochs = [row["epoch"] for row in history]
    series: dict[str, list[Any]] = {}
    for ax, name in zip(axes[0], metrics, strict=False):
        for phase, style in (("train", "-o"), ("val", "-s")):
            key = f"{phase}_{name}"
            if any(key in row for row in history):
                values = [row.get(key) for row in history]
                series[key] = values
                ax.plot(
                    epochs,
                    [float("nan") if v is None else v for v in values],
                    style,
                    markersize=3,
                    label=phase,
                )
        if name in LOG_SCALE and all(
            v and v > 0 for k in series if k.endswith(name) for v in series[k]
        ):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if show_lr:
        ax = axes[0, -1]
        ax.plot(epochs, rates, "-", color="gray")
        ax.set_xlabel("epoch")
        ax.set_title("learning rate (end of epoch)")
        ax.grid(alpha=0.3)
        series["lr"] = rates
    if title:
        fig.suptitle(title)
    return save(fig, path, {"epochs": epochs, "series": series})


def plot_curve_comparison(
    histories: Mapping[str, Sequence[dict[str, Any]]],
    path: str | Path,
    metrics: Sequence[str] = ("train_loss", "val_loss"),
    title: str | None = None,
    log_scale: bool = False,
) -> Figure:
    """Several runs on the same axes: one panel per metric, one line per run."""
    for history in histories.values():
        _check(history)
    fig, axes = figure(columns=len(metrics), size=(4.8, 3.6))
    data: dict[str, Any] = {}
    for ax, metric in zip(axes[0], metrics, strict=True):
        for label, history in histories.items():
            rows = [row for row in history if row.get(metric) is not None]
            if not rows:
                continue
            epochs = [row["epoch"] for row in rows]
            values = [row[metric] for row in rows]
            ax.plot(epochs, values, "-o", markersize=2, label=label)
            data.setdefault(label, {"epochs": epochs})[metric] = values
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, path, data)
