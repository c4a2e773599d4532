"""``nnatlas eval RUN_OR_CHECKPOINT``: the metrics of a trained model on a dataset split.

The run carries what rebuilds it (the model's name and arguments, the engine, the dataset's
options, where its files were and the record of its preprocessing), so
:func:`nnatlas.tasks.evaluate` preprocesses the data exactly as training did. Classifiers also
print their confusion matrix; ``--report`` adds per-class precision, recall and F1 and the most
confidently wrong examples, and saves them with the matrix as JSON and PNG. Two or more
classifier runs (``nnatlas eval RUN RUN ...``, e.g. seeds) print each one's metrics beside their
ensemble's, the mean of their probabilities (:func:`nnatlas.tasks.ensemble_evaluate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app

CLASSIFIERS = ("image_classification", "tabular_classification", "text_classification")
MAX_PRINTED_CLASSES = 12  # a wider confusion matrix is saved with --report, not printed


@app.command(name="eval")
def evaluate(
    runs: list[Path] = typer.Argument(  # noqa: B008
        ...,
        help="a run folder (uses best.pt) or a checkpoint file; two or more classifier runs "
        "are scored as an ensemble (the mean of their probabilities)",
    ),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="dataset (default: the run's)"),  # noqa: B008, UP045
    data_root: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="where the dataset is, when not where the run recorded it"
    ),
    split: str = typer.Option("test", help="train, val or test"),  # noqa: B008
    device: str = typer.Option("auto", help="auto, cpu, cuda, mps (torch engine)"),  # noqa: B008
    metrics: Optional[str] = typer.Option(  # noqa: B008, UP045
        None,
        help="comma list of accuracy, top5, f1, auc, pr_auc, perplexity (default: the run's "
        "own, plus top5)",
    ),
    report: bool = typer.Option(  # noqa: B008
        False,
        "--report",
        help="classifiers: per-class precision/recall/F1 and the most confidently wrong "
        "examples, saved with the confusion matrix (JSON + PNG) in RUN/eval-SPLIT/",
    ),
    top_wrong: int = typer.Option(5, help="--report: how many wrong examples to list"),  # noqa: B008
    model: Optional[str] = typer.Option(  # noqa: B008, UP045
        None,
        help="a weight file not made by nnatlas (akamaster's resnet20-12fca82f.th, a "
        "state_dict, a torchvision file): the zoo model it belongs to; needs --data",
    ),
    normalize: Optional[str] = typer.Option(  # noqa: B008, UP045
        None,
        help="with --model: imagenet, tf-lite, cifar10 or data (default: the model's known "
        "weights', else the data's own statistics)",
    ),
    image_size: Optional[int] = typer.Option(  # noqa: B008, UP045
        None, help="with --model: resize the images (default: the dataset's size)"
    ),
    beam: Optional[int] = typer.Option(  # noqa: B008, UP045
        None, help="translation runs: the beam width BLEU decodes with (default 1, greedy)"
    ),
    threads: Optional[int] = typer.Option(  # noqa: B008, UP045
        None,
        min=0,
        help="CPU threads, 0 = automatic (default: the count the run trained with, saved in "
        "its config)",
    ),
) -> None:
    """Evaluate a trained model on a split: loss and metrics; classifiers' confusion matrix;
    translation runs' corpus BLEU (sacrebleu, its signature printed), greedy or with --beam N.
    Several runs (e.g. seeds): each one's metrics and their ensemble's."""
    from rich.console import Console

    import nnatlas.tasks as tasks
    from nnatlas.train.config import EXTRA_METRICS

    console = Console()
    with exit_on_usage_error():
        names = None
        if metrics is not None:
            names = [m.strip() for m in metrics.split(",") if m.strip()]
            unknown = [m for m in names if m not in EXTRA_METRICS]
            if unknown:
                raise UsageError(
                    f"--metrics: unknown {unknown}; choose from {', '.join(EXTRA_METRICS)}"
                )
        if len(runs) > 1:
            given = {"--model": model, "--normalize": normalize, "--image-size": image_size,
                     "--beam": beam, "--report": report or None}  # fmt: skip
            stray = [option for option, value in given.items() if value is not None]
            if stray:
                raise UsageError(f"{', '.join(stray)}: for one run; an ensemble takes none")
            ensemble = tasks.ensemble_evaluate(
                runs, split, data=data, root=data_root, metrics=names, device=device,
                threads=threads,
            )  # fmt: skip
        run = runs[0]
    if len(runs) > 1:
        _print_ensemble(console, runs, ensemble)
        return
    with exit_on_usage_error():
        if model is not None:
            if data is None:
                raise UsageError("--model evaluates a weight file on a dataset: give --data")
            import nnatlas.transfer as transfer

            loaded = transfer.evaluate_weights(
                model, run, data, normalize=normalize, image_size=image_size, root=data_root,
                device=device, threads=threads or 0,
            )  # fmt: skip
        elif normalize is not None or image_size is not None:
            raise UsageError("--normalize and --image-size go with --model (a weight file)")
        else:
            loaded = tasks.load_run(run, device, root=data_root, threads=threads)
        if names is None:
            names = list(dict.fromkeys([*loaded.config.metric_names, "top5"]))
        results = tasks.evaluate(loaded, split, data=data, metrics=names, beam=beam)
        classifier = loaded.task.name in CLASSIFIERS
        details = None
        if classifier and (report or len(loaded.record["classes"]) <= MAX_PRINTED_CLASSES):
            details = tasks.classification_report(loaded, split, data=data, top_wrong=top_wrong)
        elif report:
            raise UsageError(f"--report is for classifiers; this run does {loaded.task.title}")
    print(f"{loaded.checkpoint}: {results.dataset}, {split} split, {results.examples} examples")
    console.print(_table(["metric", "value"], [(k, f"{v:.4f}") for k, v in results.items()]))
    if "signature" in results.details:  # how the BLEU score was computed, for comparisons
        decoding = results.details.get("decoding", "greedy")
        print(f"sacrebleu {results.details['signature']}, decoded {decoding}")
    for path in results.details.get("written", []):  # a detector's PR curves and drawn boxes
        print(f"wrote {path}")
    if details is None:
        return
    if len(details.classes) <= MAX_PRINTED_CLASSES:
        pairs = zip(details.classes, details.confusion, strict=True)
        rows = [[name, *map(str, counts)] for name, counts in pairs]
        header = ["true \\ predicted", *details.classes]
        console.print(_table(header, rows, title="confusion matrix"))
    if not report:
        return
    per_class = [
        (r["class"], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}",
         str(r["support"]))
        for r in details.per_class
    ]  # fmt: skip
    console.print(_table(["class", "precision", "recall", "f1", "support"], per_class))
    texts = any("text" in w for w in details.wrong)  # text classifiers show what they read
    columns = ["example", "true", "predicted", "confidence"] + (["text"] if texts else [])
    wrong = [
        (w["example"], w["true"], w["predicted"], f"{w['confidence']:.4f}")
        + ((w.get("text", ""),) if texts else ())
        for w in details.wrong
    ]
    title = "most confidently wrong (nnatlas predict RUN EXAMPLE shows one)"
    console.print(_table(columns, wrong, title=title))
    folder = (
        loaded.dir / _report_folder(data, split)
        if loaded.dir is not None
        else Path("runs") / f"eval-{loaded.checkpoint.stem}-{_report_folder(data, split)[5:]}"
    )
    for path in details.save(folder):
        print(f"wrote {path}")


def _print_ensemble(console: Any, runs: list[Path], ensemble: Any) -> None:
    print(f"ensemble of {len(runs)} runs: {ensemble.dataset}, {ensemble.split} split, "
          f"{ensemble.examples} examples")  # fmt: skip
    for i, run in enumerate(runs, 1):
        print(f"  {i}: {run}")
    columns = ["metric", *map(str, range(1, len(runs) + 1)), "ensemble"]
    rows = [
        (name, *(f"{m[name]:.4f}" for m in ensemble.members), f"{value:.4f}")
        for name, value in ensemble.items()
    ]
    console.print(_table(columns, rows))


def _report_folder(data: str | None, split: str) -> str:
    """``eval-test`` for the run's own dataset, ``eval-mnist-test`` for another one."""
    if data is None:
        return f"eval-{split}"
    safe = data.replace(":", "_").replace("/", "_")
    return f"eval-{safe}-{split}"


def _table(columns: list[str], rows: Any, title: str | None = None) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 or column == "text" else "right")
    for row in rows:
        table.add_row(*row)
    return table
