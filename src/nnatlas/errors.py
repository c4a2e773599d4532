"""The project's own error type: every error a user can cause derives from :class:`NnatlasError`.

The command (``nnatlas ...``) prints an :class:`NnatlasError` as one message and exits with
status 2, with no traceback; anything else is a bug in nnatlas and keeps its traceback. Each
layer keeps its specific error (``DatasetError``, ``CheckpointError``, ``TaskError`` ...) and
adds this base, so a caller can catch one type for "the input was bad" and still tell a
missing file from a wrong option. This module imports nothing, so every layer may use it.
"""

from __future__ import annotations


class NnatlasError(Exception):
    """A bad name, option, file or input: the message says what was wrong and what to do."""

    def __str__(self) -> str:
        # KeyError subclasses would quote the message; show the sentence as written.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()
