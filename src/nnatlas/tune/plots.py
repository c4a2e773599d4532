"""The tools' plots as PNG files, each written atomically (a reader never sees half a file).

:func:`figure` and :func:`save` wrap matplotlib (Agg backend, no display needed); the plots
themselves live with the tool that draws them, except the three of a tune, which are here:
the optimization history, the parameters' importances and learning rate against the metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def figure(columns: int = 1, rows: int = 1, size: tuple[float, float] = (5.5, 3.8)) -> Any:
    """``(fig, axes)`` with ``axes`` always a 2-D array of ``rows x columns``."""
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot's import
    import matplotlib.pyplot as plt

    width, height = size
    return plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)


def save(fig: Any, path: str | Path) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically and close it."""
    import matplotlib.pyplot as plt

    from nnatlas.files import atomic_target

    fig.tight_layout()
    try:
        with atomic_target(path, suffix=".tmp.png") as tmp:  # savefig picks the format by suffix
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return Path(path)


def optimization_history(rows: Sequence[dict[str, Any]], metric: str, maximize: bool, path: Path):
    """Each finished trial's value by trial number (pruned ones hollow, at the value they were
    pruned with) and the best value so far."""
    fig, axes = figure()
    ax = axes[0][0]
    done = [r for r in rows if r["value"] is not None and r["state"] in ("COMPLETE", "PRUNED")]
    for state, style in (("COMPLETE", dict(color="C0")), ("PRUNED", dict(facecolors="none"))):
        points = [r for r in done if r["state"] == state]
        ax.scatter(
            [r["number"] for r in points],
            [r["value"] for r in points],
            label=state.lower(),
            edgecolors="C0",
            **style,
        )
    complete = sorted((r for r in done if r["state"] == "COMPLETE"), key=lambda r: r["number"])
    best, xs, ys = None, [], []
    for r in complete:
        if best is None or (r["value"] > best if maximize else r["value"] < best):
            best = r["value"]
        xs.append(r["number"])
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="C3", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers are whole
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("optimization history")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def importances(values: dict[str, float], path: Path, evaluator: str):
    """Horizontal bars: each parameter's share of the variation of the metric."""
    names = sorted(values, key=values.get)
    fig, axes = figure(size=(5.5, 0.5 * len(names) + 1.5))
    ax = axes[0][0]
    ax.barh(names, [values[n] for n in names], color="C0")
    ax.set_xlabel(f"importance ({evaluator})")
    ax.set_title("parameter importances")
    ax.grid(alpha=0.3, axis="x")
    return save(fig, path)


def rate_vs_metric(rows: Sequence[dict[str, Any]], metric: str, path: Path):
    """The learning rate of each trial against its value (log rate), pruned trials hollow."""
    fig, axes = figure()
    ax = axes[0][0]
    for state, style in (("COMPLETE", dict(color="C0")), ("PRUNED", dict(facecolors="none"))):
        points = [r for r in rows if r["state"] == state and r["value"] is not None]
        points = [r for r in points if "lr" in r["params"]]
        ax.scatter(
            [r["params"]["lr"] for r in points],
            [r["value"] for r in points],
            label=state.lower(),
            edgecolors="C0",
            **style,
        )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(metric)
    ax.set_title(f"learning rate vs {metric}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
