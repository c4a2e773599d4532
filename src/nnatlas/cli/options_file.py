"""``nnatlas train --config FILE``: a file's options between the dataset's preset and the
command line.

The file (TOML or JSON, read by :func:`nnatlas.tune.configfile.read_options`) takes the keys
of the command's own options (``batch_size = 64``, ``data = "digits"``, ``limit = 500``), the
model, and a ``model_options`` table of constructor arguments. A value given on the command
line wins; a value in the file wins over the dataset's preset (applied later, by
:func:`nnatlas.tasks.train`, to whatever is still unset).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from nnatlas.cli.errors import UsageError

# The data-reading options of `nnatlas train`, passed to tasks.train by name.
READING = ("image_size", "channels", "text_column", "label_column", "encoding", "limit")
# Options that are actions of one command, not options of a run: a file does not set them.
NOT_IN_FILES = ("resume", "overwrite", "config")
# The command's own options that hold text (TrainConfig checks the kinds of its fields, and
# DataOptions those of the data options).
TEXT_KEYS = ("model", "data", "run_name", "runs_dir", "augment", "data_root")


def merge_config_file(
    path: Path, given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``given`` (the command's options, ``None`` where the command line gave none) with the
    file's values filled in, and the file's ``model_options`` table.

    Raises:
        UsageError: a key the command does not take (with close matches), or a value of the
            wrong kind for an option only the command checks.
    """
    from nnatlas.tune.configfile import read_options

    values = read_options(path)
    known = [*given, "model_options"]
    merged = dict(given)
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "."
            refused = " (a command-line action, not an option)" if key in NOT_IN_FILES else ""
            raise UsageError(
                f"{path}: unknown option {key!r}{refused}{hint} An option file takes "
                f"{', '.join(known)}"
            )
        if key in TEXT_KEYS and not isinstance(value, str):
            raise UsageError(f"{path}: {key} must be text, got {value!r}")
        if key == "model_options" and not isinstance(value, dict):
            raise UsageError(f"{path}: model_options must be a table of constructor arguments")
        if key != "model_options" and merged.get(key) is None:
            merged[key] = value
    return merged, values.get("model_options")
