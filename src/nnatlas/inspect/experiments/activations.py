"""``activations``: sigmoid, tanh, ReLU and GELU MLPs from 2 to 20 hidden layers.

Glorot & Bengio (2010) showed the gradient of a deep sigmoid net vanishing towards its first
layers and proposed an initialization that keeps the variance of activations and gradients
constant for a symmetric activation (Xavier: Var(W) = 2 / (fan_in + fan_out)); He et al. (2015,
arXiv 1502.01852) corrected it for ReLU, which zeroes half of its inputs (He: Var(W) = 2 /
fan_in). Here the zoo's ``mlp`` (width 128 at every depth) is built with each activation and
each initialization; for each the gradient norm of every layer is measured at initialization
(:func:`nnatlas.inspect.measure_gradients`) and the net is trained on one budget (SGD with
momentum, where Adam would rescale small gradients and hide part of the effect).

Data: Fashion-MNIST (Debian's offline copy, or digits when it is absent), a stratified
subset flattened to 784 inputs, normalized by the training subset's mean and std.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nnatlas.inspect.experiments.common import Clock, ExperimentResult, Log, Table, train_torch
from nnatlas.inspect.experiments.common import write as write_result
from nnatlas.inspect.gradflow import layer_rows, measure_gradients, plot_norm_series
from nnatlas.models import create_model
from nnatlas.train.steps import ClassificationStep

ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu")
INITS = ("xavier", "he")


@dataclass(frozen=True)
class Budget:
    """Attributes: depths (hidden layers); width; train_size and test_size (examples of the
    subset); epochs, batch_size, lr (SGD with momentum 0.9)."""

    depths: tuple[int, ...]
    train_size: int
    test_size: int
    epochs: int
    width: int = 128
    batch_size: int = 64
    lr: float = 0.02


QUICK = Budget(depths=(2, 5, 10, 20), train_size=6000, test_size=2000, epochs=2)
FULL = Budget(depths=(2, 4, 6, 8, 10, 15, 20), train_size=30000, test_size=10000, epochs=5)


def initialize(model: nn.Module, scheme: str) -> None:
    """Every Linear's weight from Xavier's or He's normal distribution, biases at 0.

    xavier: N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio 2010, eq. 16, in its normal form);
    he: N(0, 2 / fan_in) (He et al. 2015, eq. 10).
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if scheme == "xavier":
                nn.init.xavier_normal_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)


def load_data(budget: Budget) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """Flattened, normalized train and test subsets, and their source."""
    from nnatlas.data import DataNotFoundError, DatasetError, load_image_dataset, stratified_split

    try:
        splits, name = load_image_dataset("fashion-mnist", val_fraction=0.0), "fashion-mnist"
    except (DataNotFoundError, DatasetError):
        splits, name = load_image_dataset("digits", val_fraction=0.0), "digits"
    parts = {}
    for split, size in (("train", budget.train_size), ("test", budget.test_size)):
        part = getattr(splits, split)
        y = part.y.numpy()
        if size < len(y):
            _, rows = stratified_split(y, size / len(y), seed=0)
        else:
            rows = np.arange(len(y))
        parts[split] = (part.x[rows].flatten(1), part.y[rows])
    mean, std = parts["train"][0].mean(), parts["train"][0].std()
    parts = {k: ((x - mean) / std, y) for k, (x, y) in parts.items()}
    return parts, f"{name} ({len(parts['train'][1])} train, {len(parts['test'][1])} test)"


@torch.no_grad()
def accuracy(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    model.eval()
    return float((model(data[0]).argmax(1) == data[1]).float().mean())


def run(
    folder: Path, quick: bool = False, log: Log | None = None, **overrides: Any
) -> ExperimentResult:
    """Run the experiment (``quick``: :data:`QUICK`, else :data:`FULL`) into ``folder``."""
    budget = Budget(**{**asdict(QUICK if quick else FULL), **overrides})
    clock = Clock(log)
    data, source = load_data(budget)
    features = data["train"][0].shape[1]
    clock.say(f"activations: {source}, depths {budget.depths}")
    probe = tuple(t[:256] for t in data["train"])
    columns = [f"{a}/{i}" for a in ACTIVATIONS for i in INITS]
    accuracy_table = Table(
        ["hidden layers", *columns],
        title=f"test accuracy after {budget.epochs} epochs of SGD on {source}",
    )
    deepest = max(budget.depths)
    gradient_table = Table(
        [
            "activation",
            "init",
            "‖dL/dW‖ layer 1",
            f"‖dL/dW‖ layer {deepest}",
            "head",
            "layer 1 / last hidden",
        ],
        title=f"{deepest} hidden layers at initialization",
    )
    series: dict[str, list[float]] = {}
    styles: dict[str, str] = {}
    numbers: dict[str, Any] = {"source": source, "runs": {}}
    for depth in budget.depths:
        row: dict[str, Any] = {"hidden layers": depth}
        for activation in ACTIVATIONS:
            for scheme in INITS:
                torch.manual_seed(0)
                model = create_model(
                    "mlp",
                    num_classes=10,
                    in_features=features,
                    hidden_sizes=[budget.width] * depth,
                    activation=activation,
                )
                initialize(model, scheme)
                rows = layer_rows(measure_gradients(model, probe))
                trained = train_torch(
                    model,
                    data["train"],
                    None,
                    ClassificationStep(),
                    epochs=budget.epochs,
                    batch_size=budget.batch_size,
                    lr=budget.lr,
                    optimizer="momentum",
                    momentum=0.9,
                    seed=0,
                )
                score = accuracy(model, data["test"]) if trained.diverged is None else float("nan")
                row[f"{activation}/{scheme}"] = score
                norms = [r["grad_norm"] for r in rows]
                numbers["runs"][f"{activation}_{scheme}_{depth}"] = {
                    "test_accuracy": score,
                    "grad_norms_init": norms,
                    "seconds": trained.seconds,
                    "diverged": trained.diverged,
                }
                if depth == deepest:
                    label = f"{activation}, {scheme}"
                    series[label] = norms
                    styles[label] = "--" if scheme == "xavier" else "-"
                    gradient_table.add(
                        **{
                            "activation": activation,
                            "init": scheme,
                            "‖dL/dW‖ layer 1": norms[0],
                            f"‖dL/dW‖ layer {deepest}": norms[-2],
                            "head": norms[-1],
                            "layer 1 / last hidden": norms[0] / norms[-2],
                        }
                    )
        accuracy_table.add(**row)
        clock.say(f"{depth} hidden layers: " + ", ".join(f"{k} {row[k]:.3f}" for k in columns))
    plots = [
        plot_norm_series(
            series,
            folder / "gradient_per_layer.png",
            "layer (input -> output)",
            "‖dL/dW‖ at initialization",
            styles=styles,
            title=f"{deepest} hidden layers (dashed: Xavier, solid: He)",
        ).png,
        _plot_accuracy(numbers, budget, folder / "accuracy_vs_depth.png").png,
    ]
    result = ExperimentResult(
        "activations",
        folder,
        quick,
        [accuracy_table, gradient_table],
        plots,
        clock.seconds,
        [],
        numbers,
    )
    return write_result(result, asdict(budget))


def _plot_accuracy(numbers: dict[str, Any], budget: Budget, path: Path) -> Any:
    from nnatlas.inspect.figures import figure, save

    fig, axes = figure(columns=2, size=(4.6, 3.6))
    data = {}
    for column, scheme in enumerate(INITS):
        ax = axes[0, column]
        for activation in ACTIVATIONS:
            values = [
                numbers["runs"][f"{activation}_{scheme}_{d}"]["test_accuracy"]
                for d in budget.depths
            ]
            ax.plot(budget.depths, values, "-o", label=activation)
            data[f"{activation}_{scheme}"] = values
        ax.axhline(0.1, color="gray", ls="--", label="chance")
        ax.set_title(f"{scheme} init")
        ax.set_xlabel("hidden layers")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save(fig, path, {"depths": budget.depths, "accuracy": data})
