"""``nnatlas train MODEL --data DATASET``: train any zoo model on any catalog dataset.

The options are built from :class:`nnatlas.train.TrainConfig`'s fields (one source of truth).
An option left out takes the dataset's preset (:mod:`nnatlas.cli.presets`: the model, epochs,
learning rate ... that work well for that dataset), then the config's default. The data and
the model come from :mod:`nnatlas.cli.prepare`, which ``nnatlas eval`` and ``nnatlas predict``
use too, so they rebuild a run exactly. The resolved config is written to
``runs/<name>/config.json``.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli import app
from nnatlas.cli.errors import UsageError, exit_on_usage_error, print_error, read_checkpoint
from nnatlas.cli.prepare import build_model, load_data, model_kwargs_for, prepare
from nnatlas.cli.presets import GENERIC, PRESETS, preset_for, resolve_config
from nnatlas.train.config import TrainConfig


# -- one run ---------------------------------------------------------------------------------------
def run_training(
    model: str | None,
    data: str,
    config: TrainConfig,
    run_dir: Path,
    augment: str | None = None,
    val_fraction: float = 0.1,
    root: str | None = None,
    resume: bool = False,
) -> tuple[Any, dict[str, float], float]:
    """Load, build, train, test. Returns (trainer, test metrics, wall seconds)."""
    from nnatlas.train import create_trainer

    start = time.perf_counter()
    preset = preset_for(data)
    model = model or preset.model
    augment = augment or preset.augment
    splits = load_data(data, seed=config.seed, val_fraction=val_fraction, root=root)
    prepared = prepare(splits, data, augment)
    kwargs = model_kwargs_for(model, prepared.info)
    net = build_model(model, config.engine, kwargs, seed=config.seed)
    try:
        trainer = create_trainer(
            net,
            config,
            run_dir=run_dir,
            model_info={"name": model, "kwargs": kwargs},
            extra={**prepared.info, "val_fraction": val_fraction},
        )
    except ValueError as err:  # e.g. --device cuda on a machine without CUDA
        raise UsageError(str(err)) from err
    train = prepared.train
    if prepared.augment is not None:
        from nnatlas.train import TensorLoader

        train = TensorLoader(*train, config.batch_size, shuffle=True, seed=config.seed,
                             augment=prepared.augment)  # fmt: skip
    last = run_dir / "last.pt"
    trainer.fit(train, prepared.val, resume=last if resume else None)
    test = trainer.evaluate(prepared.test)
    seconds = time.perf_counter() - start
    (run_dir / "test_metrics.json").write_text(json.dumps(test, indent=2) + "\n")
    return trainer, test, seconds


# -- the command: options generated from TrainConfig -------------------------------------------
def _config_parameters() -> list[inspect.Parameter]:
    """One ``--option`` per TrainConfig field, defaulting to None (= preset, then field default)."""
    preset_keys = {key for p in (*PRESETS.values(), GENERIC) for key in (*p.config, *p.scratch)}
    params = []
    for f in fields(TrainConfig):
        choices = f.metadata.get("choices")
        help_text = f.metadata["help"] + (f": {', '.join(choices)}" if choices else "")
        # Say "preset" only where some dataset's preset does set the option.
        source = "the dataset's preset, else " if f.name in preset_keys else ""
        help_text += f" (default: {source}{f.default})"
        flag = "--" + f.name.replace("_", "-")
        decls = [f"{flag}/--no-{f.name.replace('_', '-')}"] if f.type in ("bool", bool) else [flag]
        annotation = {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *decls, help=help_text, show_default=False),
                annotation=Optional[annotation],  # noqa: UP045 (typer reads Optional)
            )
        )
    return params


def train(
    model: str | None = typer.Argument(
        None, help="zoo model name, see `nnatlas models list` (default: the dataset's preset)"
    ),
    data: str = typer.Option(
        "digits", "--data", "-d", help="catalog dataset name, see `nnatlas data list`"
    ),
    run_name: str | None = typer.Option(
        None, help="run folder name (default MODEL-DATA-ENGINE-sSEED)"
    ),
    runs_dir: Path = typer.Option(Path("runs"), help="where run folders are made"),  # noqa: B008
    augment: str | None = typer.Option(
        None, help="augmentation preset: none, light, standard, strong (default: the preset's)"
    ),
    val_fraction: float = typer.Option(
        0.1, help="fraction of the training data held out for validation"
    ),
    data_root: str | None = typer.Option(None, help="a local copy of the dataset"),
    resume: bool = typer.Option(False, "--resume", help="continue --run-name from its last.pt"),
    **options: Any,
) -> None:
    """Train a model on a dataset; writes runs/NAME/: config.json, history.csv/json, last.pt,
    best.pt, curves.png, test_metrics.json.

    Options left out take the dataset's preset (e.g. digits: mlp, 30 epochs, cosine schedule).
    Example: nnatlas train lenet5 --data fashion-mnist --epochs 3 --engine scratch
    """
    from rich.console import Console

    from nnatlas.train import CheckpointError, NonFiniteLossError, summary_table

    engine = options.pop("engine")
    with exit_on_usage_error():
        if not 0.0 <= val_fraction < 1.0:
            raise UsageError(f"--val-fraction must be in [0, 1), got {val_fraction}")
        if resume:
            if run_name is None:
                raise UsageError("--resume needs --run-name of the run to continue")
            run_dir = runs_dir / run_name
            options["engine"] = engine  # only to report it as ignored
            config, model, data, augment, val_fraction = _resume_settings(run_dir, options)
        else:
            engine = engine or "torch"
            config = resolve_config(data, engine, options)
            model = model or preset_for(data).model
            safe_data = data.replace(":", "_").replace("/", "_")  # csv:PATH makes a folder name
            run_dir = runs_dir / (run_name or f"{model}-{safe_data}-{engine}-s{config.seed}")
        try:
            trainer, test, seconds = run_training(
                model, data, config, run_dir, augment, val_fraction, data_root, resume=resume
            )
        except NonFiniteLossError as err:
            print_error("training stopped", err)
            raise typer.Exit(1) from None
        except CheckpointError as err:  # --resume with a checkpoint of another model or run
            raise UsageError(str(err)) from err
    if trainer.stop_reason and not config.quiet:
        print(trainer.stop_reason)
    Console().print(summary_table(trainer.history, test))
    best = f" (weights of epoch {trainer.best_epoch})" if config.restore_best else ""
    print(
        f"test accuracy {test.get('accuracy', float('nan')):.4f}  "
        f"test loss {test['loss']:.4f}{best}"
    )
    print(f"run folder {run_dir}", flush=True)
    # On stderr: stdout then holds only numbers that are identical from run to run.
    typer.echo(f"wall time {seconds:.1f} s", err=True)


def _resume_settings(
    run_dir: Path, options: dict[str, Any]
) -> tuple[TrainConfig, str, str, str, float]:
    """The saved config, model, dataset, augmentation and validation fraction of a run."""
    last = run_dir / "last.pt"
    if not last.is_file():
        raise UsageError(f"--resume: {last} does not exist; nothing to continue")
    ckpt = read_checkpoint(last)
    config = TrainConfig.from_dict(ckpt["config"])
    # Only how the run *reports* may change on resume; any other option would change the numbers.
    ignored = sorted(k for k, v in options.items() if v is not None and k != "quiet")
    if ignored:
        print(f"--resume continues with the run's saved config; ignoring --{', --'.join(ignored)}")
    if options.get("quiet") is not None:
        config.quiet = options["quiet"]
    extra = ckpt["extra"]
    loader = ckpt["loader"] or {"batches_done": 0}
    print(
        f"resuming {last}: {ckpt['epoch']} epoch(s) done, step {ckpt['step']}, "
        f"{loader['batches_done']} batch(es) into the next epoch"
    )
    model = ckpt["model_info"]["name"]
    return config, model, extra["dataset"], extra["augment"], extra["val_fraction"]


# typer reads a command's options from its signature: replace **options by TrainConfig's fields.
_config_options = _config_parameters()
_base = inspect.signature(train)
train.__signature__ = _base.replace(
    parameters=[p for p in _base.parameters.values() if p.kind != p.VAR_KEYWORD] + _config_options
)
train.__annotations__.update({p.name: p.annotation for p in _config_options})
app.command(name="train")(train)
