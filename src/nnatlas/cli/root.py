"""The root ``nnatlas`` command, which every sub-command module registers itself on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nnatlas",
    help="A hands-on atlas of deep-learning architectures: ANN -> CNN -> transfer -> RNN -> LSTM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
