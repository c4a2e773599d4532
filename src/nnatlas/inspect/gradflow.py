"""Gradient flow, measured: ||dL/dW|| of every layer and ||dL/dh_t|| of every time step.

    record = measure_gradients(model, (x, y))              # any zoo model or NumPy twin
    record.grad_norms()["features.0.weight"]               # ||dL/dW||
    record.recurrent[0].grad_norms                         # (T,) ||dL/dh_t|| of rnn.l0
    plot_gradient_flow({"at initialization": r0, "after training": r1}, "gradflow.png")

The loss is the task's step (:class:`nnatlas.train.steps.Step`; cross-entropy classification
by default), computed in train mode as the optimizer would see it, so BatchNorm uses the
batch's statistics; the model is left as it was (its running statistics, gradients and random
state are restored). The two engines give the same numbers for the same weights and batch
(tests/inspect/test_gradflow.py).

Why look: in a plain deep net or an Elman RNN the gradient shrinks (or grows) geometrically
on its way back: through each layer it is multiplied by that layer's Jacobian, through each
time step by ``W_hh^T diag(act'(a_t))`` (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov &
Bengio 2013, arXiv 1211.5063). Residual connections and the LSTM's additive memory give it a
path that is not multiplied away (He et al. 2016; Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import default_step, losses_for, probe
from nnatlas.inspect.figures import Figure, figure, save
from nnatlas.inspect.records import GradientRecord


def measure_gradients(
    model: Any, batch: Sequence[Any], step: Any = None, training: bool = True
) -> GradientRecord:
    """One forward and backward pass of ``batch`` through ``step``'s loss.

    Args:
        model: a zoo model or a NumPy-engine model.
        batch: what the step takes, e.g. ``(x, y)`` (arrays or tensors; moved to the model's
            engine, device and dtype).
        step: the task's :class:`~nnatlas.train.steps.Step` (default: classification).
        training: train mode (the gradient training follows); False measures in eval mode.
    """
    engine = probe(model)
    return engine.gradients(model, batch, step or default_step(), losses_for(model), training)


def layer_rows(record: GradientRecord, weights_only: bool = True) -> list[dict[str, Any]]:
    """One row per parameter in the model's order: ``name``, ``shape``, ``grad_norm``,
    ``weight_norm`` (weight matrices and kernels only, unless ``weights_only`` is False)."""
    rows = []
    for name, grad in record.grads.items():
        if weights_only and grad.ndim < 2:
            continue
        rows.append(
            {
                "name": name,
                "shape": list(grad.shape),
                "grad_norm": float(np.linalg.norm(grad.astype(np.float64))),
                "weight_norm": record.weight_norms.get(name),
            }
        )
    return rows


def summary(record: GradientRecord) -> dict[str, Any]:
    """A record as plain numbers: the loss, every parameter's row, the per-step norms."""
    return {
        "loss": record.loss,
        "layers": layer_rows(record, weights_only=False),
        "recurrent": {r.layer: r.grad_norms for r in record.recurrent if r.grad_norms is not None},
        "skipped": [
            {"module": name, "calls": calls, "why": "run once per token: no per-step record"}
            for name, calls in record.skipped
        ],
    }


def plot_gradient_flow(
    records: Mapping[str, GradientRecord], path: str | Path, title: str | None = None
) -> Figure:
    """||dL/dW|| per layer (left) and ||dL/dh_t|| per step (right, for recurrent layers), one
    line per record (e.g. at initialization and after training), on log scales.

    The JSON holds :func:`summary` of each record by its label.
    """
    recurrent = any(r.grad_norms is not None for rec in records.values() for r in rec.recurrent)
    fig, axes = figure(columns=2 if recurrent else 1, size=(6.4, 4.0))
    ax = axes[0, 0]
    names: list[str] = []
    for label, record in records.items():
        rows = layer_rows(record)
        names = names or [row["name"] for row in rows]
        norms = [max(row["grad_norm"], 1e-30) for row in rows]
        ax.plot(range(len(norms)), norms, "-o", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (input -> output)")
    ax.set_ylabel("||dL/dW||")
    ax.set_title("gradient norm per layer")
    if names and len(names) <= 24:
        ax.set_xticks(range(len(names)), [n.removesuffix(".weight") for n in names], rotation=90)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if recurrent:
        ax = axes[0, 1]
        for label, record in records.items():
            for r in record.recurrent:
                if r.grad_norms is None:
                    continue
                tag = label if len(record.recurrent) == 1 else f"{label}, {r.layer}"
                ax.plot(range(1, len(r.grad_norms) + 1), np.maximum(r.grad_norms, 1e-30), label=tag)
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.set_ylabel("||dL/dh_t||")
        ax.set_title("gradient reaching each time step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, path, {label: summary(record) for label, record in records.items()})


def plot_norm_series(
    series: Mapping[str, Sequence[float]],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    styles: Mapping[str, str] | None = None,
) -> Figure:
    """Several norm curves on one log-scale panel (experiments: per step, per layer).

    ``series`` maps a label to its values (index 1, 2, ... on the x axis); ``styles`` a label
    to a matplotlib format such as ``"--"``. The JSON holds the series.
    """
    fig, axes = figure(size=(6.0, 4.0))
    ax = axes[0, 0]
    for label, values in series.items():
        values = np.maximum(np.asarray(values, dtype=np.float64), 1e-30)
        ax.plot(range(1, len(values) + 1), values, (styles or {}).get(label, "-"), label=label)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path, {"xlabel": xlabel, "ylabel": ylabel, "series": dict(series)})
