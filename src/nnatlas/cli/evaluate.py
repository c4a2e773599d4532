"""``nnatlas eval RUN_OR_CHECKPOINT``: the metrics of a trained model on a dataset split.

The checkpoint carries what rebuilds the run: the model's name and arguments, the engine, the
dataset, its split seed and the training split's normalization, so evaluation preprocesses the
data exactly as training did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli import app
from nnatlas.cli.errors import UsageError, exit_on_usage_error, read_checkpoint
from nnatlas.cli.prepare import build_model, load_data, normalizer


def resolve_checkpoint(path: Path) -> Path:
    """A run folder means its best.pt (else last.pt); a file is taken as is."""
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise UsageError(f"{path}: a folder without best.pt or last.pt; is it a run folder?")
    if not path.exists():
        raise UsageError(f"{path}: no such run folder or checkpoint file")
    return path


def load_run(path: Path, device: str = "auto") -> tuple[Any, dict[str, Any], Path]:
    """Rebuild the trained model behind a checkpoint. Returns (trainer, checkpoint, file)."""
    from nnatlas.train import CheckpointError, TrainConfig, create_trainer

    file = resolve_checkpoint(path)
    ckpt = read_checkpoint(file)
    info = ckpt["model_info"]
    config = TrainConfig.from_dict(ckpt["config"])
    config.quiet, config.tensorboard = True, False
    if config.engine == "torch":
        config.device = device
    model = build_model(info["name"], config.engine, dict(info["kwargs"]), seed=config.seed)
    try:
        trainer = create_trainer(model, config, model_info=info, extra=ckpt["extra"])
    except ValueError as err:  # e.g. --device cuda without CUDA
        raise UsageError(str(err)) from err
    try:
        trainer.load_model_state(ckpt["model"], source=str(file))
    except CheckpointError as err:
        raise UsageError(str(err)) from err
    return trainer, ckpt, file


def split_for_run(
    extra: dict[str, Any], data: str | None, split: str, seed: int
) -> tuple[Any, Any]:
    """The ``split`` of ``data`` (default: the run's dataset), normalized as in training."""
    name = data or extra["dataset"]
    if split not in ("train", "val", "test"):
        raise UsageError(f"--split {split!r}: choose train, val or test")
    try:
        splits = load_data(name, seed=seed, val_fraction=extra.get("val_fraction", 0.1))
        part, num_classes = getattr(splits, split), len(splits.classes)
    except UsageError:
        if name == extra["dataset"] or split != "test":
            raise
        # Another dataset whose training part may be absent (e.g. MNIST's test set alone):
        # its official test split is enough to evaluate on.
        from nnatlas.data import DataNotFoundError, DatasetError, get_spec, load_image_split

        try:
            part = load_image_split(name, "test")
            classes = getattr(get_spec(name), "classes", None)
        except (DatasetError, DataNotFoundError, KeyError) as err:
            raise UsageError(str(err).strip("'\"")) from err
        num_classes = len(classes) if classes else int(part.y.max()) + 1
    if list(part.x.shape[1:]) != list(extra["input_shape"]):
        raise UsageError(
            f"dataset {name!r} has inputs {tuple(part.x.shape[1:])}; the model was trained on "
            f"{tuple(extra['input_shape'])}"
        )
    if num_classes > len(extra["classes"]):
        raise UsageError(
            f"dataset {name!r} has {num_classes} classes; the model predicts "
            f"{len(extra['classes'])}"
        )
    return normalizer(extra.get("mean"), extra.get("std"))(part.x), part.y


@app.command(name="eval")
def evaluate(
    run: Path = typer.Argument(..., help="a run folder (uses best.pt) or a checkpoint file"),  # noqa: B008
    data: Optional[str] = typer.Option(None, "--data", "-d", help="dataset (default: the run's)"),  # noqa: B008, UP045
    split: str = typer.Option("test", help="train, val or test"),  # noqa: B008
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps (torch engine)"),  # noqa: B008
    metrics: str = typer.Option("accuracy,top5,f1", help="comma list: accuracy,top5,f1,perplexity"),  # noqa: B008
) -> None:
    """Evaluate a trained model: loss, accuracy, top-5 and macro F1 on a split."""
    from rich.console import Console
    from rich.table import Table

    from nnatlas.train.config import EXTRA_METRICS

    with exit_on_usage_error():
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        unknown = [m for m in names if m not in EXTRA_METRICS]
        if unknown:
            raise UsageError(
                f"--metrics: unknown {unknown}; choose from {', '.join(EXTRA_METRICS)}"
            )
        trainer, ckpt, file = load_run(run, device)
        x, y = split_for_run(ckpt["extra"], data, split, trainer.config.seed)
        results = trainer.evaluate((x, y), names=names)
    print(f"{file}: {data or ckpt['extra']['dataset']}, {split} split, {len(y)} examples")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in results.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)
