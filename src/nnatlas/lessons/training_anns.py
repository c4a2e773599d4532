"""Lesson 2, training ANNs: activations, initialization, losses and optimizers compared.

All in the NumPy engine on scikit-learn's digits (no download), so every gradient below is one
the reader can follow in :mod:`nnatlas.scratch`: deep MLPs with each activation and each
initialization (gradient norm per layer at initialization, accuracy after one budget), the
same network trained with cross-entropy and with squared error on its softmax, and four
optimizers on one budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import nnatlas.data as data
import nnatlas.scratch as nn
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

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
}


def digits(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Flattened digits, standardized by the training split's mean and std.

    Shape:
        x: (N, 64) float32; y: (N,) int64.
    """
    splits = data.load_image_dataset("digits", val_fraction=0.0, seed=seed)
    parts = {}
    for name in ("train", "test"):
        part = getattr(splits, name)
        parts[name] = (part.x.numpy().reshape(len(part.y), -1), part.y.numpy())
    mean, std = parts["train"][0].mean(), parts["train"][0].std()
    return {k: (((x - mean) / std).astype(np.float32), y) for k, (x, y) in parts.items()}


def mlp(depth: int, width: int, activation: str, init: str, rng: np.random.Generator):
    """64 -> width x depth -> 10, each Linear drawn from Xavier's or He's normal, biases 0."""
    layers: list[nn.Module] = []
    sizes = [64] + [width] * depth
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out, rng=rng), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], 10, rng=rng))
    model = nn.Sequential(*layers)
    for layer in layers:
        if isinstance(layer, nn.Linear):
            if init == "xavier":  # Var(W) = 2 / (fan_in + fan_out), Glorot & Bengio 2010
                nn.init.xavier_normal_(layer.weight, rng=rng)
            else:  # Var(W) = 2 / fan_in, He et al. 2015
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", rng=rng)
            nn.init.zeros_(layer.bias)
    return model


def layer_gradient_norms(model: nn.Module, x: np.ndarray, y: np.ndarray) -> list[float]:
    """``||dL/dW||`` of every Linear's weight for one batch, input layer first."""
    loss = nn.CrossEntropyLoss()
    loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(loss.backward())
    return [
        float(np.linalg.norm(p.grad)) for name, p in model.named_parameters() if "weight" in name
    ]


def train(
    model: nn.Module,
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    optimizer: nn.Optimizer,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    loss: str = "cross-entropy",
) -> list[float]:
    """Mini-batch training; returns the mean training loss of each epoch (NaN: diverged).

    ``loss="squared error"`` trains on ``||softmax(logits) - one_hot(y)||^2`` instead (summed
    over the classes, averaged over the batch).
    """
    x, y = parts["train"]
    # Squared error summed over the 10 outputs, averaged over the batch (as cross-entropy is):
    # PyTorch's default mean over all elements would also divide its gradient by 10.
    ce, sse, softmax = nn.CrossEntropyLoss(), nn.MSELoss(reduction="sum"), nn.Softmax(dim=1)
    history = []
    for _ in range(epochs):
        order, total = rng.permutation(len(y)), 0.0
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            logits = model.forward(x[rows])  # (B, 10)
            optimizer.zero_grad()
            if loss == "cross-entropy":
                value = ce.forward(logits, y[rows])
                model.backward(ce.backward())
            else:
                target = np.eye(10, dtype=np.float32)[y[rows]]  # (B, 10) one-hot
                value = sse.forward(softmax.forward(logits), target) / len(rows)
                model.backward(softmax.backward(sse.backward(1.0 / len(rows))))
            optimizer.step()
            total += float(value) * len(rows)
        history.append(total / len(y))
        if not np.isfinite(history[-1]):
            break
    return history


def accuracy(model: nn.Module, part: tuple[np.ndarray, np.ndarray]) -> float:
    return float((model.forward(part[0]).argmax(axis=1) == part[1]).mean())


def run(ctx: Context) -> Result:
    cfg = ctx.config
    parts = digits(ctx.seed)
    rng = np.random.default_rng(ctx.seed)
    probe = tuple(a[:256] for a in parts["train"])
    deep = cfg["depth"]

    ctx.log(f"  activations x initializations at {deep} hidden layers of {cfg['width']}")
    norms, depth_table = (
        {},
        Table(
            f"{deep} hidden layers: gradients at initialization, accuracy after "
            f"{cfg['deep_epochs']} epochs of SGD with momentum",
            [
                "activation",
                "init",
                "‖dL/dW‖ layer 1",
                "‖dL/dW‖ last hidden",
                "layer 1 / last",
                "test accuracy",
            ],
        ),
    )
    for activation in ACTIVATIONS:
        for init in ("xavier", "he"):
            model = mlp(deep, cfg["width"], activation, init, rng)
            layer = layer_gradient_norms(model, *probe)
            norms[f"{activation}, {init}"] = layer
            sgd = nn.SGD(model.parameters(), lr=cfg["deep_lr"], momentum=0.9)
            train(model, parts, sgd, cfg["deep_epochs"], cfg["batch_size"], rng)
            depth_table.add(
                activation=activation,
                init=init,
                **{
                    "‖dL/dW‖ layer 1": layer[0],
                    "‖dL/dW‖ last hidden": layer[-2],
                    "layer 1 / last": layer[0] / layer[-2],
                    "test accuracy": accuracy(model, parts["test"]),
                },
            )
    plots.curves(
        ctx.path("gradient_per_layer.png"),
        {k: (range(1, len(v) + 1), v) for k, v in norms.items()},
        xlabel="layer (input -> output)",
        ylabel="‖dL/dW‖ at initialization",
        log_y=True,
        title=f"{deep} hidden layers",
    )

    ctx.log("  cross-entropy vs squared error")
    loss_table = Table(
        f"The loss: a 1-hidden-layer ReLU net, {cfg['epochs']} epochs of SGD (lr {cfg['sgd_lr']})",
        ["loss", "final train loss", "test accuracy"],
    )
    loss_curves = {}
    for loss in ("cross-entropy", "squared error"):
        model = mlp(1, cfg["width"], "relu", "he", rng)
        sgd = nn.SGD(model.parameters(), lr=cfg["sgd_lr"])
        history = train(model, parts, sgd, cfg["epochs"], cfg["batch_size"], rng, loss)
        loss_curves[loss] = accuracy(model, parts["test"])
        loss_table.add(
            loss=loss, **{"final train loss": history[-1], "test accuracy": loss_curves[loss]}
        )

    ctx.log("  four optimizers on one budget")
    optimizers: dict[str, Callable[[Any], nn.Optimizer]] = {
        f"SGD (lr {cfg['sgd_lr']})": lambda p: nn.SGD(p, lr=cfg["sgd_lr"]),
        f"SGD + momentum 0.9 (lr {cfg['sgd_lr']})": lambda p: nn.SGD(
            p, lr=cfg["sgd_lr"], momentum=0.9
        ),
        "RMSprop (lr 1e-3)": lambda p: nn.RMSprop(p, lr=1e-3),
        "Adam (lr 1e-3)": lambda p: nn.Adam(p, lr=1e-3),
    }
    optimizer_table = Table(
        f"Optimizers: a 2-hidden-layer ReLU net, {cfg['epochs']} epochs, batch {cfg['batch_size']}",
        ["optimizer", "train loss after epoch 1", "final train loss", "test accuracy"],
    )
    curves, scores = {}, {}
    for label, make in optimizers.items():
        model = mlp(2, cfg["width"], "relu", "he", rng)
        history = train(
            model, parts, make(model.parameters()), cfg["epochs"], cfg["batch_size"], rng
        )
        curves[label] = (range(1, len(history) + 1), history)
        scores[label] = accuracy(model, parts["test"])
        optimizer_table.add(
            optimizer=label,
            **{
                "train loss after epoch 1": history[0],
                "final train loss": history[-1],
                "test accuracy": scores[label],
            },
        )
    plots.curves(
        ctx.path("optimizers.png"), curves, xlabel="epoch", ylabel="training loss", log_y=True
    )

    sigmoid = norms["sigmoid, xavier"]
    relu = norms["relu, he"]
    return Result(
        numbers={
            "sigmoid_ratio": sigmoid[0] / sigmoid[-2],
            "relu_he_ratio": relu[0] / relu[-2],
            "adam_accuracy": scores["Adam (lr 1e-3)"],
            "ce_minus_mse": loss_curves["cross-entropy"] - loss_curves["squared error"],
        },
        tables=[depth_table, loss_table, optimizer_table],
        plots=[
            Plot(
                "gradient_per_layer.png",
                "Gradient norm of each layer's weights at initialization: the sigmoid net's "
                "gradient shrinks layer by layer towards the input; ReLU with He's "
                "initialization keeps it.",
            ),
            Plot(
                "optimizers.png",
                "Training loss per epoch of each optimizer on the same budget, from the same "
                "kind of initial weights (the last table gives the numbers).",
            ),
        ],
    )


TEACHES = paragraphs(
    """
    Training a network is choosing four things besides its layers: the activation between
    them, how the weights start, the loss and the optimizer. This lesson changes one at a time
    on the same data (scikit-learn's digits) in the NumPy engine, where every gradient can be
    read in `nnatlas.scratch`.

    Activations and initialization. Backpropagation multiplies, layer after layer, by the
    weights and by the derivative of the activation. The sigmoid's derivative is at most 1/4,
    so in a deep sigmoid net the gradient shrinks towards the input (it vanishes): the first
    layers barely learn. Xavier's initialization (Var(W) = 2 / (fan_in + fan_out)) keeps
    the signal's variance for symmetric activations such as tanh; He's (Var(W) = 2 / fan_in)
    does it for ReLU, which zeroes half of its inputs. The table measures the gradient norm of
    every layer at initialization and the accuracy after one short budget.

    The loss. Cross-entropy's gradient with respect to the logits is `softmax(z) - y`: large
    when the net is confidently wrong. Squared error on the softmax multiplies that by the
    softmax's own derivative, which is small exactly when the output saturates, so it learns
    more slowly from its worst mistakes.

    The optimizer. Plain SGD steps along the gradient; momentum accumulates a velocity across
    steps; RMSprop divides each weight's step by a running root-mean-square of its gradients;
    Adam combines both with bias correction. The same network trains with each on one budget;
    the curves show how fast each lowers the training loss, the table how well each
    generalizes.
    """
)

LESSON = Lesson(
    id="training-anns",
    title="Training ANNs: activations, initialization, losses and optimizers compared",
    stage=1,
    teaches=TEACHES,
    run=run,
    quick={
        "depth": 10,  # hidden layers of the deep nets
        "width": 64,
        "deep_epochs": 5,
        "deep_lr": 0.01,
        "epochs": 10,
        "batch_size": 32,
        "sgd_lr": 0.05,
    },
    full={"depth": 20, "width": 128, "deep_epochs": 10, "epochs": 30},
    engines=("scratch",),
    key_numbers=[
        KeyNumber(
            "sigmoid_ratio",
            "sigmoid + Xavier: ‖dL/dW‖ of layer 1 / of the last hidden layer",
            quick=(0.0, 1e-4),  # measured 1.9e-6 to 6.4e-6, seeds 0-4
            fmt=".1e",
            reference=Reference(
                "the back-propagated gradients of a deep sigmoid network become smaller "
                "towards the input layers",
                "Glorot and Bengio (2010), Understanding the difficulty of training deep "
                "feedforward neural networks, AISTATS, section 4",
            ),
        ),
        KeyNumber(
            "relu_he_ratio",
            "ReLU + He: ‖dL/dW‖ of layer 1 / of the last hidden layer",
            quick=(0.3, 2.0),  # measured 0.54 to 1.07, seeds 0-4
            fmt=".2f",
            reference=Reference(
                "with Var(W) = 2 / fan_in a ReLU network keeps the gradient's magnitude "
                "from layer to layer (a 30-layer net trains)",
                "He, Zhang, Ren, Sun (2015), Delving deep into rectifiers, ICCV, "
                "arXiv:1502.01852, section 2.2",
            ),
        ),
        KeyNumber(
            "adam_accuracy",
            "digits test accuracy of the 2-hidden-layer net trained with Adam",
            quick=(0.95, 1.0),  # measured 0.974 to 0.993, seeds 0-4
            reference=Reference(
                "Adam trains a multilayer perceptron on MNIST faster than SGD with "
                "momentum and matches the other adaptive methods",
                "Kingma and Ba (2015), Adam: A method for stochastic optimization, ICLR, "
                "arXiv:1412.6980, section 6.2 and figure 2",
            ),
        ),
        KeyNumber(
            "ce_minus_mse",
            "test accuracy, cross-entropy minus squared error (same net, same budget)",
            quick=(-0.03, 0.2),  # measured -0.011 to 0.107, seeds 0-4
            fmt=".4f",
            reference=Reference(
                "cross-entropy training converges faster than squared error; squared error "
                "from a random start can get stuck",
                "Golik, Doetsch, Ney (2013), Cross-entropy vs. squared error training: a "
                "theoretical and experimental comparison, Interspeech",
            ),
        ),
    ],
    commands=[
        "nnatlas experiment activations --quick",
        "nnatlas train mlp --data digits --optimizer sgd --lr 0.05",
        "nnatlas train mlp --data digits --optimizer adam",
    ],
)
