"""How ``nnatlas train``, ``eval`` and ``predict`` report a bad name, option or file.

A :class:`UsageError` carries a message that says what was wrong and what the valid choices
are; :func:`exit_on_usage_error` prints it and exits with status 2 (the shell's "bad usage"),
instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer


class UsageError(Exception):
    """A bad name or option; the CLI prints the message and exits with status 2."""


def print_error(prefix: str, err: BaseException) -> None:
    """``prefix: message`` in red, with the message printed literally (no rich markup/emoji)."""
    from rich.console import Console
    from rich.markup import escape

    # escape/emoji=False: "val:x" would otherwise print as an emoji, "[0, 9]" could be markup.
    Console().print(f"[red]{prefix}:[/red] {escape(str(err))}", highlight=False, emoji=False)


@contextmanager
def exit_on_usage_error() -> Iterator[None]:
    """Turn a :class:`UsageError` raised inside the block into a message and exit status 2."""
    try:
        yield
    except UsageError as err:
        print_error("error", err)
        raise typer.Exit(2) from None


def read_checkpoint(path: Path) -> dict[str, Any]:
    """:func:`nnatlas.train.load_checkpoint`, with its errors as :class:`UsageError`."""
    from nnatlas.train import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except (CheckpointError, FileNotFoundError) as err:
        raise UsageError(str(err)) from err
