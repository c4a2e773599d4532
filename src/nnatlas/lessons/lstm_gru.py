"""Lesson 6, LSTM and GRU: gates, long memory, parameter counts.

In the NumPy engine: the parameters of an RNN, an LSTM and a GRU of one size; the three
trained on the same budget on the adding problem at a length where the plain RNN fails; the
gradient reaching the first step; and the LSTM's gates over one sequence.
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
from nnatlas.lessons.rnn_bptt import Regressor, gradient_per_step

ADDING_BASELINE = 1.0 / 6.0  # the MSE of always predicting 1 (the mean of the target)


def train_adam(
    model: Regressor,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    lr: float,
    batch: int,
    clip: float,
    rng: np.random.Generator,
) -> list[float]:
    """Adam with gradient-norm clipping; the training MSE of each step."""
    loss_fn, optimizer = nn.MSELoss(), nn.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        rows = rng.integers(0, len(y), batch)
        losses.append(float(loss_fn.forward(model.forward(x[rows]), y[rows, None])))
        optimizer.zero_grad()
        model.backward(loss_fn.backward())
        nn.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return losses


def smooth(values: list[float], window: int) -> list[float]:
    kernel = np.ones(window) / window
    return list(np.convolve(values, kernel, mode="valid"))


def gate_traces(model: Regressor, x: np.ndarray) -> dict[str, np.ndarray]:
    """The LSTM's gates over one sequence, recomputed from its weights (PyTorch's order
    i, f, g, o). Shape: each (T, H)."""
    lstm = model.rnn
    w_ih, w_hh = lstm.weight_ih_l0.data, lstm.weight_hh_l0.data  # (4H, 2), (4H, H)
    bias = lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    hidden = w_hh.shape[1]
    h, c = np.zeros(hidden), np.zeros(hidden)
    traces: dict[str, list[np.ndarray]] = {"input gate": [], "forget gate": [], "output gate": []}
    cells = []
    for x_t in x[0]:  # (2,) per step
        gates = w_ih @ x_t + w_hh @ h + bias  # (4H,)
        i, f, g, o = np.split(gates, 4)
        i, f, o = (1 / (1 + np.exp(-v)) for v in (i, f, o))
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
        for name, value in zip(traces, (i, f, o), strict=True):
            traces[name].append(value)
        cells.append(c.copy())
    out = {name: np.array(v) for name, v in traces.items()}
    out["cell state"] = np.array(cells)
    return out


def run(ctx: Context) -> Result:
    cfg = ctx.config
    T, hidden = cfg["length"], cfg["hidden"]
    adding = data.load(
        "adding", length=T, n_train=cfg["train_size"], n_val=10, n_test=1000, seed=ctx.seed
    )
    x, y = adding.train.x.numpy(), adding.train.y.numpy()
    x_test, y_test = adding.test.x.numpy(), adding.test.y.numpy()

    sizes = Table(
        f"Parameters of one layer, input 2, hidden {hidden} (PyTorch's layout: two bias vectors)",
        ["cell", "weight blocks", "parameters", "x the RNN"],
    )
    counts = {}
    for cell, blocks in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        counts[cell] = Regressor(hidden, None, np.random.default_rng(0), cell).rnn.num_parameters()
        sizes.add(
            cell=cell,
            **{
                "weight blocks": blocks,
                "parameters": counts[cell],
                "x the RNN": counts[cell] / counts["rnn"],
            },
        )

    results, curves, per_step, trained = {}, {}, {}, {}
    table = Table(
        f"The adding problem, T = {T}: {cfg['steps']} Adam steps of {cfg['batch']} sequences "
        f"(lr {cfg['lr']}, clipping at {cfg['clip']}); always predicting 1 scores "
        f"{ADDING_BASELINE:.3f}",
        ["cell", "test MSE", "solved (< 0.05)", "‖dL/dx_1‖ / ‖dL/dx_T‖ after training"],
    )
    for cell in ("rnn", "lstm", "gru"):
        ctx.log(f"  {cell} on the adding problem, T = {T}")
        rng = np.random.default_rng(ctx.seed)
        model = Regressor(hidden, None, rng, cell)
        losses = train_adam(model, x, y, cfg["steps"], cfg["lr"], cfg["batch"], cfg["clip"], rng)
        mse = float(np.mean((model.forward(x_test)[:, 0] - y_test) ** 2))
        norms = gradient_per_step(model, x_test[:64], y_test[:64])
        results[cell], trained[cell] = mse, model
        per_step[cell] = norms
        curves[cell] = (range(cfg["window"], len(losses) + 1), smooth(losses, cfg["window"]))
        table.add(
            cell=cell,
            **{
                "test MSE": mse,
                "solved (< 0.05)": "yes" if mse < 0.05 else "no",
                "‖dL/dx_1‖ / ‖dL/dx_T‖ after training": float(norms[0] / norms[-1]),
            },
        )
    plots.curves(
        ctx.path("adding.png"),
        curves,
        xlabel="Adam step",
        ylabel=f"training MSE (mean of {cfg['window']} steps)",
        log_y=True,
    )
    plots.curves(
        ctx.path("gradient_per_step.png"),
        {c: (range(1, T + 1), v) for c, v in per_step.items()},
        xlabel="time step t",
        ylabel="‖dL/dx_t‖ after training",
        log_y=True,
    )
    gates = gate_traces(trained["lstm"], x_test[:1])
    marked = [int(t) + 1 for t in np.flatnonzero(x_test[0, :, 1])]
    plots.images(
        ctx.path("gates.png"),
        {f"{k} (step x unit)": v.T for k, v in gates.items()},
        columns=4,
        title=f"LSTM gates over one test sequence; marked steps {marked}",
    )
    return Result(
        numbers={
            "lstm_rnn_ratio": counts["lstm"] / counts["rnn"],
            "gru_rnn_ratio": counts["gru"] / counts["rnn"],
            "rnn_mse": results["rnn"],
            "lstm_mse": results["lstm"],
            "gru_mse": results["gru"],
        },
        tables=[sizes, table],
        plots=[
            Plot("adding.png", "Training MSE per Adam step of each cell on the adding problem."),
            Plot(
                "gradient_per_step.png",
                "How much gradient reaches each time step after "
                "training: the gated cells carry it back to the first steps.",
            ),
            Plot(
                "gates.png",
                f"The trained LSTM's input, forget and output gates and its cell "
                f"state (rows: {hidden} units, columns: time steps) over one test sequence "
                f"whose marked steps are {marked}.",
            ),
        ],
    )


TEACHES = paragraphs(
    """
    The plain RNN forgets because its gradient is multiplied by W_hh at every step back (the
    previous lesson). The LSTM (Hochreiter and Schmidhuber 1997) adds a cell state c_t that is
    updated additively, c_t = f_t * c_{t-1} + i_t * g_t, under three gates computed from the
    input and the previous hidden state: the input gate i decides what is written, the forget
    gate f what is kept, the output gate o what is shown, h_t = o_t * tanh(c_t). When f is
    near 1 the cell carries information, and its gradient, across many steps unchanged.

    The GRU (Cho et al. 2014) merges the cell into the hidden state with two gates: the update
    gate z interpolates between the old state and a candidate, h_t = (1 - z_t) * n_t +
    z_t * h_{t-1}, and the reset gate r decides how much of the old state the candidate reads.
    It has three weight blocks where the LSTM has four and the RNN one, so at equal size it
    has about three and four times the RNN's parameters.

    The experiment trains the three cells of the NumPy engine (`nnatlas.scratch.RNN`,
    `LSTM`, `GRU`, gate order i, f, g, o and r, z, n as in PyTorch) on the adding problem:
    two numbers of a long sequence are marked, the target is their sum, and only the last
    step is scored, so the cell must keep both numbers across the whole sequence. Always
    predicting 1 scores an MSE of 1/6; a model under 0.05 has remembered them.
    """
)

LESSON = Lesson(
    id="lstm-gru",
    title="LSTM and GRU: gates, long memory, parameter counts",
    stage=4,
    teaches=TEACHES,
    run=run,
    quick={
        "length": 30,  # adding-task steps T
        "hidden": 32,
        "train_size": 8000,
        "steps": 600,
        "batch": 64,
        "lr": 0.01,
        "clip": 1.0,
        "window": 20,  # steps averaged in the training curve
    },
    full={"length": 50, "hidden": 64, "train_size": 16000, "steps": 2000},
    engines=("scratch",),
    key_numbers=[
        KeyNumber(
            "lstm_rnn_ratio",
            "LSTM parameters / RNN parameters, same size",
            quick=(3.99, 4.01),
            fmt=".2f",
            reference=Reference(
                "four weight blocks (input, forget, cell, output) to the RNN's one",
                "Hochreiter and Schmidhuber (1997), Long short-term memory, Neural "
                "Computation 9(8); the forget gate: Gers, Schmidhuber, Cummins (2000)",
            ),
        ),
        KeyNumber(
            "gru_rnn_ratio",
            "GRU parameters / RNN parameters, same size",
            quick=(2.99, 3.01),
            fmt=".2f",
            reference=Reference(
                "three weight blocks (reset, update, candidate)",
                "Cho et al. (2014), Learning phrase representations using RNN encoder-decoder "
                "for statistical machine translation, EMNLP",
            ),
        ),
        KeyNumber(
            "rnn_mse",
            "plain RNN test MSE on the adding problem (1/6 = not solved)",
            quick=(0.05, 0.25),
            reference=Reference(
                "the plain RNN fails the adding problem beyond short sequences",
                "Hochreiter and Schmidhuber (1997), section 5; Le, Jaitly, Hinton (2015), "
                "arXiv:1504.00941, figure 2",
            ),
        ),
        KeyNumber(
            "lstm_mse",
            "LSTM test MSE on the adding problem",
            quick=(0.0, 0.05),
            reference=Reference(
                "the LSTM solves the adding problem with the two marked values far apart",
                "Hochreiter and Schmidhuber (1997), experiment 4 (section 5.4)",
            ),
        ),
        KeyNumber(
            "gru_mse",
            "GRU test MSE on the adding problem",
            quick=(0.0, 0.05),
            reference=Reference(
                "gated units (LSTM, GRU) clearly beat the tanh RNN on long-term dependencies",
                "Chung, Gulcehre, Cho, Bengio (2014), Empirical evaluation of gated recurrent "
                "neural networks on sequence modeling, arXiv:1412.3555",
            ),
        ),
    ],
    commands=[
        "nnatlas check LSTM",
        "nnatlas experiment long-memory --quick",
        "nnatlas inspect RUN --what gates --input 'the acting is not good'",
    ],
)
