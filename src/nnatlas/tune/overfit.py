"""The overfitting study: train-validation gap over capacity x training-set size x regularizer.

Every run trains an MLP through :func:`nnatlas.tasks.train` on a stratified subset of the
training split (``limit``), with the same epochs, optimizer (AdamW, lr 1e-3) and seed, and
keeps its *last* epoch's weights (``restore_best=False``), so that nothing fights overfitting
unless the row says so. The gap is measured, not read off the history: the final weights are
evaluated in eval mode (dropout off, batch norm frozen, no augmentation) on the training
subset and on the validation split, and ``gap = train accuracy - validation accuracy``. The
test accuracy is the run's own test.

The regularizers, each against the plain run of the same capacity and size:

- ``weight_decay``: decoupled weight decay (AdamW, Loshchilov & Hutter 2019) of 0.05;
- ``dropout``: p = 0.5 after each hidden layer (Srivastava et al. 2014: the value for hidden
  units);
- ``augmentation``: the ``light`` preset (random crops with 1/8 padding, horizontal flips);
- ``early_stopping``: stop after 5 epochs without a better validation loss, keep the best
  epoch's weights;
- ``batch_norm``: BatchNorm1d after each hidden Linear (Ioffe & Szegedy 2015);
- ``label_smoothing``: 0.1 (Szegedy et al. 2016).

Every run holds out a quarter of the training split for validation (``VAL_FRACTION``; 382
digits instead of the usual tenth's 153), so that a gap is measured on enough examples. The
findings say, for each comparison, whether the gap shrank, grew, or moved less than the
noise of a validation accuracy (one standard error, sqrt(p (1 - p) / n): 0.014 for 0.91 on
382 digits); a regularizer that does not help here is reported as such (horizontal flips
turn some digits into other shapes, so augmentation is expected to cost accuracy on digits).
Finished runs are kept in ``results.json``: an interrupted study continues where it stopped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError


class StudyError(NnatlasError, ValueError):
    """Study options that cannot make a sweep (the message says which)."""


@dataclass(frozen=True)
class Regularizer:
    """One way of fighting overfitting: options of the run and of the model."""

    name: str
    help: str
    options: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    model_options: dict[str, Any] = field(default_factory=dict)
    augment: str = "none"


REGULARIZERS: dict[str, Regularizer] = {
    r.name: r
    for r in (
        Regularizer("none", "nothing; the last epoch's weights"),
        Regularizer("weight_decay", "AdamW weight decay 0.05", {"weight_decay": 0.05}),
        Regularizer(
            "dropout", "dropout 0.5 after each hidden layer", model_options={"dropout": 0.5}
        ),
        Regularizer("augmentation", "random crops + horizontal flips (light)", augment="light"),
        Regularizer(
            "early_stopping",
            "patience 5 on val_loss, best epoch's weights",
            {"patience": 5, "restore_best": True},
        ),
        Regularizer(
            "batch_norm", "BatchNorm1d after each hidden Linear", model_options={"batchnorm": True}
        ),
        Regularizer("label_smoothing", "label smoothing 0.1", {"label_smoothing": 0.1}),
    )
}
# Hidden widths of the MLPs compared: one that can barely memorize, one that easily can.
CAPACITIES: dict[str, list[int]] = {"small": [32], "large": [512, 512]}
# What every run shares. One thread: these MLPs are small, and on 2 shared cores one thread
# per process ran 10x faster than two (measured: 0.19 s vs 2.2 s per digits epoch).
BASE = dict(optimizer="adamw", lr=1e-3, batch_size=32, scheduler="none", weight_decay=0.0)
BASE.update(restore_best=False, threads=1, quiet=True, tensorboard=False, metrics="accuracy")
SIZES = {"digits": [100, 300, None], "fashion-mnist": [500, 2000, 8000, None]}  # None = all
VAL_FRACTION = 0.25  # of the training split (a dataset with its own validation split keeps it)
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Design:
    """Which runs a study makes: capacity x size for ``none``; the regularizers at ``reg_sizes``
    for ``reg_capacities`` (all of them, in a full study)."""

    data: str
    epochs: int
    sizes: tuple[int | None, ...]
    capacities: tuple[str, ...] = tuple(CAPACITIES)
    regularizers: tuple[str, ...] = tuple(REGULARIZERS)
    reg_capacities: tuple[str, ...] = tuple(CAPACITIES)
    reg_sizes: tuple[int | None, ...] = ()
    seed: int = 0

    def runs(self) -> list[tuple[str, int | None, str]]:
        out = [(c, n, "none") for c in self.capacities for n in self.sizes]
        reg_sizes = self.reg_sizes or self.sizes
        out += [
            (c, n, r)
            for c in self.reg_capacities
            for n in reg_sizes
            for r in self.regularizers
            if r != "none"
        ]
        return out


def default_data() -> str:
    """Fashion-MNIST when Debian's copy is installed, else scikit-learn's digits."""
    return "fashion-mnist" if FASHION_MNIST.is_dir() else "digits"


def design(
    quick: bool, data: str | None = None, epochs: int | None = None,
    sizes: list[int | None] | None = None, seed: int = 0,
    regularizers: list[str] | None = None,
) -> Design:  # fmt: skip
    """The quick design (digits; both capacities at three sizes, the six regularizers on the
    large MLP at the two smallest: 18 runs) or the full one (every combination)."""
    data = data or ("digits" if quick else default_data())
    chosen = tuple(sizes) if sizes else tuple(SIZES.get(data, [100, 1000, None]))
    if any(n is not None and n < 10 for n in chosen):
        raise StudyError(f"--sizes: train on at least 10 examples, got {list(chosen)}")
    regs = tuple(dict.fromkeys(["none", *(regularizers or REGULARIZERS)]))
    unknown = [r for r in regs if r not in REGULARIZERS]
    if unknown:
        raise StudyError(
            f"--regularizers: unknown {', '.join(unknown)}; choose from {', '.join(REGULARIZERS)}"
        )
    if epochs is not None and epochs < 1:
        raise StudyError(f"--epochs must be at least 1, got {epochs}")
    if quick:
        small = tuple(n for n in chosen if n is not None)[:2] or chosen[:1]
        return Design(data, epochs or 40, chosen, regularizers=regs, reg_capacities=("large",),
                      reg_sizes=small, seed=seed)  # fmt: skip
    return Design(data, epochs or 40, chosen, regularizers=regs, seed=seed)


@dataclass
class StudyResult:
    """The rows (one per run), the findings (sentences), and the files written."""

    design: Design
    rows: list[dict[str, Any]]
    findings: list[str]
    files: dict[str, Path]


def overfit_study(
    quick: bool = True,
    data: str | None = None,
    *,
    folder: str | Path | None = None,
    epochs: int | None = None,
    sizes: list[int | None] | None = None,
    seed: int = 0,
    regularizers: list[str] | None = None,
    on_run: Callable[[dict[str, Any], int, int], None] | None = None,
) -> StudyResult:
    """Run the study (finished runs in ``folder/results.json`` are reused) and write
    ``overfit.csv``, ``overfit.png`` and ``findings.txt``.

    Args:
        quick: the quick design (digits, 18 runs, a few minutes on 2 cores) or the full one.
        data: an image dataset (default: digits for quick, else Fashion-MNIST when present).
        folder: default ``runs/study-overfit-DATA``.
        epochs: per run (default 40).
        sizes: training-set sizes (``None``: the whole training split).
        regularizers: the ones to compare with ``none`` (default: all of
            :data:`REGULARIZERS`).
        on_run: called with each row, its index and the number of runs.
    """
    import json

    from nnatlas.files import write_json

    plan = design(quick, data, epochs, sizes, seed, regularizers)
    folder = Path(folder) if folder is not None else Path("runs") / f"study-overfit-{plan.data}"
    folder.mkdir(parents=True, exist_ok=True)
    cache_path = folder / "results.json"
    cache: dict[str, dict[str, Any]] = {}
    if cache_path.is_file():
        try:
            cache = {row["key"]: row for row in json.loads(cache_path.read_text())}
        except (ValueError, KeyError, TypeError):
            cache = {}  # a damaged cache costs a rerun, never a wrong row
    runs = plan.runs()
    rows = []
    for index, (capacity, size, reg) in enumerate(runs):
        key = _key(plan, capacity, size, reg)
        row = cache.get(key) or _train(plan, capacity, size, reg, folder)
        row["key"] = key
        cache[key] = row
        rows.append(row)
        write_json(cache_path, list(cache.values()))
        if on_run is not None:
            on_run(row, index, len(runs))
    findings = summarize(rows)
    files = _write(folder, rows, findings)
    return StudyResult(plan, rows, findings, files)


def _key(plan: Design, capacity: str, size: int | None, reg: str) -> str:
    r = REGULARIZERS[reg]
    parts = [plan.data, plan.epochs, plan.seed, CAPACITIES[capacity], size, asdict(r), BASE]
    parts.append(VAL_FRACTION)
    return json_key(parts)


def json_key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _train(plan: Design, capacity: str, size: int | None, reg: str, folder: Path) -> dict:
    import time

    import nnatlas.tasks as tasks

    r = REGULARIZERS[reg]
    start = time.perf_counter()
    options = {**BASE, "epochs": plan.epochs, "seed": plan.seed, **r.options}
    model_options = {"hidden_sizes": CAPACITIES[capacity], **r.model_options}
    name = f"{capacity}-n{size or 'all'}-{reg}"
    run = tasks.train(
        "mlp", plan.data, run_dir=folder / "runs" / name, limit=size, augment=r.augment,
        val_fraction=VAL_FRACTION,
        model_options=model_options, overwrite=True, **options,
    )  # fmt: skip
    train = tasks.evaluate(run, "train")
    val = tasks.evaluate(run, "val")
    return {
        "capacity": capacity,
        "hidden_sizes": CAPACITIES[capacity],
        "size": train.examples,
        "limit": size,
        "regularizer": reg,
        "train_accuracy": train["accuracy"],
        "val_accuracy": val["accuracy"],
        "test_accuracy": run.test_metrics["accuracy"],
        "gap": train["accuracy"] - val["accuracy"],
        "val_examples": val.examples,
        "epochs": len(run.history),
        "seconds": time.perf_counter() - start,
    }


def noise(accuracy: float, examples: int) -> float:
    """One standard error of an accuracy measured on ``examples`` (at least one example)."""
    return max(1 / examples, math.sqrt(accuracy * (1 - accuracy) / examples))


def _verdict(before: float, after: float, tolerance: float) -> str:
    if after < before - tolerance:
        return "shrinks"
    if after > before + tolerance:
        return "GROWS"
    return f"within noise (+-{tolerance:.3f})"


def summarize(rows: list[dict[str, Any]]) -> list[str]:
    """Sentences: how the gap moves with more data, and with each regularizer."""
    out = []
    plain = [r for r in rows if r["regularizer"] == "none"]
    for capacity in dict.fromkeys(r["capacity"] for r in plain):
        line = sorted((r for r in plain if r["capacity"] == capacity), key=lambda r: r["size"])
        if len(line) < 2:
            continue
        one = noise(line[0]["val_accuracy"], line[0]["val_examples"])
        gaps = " -> ".join(f"{r['gap']:.3f}" for r in line)
        sizes = " -> ".join(str(r["size"]) for r in line)
        steps = [_verdict(a["gap"], b["gap"], one) for a, b in zip(line, line[1:], strict=False)]
        whole = _verdict(line[0]["gap"], line[-1]["gap"], one)
        exceptions = [
            f"{a['size']}->{b['size']}: {v}"
            for a, b, v in zip(line, line[1:], steps, strict=False)
            if v != "shrinks"
        ]
        note = (
            f"; not at every step ({'; '.join(exceptions)})"
            if exceptions and whole == "shrinks"
            else ""
        )
        out.append(
            f"more data, {capacity} MLP, no regularizer: gap {gaps} for {sizes} examples: "
            f"{whole}{note}"
        )
    base = {(r["capacity"], r["size"]): r for r in plain}
    tally: dict[str, list[str]] = {"shrinks": [], "within noise": [], "GROWS": []}
    for r in rows:
        if r["regularizer"] == "none" or (r["capacity"], r["size"]) not in base:
            continue
        b = base[(r["capacity"], r["size"])]
        verdict = _verdict(b["gap"], r["gap"], noise(b["val_accuracy"], b["val_examples"]))
        tally[verdict.split(" (")[0]].append(f"{r['regularizer']} at {r['size']}")
        test = r["test_accuracy"] - b["test_accuracy"]
        out.append(
            f"{r['regularizer']}, {r['capacity']} MLP, {r['size']} examples: gap "
            f"{b['gap']:.3f} -> {r['gap']:.3f}: {verdict}; test accuracy "
            f"{b['test_accuracy']:.3f} -> {r['test_accuracy']:.3f} ({test:+.3f})"
        )
    total = sum(map(len, tally.values()))
    if total:
        said = "; ".join(f"{k} {len(v)} ({', '.join(v)})" for k, v in tally.items() if v)
        out.append(f"in all, of {total} regularized runs the gap {said}")
    return out


COLUMNS = ("capacity", "size", "regularizer", "train_accuracy", "val_accuracy", "gap",
           "test_accuracy", "epochs", "seconds")  # fmt: skip


def _write(folder: Path, rows: list[dict[str, Any]], findings: list[str]) -> dict[str, Path]:
    from nnatlas.files import write_text_atomic

    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    files = {"table": write_text_atomic(folder / "overfit.csv", buffer.getvalue())}
    files["findings"] = write_text_atomic(folder / "findings.txt", "\n".join(findings) + "\n")
    files["plot"] = plot_study(rows, folder / "overfit.png")
    return files


def plot_study(rows: list[dict[str, Any]], path: Path) -> Path:
    """Top: gap and test accuracy against training-set size (no regularizer, one line per
    capacity). Bottom: the same two for each regularizer, bars grouped by size."""
    from nnatlas.tune import plots

    fig, axes = plots.figure(columns=2, rows=2)
    plain = [r for r in rows if r["regularizer"] == "none"]
    for ax, key in zip(axes[0], ("gap", "test_accuracy"), strict=True):
        for i, capacity in enumerate(dict.fromkeys(r["capacity"] for r in plain)):
            line = sorted((r for r in plain if r["capacity"] == capacity), key=lambda r: r["size"])
            ax.plot([r["size"] for r in line], [r[key] for r in line], "-o", color=f"C{i}",
                    label=f"{capacity} MLP")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("training examples")
        ax.set_ylabel("train - val accuracy" if key == "gap" else "test accuracy")
        ax.set_title(f"{'gap' if key == 'gap' else 'test accuracy'} vs data (no regularizer)")
        ax.grid(alpha=0.3)
        ax.legend()
    regs = [r for r in rows if r["regularizer"] != "none"]
    groups = sorted({(r["capacity"], r["size"]) for r in regs}, key=lambda g: (g[0], g[1]))
    names = list(dict.fromkeys(["none", *(r["regularizer"] for r in regs)]))
    table = {(r["capacity"], r["size"], r["regularizer"]): r for r in rows}
    width = 0.8 / max(len(groups), 1)
    for ax, key in zip(axes[1], ("gap", "test_accuracy"), strict=True):
        for g, (capacity, size) in enumerate(groups):
            values = [table.get((capacity, size, n), {}).get(key, math.nan) for n in names]
            xs = [i + (g - (len(groups) - 1) / 2) * width for i in range(len(names))]
            ax.bar(xs, values, width, label=f"{capacity}, {size} examples", color=f"C{g}")
        ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names], fontsize=8)
        ax.set_ylabel("train - val accuracy" if key == "gap" else "test accuracy")
        ax.set_title(f"{'gap' if key == 'gap' else 'test accuracy'} by regularizer")
        if key == "test_accuracy":
            finite = [r[key] for r in rows if math.isfinite(r[key])]
            if finite:
                ax.set_ylim(max(0.0, min(finite) - 0.05), min(1.0, max(finite) + 0.02))
        ax.grid(alpha=0.3, axis="y")
        if groups:
            ax.legend(fontsize=8)
    return plots.save(fig, path)
