"""Practice: a learning-rate range test, a hyper-parameter search watched on validation data,
overfitting and regularization, and matching the model's size to the data.

Everything runs on scikit-learn's digits (no download) through :mod:`nnatlas.tune`: the range
test sweeps the rate over one short run (:func:`~nnatlas.tune.lr_find`); an Optuna study
searches rate, width, dropout ... scoring each trial on validation accuracy and pruning trials
whose validation curve trails, then tests only the retrained best, once
(:func:`~nnatlas.tune.tune`); the overfitting study measures the train-validation gap of a
small and a large MLP at two training-set sizes and with regularizers
(:func:`~nnatlas.tune.overfit_study`); and the model-data checks every run prints flag a model
with far more weights than examples (:func:`nnatlas.tasks.train`'s header notes).
"""

from __future__ import annotations

import math
from typing import Any

import nnatlas.tasks as tasks
import nnatlas.tune as tune
from nnatlas.lessons import needs, plots
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

DATA = "digits"


def _range_test(ctx: Context) -> tuple[Table, float]:
    ctx.log("  learning-rate range test: mlp on digits")
    found = tune.lr_find("mlp", DATA, folder=ctx.path("lr-find"), seed=ctx.seed)
    table = Table(
        "Learning-rate range test (Adam, the rate growing exponentially over one sweep)",
        ["steps", "stopped because", "lowest smoothed loss at", "suggested (min/10)"],
    )
    low = min(range(len(found.smoothed)), key=found.smoothed.__getitem__)
    table.add(
        steps=len(found.rates),
        **{
            "stopped because": found.stop,
            "lowest smoothed loss at": f"{found.rates[low]:.2e}",
            "suggested (min/10)": f"{found.suggested:.2e}",
        },
    )
    rates = [math.log10(rate) for rate in found.rates]
    plots.curves(
        ctx.path("lr_range.png"),
        {
            "loss": (rates, found.losses[: len(rates)]),
            "smoothed": (rates, found.smoothed[: len(rates)]),
        },
        xlabel="log10 of the learning rate",
        ylabel="training loss",
    )
    return table, found.suggested


def _search(ctx: Context, cfg: dict[str, Any]) -> tuple[Table, Table, Any]:
    ctx.log(f"  hyper-parameter search: {cfg['trials']} Optuna trials, {cfg['epochs']} epochs each")
    result = tune.tune(
        "mlp",
        DATA,
        trials=cfg["trials"],
        folder=ctx.path("tune"),
        epochs=cfg["epochs"],
        seed=ctx.seed,
        pruner="median",
    )
    trials = Table(
        f"The search: {result.count('COMPLETE')} complete, {result.count('PRUNED')} pruned "
        f"(validation accuracy, higher is better)",
        ["trial", "state", "validation accuracy", "pruned at epoch", "learning rate"],
    )
    for row in result.rows:
        trials.add(
            trial=row["number"],
            state=row["state"].lower(),
            **{
                "validation accuracy": row["value"],
                "pruned at epoch": row["pruned_epoch"],
                "learning rate": f"{row['params'].get('lr', float('nan')):.2e}",
            },
        )
    final = result.final or {}
    summary = Table(
        "The preset against the best trial; the test set used once, by the retrained best",
        ["configuration", "validation accuracy", "test accuracy"],
    )
    summary.add(
        configuration="the dataset's preset",
        **{"validation accuracy": (result.default or {}).get("value"), "test accuracy": None},
    )
    summary.add(
        configuration=f"best trial ({final.get('trial')}), retrained",
        **{
            "validation accuracy": final.get("val"),
            "test accuracy": final.get("test", {}).get("accuracy"),
        },
    )
    return trials, summary, result


def _overfitting(ctx: Context, cfg: dict[str, Any]) -> tuple[Table, list[str], dict[str, float]]:
    ctx.log("  the overfitting study: capacity x training-set size x regularizer")
    study = tune.overfit_study(
        quick=True,
        data=DATA,
        folder=ctx.path("overfit"),
        epochs=cfg["overfit_epochs"],
        sizes=cfg["sizes"],
        seed=ctx.seed,
        regularizers=cfg["regularizers"],
    )
    table = Table(
        "Train - validation accuracy gap (the overfitting study)",
        ["capacity", "training examples", "regularizer", "train accuracy", "val accuracy", "gap"],
    )
    gaps = {}
    for row in study.rows:
        table.add(
            capacity=row["capacity"],
            **{
                "training examples": row["size"],
                "regularizer": row["regularizer"],
                "train accuracy": row["train_accuracy"],
                "val accuracy": row["val_accuracy"],
                "gap": row["gap"],
            },
        )
        gaps[(row["capacity"], row["limit"], row["regularizer"])] = row["gap"]
    few, every = cfg["sizes"][0], cfg["sizes"][-1]
    numbers = {
        "gap_few": gaps[("large", few, "none")],
        "gap_all": gaps[("large", every, "none")],
    }
    return table, list(study.findings), numbers


def _model_size(ctx: Context, cfg: dict[str, Any]) -> Table:
    """The header's model-data checks for a small and a large MLP on few examples."""
    table = Table(
        f"Model-data matching: {cfg['sizes'][0]} training digits, what the run's checks say",
        ["hidden layers", "trainable parameters", "per training example", "check"],
    )
    for hidden in ([32], [512, 512]):
        ctx.log(f"  model-size check: hidden {hidden}")
        run = tasks.train(
            "mlp",
            DATA,
            limit=cfg["sizes"][0],
            epochs=1,
            model_options={"hidden_sizes": hidden},
            seed=ctx.seed,
            run_dir=ctx.path(f"runs/size-{'-'.join(map(str, hidden))}"),
            overwrite=True,
            quiet=True,
            tensorboard=False,
        )
        params = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
        examples = run.trainer.extra["sizes"]["train"]
        found = [n for n in run.trainer.extra["notes"] if "trainable parameters" in n]
        table.add(
            **{
                "hidden layers": " x ".join(map(str, hidden)),
                "trainable parameters": params,
                "per training example": params // examples,
                "check": found[0] if found else "no warning: the model suits the data's size",
            }
        )
    return table


def run(ctx: Context) -> Result:
    cfg = ctx.config
    lr_table, suggested = _range_test(ctx)
    trials, summary, searched = _search(ctx, cfg)
    overfit, findings, gaps = _overfitting(ctx, cfg)
    sizes = _model_size(ctx, cfg)
    best_test = (searched.final or {}).get("test", {}).get("accuracy")
    plots.bars(
        ctx.path("gaps.png"),
        {
            f"{r['capacity']} {r['training examples']} {r['regularizer']}": r["gap"]
            for r in overfit.rows
        },
        ylabel="train - validation accuracy",
    )
    figures = [
        Plot(
            "lr_range.png",
            "The range test: the loss falls once the rate is large enough, then blows up; "
            "the suggestion is a tenth of the rate at the lowest smoothed loss.",
        ),
        Plot(
            "gaps.png",
            "The train-validation gap per run: the large MLP on few examples memorizes them; "
            "more data closes the gap more than any regularizer.",
        ),
    ]
    for name, caption in (
        ("history.png", "The search's validation accuracy per trial, the best so far."),
        ("lr.png", "Validation accuracy against each trial's learning rate."),
    ):
        if ctx.path(f"tune/{name}").is_file():
            figures.append(Plot(f"tune/{name}", caption))
    return Result(
        numbers={
            "tuned_test_accuracy": math.nan if best_test is None else best_test,
            "suggested_lr": suggested,
            "gap_few": gaps["gap_few"],
            "gap_shrink": gaps["gap_few"] - gaps["gap_all"],
        },
        tables=[lr_table, trials, summary, overfit, sizes],
        plots=figures,
        notes=[f"The overfitting study's finding: {f}" for f in findings],
    )


TEACHES = paragraphs(
    """
    Training well is mostly a matter of choices made on validation data. The learning rate
    matters most: the range test trains once while the rate grows exponentially from 1e-7,
    records the loss, and stops when it diverges; a rate a tenth of the one at the lowest
    smoothed loss is a safe start (`nnatlas lr-find`).

    A hyper-parameter search tries configurations and keeps the best by a validation metric:
    Optuna's TPE sampler proposes the next trial from the ones so far, and the median pruner
    stops a trial whose validation curve trails the others' at the same epoch. The test set
    is used once, by the retrained best configuration: choosing by test accuracy would make
    it one more validation set (`nnatlas tune`).

    Overfitting is the gap between training and validation accuracy: a model large enough to
    memorize its training examples fits them perfectly and generalizes less well. The
    overfitting study measures the gap for a small and a large MLP, with few and with all
    examples, and with regularizers (weight decay, dropout, label smoothing ...), each judged
    against the noise of a validation accuracy (`nnatlas study overfit`).

    Matching the model to the data: every run's header prints model-data checks, among them
    trainable parameters per training example. Thousands of weights per example mean the
    model can memorize; use a smaller model, transfer learning or regularization.
    """
)

LESSON = Lesson(
    id="practice",
    title="Practice: learning rates, hyper-parameter search, overfitting, model-data matching",
    stage=5,
    teaches=TEACHES,
    run=run,
    quick={
        "trials": 6,  # Optuna trials (complete or pruned)
        "epochs": 8,  # per trial
        "overfit_epochs": 20,
        "sizes": [100, None],  # training examples of the overfitting study (None: all)
        "regularizers": ["weight_decay", "dropout", "label_smoothing"],
    },
    full={"trials": 20, "epochs": 30, "overfit_epochs": 40, "sizes": [100, 300, None]},
    key_numbers=[
        KeyNumber(
            "tuned_test_accuracy",
            "digits test accuracy of the retrained best trial",
            quick=(0.9, 1.0),
            full=(0.95, 1.0),
            reference=Reference(
                "0.97 accuracy with an RBF support-vector machine, half of the digits held out",
                "scikit-learn example 'Recognizing hand-written digits' (scikit-learn.org)",
            ),
        ),
        KeyNumber(
            "suggested_lr",
            "learning rate the range test suggests (Adam, the MLP on digits)",
            quick=(1e-4, 3e-2),
            fmt=".1e",
            reference=Reference(
                "the range test: the loss against a growing rate brackets the usable rates",
                "Smith (2017), Cyclical Learning Rates for Training Neural Networks, WACV",
            ),
        ),
        KeyNumber(
            "gap_few",
            "train - validation accuracy gap, 512x512 MLP on 100 digits",
            quick=(0.03, 0.3),
            reference=Reference(
                "large networks fit even random labels: capacity alone does not explain "
                "generalization, data does much of it",
                "Zhang, Bengio, Hardt, Recht, Vinyals (2017), Understanding deep learning "
                "requires rethinking generalization, ICLR",
            ),
        ),
        KeyNumber(
            "gap_shrink",
            "how much the gap shrinks from 100 digits to all of them (same MLP)",
            quick=(0.0, 0.3),
            reference=Reference(
                "dropout and weight decay reduce overfitting; more data reduces it most",
                "Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov (2014), Dropout: A "
                "Simple Way to Prevent Neural Networks from Overfitting, JMLR 15",
            ),
        ),
    ],
    needs=[needs.module("optuna", "optuna (the tune extra)", "pip install 'nnatlas[tune]'")],
    commands=[
        "nnatlas lr-find mlp --data digits",
        "nnatlas tune mlp --data digits --trials 20",
        "nnatlas study overfit --quick",
    ],
)
