"""Lesson 5, RNN and backpropagation through time: vanishing and exploding gradients, clipping.

All in the NumPy engine (:class:`nnatlas.scratch.RNN`, whose ``backward`` is BPTT written out):
how much gradient reaches each time step as the recurrent matrix's scale changes, then a
plain-SGD RNN on the adding problem with an exploding recurrent matrix, with and without
gradient-norm clipping.
"""

from __future__ import annotations

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


def orthogonal(size: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """``scale`` x a random orthogonal matrix: every singular value is ``scale``."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return (scale * q * np.sign(np.diag(r))).astype(np.float32)


class Regressor(nn.Module):
    """A recurrent layer over (N, T, 2) and a Linear on the last hidden state: the adding
    model. ``scale``: W_hh set to ``scale`` x an orthogonal matrix (the RNN only).

    Shape: x (N, T, 2) -> (N, 1)
    """

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(
        self, hidden: int, scale: float | None, rng: np.random.Generator, cell: str = "rnn"
    ) -> None:
        super().__init__()
        self.rnn = self.CELLS[cell](2, hidden, batch_first=True, rng=rng)
        if scale is not None:
            self.rnn.weight_hh_l0.data[:] = orthogonal(hidden, scale, rng)
        self.head = nn.Linear(hidden, 1, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, _ = self.rnn.forward(x)  # (N, T, H)
        self._steps = out.shape[1]
        return self.head.forward(out[:, -1])  # (N, 1)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad_last = self.head.backward(grad)  # (N, H)
        grad_out = np.zeros((grad.shape[0], self._steps, grad_last.shape[1]), grad.dtype)
        grad_out[:, -1] = grad_last  # only the last step feeds the loss
        return self.rnn.backward(grad_out)  # (N, T, 2): BPTT, step T back to step 1


def gradient_per_step(model: Regressor, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``||dL/dx_t||`` for every step t (averaged over the batch): how much of the loss's
    gradient travels back to step t. Shape: (T,)."""
    loss = nn.MSELoss()
    loss.forward(model.forward(x), y[:, None])
    model.zero_grad()
    grad_x = model.backward(loss.backward())  # (N, T, 2)
    return np.linalg.norm(grad_x, axis=2).mean(axis=0)


def train_sgd(
    model: Regressor,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    lr: float,
    batch: int,
    clip: float | None,
    rng: np.random.Generator,
) -> tuple[list[float], int | None]:
    """Plain SGD on the adding task; returns the loss per step and the step it diverged at."""
    loss_fn, optimizer = nn.MSELoss(), nn.SGD(model.parameters(), lr=lr)
    losses: list[float] = []
    for step in range(1, steps + 1):
        rows = rng.integers(0, len(y), batch)
        with np.errstate(all="ignore"):  # an exploding run overflows: that is what we show
            value = float(loss_fn.forward(model.forward(x[rows]), y[rows, None]))
            if not np.isfinite(value) or value > 1e6:
                return losses, step
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            if clip is not None:
                nn.clip_grad_norm_(model.parameters(), clip)  # rescale the joint norm to <= clip
            optimizer.step()
        losses.append(value)
    return losses, None


def run(ctx: Context) -> Result:
    cfg = ctx.config
    rng = np.random.default_rng(ctx.seed)
    T = cfg["length"]
    adding = data.load(
        "adding", length=T, n_train=cfg["train_size"], n_val=10, n_test=500, seed=ctx.seed
    )
    x, y = adding.train.x.numpy(), adding.train.y.numpy()
    x_test, y_test = adding.test.x.numpy(), adding.test.y.numpy()

    ctx.log(f"  gradient per time step, T = {T}, for each recurrent scale")
    per_step, ratios = {}, {}
    table = Table(
        f"Gradient reaching each step at initialization (T = {T}, W_hh = scale x orthogonal)",
        ["scale of W_hh", "‖dL/dx_1‖", f"‖dL/dx_{T}‖", "step 1 / step T"],
    )
    for scale in cfg["scales"]:
        model = Regressor(cfg["hidden"], scale, rng)
        norms = gradient_per_step(model, x[:64], y[:64])
        per_step[f"scale {scale}"] = norms
        ratios[scale] = float(norms[0] / norms[-1])
        table.add(
            **{
                "scale of W_hh": scale,
                "‖dL/dx_1‖": float(norms[0]),
                f"‖dL/dx_{T}‖": float(norms[-1]),
                "step 1 / step T": ratios[scale],
            }
        )
    plots.curves(
        ctx.path("gradient_per_step.png"),
        {k: (range(1, T + 1), v) for k, v in per_step.items()},
        xlabel="time step t",
        ylabel="‖dL/dx_t‖ at initialization",
        log_y=True,
    )

    ctx.log(f"  plain SGD (lr {cfg['lr']}) with W_hh = {cfg['explode_scale']} x orthogonal")
    curves, clip_table, finals = (
        {},
        Table(
            f"Plain SGD, lr {cfg['lr']}, {cfg['steps']} steps on the adding task (T = {T}), "
            f"W_hh = {cfg['explode_scale']} x orthogonal (always predicting 1: MSE 0.167)",
            ["gradient clipping", "diverged at step", "last training MSE", "test MSE"],
        ),
        {},
    )
    for clip in (None, cfg["clip"]):
        label = "none" if clip is None else f"global norm <= {clip}"
        model = Regressor(cfg["hidden"], cfg["explode_scale"], np.random.default_rng(ctx.seed))
        losses, diverged = train_sgd(model, x, y, cfg["steps"], cfg["lr"], cfg["batch"], clip, rng)
        test = float("nan")
        if diverged is None:
            test = float(np.mean((model.forward(x_test)[:, 0] - y_test) ** 2))
        finals[label] = (diverged, test)
        curves[label] = (range(1, len(losses) + 1), losses)
        clip_table.add(
            **{
                "gradient clipping": label,
                "diverged at step": diverged or "no",
                "last training MSE": losses[-1] if losses else None,
                "test MSE": test,
            }
        )
    plots.curves(
        ctx.path("clipping.png"), curves, xlabel="SGD step", ylabel="training MSE", log_y=True
    )
    clipped = finals[f"global norm <= {cfg['clip']}"]
    unclipped = finals["none"]
    if unclipped[0] is None:
        ctx.note("This seed's unclipped run did not diverge within the budget.")
    numbers = {
        "vanishing_ratio": ratios[min(cfg["scales"])],
        "exploding_ratio": ratios[max(cfg["scales"])],
        "clipped_test_mse": clipped[1],
    }
    if unclipped[0] is not None:
        numbers["unclipped_divergence_step"] = float(unclipped[0])
    return Result(
        numbers=numbers,
        tables=[table, clip_table],
        plots=[
            Plot(
                "gradient_per_step.png",
                "How much of the loss's gradient reaches each time "
                "step at initialization, for each scale of the recurrent matrix (log scale).",
            ),
            Plot(
                "clipping.png",
                "Training MSE per SGD step with and without clipping; a "
                "line that stops is a run whose loss overflowed.",
            ),
        ],
    )


TEACHES = paragraphs(
    """
    A recurrent network reads a sequence one step at a time and carries a hidden state:
    h_t = tanh(W_ih x_t + W_hh h_{t-1} + b). Unrolled over T steps it is a T-layer network
    whose layers share their weights, so it is trained by ordinary backpropagation on the
    unrolled graph: backpropagation through time (BPTT). `nnatlas.scratch.RNN.backward` is
    that loop, from the last step back to the first.

    Going back one step multiplies the gradient by W_hh^T and by tanh's derivative. After k
    steps the gradient has been multiplied k times: when W_hh's largest singular value is
    below 1 it shrinks geometrically (vanishing gradients: the net cannot learn what an early
    step said), when it is well above 1 it can grow geometrically (exploding gradients: one
    update throws the weights far away). The first table sets W_hh to a scaled orthogonal
    matrix and measures how much gradient reaches each step.

    Exploding gradients have a simple fix: gradient-norm clipping rescales the whole gradient
    whenever its norm exceeds a threshold, keeping its direction
    (`nnatlas.scratch.clip_grad_norm_`, `--grad-clip` in training). The second table trains
    the same RNN with plain SGD on the adding problem (sum the two marked numbers of a
    sequence) from an exploding recurrent matrix, with and without clipping. Vanishing
    gradients have no such fix: gated cells (the next lesson) are the answer.
    """
)

LESSON = Lesson(
    id="rnn-bptt",
    title="RNN and backpropagation through time: vanishing and exploding gradients, clipping",
    stage=4,
    teaches=TEACHES,
    run=run,
    quick={
        "length": 30,  # adding-task steps T
        "hidden": 32,
        "scales": [0.5, 1.0, 2.0],  # W_hh = scale x orthogonal
        "train_size": 4000,
        "steps": 300,
        "batch": 32,
        "lr": 0.05,
        "explode_scale": 2.0,
        "clip": 1.0,
    },
    full={"length": 50, "hidden": 64, "scales": [0.5, 0.9, 1.0, 1.5, 2.0], "steps": 2000},
    engines=("scratch",),
    key_numbers=[
        KeyNumber(
            "vanishing_ratio",
            "W_hh = 0.5 x orthogonal: gradient at step 1 / at step T",
            quick=(0.0, 1e-7),  # measured 2.8e-10 to 2.1e-9, seeds 0-5
            fmt=".1e",
            reference=Reference(
                "a largest singular value of W_hh below 1 / gamma (gamma = 1 for tanh) is "
                "sufficient for the gradient's long-term components to vanish",
                "Pascanu, Mikolov, Bengio (2013), On the difficulty of training recurrent "
                "neural networks, ICML, section 2.1; Bengio, Simard, Frasconi (1994)",
            ),
        ),
        KeyNumber(
            "exploding_ratio",
            "W_hh = 2 x orthogonal: gradient at step 1 / at step T",
            quick=(10.0, 1e5),  # measured 160 to 540, seeds 0-5
            fmt=".1e",
            reference=Reference(
                "a largest singular value above 1 is necessary for exploding gradients",
                "Pascanu, Mikolov, Bengio (2013), ICML, section 2.1",
            ),
        ),
        KeyNumber(
            "clipped_test_mse",
            "test MSE of the clipped SGD run (always predicting 1: 0.167; the RNN trains "
            "stably but does not solve T = 30)",
            quick=(0.1, 0.25),  # measured 0.151 to 0.191, seeds 0-5
            reference=Reference(
                "clipping the gradient's norm lets SGD train RNNs whose gradients explode",
                "Pascanu, Mikolov, Bengio (2013), ICML, section 3.2 (algorithm 1)",
            ),
        ),
        KeyNumber(
            "unclipped_divergence_step",
            "SGD step at which the unclipped run's loss overflowed",
            quick=(5.0, 150.0),  # measured steps 19 to 35, seeds 0-5
            fmt=".0f",
            optional=True,
            reference=Reference(
                "without clipping one step in an exploding region can throw the weights far "
                "away (the 'cliff' of the loss surface)",
                "Pascanu, Mikolov, Bengio (2013), ICML, section 3.1 and figure 6",
            ),
        ),
    ],
    commands=[
        "nnatlas check RNN",
        "nnatlas experiment long-memory --quick",
        "nnatlas train --data tinyshakespeare --model rnn_lm --grad-clip 1",
    ],
)
