"""``nnatlas transfer --backbone NAME --data DATASET --strategy S|compare``: transfer learning.

One strategy trains a normal run folder (``nnatlas eval`` and ``predict`` take it); ``compare``
trains every strategy on the same split and seed and prints the table, with ``--train-size``
sweeping the labelled examples per class. The work is :mod:`nnatlas.transfer`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error, print_error
from nnatlas.cli.root import app

if TYPE_CHECKING:
    from nnatlas.tasks.crossval import CrossValidation


@app.command(name="transfer")
def transfer(
    backbone: str = typer.Option(
        "mobilenet_v2",
        help="a pretrained zoo model: mobilenet_v2, efficientnet_lite0, resnet18, resnet50, "
        "vgg16, alexnet, resnet20..56 (CIFAR-10)",
    ),
    data: str = typer.Option(..., "--data", "-d", help="a catalog image dataset"),
    strategy: str = typer.Option(
        "features",
        help="scratch, features (frozen backbone, cached features), finetune, discriminative, "
        "gradual; compare (all of them) or a comma list to compare, e.g. scratch,features",
    ),
    weights: Optional[str] = typer.Option(  # noqa: UP045
        None,
        help="a weight file for the backbone, or none for random weights (default: its known "
        "pretrained weights, found offline)",
    ),
    train_size: Optional[str] = typer.Option(  # noqa: UP045
        None, help="compare: labelled examples per class to sweep, e.g. 8,16,32,64"
    ),
    epochs: Optional[int] = typer.Option(None, help="epochs (default: the strategy's)"),  # noqa: UP045
    lr: Optional[float] = typer.Option(None, help="the head's learning rate (default 1e-3)"),  # noqa: UP045
    batch_size: Optional[int] = typer.Option(None, help="examples per step (default 32)"),  # noqa: UP045
    image_size: Optional[int] = typer.Option(  # noqa: UP045
        None, help="pixels a side (default: the weights' own, 224 for ImageNet models)"
    ),
    augment: Optional[str] = typer.Option(  # noqa: UP045
        None,
        help="augmentation preset: none, light, standard, strong, imagenet (random resized "
        "crops); with it, features computes the backbone every epoch",
    ),
    limit: Optional[int] = typer.Option(None, help="train on at most N examples"),  # noqa: UP045
    monitor: Optional[str] = typer.Option(  # noqa: UP045
        None,
        help="validation metric that picks best.pt: val_loss (default), val_accuracy, val_f1, "
        "or for two classes val_auc / val_pr_auc (recorded by themselves when named)",
    ),
    label_smoothing: Optional[float] = typer.Option(  # noqa: UP045
        None, help="cross-entropy label smoothing in [0, 1) (default 0)"
    ),
    ema: Optional[float] = typer.Option(  # noqa: UP045
        None,
        help="average the weights over the steps with this decay (e.g. 0.999; 0 = off, the "
        "default): validation, best.pt and the final model use the average",
    ),
    backbone_lr: Optional[float] = typer.Option(  # noqa: UP045
        None, help="finetune, gradual: the backbone's rate as a multiple of --lr (default 0.1)"
    ),
    flip_tta: bool = typer.Option(  # noqa: B008
        False,
        "--flip-tta",
        help="score every image as the mean of it and its mirror image (test-time "
        "augmentation), in validation as in test, eval and predict",
    ),
    folds: Optional[int] = typer.Option(  # noqa: UP045
        None,
        help="k-fold cross-validation: pool train and validation, deal them into K stratified "
        "folds and train one run per fold, each scored on the fold it held out (the test split "
        "untouched); with --fold, that one fold alone",
    ),
    fold: Optional[int] = typer.Option(None, help="with --folds K: train fold I (0..K-1) only"),  # noqa: UP045
    threads: Optional[int] = typer.Option(  # noqa: UP045
        None, help="CPU threads (default: all cores for these models)"
    ),
    seed: int = typer.Option(0, help="seed of the split, the head and the data order"),  # noqa: B008
    data_root: Optional[str] = typer.Option(None, help="a local copy of the dataset"),  # noqa: UP045
    runs_dir: Path = typer.Option(Path("runs"), help="where run folders are made"),  # noqa: B008
    run_name: Optional[str] = typer.Option(None, help="run folder name (one strategy)"),  # noqa: UP045
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a run in the folder"),  # noqa: B008
    resume: bool = typer.Option(  # noqa: B008
        False, "--resume", help="--folds K: keep the folds trained so far, continue the rest"
    ),
    quiet: bool = typer.Option(False, "--quiet", help="no per-epoch lines"),  # noqa: B008
) -> None:
    """Adapt a pretrained backbone to a dataset: feature extraction, fine-tuning, or compare.

    Example: nnatlas transfer --backbone mobilenet_v2 --data imagefolder:photos --strategy compare
    """
    import nnatlas.transfer as api
    from nnatlas.cli.train import RunHeader, print_summary
    from nnatlas.train import NonFiniteLossError

    weights = "pretrained" if weights is None else (None if weights == "none" else weights)
    options = dict(epochs=epochs, lr=lr, batch_size=batch_size, image_size=image_size)
    options.update(augment=augment, limit=limit, seed=seed, root=data_root, quiet=quiet)
    options.update(monitor=monitor, label_smoothing=label_smoothing, threads=threads, ema=ema)
    options = {k: v for k, v in options.items() if v is not None}
    model_options = dict(backbone_lr=backbone_lr, flip_tta=flip_tta or None)
    options["model_options"] = {k: v for k, v in model_options.items() if v is not None} or None
    if fold is not None:
        options.update(folds=folds, fold=fold)  # one fold: DataOptions checks the pair
    with exit_on_usage_error():
        try:
            if folds is not None and fold is None:
                from nnatlas.cli.crossval import print_cross_validation

                if strategy == "compare" or "," in strategy or train_size is not None:
                    raise UsageError("--folds cross-validates one --strategy; compare without it")
                cv = _cross_validate(
                    backbone, data, strategy, folds, weights=weights, runs_dir=runs_dir,
                    run_name=run_name, overwrite=overwrite, resume=resume, **options,
                )  # fmt: skip
                print_cross_validation(cv)
                return
            if resume:
                raise UsageError("--resume continues a cross-validation: give its --folds K")
            if strategy == "compare" or "," in strategy:
                chosen = None if strategy == "compare" else _strategies(strategy)
                comparison = api.compare(
                    backbone, data, chosen, train_sizes=_sizes(train_size), runs_dir=runs_dir,
                    weights=weights, overwrite=overwrite, **options,
                )  # fmt: skip
            else:
                if train_size is not None:
                    raise UsageError("--train-size sweeps with --strategy compare")
                run = api.train(
                    backbone, data, strategy, weights=weights,
                    runs_dir=runs_dir, run_name=run_name, overwrite=overwrite,
                    callbacks=[RunHeader(runs_dir)], **options,
                )  # fmt: skip
        except NonFiniteLossError as err:
            print_error("training stopped", err)
            raise typer.Exit(1) from None
    if strategy != "compare" and "," not in strategy:
        print_summary(run)
        return
    _print_comparison(comparison)


def _cross_validate(
    backbone: str, data: str, strategy: str, folds: int, *, runs_dir: Path,
    run_name: str | None, overwrite: bool, resume: bool, **options: Any,
) -> CrossValidation:  # fmt: skip
    import nnatlas.transfer as api
    from nnatlas.cli.crossval import cross_validate_runs
    from nnatlas.transfer.strategies import default_name

    seed = int(options.get("seed", 0))
    folder = runs_dir / (run_name or f"cv{folds}-{default_name(backbone, data, strategy, seed)}")

    def train_fold(fold: int, run_dir: Path) -> Any:
        return api.train(
            backbone, data, strategy, folds=folds, fold=fold, run_dir=run_dir,
            overwrite=overwrite, **options,
        )  # fmt: skip

    describe = {"backbone": backbone, "data": data, "strategy": strategy}
    return cross_validate_runs(
        "transfer", train_fold, folds, folder, overwrite=overwrite, resume=resume,
        describe=describe,
    )  # fmt: skip


def _strategies(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if len(names) < 2:
        raise UsageError(f"--strategy {text!r}: name two or more strategies to compare")
    return names


def _sizes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--train-size {text!r}: give whole numbers, e.g. 8,16,32") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--train-size {text!r}: every size must be at least 1")
    return sizes


def _print_comparison(comparison: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from nnatlas.transfer.compare import COLUMNS, format_table

    table = Table(title=f"transfer strategies ({comparison.folder})")
    for column in COLUMNS[:-1]:
        table.add_column(column.replace("_", " "), justify="left" if column == "strategy" else
                         "right")  # fmt: skip
    for row in format_table(comparison.rows):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the columns into 80
        console = Console(width=140)
    console.print(table)
    for path in comparison.files:
        print(f"wrote {path}")
