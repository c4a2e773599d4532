"""The ``nnatlas`` command. Each sub-command lives in its own module of this package and is
registered here, so that one file stays small and each part is owned by its feature."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nnatlas",
    help="A hands-on atlas of deep-learning architectures: ANN -> CNN -> transfer -> RNN -> LSTM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Imported lazily so `nnatlas --help` stays quick and a broken optional part names itself.
    from nnatlas.cli import commands  # noqa: F401


def main() -> None:
    _register()
    app()
