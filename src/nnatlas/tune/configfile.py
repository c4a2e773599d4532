"""Option files: a training run's options as TOML or JSON, read by ``nnatlas train --config``.

The keys are the option names of ``nnatlas train`` with underscores (``batch_size``; dashes
are accepted too), plus ``model``, ``data`` and a ``model_options`` table of constructor
arguments::

    # best configuration of a tune
    model = "mlp"
    data = "digits"
    lr = 0.0031
    batch_size = 64

    [model_options]
    hidden_sizes = [256, 256]
    dropout = 0.12

This module only reads and writes the file (``.toml`` or ``.json``); which keys a command
takes is the command's business. It imports nothing heavy.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError

SUFFIXES = (".toml", ".json")


class ConfigFileError(NnatlasError, ValueError):
    """An option file that cannot be read: missing, bad syntax, not a table of options."""


def read_options(path: str | Path) -> dict[str, Any]:
    """The options in a TOML or JSON file, keys with dashes turned into underscores.

    Raises:
        ConfigFileError: the file is missing, has another suffix, does not parse (the message
            gives the parser's line and column) or does not hold a table at its top.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigFileError(f"{path}: an option file is .toml or .json, not {path.suffix!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such option file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"{path}: cannot be read ({err})") from None
    try:
        values = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConfigFileError(f"{path}: not valid {path.suffix[1:].upper()}: {err}") from None
    if not isinstance(values, dict):
        raise ConfigFileError(f"{path}: the top of an option file is a table of options")
    options = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name in options:
            raise ConfigFileError(f"{path}: {key!r} is given twice (with - and with _)")
        options[name] = value
    return options


def write_options(path: str | Path, options: dict[str, Any], comment: str = "") -> Path:
    """Write ``options`` as TOML (``.toml``) or JSON (``.json``), atomically.

    ``comment`` lines head a TOML file (JSON has no comments: it is left out there). Values are
    text, numbers, booleans, lists of them, and one level of tables (``model_options``).
    """
    from nnatlas.files import write_text_atomic

    path = Path(path)
    if path.suffix.lower() == ".json":
        return write_text_atomic(path, json.dumps(options, indent=2, ensure_ascii=False) + "\n")
    if path.suffix.lower() != ".toml":
        raise ConfigFileError(f"{path}: an option file is .toml or .json, not {path.suffix!r}")
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    tables = {k: v for k, v in options.items() if isinstance(v, dict)}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in options.items() if k not in tables]
    for name, table in tables.items():
        lines += ["", f"[{_key(name)}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return write_text_atomic(path, "\n".join(lines) + "\n")


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML's, except that TOML wants DEL escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise ConfigFileError(f"option files hold text, numbers, booleans and lists, not {value!r}")
