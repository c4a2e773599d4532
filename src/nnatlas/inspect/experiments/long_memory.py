"""``long-memory``: how far back can an RNN, an LSTM and a GRU remember?

Two synthetic tasks of :mod:`nnatlas.data.text.synthetic`, each over growing lengths T:

- **adding** (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): sum the
  two marked numbers of a length-T sequence; a regression scored by test MSE. Always
  predicting 1 scores 0.167: a model below 0.05 has solved it (it remembers both numbers).
- **copy** (Arjovsky, Shah & Bengio 2016): read ``copy_len`` symbols, wait T steps, write them
  back; scored by the accuracy on the recalled symbols (chance 1/n_symbols).

Each cell is the zoo's recurrent layer (:func:`nnatlas.models.rnn_utils.make_rnn`; the copy
model is the zoo's ``rnn_lm`` / ``lstm_lm`` / ``gru_lm``, one logit vector per step), trained by
:class:`nnatlas.train.Trainer` on the same budget (Adam, the same steps, clipping at 1).
Then the gradient is measured with :func:`nnatlas.inspect.measure_gradients`: ||dL/dh_t|| at
every step, at initialization and after training.

Ablations on the adding task at one length: the LSTM's forget-gate bias at 0 or 1
(Gers, Schmidhuber & Cummins 2000; Jozefowicz, Zaremba & Sutskever 2015 recommend 1), and
clipping on or off (Pascanu, Mikolov & Bengio 2013) for an Elman RNN whose recurrent matrix
starts large (an orthogonal matrix times 2), which makes gradients explode: ||dL/dh_t|| grows
by orders of magnitude from the last step back to the first, where the default init makes it
vanish.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnatlas.data import adding_problem, copy_task
from nnatlas.inspect.curves import plot_curve_comparison
from nnatlas.inspect.experiments.common import (
    Clock,
    ExperimentResult,
    Log,
    StepLosses,
    Table,
    Trained,
    train_torch,
    write,
)
from nnatlas.inspect.figures import figure, save
from nnatlas.inspect.gradflow import measure_gradients, plot_norm_series
from nnatlas.models import create_model
from nnatlas.models.rnn_utils import make_rnn
from nnatlas.train.steps import ClassificationStep, LossAccumulator, Step, StepOutput

CELLS = ("rnn", "lstm", "gru")
ADDING_BASELINE = 1.0 / 6.0  # MSE of always predicting 1: Var(u1 + u2) for u ~ U(0, 1)
SOLVED = 0.05  # an adding model under this test MSE remembers both marked numbers
# The clipping ablation's plain SGD rate: without clipping the large-init RNN's first steps
# send the loss to infinity within 30 steps at T = 50; with clipping at 1 it trains stably.
SGD_LR = 0.05


@dataclass(frozen=True)
class Budget:
    """How much each model trains, and on what.

    Attributes:
        lengths: adding-task lengths T. copy_lengths: copy-task delays T.
        train_size: training sequences (drawn once); epochs: passes over them, so each model
            takes ``epochs * ceil(train_size / batch_size)`` optimizer steps.
        batch_size, hidden_size, lr: the same for every model (Adam).
        copy_len, n_symbols: the copy task's size.
        ablation_length: the adding task's T for the ablations.
        eval_size: validation and test sequences per task and length.
    """

    lengths: tuple[int, ...]
    copy_lengths: tuple[int, ...]
    train_size: int
    epochs: int
    ablation_length: int
    copy_len: int = 5
    n_symbols: int = 8
    batch_size: int = 64
    hidden_size: int = 64
    lr: float = 1e-2  # Adam; 1e-3 needs several times the steps for the same adding result
    grad_clip: float = 1.0  # global norm (--grad-clip); the clipping ablation turns it off
    eval_size: int = 1000
    adam_ablation: bool = True  # the clipping ablation with Adam too, beside plain SGD

    @property
    def steps(self) -> int:
        return self.epochs * -(-self.train_size // self.batch_size)


# The quick budget's 800 steps are about what the LSTM needs at T = 50: its validation MSE
# sits at 0.17 for 600 steps before it drops (400 steps of 128 leave it at 0.17; the GRU
# drops after 200). The LSTM run of the table is the forget-bias-1 arm of the ablation.
QUICK = Budget(
    lengths=(10, 50),
    copy_lengths=(10,),
    train_size=12_800,
    epochs=4,
    ablation_length=50,
    adam_ablation=False,
)
FULL = Budget(
    lengths=(10, 25, 50, 100, 200),
    copy_lengths=(10, 25, 50, 100, 200),
    train_size=16_000,
    epochs=12,
    ablation_length=100,
    copy_len=10,
)


class SequenceRegressor(nn.Module):
    """The zoo's recurrent layer over (N, T, D) and a Linear on the last step's output.

    Shape: x (N, T, D) -> (N,)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.rnn = make_rnn(cell, input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1]).squeeze(-1)  # (N,)


class RegressionStep(Step):
    """Mean squared error of the model's (N,) output against the batch's (N,) targets."""

    engines = ("torch",)

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        x, y = batch
        return StepOutput(F.mse_loss(model(x), y))

    def metrics(self, names: Any) -> LossAccumulator:
        return LossAccumulator()


def set_forget_bias(rnn: nn.LSTM, value: float) -> None:
    """Start every LSTM layer's forget gate at bias ``value`` (b_ih's f block; b_hh's 0)."""
    H = rnn.hidden_size
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            getattr(rnn, f"bias_ih_l{layer}")[H : 2 * H] = value
            getattr(rnn, f"bias_hh_l{layer}")[H : 2 * H] = 0.0


def scale_recurrence(rnn: nn.RNNBase, scale: float, seed: int = 0) -> None:
    """Set each gate block of every ``weight_hh`` to a random orthogonal matrix times ``scale``
    (spectral radius ``scale``: above 1 a linear recurrence explodes, below 1 it vanishes)."""
    gen = torch.Generator().manual_seed(seed)
    H = rnn.hidden_size
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            weight = getattr(rnn, f"weight_hh_l{layer}")
            for block in range(weight.shape[0] // H):
                q, r = torch.linalg.qr(torch.randn(H, H, generator=gen))
                weight[block * H : (block + 1) * H] = scale * q * torch.sign(torch.diag(r))


def adding_model(
    cell: str,
    budget: Budget,
    seed: int,
    forget_bias: float | None = 1.0,
    recurrent_scale: float | None = None,
) -> SequenceRegressor:
    torch.manual_seed(seed)
    model = SequenceRegressor(cell, 2, budget.hidden_size)
    if cell == "lstm" and forget_bias is not None:
        set_forget_bias(model.rnn, forget_bias)
    if recurrent_scale is not None:
        scale_recurrence(model.rnn, recurrent_scale, seed)
    return model


def copy_model(cell: str, budget: Budget, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    vocab = budget.n_symbols + 2  # blank, the symbols, the delimiter
    model = create_model(
        f"{cell}_lm", vocab_size=vocab, embed_dim=16, hidden_size=budget.hidden_size, num_layers=1
    )
    if cell == "lstm":
        set_forget_bias(model.rnn, 1.0)
    return model


def _adding_data(budget: Budget, T: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    # Three seeds, three independent draws: the test sequences were never trained on.
    return {
        "train": adding_problem(budget.train_size, T, seed=0),
        "val": adding_problem(budget.eval_size, T, seed=1),
        "test": adding_problem(2 * budget.eval_size, T, seed=2),
    }


def _copy_data(budget: Budget, T: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    kw = {"copy_len": budget.copy_len, "n_symbols": budget.n_symbols}
    return {
        "train": copy_task(budget.train_size, T, seed=0, **kw),
        "val": copy_task(budget.eval_size, T, seed=1, **kw),
        "test": copy_task(2 * budget.eval_size, T, seed=2, **kw),
    }


def _train(model: nn.Module, data: dict, step: Step, budget: Budget, **config: Any) -> Trained:
    options = dict(
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        lr=budget.lr,
        optimizer="adam",
        grad_clip=budget.grad_clip,
        seed=0,
    )
    options.update(config)
    return train_torch(model, data["train"], data["val"], step, **options)


@torch.no_grad()
def adding_mse(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    model.eval()
    x, y = data
    return float(F.mse_loss(model(x), y))


@torch.no_grad()
def copy_scores(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], copy_len: int):
    """(cross-entropy per step over the whole sequence, accuracy on the recalled symbols)."""
    model.eval()
    x, y = data
    logits, _ = model(x)  # (N, T', V)
    ce = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
    recalled = logits[:, -copy_len:].argmax(dim=-1) == y[:, -copy_len:]
    return ce, float(recalled.float().mean())


def _step_norms(model: nn.Module, batch: tuple, step: Step) -> np.ndarray:
    return measure_gradients(model, batch, step).recurrent[0].grad_norms


def run(
    folder: Path, quick: bool = False, log: Log | None = None, **overrides: Any
) -> ExperimentResult:
    """Run the experiment (``quick``: :data:`QUICK`, else :data:`FULL`; ``overrides`` replace
    budget fields, e.g. ``lengths=(10,)``) and write its results into ``folder``."""
    budget = Budget(**{**asdict(QUICK if quick else FULL), **overrides})
    clock = Clock(log)
    clock.say(f"long-memory: {budget.steps} steps per model, lengths {budget.lengths}")
    numbers: dict[str, Any] = {"adding": {}, "copy": {}, "gradients": {}, "ablations": {}}
    plots: list[Path] = []
    notes: list[str] = []
    regression = RegressionStep()

    # 1. adding: final MSE against T, and the gradient per step at the longest T
    adding = Table(
        ["T", *(c.upper() for c in CELLS)],
        title=f"adding: test MSE after {budget.steps} steps (always 1: 0.167; solved: < {SOLVED})",
    )
    gradients = Table(
        ["cell", "when", "‖dL/dh_1‖", "‖dL/dh_T‖", "first / last"],
        title=f"adding, T = {max(budget.lengths)}: gradient reaching the first step",
    )
    copy = Table(
        ["T", *(c.upper() for c in CELLS)],
        title=f"copy ({budget.copy_len} symbols of {budget.n_symbols}): recall accuracy "
        f"after {budget.steps} steps (chance {1 / budget.n_symbols:.3f})",
    )
    ablations = Table(
        ["ablation", "setting", "test MSE", "‖dL/dh_1‖ at init", "note"],
        title=f"ablations, adding, T = {budget.ablation_length}",
    )

    def progress() -> None:
        """Write what has finished (a long run that is stopped keeps its finished rows)."""
        partial = ExperimentResult(
            "long-memory",
            folder,
            quick,
            [adding, copy, gradients, ablations],
            plots,
            clock.seconds,
            ["(partial)"],
            numbers,
        )
        write(partial, asdict(budget) | {"steps": budget.steps})

    step_series: dict[str, np.ndarray] = {}
    styles: dict[str, str] = {}
    lstm_runs: dict[int, tuple[float, Trained]] = {}  # T -> (test MSE, run): forget bias 1
    for T in budget.lengths:
        data = _adding_data(budget, T)
        row: dict[str, Any] = {"T": T}
        histories = {}
        probe_batch = tuple(t[:256] for t in data["test"])
        for cell in CELLS:
            model = adding_model(cell, budget, seed=0)
            if T == max(budget.lengths):
                before = _step_norms(model, probe_batch, regression)
            trained = _train(model, data, regression, budget)
            mse = adding_mse(model, data["test"])
            row[cell.upper()] = mse
            if cell == "lstm":
                lstm_runs[T] = (mse, trained)
            histories[cell.upper()] = trained.history
            numbers["adding"][f"{cell}_T{T}"] = {
                "test_mse": mse,
                "seconds": trained.seconds,
                "diverged": trained.diverged,
            }
            clock.say(f"adding T={T} {cell}: test MSE {mse:.4f} ({trained.seconds:.0f} s)")
            if T == max(budget.lengths):
                after = _step_norms(model, probe_batch, regression)
                for when, norms in (("at init", before), ("trained", after)):
                    label = f"{cell.upper()} {when}"
                    step_series[label] = norms
                    styles[label] = "--" if when == "at init" else "-"
                    gradients.add(
                        **{
                            "cell": cell.upper(),
                            "when": when,
                            "‖dL/dh_1‖": float(norms[0]),
                            "‖dL/dh_T‖": float(norms[-1]),
                            "first / last": float(norms[0] / norms[-1]),
                        }
                    )
        adding.add(**row)
        progress()
        plots.append(
            plot_curve_comparison(
                histories,
                folder / f"adding_curves_T{T}.png",
                metrics=("train_loss", "val_loss"),
                log_scale=True,
                title=f"adding, T = {T}",
            ).png
        )
    T_max = max(budget.lengths)
    plots.append(
        plot_norm_series(
            step_series,
            folder / "adding_gradient_per_step.png",
            "time step t",
            "||dL/dh_t||",
            styles=styles,
            title=f"adding, T = {T_max}: gradient reaching each step (dashed: at initialization)",
        ).png
    )
    numbers["gradients"]["adding"] = step_series

    # 2. ablations on the adding task at one length
    T = budget.ablation_length
    data = _adding_data(budget, T)
    probe_batch = tuple(t[:256] for t in data["test"])
    curves = {}
    for bias in (0.0, 1.0):
        model = adding_model("lstm", budget, seed=0, forget_bias=bias)
        first = float(_step_norms(model, probe_batch, regression)[0])
        if bias == 1.0 and T in lstm_runs:  # the table's LSTM: the same model, data and seed
            mse, trained = lstm_runs[T]
        else:
            trained = _train(model, data, regression, budget)
            mse = adding_mse(model, data["test"])
        curves[f"forget bias {bias:g}"] = trained.history
        ablations.add(
            **{
                "ablation": "LSTM forget-gate bias",
                "setting": f"{bias:g}",
                "test MSE": mse,
                "‖dL/dh_1‖ at init": first,
            }
        )
        clock.say(f"ablation forget bias {bias:g}: test MSE {mse:.4f}")
    plots.append(
        plot_curve_comparison(
            curves,
            folder / "ablation_forget_bias.png",
            metrics=("train_loss", "val_loss"),
            log_scale=True,
            title=f"LSTM forget-gate bias, adding T = {T}",
        ).png
    )
    step_losses: dict[str, list[float]] = {}
    scale = 2.0
    # Plain SGD, as Pascanu et al.: Adam divides each step by the gradient's running size, so
    # an exploding gradient barely moves it (the full budget measures the Adam pair too).
    arms = [("sgd", SGD_LR, 1.0), ("sgd", SGD_LR, 0.0)]
    if budget.adam_ablation:
        arms += [("adam", budget.lr, 1.0), ("adam", budget.lr, 0.0)]
    for optimizer, lr, clip in arms:
        model = adding_model("rnn", budget, seed=0, recurrent_scale=scale)
        first = float(_step_norms(model, probe_batch, regression)[0])
        recorder = StepLosses()
        trained = _train(
            model,
            data,
            regression,
            budget,
            grad_clip=clip,
            optimizer=optimizer,
            lr=lr,
            callbacks=[recorder],
        )
        mse = adding_mse(model, data["test"]) if trained.diverged is None else float("nan")
        setting = f"{optimizer} lr {lr:g}, " + (f"clip at {clip:g}" if clip else "no clipping")
        # a diverged run's last losses are infinite: drawn up to there (NaN is not drawn)
        step_losses[setting] = [v if np.isfinite(v) else float("nan") for v in recorder.losses]
        note = trained.diverged or ("; ".join(trained.warnings)[:120] or None)
        ablations.add(
            **{
                "ablation": f"RNN, W_hh = {scale:g} x orthogonal",
                "setting": setting,
                "test MSE": mse,
                "‖dL/dh_1‖ at init": first,
                "note": note,
            }
        )
        clock.say(f"ablation {setting}: test MSE {mse:.4f}{' ' + note if note else ''}")
    plots.append(
        plot_norm_series(
            step_losses,
            folder / "ablation_clipping.png",
            "optimizer step",
            "training loss (MSE)",
            title=f"Elman RNN, W_hh = {scale:g} x orthogonal, adding T = {T}: clipping",
        ).png
    )
    numbers["step_losses_clipping"] = step_losses

    # 3. exploding and vanishing at initialization: the recurrent matrix's scale
    series = {}
    for scale_value in (None, 0.5, 1.0, 2.0):
        model = adding_model("rnn", budget, seed=0, recurrent_scale=scale_value)
        label = (
            "torch's init U(-1/sqrt(H), 1/sqrt(H))"
            if scale_value is None
            else (f"orthogonal x {scale_value:g}")
        )
        series[label] = _step_norms(model, probe_batch, regression)
    plots.append(
        plot_norm_series(
            series,
            folder / "exploding_vanishing.png",
            "time step t",
            "||dL/dh_t||",
            title=f"Elman RNN at initialization, adding T = {T}: the recurrent matrix decides",
        ).png
    )
    numbers["gradients"]["exploding"] = series
    progress()

    # 4. copy: recall accuracy against T (last: the longest to train)
    for T in budget.copy_lengths:
        data = _copy_data(budget, T)
        row = {"T": T}
        baseline = budget.copy_len * np.log(budget.n_symbols) / (T + 2 * budget.copy_len)
        for cell in CELLS:
            model = copy_model(cell, budget, seed=0)
            trained = _train(model, data, ClassificationStep(), budget)
            ce, accuracy = copy_scores(model, data["test"], budget.copy_len)
            row[cell.upper()] = accuracy
            numbers["copy"][f"{cell}_T{T}"] = {
                "recall_accuracy": accuracy,
                "test_ce": ce,
                "memoryless_ce": baseline,
                "seconds": trained.seconds,
            }
            clock.say(
                f"copy T={T} {cell}: recall accuracy {accuracy:.3f}, CE {ce:.4f} "
                f"(memoryless {baseline:.4f})"
            )
        copy.add(**row)
        progress()
    plots.append(_plot_metric_vs_length(numbers, budget, folder / "metric_vs_length.png").png)

    numbers["ablations"] = {"rows": ablations.rows}
    solved = [
        r["T"]
        for r in adding.rows
        if r["LSTM"] < SOLVED and r["GRU"] < SOLVED and r["RNN"] >= SOLVED
    ]
    notes.append(
        f"LSTM and GRU solve the adding task where the RNN does not at T = {solved}"
        if solved
        else "no length where LSTM and GRU solve the adding task and the RNN fails"
    )
    result = ExperimentResult(
        "long-memory",
        folder,
        quick,
        [adding, copy, gradients, ablations],
        plots,
        clock.seconds,
        notes,
        numbers,
    )
    return write(result, asdict(budget) | {"steps": budget.steps})


def _plot_metric_vs_length(numbers: dict[str, Any], budget: Budget, path: Path) -> Any:
    fig, axes = figure(columns=2, size=(4.6, 3.6))
    data: dict[str, Any] = {}
    for cell in CELLS:
        mse = [numbers["adding"][f"{cell}_T{T}"]["test_mse"] for T in budget.lengths]
        acc = [numbers["copy"][f"{cell}_T{T}"]["recall_accuracy"] for T in budget.copy_lengths]
        axes[0, 0].plot(budget.lengths, mse, "-o", label=cell.upper())
        axes[0, 1].plot(budget.copy_lengths, acc, "-o", label=cell.upper())
        data[cell] = {"adding_mse": mse, "copy_recall_accuracy": acc}
    axes[0, 0].axhline(ADDING_BASELINE, color="gray", ls="--", label="always 1")
    axes[0, 0].axhline(SOLVED, color="gray", ls=":", label="solved")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_title("adding: test MSE")
    axes[0, 1].axhline(1 / budget.n_symbols, color="gray", ls="--", label="chance")
    axes[0, 1].set_title("copy: recall accuracy")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("sequence length T")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save(
        fig, path, {"adding_lengths": budget.lengths, "copy_lengths": budget.copy_lengths, **data}
    )
