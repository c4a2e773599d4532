"""``nnatlas predict RUN_OR_CHECKPOINT INPUT``: what a trained model says about one input.

INPUT is what the run's task takes: an image file (converted to the run's channels and size,
scaled to [0, 1] and normalized as in training), a sentence for a text classifier (tokenized
with the run's vocabulary), a row of comma-separated numbers for a tabular model, a prompt for
a language model (the command prints a sampled continuation), a source sentence for an
encoder-decoder (the command prints its translation), an image for a detector (the command
prints one JSON line per box, ``{"class", "score", "box": [x1, y1, x2, y2]}`` in the image's
pixels, and writes the image with its boxes drawn), or ``SPLIT:INDEX`` (e.g. ``test:0``) for
an example of the run's own dataset, which also shows the true answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nnatlas.cli.errors import exit_on_usage_error
from nnatlas.cli.root import app


@app.command(name="predict")
def predict(
    run: Path = typer.Argument(..., help="a run folder (uses best.pt) or a checkpoint file"),  # noqa: B008
    input: str = typer.Argument(..., help="an image file, a text, a prompt, or SPLIT:INDEX"),  # noqa: B008
    top: Optional[int] = typer.Option(None, help="classifiers: how many classes to show (3)"),  # noqa: B008, UP045
    invert: Optional[bool] = typer.Option(  # noqa: B008, UP045
        None, "--invert/--no-invert", help="images: invert first (dark strokes on light paper)"
    ),
    length: Optional[int] = typer.Option(None, help="language models: tokens to sample (300)"),  # noqa: B008, UP045
    temperature: Optional[float] = typer.Option(  # noqa: B008, UP045
        None, help="language models: sampling temperature, 0 = most likely (0.8)"
    ),
    seed: Optional[int] = typer.Option(None, help="language models: seed of the sampling (0)"),  # noqa: B008, UP045
    top_k: Optional[int] = typer.Option(  # noqa: B008, UP045
        None, help="language models: sample among the k most likely tokens only"
    ),
    top_p: Optional[float] = typer.Option(  # noqa: B008, UP045
        None, help="language models: nucleus sampling, the tokens holding this probability"
    ),
    beam: Optional[int] = typer.Option(None, help="seq2seq: beam width, 1 = greedy (1)"),  # noqa: B008, UP045
    min_score: Optional[float] = typer.Option(  # noqa: B008, UP045
        None, help="detectors: report boxes at least this confident (0.5)"
    ),
    output: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="detectors: where to write the image with its boxes (RUN/predictions/)"
    ),
    data_root: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="SPLIT:INDEX: where the dataset is, when not where the run recorded it"
    ),
) -> None:
    """Classify one input, continue a prompt, translate a sentence or detect objects.

    Classifiers list their top classes for an image, a text or a row; language models continue
    the prompt; seq2seq runs translate; detectors print their boxes as JSON lines and write the
    image with the boxes drawn. Only the options of the run's task apply.
    """
    from rich.console import Console
    from rich.table import Table

    import nnatlas.tasks as tasks
    from nnatlas.tasks.results import ClassPrediction

    given = {"top": top, "invert": invert, "length": length, "temperature": temperature}
    given.update(seed=seed, beam=beam, top_k=top_k, top_p=top_p)
    given.update(min_score=min_score, output=output)
    with exit_on_usage_error():
        loaded = tasks.load_run(run, device="cpu", root=data_root)
        result = tasks.predict(loaded, input, **{k: v for k, v in given.items() if v is not None})
    if not isinstance(result, ClassPrediction):
        if str(result):
            print(result)
        if getattr(result, "boxes", None) == []:  # a detector found nothing that confident
            floor = 0.5 if min_score is None else min_score
            typer.echo(f"no box scored at least {floor} (a lower --min-score shows more)", err=True)
        if getattr(result, "image", None):  # a detector's boxes drawn: stdout stays JSON lines
            typer.echo(f"wrote {result.image}", err=True)
        return
    print(f"{loaded.checkpoint}: {input}")
    label, probability = result.top[0]
    print(f"label {label} (probability {probability:.4f})")
    table = Table()
    table.add_column("class")
    table.add_column("probability", justify="right")
    for name, probability in result.top:
        table.add_row(name, f"{probability:.4f}")
    Console().print(table)
    if result.true_class is not None:
        print(f"true class: {result.true_class} ({'correct' if result.correct else 'wrong'})")
