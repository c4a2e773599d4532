"""Ready-made :class:`~nnatlas.lessons.base.Need` declarations: an installed module, a dataset.

Each one really looks (a module spec, the catalog's offline sources): no download is tried,
so checking the path's needs is instant and works offline.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from nnatlas.lessons.base import Need

Used = Callable[[dict[str, Any]], bool] | None


def module(name: str, what: str, how: str, required: bool = True, used: Used = None) -> Need:
    """Needs the Python module ``name`` (an optional extra), installed by ``how``; ``used``
    says which configurations need it (see :class:`~nnatlas.lessons.base.Need`)."""

    def present() -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken install
            return False

    return Need(what, how, present, required, used)


def dataset(name: str, how: str, required: bool = True, used: Used = None) -> Need:
    """Needs the catalog dataset ``name`` in a local copy (cache, system or shared folder);
    ``used`` says which configurations need it (``lambda config: config["data"] == name``)."""

    def present() -> bool:
        from nnatlas.data import DataNotFoundError, DatasetError, fetch

        try:
            fetch(name, download=False)
        except (DataNotFoundError, DatasetError):
            return False
        return True

    return Need(name, how, present, required, used)
