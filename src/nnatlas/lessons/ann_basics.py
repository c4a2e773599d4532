"""Lesson 1, ANN basics: a neuron, a network, forward and backward by hand, gradient descent.

Everything before the last part is plain NumPy (:mod:`nnatlas.scratch`): a single neuron
(logistic regression) and a one-hidden-layer network learn the two moons with full-batch
gradient descent written out as forward, loss, backward, step; a finite-difference check proves
the backward pass; the decision boundaries show what the hidden layer buys. The last part
trains the same MLP on scikit-learn's digits with the NumPy engine and with PyTorch (what
``nnatlas demo`` shows after its checks) and compares them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nnatlas.data as data
import nnatlas.inspect as inspect
import nnatlas.scratch as nn
import nnatlas.tasks as tasks
from nnatlas.lessons import plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)


def network(hidden: int, rng: np.random.Generator) -> nn.Module:
    """2 -> hidden -> 2 with tanh; ``hidden=0`` is one neuron per class (logistic regression)."""
    if hidden == 0:
        return nn.Sequential(nn.Linear(2, 2, rng=rng))
    return nn.Sequential(nn.Linear(2, hidden, rng=rng), nn.Tanh(), nn.Linear(hidden, 2, rng=rng))


def gradient_descent(
    model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float
) -> list[float]:
    """Full-batch gradient descent, each step written out. Returns the loss per step.

    Shape:
        x: (N, 2) float32 points; y: (N,) int64 classes.
    """
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        logits = model.forward(x)  # (N, 2): forward propagation, layer by layer
        losses.append(float(loss_fn.forward(logits, y)))  # mean cross-entropy
        optimizer.zero_grad()
        model.backward(loss_fn.backward())  # dL/dlogits, then the chain rule back to the input
        optimizer.step()  # w <- w - lr * dL/dw
    return losses


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.forward(x).argmax(axis=1) == y).mean())


def run(ctx: Context) -> Result:
    cfg = ctx.config
    moons = data.load_tabular_dataset("moons", n=cfg["points"], noise=cfg["noise"], seed=ctx.seed)
    x, y = moons.train.x.numpy(), moons.train.y.numpy()
    x_test, y_test = moons.test.x.numpy(), moons.test.y.numpy()
    rng = np.random.default_rng(ctx.seed)
    table = Table(
        "Two moons, full-batch gradient descent",
        ["model", "parameters", "final train loss", "test accuracy"],
    )
    losses, trained = {}, {}
    for label, hidden in (
        ("one neuron per class", 0),
        (f"{cfg['hidden']} tanh units", cfg["hidden"]),
    ):
        ctx.log(f"  gradient descent: {label}, {cfg['steps']} steps")
        model = network(hidden, rng)
        losses[label] = gradient_descent(model, x, y, cfg["steps"], cfg["lr"])
        trained[label] = model
        table.add(
            model=label,
            parameters=model.num_parameters(),
            **{
                "final train loss": losses[label][-1],
                "test accuracy": accuracy(model, x_test, y_test),
            },
        )
    net = trained[f"{cfg['hidden']} tanh units"]
    plots.curves(
        ctx.path("loss.png"),
        {k: (range(1, len(v) + 1), v) for k, v in losses.items()},
        xlabel="gradient-descent step",
        ylabel="training loss (cross-entropy)",
        log_y=True,
    )
    for label, file in (
        ("one neuron per class", "boundary_neuron.png"),
        (f"{cfg['hidden']} tanh units", "boundary_network.png"),
    ):
        inspect.plot_decision_boundary(trained[label], x_test, y_test, ctx.path(file), title=label)

    ctx.log("  gradient check: analytic vs central differences, float64")
    check = nn.gradcheck(net, x[: cfg["check_points"]])
    loss_check = nn.gradcheck_loss(
        nn.CrossEntropyLoss(), net.forward(x[:8]).astype(np.float64), y[:8]
    )
    checks = Table(
        "Gradient check (float64, random upstream gradient)", ["tensor", "relative error"]
    )
    for name, error in {
        **check.per_tensor,
        "loss (d loss / d logits)": loss_check.max_rel_error,
    }.items():
        checks.add(tensor=name, **{"relative error": error})

    digits, digits_runs = _digits(ctx, cfg)
    return Result(
        numbers={
            "moons_accuracy": accuracy(net, x_test, y_test),
            "gradcheck_error": max(check.max_rel_error, loss_check.max_rel_error),
            "digits_accuracy": digits_runs[ctx.engine].test_metrics["accuracy"],
            "engine_gap": abs(
                digits_runs["scratch"].test_metrics["loss"]
                - digits_runs["torch"].test_metrics["loss"]
            ),
        },
        tables=[table, checks, digits],
        plots=[
            Plot(
                "loss.png",
                "Training loss per gradient-descent step: the neuron's stops falling where a "
                "straight line is the best it can draw.",
            ),
            Plot(
                "boundary_neuron.png",
                "One neuron per class: a linear boundary cannot separate the moons.",
            ),
            Plot("boundary_network.png", "One hidden layer bends the boundary around both moons."),
            Plot(
                "digits_curves.png",
                "The MLP on digits: validation loss per epoch, NumPy engine and PyTorch on top "
                "of each other.",
            ),
        ],
    )


def _digits(ctx: Context, cfg: dict[str, Any]) -> tuple[Table, dict[str, Any]]:
    runs = {}
    for engine in ("scratch", "torch"):
        ctx.log(f"  mlp on digits, engine {engine}, {cfg['digits_epochs']} epochs")
        runs[engine] = tasks.train(
            "mlp",
            "digits",
            engine=engine,
            run_dir=ctx.path(f"runs/mlp-digits-{engine}"),
            overwrite=True,
            epochs=cfg["digits_epochs"],
            seed=ctx.seed,
            quiet=True,
            tensorboard=False,
        )
    table = Table(
        "The same MLP on digits with both engines (same seed, same batches)",
        ["engine", "epochs", "test accuracy", "test loss", "seconds"],
    )
    for engine, r in runs.items():
        table.add(
            engine=engine,
            epochs=len(r.history),
            **{
                "test accuracy": r.test_metrics["accuracy"],
                "test loss": r.test_metrics["loss"],
                "seconds": r.seconds,
            },
        )
    plots.curves(
        ctx.path("digits_curves.png"),
        {
            e: ([h["epoch"] for h in r.history], [h["val_loss"] for h in r.history])
            for e, r in runs.items()
        },
        xlabel="epoch",
        ylabel="validation loss",
    )
    return table, runs


TEACHES = paragraphs(
    """
    A neuron computes a weighted sum of its inputs plus a bias and passes it through a
    non-linearity; a layer is many neurons side by side, `Linear(in_features, out_features)`
    holding their weights as one (out, in) matrix. Forward propagation applies the layers in
    turn; the loss (here cross-entropy) says how wrong the output is.

    Backward propagation is the chain rule applied layer by layer from the loss back to the
    input: each NumPy layer of `nnatlas.scratch` caches what its forward pass saw, and its
    `backward` turns the gradient of its output into the gradients of its weights and its
    input. Gradient descent then moves every weight a small step against its gradient,
    `w <- w - lr * dL/dw`. This lesson writes that loop out: forward, loss, backward, step.

    A single neuron per class draws a straight boundary, so it cannot separate the two moons;
    one hidden layer of tanh units bends the boundary around them. The decision-boundary plots
    show the difference.

    How do we know the backward pass is right? A gradient check compares each analytic
    gradient with central finite differences, (f(w + h) - f(w - h)) / 2h, in float64; relative
    errors near 1e-8 mean the derivation is correct, 1e-2 means a bug.

    Last, the same MLP trains on scikit-learn's handwritten digits (1,797 8x8 images, no
    download) with the NumPy engine and with PyTorch, from the same initial weights and
    batches: the two agree to float32 rounding, which is what `nnatlas check all` proves layer
    by layer (`nnatlas demo` runs those checks, then this comparison).
    """
)

LESSON = Lesson(
    id="ann-basics",
    title="ANN basics: neurons, forward and backward propagation, gradient descent",
    stage=1,
    teaches=TEACHES,
    run=run,
    quick={
        "points": 600,  # two-moons points, 70 % of them for training
        "noise": 0.2,
        "hidden": 16,
        "steps": 600,  # full-batch gradient-descent steps
        "lr": 0.5,
        "check_points": 16,  # points the gradient check differentiates through
        "digits_epochs": 10,
    },
    full={"points": 2000, "steps": 3000, "digits_epochs": 30},
    engines=("torch", "scratch"),
    key_numbers=[
        KeyNumber(
            "moons_accuracy",
            "two-moons test accuracy of the 1-hidden-layer NumPy network",
            quick=(0.9, 1.0),  # measured 0.944 to 0.978, seeds 0-4
            reference=Reference(
                "one hidden layer of sigmoidal units can approximate any continuous decision "
                "function",
                "Cybenko (1989), Approximation by superpositions of a sigmoidal function, "
                "Mathematics of Control, Signals and Systems 2:303-314",
            ),
        ),
        KeyNumber(
            "gradcheck_error",
            "largest relative error of the gradient check",
            quick=(0.0, 1e-6),  # measured 5.9e-9 to 6.8e-8, seeds 0-4
            fmt=".1e",
            reference=Reference(
                "relative error below 1e-7: the analytic gradient is right; above 1e-2: "
                "probably wrong",
                "Karpathy, CS231n course notes, Neural Networks Part 3, 'Gradient checks' "
                "(cs231n.github.io)",
            ),
        ),
        KeyNumber(
            "digits_accuracy",
            "digits test accuracy of the MLP (the --engine chosen)",
            quick=(0.95, 1.0),  # measured 0.974 to 0.985, seeds 0-4
            full=(0.95, 1.0),
            reference=Reference(
                "0.97 accuracy with an RBF support-vector machine, half of the digits held out",
                "scikit-learn example 'Recognizing hand-written digits' (scikit-learn.org, "
                "auto_examples/classification/plot_digits_classification)",
            ),
        ),
        KeyNumber(
            "engine_gap",
            "|test loss, NumPy engine - test loss, PyTorch|",
            quick=(0.0, 1e-5),  # measured 5.1e-9 to 2.1e-8, seeds 0-4
            fmt=".1e",
            reference=Reference(
                "float32 carries about 7 significant digits (machine epsilon 1.19e-7)",
                "IEEE 754-2008, the binary32 format",
            ),
        ),
    ],
    commands=[
        "nnatlas check all",
        "nnatlas train mlp --data digits --engine scratch",
        "nnatlas train mlp --data digits --engine torch",
        "nnatlas demo",
    ],
)
