"""``nnatlas tune MODEL --data DATASET --trials N``: hyper-parameter search with Optuna.

The work is done by :func:`nnatlas.tune.tune`; this module parses, prints a line per trial,
the table of trials and what the search found.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app
from nnatlas.tune.space import DIMENSIONS, MODEL_ARGUMENTS

_SPACE_HELP = (
    "comma list of dimensions to search, each optionally with a range (low:high) or choices "
    "(a|b|c), e.g. 'lr=1e-4:1e-1,batch_size=32|64,dropout'. Dimensions: "
    + "; ".join(f"{d.describe()} ({d.help})" for d in DIMENSIONS.values())
    + ". "
    + "; ".join(f"{k} needs a model taking {' or '.join(v)}" for k, v in MODEL_ARGUMENTS.items())
    + " (default: every dimension the model takes)"
)


def tune(
    model: str | None = typer.Argument(
        None, help="zoo model name (default: the dataset's preset model)"
    ),
    data: str | None = typer.Option(
        None, "--data", "-d", help="catalog dataset name (default digits)"
    ),
    trials: int = typer.Option(
        20,
        "--trials",
        "-n",
        help="finished trials the study should hold in all (complete or "
        "pruned), counting earlier runs and other processes sharing the study",
    ),  # fmt: skip
    space: str | None = typer.Option(None, help=_SPACE_HELP),
    storage: str | None = typer.Option(
        None,
        help="SQLAlchemy URL of the study database (default sqlite:///DIR/study.db); processes "
        "given the same URL and --study share the study (on one machine with SQLite; on "
        "several with postgresql://..., whose server also locks the reservations: pip install "
        "'nnatlas[postgres]')",
    ),
    study: str | None = typer.Option(None, help="study name (default MODEL-DATA)"),
    dir: Path | None = typer.Option(  # noqa: B008
        None, "--dir", help="the tune's folder (default RUNS_DIR/tune/STUDY)"
    ),
    runs_dir: Path = typer.Option(Path("runs"), help="where the tune's folder goes"),  # noqa: B008
    metric: str = typer.Option(
        "val_accuracy",
        help="validation metric to optimize: val_loss is minimized, val_accuracy and val_f1 "
        "maximized",
    ),
    pruner: str = typer.Option(
        "median",
        help="stop poor trials early from their validation curves: median (below the median of "
        "earlier trials at the same epoch), halving (successive halving) or none",
    ),
    sampler: str = typer.Option("tpe", help="tpe (Tree-structured Parzen Estimator) or random"),
    engine: str | None = typer.Option(None, help="torch or scratch (NumPy) (default torch)"),
    epochs: int | None = typer.Option(
        None, help="epochs per trial (default: the dataset's preset)"
    ),
    seed: int | None = typer.Option(
        None, help="seed of every trial's run and of the sampler (default 0)"
    ),
    val_fraction: float | None = typer.Option(
        None, help="fraction of the training data validated on (default 0.1)"
    ),
    limit: int | None = typer.Option(None, help="train every trial on at most N examples"),
    threads: int = typer.Option(
        1,
        help="CPU threads per trial (0 = the trainer's automatic choice); one suits many "
        "small trials and several processes sharing a study",
    ),  # fmt: skip
    config: Path | None = typer.Option(  # noqa: B008
        None,
        "--config",
        help="an option file (as `nnatlas train --config`) fixing options for every trial, "
        "training and data ones (word_vectors, punctuation, min_freq ...); searched options "
        "override it",
    ),
) -> None:
    """Search hyper-parameters on validation data, prune poor trials, test only the best once.

    The space: learning rate, batch size, weight decay, optimizer, schedule, width, depth and
    dropout (those the model takes).

    Writes DIR/trials.csv, best-config.toml (for `nnatlas train --config`), history.png,
    importances.png, lr.png and summary.json. Ctrl-C keeps the study; the same command
    continues it. Example: nnatlas tune mlp --data digits --trials 20
    """
    from nnatlas.tune import tune as run_tune

    fixed: dict[str, Any] = {"epochs": epochs, "seed": seed, "threads": threads}
    given = dict(model=model, data=data, engine=engine, val_fraction=val_fraction, limit=limit)
    model_options = None
    with exit_on_usage_error():
        if config is not None:
            given, fixed, model_options = _from_file(config, given, fixed)
        model, data, engine, limit = given["model"], given["data"], given["engine"], given["limit"]
        val_fraction = given["val_fraction"]
        try:
            result = run_tune(
                model,
                data or "digits",
                trials=trials,
                space=space,
                storage=storage,
                study=study,
                folder=dir,
                runs_dir=runs_dir,
                metric=metric,
                pruner=pruner,
                sampler=sampler,
                engine=engine or "torch",
                val_fraction=0.1 if val_fraction is None else val_fraction,
                limit=limit,
                model_options=model_options,
                on_trial=_print_trial,
                **fixed,
            )
        except KeyboardInterrupt:
            where = storage or "the tune's folder (study.db)"
            print(
                "\nstopped by Ctrl-C: the running trial is marked failed and will run again; "
                f"the study is kept in {where}. Run the same command to continue it.",
                flush=True,
            )
            raise typer.Exit(130) from None
    _print_result(result)


def _from_file(
    path: Path, given: dict[str, Any], fixed: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """The command's options with an option file's values where the command line gave none:
    ``(given, fixed training options, model_options)``."""
    import difflib
    from dataclasses import fields

    from nnatlas.train.config import TrainConfig
    from nnatlas.tune.configfile import read_options
    from nnatlas.tune.search import DATA_OPTIONS

    values = read_options(path)
    model_options = values.pop("model_options", None)
    if model_options is not None and not isinstance(model_options, dict):
        raise UsageError(f"{path}: model_options must be a table of constructor arguments")
    for key in ("run_name", "runs_dir", "augment", "data_root", "resume", "overwrite"):
        if key in values:
            raise UsageError(f"{path}: `nnatlas tune` takes no {key}; drop it from the file")
    known = [*given, *(f.name for f in fields(TrainConfig)), *DATA_OPTIONS]
    for key in values:
        if key not in known:  # named here, with the file, rather than by the search later
            close = difflib.get_close_matches(key, known, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise UsageError(f"{path}: unknown option {key!r}{hint}")
    given, fixed = dict(given), dict(fixed)
    for key, value in values.items():
        target = given if key in given else fixed
        if target.get(key) is None:
            target[key] = value
    return given, fixed, model_options


def _params(params: dict[str, Any]) -> str:
    return "  ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _print_trial(row: dict[str, Any]) -> None:
    value = "" if row["value"] is None else f"{row['value']:.4f}"
    state = row["state"].lower()
    if row["pruned_epoch"] is not None:
        state += f" at epoch {row['pruned_epoch']}"
    note = f"  ({row['note']})" if row["note"] else ""
    print(f"trial {row['number']:3d}  {state:<18} {value:>7}  {_params(row['params'])}{note}")


def _print_gain(result: Any) -> None:
    """Best minus default, against the noise of a validation accuracy (when it is one)."""
    default = result.default or {}
    examples = default.get("examples") or 0
    if default.get("value") is None or result.metric == "val_loss" or not examples:
        return
    p = default["value"]
    error = math.sqrt(max(p * (1 - p), 1e-12) / examples)
    gain = result.best["value"] - p
    print(
        f"best - default: {gain:+.4f} on {examples} validation examples (one standard error "
        f"{error:.4f}); the best of {len(result.rows)} trials is chosen on these examples and "
        "flatters itself: the retrained best's test figure is the unbiased one"
    )


def _print_result(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    metric = result.metric
    table = Table(title=f"study {result.study}: {metric} ({'max' if result.maximize else 'min'})")
    for column in ("trial", "state", metric, "pruned at epoch", "parameters"):
        table.add_column(column, justify="right" if column != "parameters" else "left")
    best = result.best["number"] if result.best else None
    for r in result.rows:
        mark = " *" if r["number"] == best else ""
        table.add_row(
            f"{r['number']}{mark}",
            r["state"].lower(),
            "" if r["value"] is None else f"{r['value']:.4f}",
            "" if r["pruned_epoch"] is None else str(r["pruned_epoch"]),
            _params(r["params"]) + (f" ({r['note']})" if r["note"] else ""),
        )
    Console(width=160).print(table)
    counts = ", ".join(
        f"{result.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
    )
    pruned = [r["pruned_epoch"] for r in result.rows if r["pruned_epoch"] is not None]
    epochs = f" (pruned at epochs {min(pruned)}-{max(pruned)})" if pruned else ""
    print(f"{len(result.rows)} trials: {counts}{epochs}")
    if result.default is not None and result.default["value"] is not None:
        print(f"default configuration (the preset): {metric} {result.default['value']:.4f}")
    if result.best is not None:
        print(
            f"best: trial {result.best['number']}, {metric} {result.best['value']:.4f}: "
            f"{_params(result.best['params'])}"
        )
        _print_gain(result)
    if result.final is not None:
        final = result.final
        test = final["test"]
        print(
            f"retrained best (trial {final['trial']}): {metric} {final['val']:.4f}, test "
            f"accuracy {test.get('accuracy', float('nan')):.4f}, test loss {test['loss']:.4f}"
        )
        if result.test_uses > 1:
            print(
                f"warning: the test set has now been used for {result.test_uses} best "
                "configurations of this study; the latest figure is no longer an unbiased "
                "estimate"
            )
    elif not result.complete:
        finished = result.count("COMPLETE") + result.count("PRUNED")
        print(
            f"{finished} of {result.trials} trials finished; {result.count('RUNNING')} still "
            "running elsewhere: the process that finishes the study retrains and tests the best"
        )
    for name, path in result.files.items():
        print(f"{name:<12} {path}")


app.command(name="tune")(tune)
