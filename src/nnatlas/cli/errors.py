"""How the command reports a bad name, option or file: one message, exit status 2.

Every error a user can cause derives from :class:`nnatlas.errors.NnatlasError` (a dataset,
checkpoint, task or option error); :func:`exit_on_usage_error` prints its message and exits with
status 2 (the shell's "bad usage"), instead of a traceback. :class:`UsageError` is the command's
own, for what only the command checks (options that go together, for instance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from nnatlas.errors import NnatlasError


class UsageError(NnatlasError):
    """A bad combination of command-line options; the message says what to give instead."""


def print_error(prefix: str, err: BaseException) -> None:
    """``prefix: message`` in red, with the message printed literally (no rich markup/emoji)."""
    from rich.console import Console
    from rich.markup import escape

    # escape/emoji=False: "val:x" would otherwise print as an emoji, "[0, 9]" could be markup.
    # On stderr, as errors go: stdout keeps only the results a script may read.
    Console(stderr=True).print(
        f"[red]{prefix}:[/red] {escape(str(err))}", highlight=False, emoji=False
    )


@contextmanager
def exit_on_usage_error() -> Iterator[None]:
    """Turn a project error raised inside the block into its message and exit status 2."""
    try:
        yield
    except NnatlasError as err:
        print_error("error", err)
        raise typer.Exit(2) from None
