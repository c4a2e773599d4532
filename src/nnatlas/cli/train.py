"""``nnatlas train MODEL --data DATASET``: train any zoo model on any catalog dataset.

The options are built from :class:`nnatlas.train.TrainConfig`'s fields (one source of truth).
An option left out takes the dataset's preset (:data:`PRESETS`: the model, epochs, learning
rate ... that work well for that dataset), then the config's default. The resolved config is
written to ``runs/<name>/config.json``.

The functions here (:func:`load_data`, :func:`build_model`, :func:`run_training`) are also
what ``nnatlas eval`` and ``nnatlas predict`` use to rebuild a run.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli import app
from nnatlas.train.config import TrainConfig


@dataclass
class Preset:
    """What a dataset trains best with by default (every value can be overridden on the CLI)."""

    model: str
    augment: str = "none"
    config: dict[str, Any] = field(default_factory=dict)  # both engines
    scratch: dict[str, Any] = field(default_factory=dict)  # the NumPy engine, on top of config


# Measured on the shared 2-core CPU with `nnatlas train --data NAME` (seed 0).
PRESETS: dict[str, Preset] = {
    # 1,797 8x8 digits: a 64-256-128-10 MLP, Adam + cosine: 0.978 test (torch), 0.981 (NumPy).
    "digits": Preset("mlp", config=dict(epochs=30, batch_size=32, lr=1e-3, scheduler="cosine")),
    # 60,000 28x28: LeNet-5, Adam + one-cycle, batch 256: 0.899 test in 5 epochs, 32 s on 2 cores
    # (`nnatlas train lenet5 --data fashion-mnist`); the NumPy engine: 0.882 in 2 epochs, 30 s.
    "fashion-mnist": Preset(
        "lenet5",
        config=dict(epochs=5, batch_size=256, lr=6e-3, scheduler="onecycle", channels_last=True),
        scratch=dict(epochs=2, batch_size=64, lr=3e-3),
    ),
    "mnist": Preset(
        "lenet5",
        config=dict(epochs=3, batch_size=128, lr=4e-3, scheduler="onecycle", channels_last=True),
    ),
    "opencv-digits": Preset(
        "lenet5", config=dict(epochs=8, batch_size=64, lr=3e-3, scheduler="onecycle")
    ),
    # ResNet-20 (He et al. 2015): SGD + Nesterov, weight decay 5e-4, crop + flip augmentation.
    "cifar10": Preset(
        "resnet20",
        augment="light",
        config=dict(
            epochs=30,
            batch_size=128,
            lr=0.1,
            optimizer="nesterov",
            weight_decay=5e-4,
            scheduler="onecycle",
        ),  # fmt: skip
    ),
    # SST-2 sentences, pre-padded to 48 tokens; an LSTM reaches ~0.80 dev accuracy in 2 epochs.
    "sst2": Preset("lstm_classifier", config=dict(epochs=2, batch_size=64, lr=2e-3, grad_clip=1.0)),
    "imdb": Preset("lstm_classifier", config=dict(epochs=3, batch_size=64, lr=2e-3, grad_clip=1.0)),
    "mr": Preset("lstm_classifier", config=dict(epochs=4, batch_size=64, lr=2e-3, grad_clip=1.0)),
    "moons": Preset("mlp", config=dict(epochs=60, batch_size=32, lr=1e-2)),
    "circles": Preset("mlp", config=dict(epochs=60, batch_size=32, lr=1e-2)),
    "spirals": Preset("mlp", config=dict(epochs=150, batch_size=32, lr=1e-2)),
    "xor": Preset("mlp", config=dict(epochs=60, batch_size=32, lr=1e-2)),
}
TEXT_MAX_LEN = {"sst2": 48, "mr": 64, "imdb": 256}  # tokens kept per text (pre-padded)
GENERIC = Preset("lenet5", config=dict(epochs=10, batch_size=64, lr=1e-3, scheduler="cosine"))


class UsageError(Exception):
    """A bad name or option; the CLI prints the message and exits with status 2."""


def preset_for(data: str) -> Preset:
    return PRESETS.get(data.split(":", 1)[0], GENERIC)


def resolve_config(data: str, engine: str, overrides: dict[str, Any]) -> TrainConfig:
    """TrainConfig defaults < dataset preset < the options given on the command line."""
    preset = preset_for(data)
    values: dict[str, Any] = {"engine": engine, **preset.config}
    if engine == "scratch":
        values.update(preset.scratch)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except ValueError as err:
        raise UsageError(str(err)) from err


# -- data ------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """Splits ready for the trainer, and what a checkpoint needs to redo the preprocessing."""

    train: tuple[Any, Any]
    val: tuple[Any, Any] | None
    test: tuple[Any, Any]
    info: dict[str, Any]  # dataset, kind, classes, mean, std, input shape
    augment: Any = None


def load_data(data: str, seed: int = 0, val_fraction: float = 0.1, root: str | None = None) -> Any:
    """The named dataset's splits (images or tabular); unknown names list the valid ones."""
    from nnatlas.data import (
        DataNotFoundError,
        DatasetError,
        get_spec,
        list_datasets,
        load_image_dataset,
    )

    try:
        spec = get_spec(data)
    except (KeyError, DatasetError) as err:
        message = str(err).strip("'\"")
        if "Valid names" not in message:
            message += f"\nvalid datasets: {', '.join(list_datasets())}"
        raise UsageError(message) from err
    try:
        if spec.kind == "image":
            return load_image_dataset(data, root=root, val_fraction=val_fraction, seed=seed)
        if spec.kind == "tabular":
            from nnatlas.data.synthetic import load_tabular_dataset

            return load_tabular_dataset(data, seed=seed)
        if spec.kind == "text" and (data in TEXT_MAX_LEN or data.startswith("csv:")):
            return load_text_splits(data, root, val_fraction, seed)
    except (DatasetError, DataNotFoundError) as err:  # the message lists the sources tried
        raise UsageError(str(err)) from err
    trainable = list_datasets("image") + list_datasets("tabular") + [*TEXT_MAX_LEN, "csv:PATH"]
    raise UsageError(
        f"dataset {data!r} is a {spec.kind} dataset; `nnatlas train` handles image, tabular and "
        f"text classification: {', '.join(trainable)}"
    )


@dataclass
class TextSplits:
    """Text classification as fixed-length token tensors (the fast path needs equal lengths)."""

    train: Any
    val: Any
    test: Any
    classes: list[str]
    encoded: Any  # nnatlas.data TextClassificationSplits: vocabulary and tokenizer


def load_text_splits(data: str, root: str | None, val_fraction: float, seed: int) -> TextSplits:
    """Token ids padded at the *front* to a fixed length, so an RNN's last step is a real token."""
    from nnatlas.data.images import Split
    from nnatlas.data.text_pipeline import load_text_classification

    max_len = TEXT_MAX_LEN.get(data, 64)
    encoded = load_text_classification(
        data, root=root, max_len=max_len, val_fraction=val_fraction, seed=seed
    )
    pad = encoded.vocab.pad_id or 0

    def split(part: Any) -> Split:
        return Split(part.padded(length=max_len, side="pre", pad_id=pad)[0], part.labels)

    parts = (split(encoded.train), split(encoded.val), split(encoded.test))
    return TextSplits(*parts, list(encoded.classes), encoded)


def normalizer(mean: list[float] | None, std: list[float] | None):
    """``x -> (x - mean) / std`` per channel (identity without statistics)."""
    import torch

    if not mean:
        return lambda x: x
    m, s = torch.tensor(mean), torch.tensor(std)

    def normalize(x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # (1, C, 1, 1) for images
        return (x - m.to(x.device).view(shape)) / s.to(x.device).view(shape)

    return normalize


class AugmentThenNormalize:
    """The training batch transform: augment in [0, 1] pixel space, then normalize."""

    def __init__(self, augment: Any, normalize: Any) -> None:
        self.augment, self.normalize = augment, normalize

    def __call__(self, x: Any, generator: Any = None) -> Any:
        return self.normalize(self.augment(x, generator))


def prepare(splits: Any, data: str, augment: str) -> Prepared:
    """Normalize every split once in memory (the fast path); augmentation stays per batch."""
    is_image = splits.train.x.dim() == 4 and splits.train.x.is_floating_point()
    mean = list(getattr(splits, "mean", ())) if is_image else None
    std = list(getattr(splits, "std", ())) if is_image else None
    normalize = normalizer(mean, std)
    info = {
        "dataset": data,
        "classes": list(splits.classes),
        "mean": mean,
        "std": std,
        "input_shape": list(splits.train.x.shape[1:]),
        "augment": augment,
    }
    if isinstance(splits, TextSplits):
        info["vocab_size"] = len(splits.encoded.vocab)
        info["pad_id"] = splits.encoded.vocab.pad_id
    val = (normalize(splits.val.x), splits.val.y) if len(splits.val) else None
    test = (normalize(splits.test.x), splits.test.y)
    if augment == "none":
        return Prepared((normalize(splits.train.x), splits.train.y), val, test, info)
    if not is_image:
        raise UsageError(f"--augment {augment}: augmentation applies to image datasets only")
    from nnatlas.data.image_pipeline import PRESETS as AUGMENTS
    from nnatlas.data.image_pipeline import BatchAugment

    if augment not in AUGMENTS:
        raise UsageError(f"--augment {augment!r}: choose from {', '.join(AUGMENTS)}")
    batch_augment = AugmentThenNormalize(BatchAugment(augment), normalize)
    return Prepared((splits.train.x, splits.train.y), val, test, info, batch_augment)


# -- models ----------------------------------------------------------------------------------
def _zoo():
    import nnatlas.models as models

    if not hasattr(models, "create_model"):  # the zoo's package may not re-export yet
        import importlib
        import pkgutil

        for module in pkgutil.iter_modules(models.__path__):
            importlib.import_module(f"nnatlas.models.{module.name}")
        from nnatlas.models import registry as models
    return models


def model_kwargs_for(name: str, info: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments that fit the model to the data: classes, channels, image size."""
    shape = info["input_shape"]
    kwargs: dict[str, Any] = {"num_classes": len(info["classes"])}
    if len(shape) == 3:
        kwargs["in_chans"] = shape[0]
        if name.startswith(("mlp", "lenet")):
            kwargs["input_size"] = shape[1]
    elif "vocab_size" in info:  # token ids: an embedding model
        kwargs["vocab_size"] = info["vocab_size"]
        if info.get("pad_id") is not None:
            kwargs["padding_idx"] = info["pad_id"]
    elif len(shape) == 1 and name.startswith("mlp"):
        kwargs["in_features"] = shape[0]
    return kwargs


SCRATCH_MODELS = {
    "mlp": "nnatlas.scratch.models.mlp:MLP",
    "lenet5": "nnatlas.scratch.models.lenet:LeNet5",
}


def build_model(name: str, engine: str, kwargs: dict[str, Any], seed: int = 0) -> Any:
    """A zoo model (torch) or its NumPy twin (scratch), seeded, with the given arguments."""
    from nnatlas.train.checkpoint import seed_everything

    seed_everything(seed)
    if engine == "torch":
        zoo = _zoo()
        if name not in zoo.list_models():
            raise UsageError(
                f"unknown model {name!r}; valid models: {', '.join(zoo.list_models())}"
            )
        try:
            return zoo.create_model(name, **kwargs)
        except (TypeError, ValueError) as err:
            raise UsageError(f"model {name!r} does not fit this data: {err}") from err
    if name not in SCRATCH_MODELS:
        raise UsageError(
            f"model {name!r} has no NumPy twin; --engine scratch trains: "
            f"{', '.join(SCRATCH_MODELS)}"
        )
    import importlib

    import numpy as np

    module_name, cls_name = SCRATCH_MODELS[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    kwargs = dict(kwargs)
    if name == "mlp":  # the scratch MLP takes in_features, as nn.Linear does
        shape_features = kwargs.pop("in_features", None)
        in_chans, size = kwargs.pop("in_chans", 1), kwargs.pop("input_size", None)
        kwargs["in_features"] = shape_features or in_chans * size * size
    try:
        return cls(**kwargs, rng=np.random.default_rng(seed))
    except (TypeError, ValueError) as err:
        raise UsageError(f"model {name!r} (scratch) does not fit this data: {err}") from err


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
    params = []
    for f in fields(TrainConfig):
        choices = f.metadata.get("choices")
        help_text = f.metadata["help"] + (f": {', '.join(choices)}" if choices else "")
        help_text += f" (default: preset, else {f.default})"
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
    model: str | None = typer.Argument(None, help="zoo model name (default: the dataset's preset)"),  # noqa: UP045
    data: str = typer.Option("digits", "--data", "-d", help="catalog dataset name"),  # noqa: B008
    run_name: str | None = typer.Option(
        None, help="run folder name (default MODEL-DATA-ENGINE-sSEED)"
    ),  # noqa: UP045
    runs_dir: Path = typer.Option(Path("runs"), help="where run folders are made"),  # noqa: B008
    augment: str | None = typer.Option(
        None, help="augmentation preset: none, light, standard, strong"
    ),  # noqa: UP045
    val_fraction: float = typer.Option(
        0.1, help="fraction of the training data held out for validation"
    ),
    data_root: Optional[str] = typer.Option(None, help="a local copy of the dataset"),  # noqa: B008, UP045
    resume: bool = typer.Option(False, "--resume", help="continue RUN_NAME from its last.pt"),  # noqa: B008
    **options: Any,
) -> None:
    """Train a model; writes runs/NAME/: config.json, history, last.pt, best.pt, curves.png."""
    from rich.console import Console

    from nnatlas.train import NonFiniteLossError, summary_table

    console = Console()
    try:
        engine = options.pop("engine") or "torch"
        if resume:
            if run_name is None:
                raise UsageError("--resume needs --run-name of the run to continue")
            run_dir = runs_dir / run_name
            config, model, data, augment, val_fraction = _resume_settings(run_dir, options)
        else:
            config = resolve_config(data, engine, options)
            model = model or preset_for(data).model
            name = (
                run_name
                or f"{model}-{data.replace(':', '_').replace('/', '_')}-{engine}-s{config.seed}"
            )
            run_dir = runs_dir / name
        trainer, test, seconds = run_training(
            model, data, config, run_dir, augment, val_fraction, data_root, resume=resume
        )
    except UsageError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from None
    except NonFiniteLossError as err:
        console.print(f"[red]training stopped:[/red] {err}", highlight=False)
        raise typer.Exit(1) from None
    if trainer.stop_reason and not config.quiet:
        print(trainer.stop_reason)
    console.print(summary_table(trainer.history, test))
    best = f" (weights of epoch {trainer.best_epoch})" if config.restore_best else ""
    print(
        f"test accuracy {test.get('accuracy', float('nan')):.4f}  "
        f"test loss {test['loss']:.4f}{best}"
    )
    print(f"run folder {run_dir}", flush=True)
    # On stderr: stdout then holds only numbers that are identical from run to run.
    typer.echo(f"wall time {seconds:.1f} s", err=True)


def _resume_settings(run_dir: Path, options: dict[str, Any]):
    from nnatlas.train import load_checkpoint

    last = run_dir / "last.pt"
    if not last.is_file():
        raise UsageError(f"--resume: {last} does not exist; nothing to continue")
    ckpt = load_checkpoint(last)
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
    return (
        config,
        ckpt["model_info"]["name"],
        extra["dataset"],
        extra["augment"],
        extra["val_fraction"],
    )


_base = inspect.signature(train)
train.__signature__ = _base.replace(
    parameters=[p for p in _base.parameters.values() if p.kind != p.VAR_KEYWORD]
    + _config_parameters()
)
train.__annotations__.update({p.name: p.annotation for p in _config_parameters()})
app.command(name="train")(train)
