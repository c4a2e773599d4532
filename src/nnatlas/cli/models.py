"""``nnatlas models list`` and ``nnatlas models info NAME``: browse the PyTorch model zoo."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from nnatlas.cli.root import app

if TYPE_CHECKING:
    import torch

models_app = typer.Typer(
    help="Browse the PyTorch model zoo (parameters, FLOPs, layers).\n\n"
    "In Python: nnatlas.models.create_model(name, num_classes=..., in_chans=...)."
)
app.add_typer(models_app, name="models")


def _parse_input(text: str | None) -> tuple[int, ...] | None:
    """'3x32x32' -> (3, 32, 32); '64' -> (64,)."""
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: write CxHxW for images (3x32x32) or T for tokens"
        ) from None
    if any(d < 1 for d in shape):
        raise typer.BadParameter(f"{text!r}: every size must be >= 1")
    return shape


def _build(name: str, shape: tuple[int, ...], **kwargs: object) -> torch.nn.Module:
    """``create_model(name, **kwargs)`` for input ``shape``, told the image size if it needs it.

    MLP and LeNet-5 fix their first layer to one image size (``input_size``); the other vision
    models end in global pooling, take any size and have no ``input_size`` argument.
    """
    from nnatlas.models import create_model, get_model_entry

    entry = get_model_entry(name)
    square = len(shape) == 3 and shape[1] == shape[2]
    if entry.kind == "image" and square and shape[1:] != entry.default_input[1:]:
        try:
            return create_model(name, input_size=shape[-1], **kwargs)
        except TypeError as err:
            if "input_size" not in str(err):
                raise
    return create_model(name, **kwargs)


def _fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit with status 2 (bad name, option or input), as every
    command does."""
    from nnatlas.cli.errors import print_error

    print_error("error", Exception(message))
    raise typer.Exit(2) from None


def _human(n: float) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n:.3g}P"


@models_app.command("list")
def list_cmd(
    family: str | None = typer.Option(None, help="Only this family (e.g. vgg, resnet_cifar)."),
) -> None:
    """List the registered models with their family, input, parameter count and whether they
    have a NumPy twin (``--engine scratch`` trains it; `nnatlas models info NAME` names it)."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from nnatlas.models import create_model, get_model_entry, list_models
    from nnatlas.models.summary import count_parameters

    if family is not None and not list_models(family):
        known = sorted({get_model_entry(n).family for n in list_models()})
        _fail(f"no model family {family!r}; families: {', '.join(known)}")
    rows = []
    for name in list_models(family):
        entry = get_model_entry(name)
        with torch.device("meta"):  # shapes only: no memory, no init time
            model = create_model(name)
        shape = "x".join(map(str, entry.default_input))
        shape += "" if entry.kind in ("image", "detection") else " tokens"
        twin = "yes" if entry.scratch_twin else "-"
        params = f"{count_parameters(model):,}"
        rows.append((name, entry.family, shape, params, twin, entry.description))
    table = Table(title="nnatlas model zoo")
    for i, col in enumerate(("name", "family", "input", "params", "NumPy")):
        # The facts never wrap or shrink; only the description gives way on a narrow terminal.
        width = max([len(col)] + [len(r[i]) for r in rows])
        table.add_column(col, justify="right" if col == "params" else "left", min_width=width)
    table.add_column("description")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@models_app.command("info")
def info_cmd(
    name: str = typer.Argument(..., help="A registered model name (see `nnatlas models list`)."),
    input: str | None = typer.Option(
        None,
        "--input",
        help="Input size (default: the model's own): CxHxW for images, e.g. 3x32x32 (the model "
        "is built for C channels, MLP and LeNet-5 also for HxW); T tokens for text models.",
    ),
    num_classes: int | None = typer.Option(
        None,
        help="Build with this many outputs (classifiers; a language model has its vocabulary).",
    ),
) -> None:
    """Print a model's parameters, forward FLOPs for one input and its layer summary."""
    from rich.console import Console
    from rich.table import Table

    from nnatlas.models import UnknownModelError, get_model_entry
    from nnatlas.models.summary import count_flops, count_parameters, example_inputs, layer_summary

    try:
        entry = get_model_entry(name)
    except UnknownModelError as e:
        _fail(str(e))
    shape = _parse_input(input) or entry.default_input
    kwargs: dict[str, object] = {}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if entry.kind == "image" and len(shape) == 3 and shape[0] != entry.default_input[0]:
        kwargs["in_chans"] = shape[0]
    size = "x".join(map(str, shape))
    hint = (
        f"(it is meant for input {'x'.join(map(str, entry.default_input))}; pass another --input)"
    )
    try:
        model = _build(name, shape, **kwargs).eval()
    except TypeError as e:  # an option the model does not take, e.g. --num-classes for an LM
        given = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        _fail(f"{name} cannot be built with {given}: {e}")
    except ValueError as e:
        _fail(f"{name} cannot be built for input {size}: {e}\n{hint}")
    try:
        vocab = getattr(model, "vocab_size", None) or getattr(model, "tgt_vocab_size", 2)
        inputs = example_inputs(name, shape, vocab_size=vocab)
        flops = count_flops(model, inputs)
        rows = layer_summary(model, inputs)
    except (ValueError, RuntimeError) as e:
        _fail(f"{name} cannot run on input {size}: {e}\n{hint}")
    console = Console()
    total = count_parameters(model)
    trainable = count_parameters(model, trainable_only=True)
    console.print(f"[bold]{name}[/bold] ({entry.family}): {entry.description}")
    console.print(f"parameters: {total:,} ({trainable:,} trainable)")
    twin = entry.scratch_twin or "none yet (--engine torch only)"
    console.print(f"NumPy twin: {twin}")
    what = "x".join(map(str, shape)) + (" image" if entry.kind == "image" else "-token sequence")
    console.print(
        f"forward FLOPs for one {what}: {flops:,} ({_human(flops)}; "
        "matmuls and convolutions, 2 per multiply-add)"
    )
    table = Table(title="layers (leaf modules, in call order)")
    for col in ("layer", "type", "output", "params"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for r in rows:
        table.add_row(r.name, r.type, r.output_shape, f"{r.params:,}")
    console.print(table)
