"""The data layer's errors: a bad dataset name or content, and a dataset no source could give.

Both derive from :class:`nnatlas.errors.NnatlasError`, so the command prints their message and
exits with status 2. They live apart from the catalog so that the downloader, which the catalog
uses, can raise them without importing the catalog.
"""

from __future__ import annotations

from nnatlas.errors import NnatlasError


class DatasetError(NnatlasError, ValueError):
    """Bad dataset name or bad dataset content (corrupt file, labels out of range, ...)."""


class DataNotFoundError(NnatlasError, FileNotFoundError):
    """No source could provide the dataset. ``attempts`` lists ``(source, reason)`` pairs."""

    def __init__(self, name: str, attempts: list[tuple[str, str]], manual: str = "") -> None:
        self.name = name
        self.attempts = attempts
        self.manual = manual
        lines = [f"dataset {name!r} not found; sources tried, in order:"]
        lines += [f"  {i}. {where}: {why}" for i, (where, why) in enumerate(attempts, 1)]
        if manual:
            lines.append(f"To get it by hand: {manual}")
        lines.append("Or point at a local copy with --data-root PATH (root=PATH in Python).")
        super().__init__("\n".join(lines))
