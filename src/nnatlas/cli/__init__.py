"""The ``nnatlas`` command: parse options, call :mod:`nnatlas.tasks` and the layers below, print.

Each sub-command lives in its own module of this package and registers itself on
:data:`nnatlas.cli.root.app`, so that one file stays small and each part is owned by its
feature. Nothing below this package imports it.
"""

from __future__ import annotations

from nnatlas.cli.root import app

__all__ = ["app", "main"]


def _register() -> None:
    # Imported lazily so `nnatlas --help` stays quick and a broken optional part names itself.
    from nnatlas.cli import commands  # noqa: F401


def _format_warning(message: Warning | str, category: type[Warning], *args: object) -> str:
    # A warning is for the person at the terminal: what happened, not where in the code.
    return f"warning: {message}\n"


def main() -> None:
    import warnings

    warnings.formatwarning = _format_warning  # type: ignore[assignment]
    _register()
    app()
