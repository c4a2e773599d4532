"""``nnatlas data list|info|get``: browse the dataset catalog and fetch datasets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from nnatlas.cli.root import app

if TYPE_CHECKING:
    from nnatlas.data.catalog import DatasetSpec

data_app = typer.Typer(
    help="The dataset catalog: list datasets, show where they come from, fetch them.\n\n"
    "In Python: nnatlas.data.load_image_dataset(name), load_text_classification(name), "
    "load_text_corpus(name), load_translation_pairs(name), or nnatlas.data.load(name).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

NameArgument = Annotated[
    str,
    typer.Argument(
        help="A catalog name (fashion-mnist, sst2, medmnist:breastmnist, text:notes.txt ...; "
        "see `nnatlas data list`)."
    ),
]
RootOption = Annotated[
    Path | None,
    typer.Option("--data-root", "--root", help="Use a local copy in PATH instead of the sources."),
]


def _status(spec: DatasetSpec) -> str:
    """``generated``, ``found: FOLDER``, or why there is no local copy (never downloads)."""
    from nnatlas.data.catalog import DataNotFoundError, fetch

    if not spec.sources:
        return "generated"
    try:
        return f"found: {fetch(spec, download=False)}"
    except DataNotFoundError:
        return (
            "not local (get downloads it)"
            if any(s.kind == "url" for s in spec.sources)
            else "missing"
        )


@data_app.command("list")
def list_cmd(
    kind: Annotated[
        str | None, typer.Option(help="Only image, text, pairs, sequence or tabular.")
    ] = None,
) -> None:
    """List every named dataset, its kind, and whether a local copy is found."""
    from rich.console import Console
    from rich.table import Table

    from nnatlas.data.catalog import DatasetKind, families, list_specs

    kinds = get_args(DatasetKind)
    if kind is not None and kind not in kinds:
        typer.echo(f"error: unknown kind {kind!r}; use one of {', '.join(kinds)}", err=True)
        raise typer.Exit(2)
    table = Table("name", "kind", "description")
    # A folder path is worth more whole than shortened with an ellipsis: let it wrap.
    table.add_column("local copy", overflow="fold")
    for spec in list_specs(kind):
        table.add_row(spec.name, spec.kind, spec.description, _status(spec))
    for prefix, fam in sorted(families().items()):
        if kind is None or fam.kind == kind:
            table.add_row(f"{prefix}:{fam.argument_help}", fam.kind, fam.description, "-")
    Console().print(table)


@data_app.command("info")
def info_cmd(
    name: NameArgument,
) -> None:
    """Show a dataset's description, sizes, license, citation and its sources in order."""
    from nnatlas.data.catalog import DatasetError, get_spec

    try:
        spec = get_spec(name)
    except DatasetError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{spec.name} ({spec.kind}): {spec.description}")
    if spec.sizes:
        typer.echo("sizes: " + ", ".join(f"{k} {v:,}" for k, v in spec.sizes.items()))
    for label, value in (("license", spec.license), ("citation", spec.citation)):
        if value:
            typer.echo(f"{label}: {value}")
    if spec.files:
        typer.echo("files: " + ", ".join(f.replace("|", " or ") for f in spec.files))
    typer.echo("sources, in order:")
    for i, source in enumerate(spec.sources, 1):
        note = f"  [{source.note}]" if source.note else ""
        typer.echo(f"  {i}. {source.describe(spec.folder)}{note}")
    typer.echo(f"status: {_status(spec)}")
    if spec.manual:
        typer.echo(f"by hand: {spec.manual}")


@data_app.command("get")
def get_cmd(
    name: NameArgument,
    root: RootOption = None,
    download: Annotated[
        bool, typer.Option(help="Allow downloading (--no-download: only look for local copies).")
    ] = True,
) -> None:
    """Find a dataset locally or download it (checksum verified), and print its folder.

    Exit status: 0 found, 1 not found (every source tried is listed), 2 for an unknown name.
    """
    from nnatlas.data.catalog import DataNotFoundError, DatasetError, fetch, get_spec

    try:
        spec = get_spec(name)
    except DatasetError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if not spec.sources and root is None:
        typer.echo(f"{spec.name}: generated on the fly, nothing to get")
        return
    try:
        folder = fetch(spec, root, download=download)
    except (DataNotFoundError, DatasetError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{spec.name}: {folder}")
