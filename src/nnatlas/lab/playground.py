"""The playground: an MLP on 2-D points, trained by the NumPy engine, its boundary redrawn live.

What TensorFlow Playground's users asked for and it lacks, on nnatlas's own engine: several
classes (spirals has three, a CSV any number), cross-entropy (or squared error on the softmax,
to compare), dropout, an activation per layer, residual connections (a hidden layer whose input
and output widths agree can add its input to its output), the user's own CSV, and the trained
network exported as a Python file (:mod:`nnatlas.lab.export`).

The network is plain :mod:`nnatlas.scratch`::

    Sequential(                                  # names as torch.nn.Sequential's
      0: Sequential(Linear(2, 8), Tanh[, Dropout])
      1: Residual(block=Sequential(Linear(8, 8), ReLU[, Dropout]))   # with residual on
      2: Linear(8, classes))

Shape: points (N, 2) -> logits (N, classes).
"""

from __future__ import annotations

import base64
import csv
import io
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nnatlas.data as data
import nnatlas.scratch as nn
from nnatlas.errors import NnatlasError

TOY_SETS = ("moons", "circles", "spirals", "xor")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")
LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("adam", "sgd")
MAX_POINTS = 20_000  # a CSV beyond this is not a playground any more
MAX_WIDTH, MAX_LAYERS = 256, 8


class PlaygroundError(NnatlasError, ValueError):
    """A playground option or CSV the network cannot be trained with; the message names it."""


@dataclass
class PlaygroundSpec:
    """Everything a playground training is made of (the page's form; plain values).

    Attributes:
        data: ``moons``, ``circles``, ``spirals``, ``xor``, or ``csv:NAME`` (a file in the
            lab's data folder, or an upload) with columns ``x1, x2, label``.
        points, noise: how many points a toy set has and how noisy they are.
        hidden: the width of each hidden layer; ``activations`` one name per layer.
        dropout: drop probability after each hidden layer's activation (0: none).
        residual: add a hidden layer's input to its output where the widths agree.
        loss: ``cross_entropy`` (softmax + negative log-likelihood) or ``mse`` (squared error
            between the softmax and the one-hot label, TensorFlow Playground's loss).
        optimizer, lr, batch_size, epochs, weight_decay: the training.
        test_fraction: the points held out to test on (a toy set brings its own split).
        grid: the boundary is drawn on ``grid`` x ``grid`` points.
        report_every: steps between two reports (metrics and the boundary).
        pace_ms: at least this long between two reports, so a person can watch a training
            that would otherwise be over in a tenth of a second (0: full speed).
        seed: initial weights, batches, dropout and the toy set's points.
    """

    data: str = "moons"
    points: int = 400
    noise: float = 0.15
    hidden: list[int] = field(default_factory=lambda: [8, 8])
    activations: list[str] = field(default_factory=lambda: ["tanh", "tanh"])
    dropout: float = 0.0
    residual: bool = False
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 32
    epochs: int = 60
    weight_decay: float = 0.0
    test_fraction: float = 0.3
    grid: int = 48
    report_every: int = 10
    pace_ms: int = 0
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PlaygroundSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlaygroundError(
                f"playground: unknown option(s) {unknown}; known: {sorted(known)}"
            )
        spec = cls(**values)
        spec.check()
        return spec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> None:
        """Refuse what cannot train, naming the option and what it takes."""

        def need(ok: bool, message: str) -> None:
            if not ok:
                raise PlaygroundError(f"playground: {message}")

        need(
            isinstance(self.hidden, list) and 1 <= len(self.hidden) <= MAX_LAYERS,
            f"hidden: give 1 to {MAX_LAYERS} layer widths, got {self.hidden!r}",
        )
        need(
            all(isinstance(w, int) and 1 <= w <= MAX_WIDTH for w in self.hidden),
            f"hidden: each width must be a whole number 1..{MAX_WIDTH}, got {self.hidden}",
        )
        if isinstance(self.activations, str):
            self.activations = [self.activations] * len(self.hidden)
        need(
            len(self.activations) == len(self.hidden),
            f"activations: one per hidden layer ({len(self.hidden)}), got {self.activations}",
        )
        bad = [a for a in self.activations if a not in ACTIVATIONS]
        need(not bad, f"activations: {bad} unknown; choose from {', '.join(ACTIVATIONS)}")
        need(0.0 <= self.dropout < 1.0, f"dropout: a probability in [0, 1), got {self.dropout}")
        need(self.loss in LOSSES, f"loss {self.loss!r}: choose {' or '.join(LOSSES)}")
        need(self.optimizer in OPTIMIZERS, f"optimizer {self.optimizer!r}: choose adam or sgd")
        need(0 < self.lr <= 10, f"lr: a positive learning rate up to 10, got {self.lr}")
        need(1 <= self.batch_size <= 4096, f"batch_size: 1..4096, got {self.batch_size}")
        need(1 <= self.epochs <= 5000, f"epochs: 1..5000, got {self.epochs}")
        need(0.0 <= self.weight_decay < 1.0, f"weight_decay: [0, 1), got {self.weight_decay}")
        need(10 <= self.points <= MAX_POINTS, f"points: 10..{MAX_POINTS}, got {self.points}")
        need(0.0 <= self.noise <= 2.0, f"noise: 0..2, got {self.noise}")
        need(
            0.05 <= self.test_fraction <= 0.8, f"test_fraction: 0.05..0.8, got {self.test_fraction}"
        )
        need(8 <= self.grid <= 200, f"grid: 8..200 points a side, got {self.grid}")
        need(0 <= self.pace_ms <= 2000, f"pace_ms: 0..2000 ms, got {self.pace_ms}")
        need(1 <= self.report_every <= 100_000, f"report_every: >= 1, got {self.report_every}")
        need(
            self.data in TOY_SETS or self.data.startswith("csv:"),
            f"data {self.data!r}: choose {', '.join(TOY_SETS)} or csv:NAME",
        )


@dataclass
class Points:
    """Train and test points. Shape: x_* (N, 2) float32, y_* (N,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]


def toy_points(spec: PlaygroundSpec) -> Points:
    """A catalog toy set (its own train split, its validation and test splits held out)."""
    splits = data.load_tabular_dataset(spec.data, n=spec.points, noise=spec.noise, seed=spec.seed)
    x_test = np.concatenate([splits.val.x.numpy(), splits.test.x.numpy()])
    y_test = np.concatenate([splits.val.y.numpy(), splits.test.y.numpy()])
    return Points(splits.train.x.numpy(), splits.train.y.numpy(), x_test, y_test, splits.classes)


def csv_points(text: str, name: str, test_fraction: float, seed: int) -> Points:
    """Points from CSV text: two numeric columns then a label (a header row is optional).

    Labels may be words or numbers; classes are sorted. A stratified share ``test_fraction``
    is held out.
    """
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if rows and not _numeric(rows[0][:2]):
        rows = rows[1:]  # a header
    if len(rows) < 10:
        raise PlaygroundError(f"{name}: {len(rows)} data rows; give at least 10 rows x1,x2,label")
    if len(rows) > MAX_POINTS:
        raise PlaygroundError(f"{name}: {len(rows):,} rows; the playground takes {MAX_POINTS:,}")
    xs, labels = [], []
    for number, row in enumerate(rows, 1):
        if len(row) < 3 or not _numeric(row[:2]):
            raise PlaygroundError(
                f"{name}: data row {number} is {row!r}; expected two numbers and a label "
                "(x1,x2,label)"
            )
        xs.append((float(row[0]), float(row[1])))
        labels.append(row[2].strip())
    x = np.asarray(xs, dtype=np.float32)
    if not np.isfinite(x).all():
        raise PlaygroundError(f"{name}: the coordinates hold NaN or infinite values")
    classes = sorted(
        set(labels), key=lambda c: (not _numeric([c]), float(c) if _numeric([c]) else 0, c)
    )
    if len(classes) < 2:
        raise PlaygroundError(f"{name}: one class only ({classes[0]}); give two or more")
    y = np.asarray([classes.index(c) for c in labels], dtype=np.int64)
    rest, test = data.stratified_split(y, test_fraction, seed)
    return Points(x[rest], y[rest], x[test], y[test], classes)


def _numeric(cells: list[str]) -> bool:
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return bool(cells)


class Residual(nn.Module):
    """``x + block(x)``: the identity shortcut of He et al. (2016) on a hidden layer.

    Shape: x (N, D) -> (N, D); the block must keep the width. See: the exported file's
    ``Residual`` (its PyTorch twin, same parameter names ``block.0.weight`` ...).
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + self.block(x)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        # d(x + f(x))/dx = I + df/dx: the shortcut passes the gradient on unchanged.
        return grad_out + self.block.backward(grad_out)


def layer_plan(spec: PlaygroundSpec) -> list[dict[str, Any]]:
    """Per hidden layer: its input and output width, activation and whether it is residual."""
    plan, width_in = [], 2
    for width, activation in zip(spec.hidden, spec.activations, strict=True):
        residual = spec.residual and width_in == width
        plan.append({"in": width_in, "out": width, "activation": activation, "residual": residual})
        width_in = width
    return plan


def build_network(spec: PlaygroundSpec, classes: int) -> nn.Sequential:
    """The scratch MLP of ``spec`` (initial weights drawn from ``spec.seed``)."""
    rng = np.random.default_rng(spec.seed)
    layers: list[nn.Module] = []
    for layer in layer_plan(spec):
        parts = [nn.Linear(layer["in"], layer["out"], rng=rng), _activation(layer["activation"])]
        if spec.dropout > 0:
            parts.append(nn.Dropout(spec.dropout, rng=rng))
        block = nn.Sequential(*parts)
        layers.append(Residual(block) if layer["residual"] else block)
    layers.append(nn.Linear(spec.hidden[-1], classes, rng=rng))
    return nn.Sequential(*layers)


def _activation(name: str) -> nn.Module:
    return {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "leaky_relu": nn.LeakyReLU,
    }[name]()


class Objective:
    """The loss of logits (N, C) against labels (N,): its value and d loss / d logits."""

    def __init__(self, kind: str, classes: int) -> None:
        self.kind, self.classes = kind, classes
        self.cross_entropy = nn.CrossEntropyLoss()
        self.softmax, self.mse = nn.Softmax(dim=1), nn.MSELoss()

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        if self.kind == "cross_entropy":
            return float(self.cross_entropy(logits, y))
        one_hot = np.eye(self.classes, dtype=logits.dtype)[y]  # (N, C)
        return float(self.mse(self.softmax(logits), one_hot))

    def backward(self) -> np.ndarray:
        if self.kind == "cross_entropy":
            return self.cross_entropy.backward()
        return self.softmax.backward(self.mse.backward())


def probabilities(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """Class probabilities in eval mode. Shape: x (N, 2) -> (N, C)."""
    net.eval()
    logits = net(np.asarray(x, dtype=np.float32))
    net.train()
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def grid_box(points: Points, margin: float = 0.25) -> list[float]:
    """``[x_min, x_max, y_min, y_max]`` around every point, with a margin of the span."""
    every = np.concatenate([points.x_train, points.x_test])
    low, high = every.min(axis=0), every.max(axis=0)
    pad = (high - low) * margin + 1e-3
    box = (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])
    return [round(float(v), 4) for v in box]


def boundary(net: nn.Module, box: list[float], size: int) -> dict[str, Any]:
    """The predicted class and its probability on a ``size`` x ``size`` grid over ``box``,
    row by row from the top (y_max) down, as a picture is drawn.

    Both go as base64 of one byte per cell (``cls``: the class; ``p``: the probability times
    255): 6 KB for a 48 x 48 grid where JSON lists of numbers take 17 KB, and encoded in a
    tenth of the time (the training thread encodes each report once for every watcher).
    """
    xs = np.linspace(box[0], box[1], size)
    ys = np.linspace(box[3], box[2], size)
    gx, gy = np.meshgrid(xs, ys)  # (size, size) each
    probs = probabilities(net, np.stack([gx.ravel(), gy.ravel()], axis=1))  # (size^2, C)
    cls = probs.argmax(axis=1).astype(np.uint8)
    p = np.round(probs.max(axis=1) * 255).astype(np.uint8)
    return {
        "size": size,
        "box": box,
        "cls": base64.b64encode(cls.tobytes()).decode("ascii"),
        "p": base64.b64encode(p.tobytes()).decode("ascii"),
    }


def decode_boundary(grid: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(classes (size, size) int, probabilities (size, size) float)`` of a boundary report."""
    size = grid["size"]
    cls = np.frombuffer(base64.b64decode(grid["cls"]), np.uint8).reshape(size, size)
    p = np.frombuffer(base64.b64decode(grid["p"]), np.uint8).reshape(size, size) / 255.0
    return cls.astype(int), p


@dataclass
class Trained:
    """A finished playground training: the network and what rebuilds and checks it."""

    spec: PlaygroundSpec
    net: nn.Sequential
    points: Points
    history: list[dict[str, float]]

    @property
    def classes(self) -> list[str]:
        return self.points.classes


def _metrics(
    net: nn.Module, objective: Objective, x: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    net.eval()
    logits = net(x)
    loss = objective.forward(logits, y)
    net.train()
    return loss, float((logits.argmax(axis=1) == y).mean())


def train(spec: PlaygroundSpec, points: Points, job: Any) -> Trained:
    """Train the playground network, reporting to ``job`` every ``spec.report_every`` steps.

    ``job`` has ``publish(kind, data, replace=False)`` and ``checkpoint()`` (a lab
    :class:`~nnatlas.lab.jobs.Job`); reports: ``points`` once, then ``metrics`` (step, epoch,
    train and test loss and accuracy) and the ``boundary`` (only the newest is kept).
    """
    from threadpoolctl import threadpool_limits

    classes = len(points.classes)
    net = build_network(spec, classes)
    objective = Objective(spec.loss, classes)
    params = net.parameters()
    if spec.optimizer == "adam":
        optimizer = nn.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    else:
        optimizer = nn.SGD(params, lr=spec.lr, momentum=0.9, weight_decay=spec.weight_decay)
    rng = np.random.default_rng(spec.seed + 1)
    box = grid_box(points)
    job.publish("points", _points_event(points, box))
    n = len(points.x_train)
    per_epoch = math.ceil(n / spec.batch_size)
    history: list[dict[str, float]] = []
    step, start = 0, time.perf_counter()
    # Matrices of a few hundred numbers: BLAS threads would only wait on one another.
    with threadpool_limits(limits=1, user_api="blas"):
        for _epoch in range(spec.epochs):
            order = rng.permutation(n)
            for first in range(0, n, spec.batch_size):
                job.checkpoint()
                index = order[first : first + spec.batch_size]
                optimizer.zero_grad()
                objective.forward(net(points.x_train[index]), points.y_train[index])
                net.backward(objective.backward())
                optimizer.step()
                step += 1
                last = step == spec.epochs * per_epoch
                if step % spec.report_every == 0 or last:
                    row = _report(net, objective, points, step, step / per_epoch)
                    row["seconds"] = round(time.perf_counter() - start, 3)
                    history.append(row)
                    if not math.isfinite(row["train_loss"]):
                        raise PlaygroundError(
                            f"playground: the training loss is {row['train_loss']} at step "
                            f"{step} (it diverged); lower lr"
                        )
                    job.publish("metrics", row)
                    job.publish("boundary", boundary(net, box, spec.grid), replace=True)
                    if spec.pace_ms:
                        time.sleep(spec.pace_ms / 1000)
    net.eval()
    return Trained(spec, net, points, history)


def _report(
    net: nn.Module, objective: Objective, points: Points, step: int, epoch: float
) -> dict[str, float]:
    train_loss, train_acc = _metrics(net, objective, points.x_train, points.y_train)
    test_loss, test_acc = _metrics(net, objective, points.x_test, points.y_test)
    return {
        "step": step,
        "epoch": round(epoch, 3),
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "test_loss": test_loss,
        "test_accuracy": test_acc,
    }


def _points_event(points: Points, box: list[float]) -> dict[str, Any]:
    return {
        "classes": points.classes,
        "box": box,
        "train": np.round(points.x_train.astype(np.float64), 4).tolist(),
        "train_y": points.y_train.tolist(),
        "test": np.round(points.x_test.astype(np.float64), 4).tolist(),
        "test_y": points.y_test.tolist(),
    }


def load_points(spec: PlaygroundSpec, csv_text: str | None = None, name: str = "") -> Points:
    """The points ``spec.data`` names; ``csv:...`` reads ``csv_text`` (the lab has confined
    and read the file already)."""
    if spec.data in TOY_SETS:
        return toy_points(spec)
    if csv_text is None:
        raise PlaygroundError(f"{spec.data}: no CSV text was given")
    return csv_points(csv_text, name or spec.data, spec.test_fraction, spec.seed)


def read_csv_file(path: Path, limit: int) -> str:
    """A CSV file's text (UTF-8), refused when over ``limit`` bytes or not text."""
    size = path.stat().st_size
    if size > limit:
        raise PlaygroundError(
            f"{path.name}: {size:,} bytes; the playground reads CSVs up to {limit:,}"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PlaygroundError(
            f"{path.name}: not UTF-8 text ({err.reason} at byte {err.start})"
        ) from None
