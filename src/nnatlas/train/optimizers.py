"""Optimizers by name: sgd, momentum, nesterov, adam, adamw, rmsprop, for either engine.

:mod:`nnatlas.scratch.optim` mirrors ``torch.optim``'s class names and arguments, so one table
of names serves both engines: pass ``library=nnatlas.scratch.optim`` for the NumPy engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from nnatlas.train.config import OPTIMIZERS


def build_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    library: ModuleType | None = None,
) -> Any:
    """Create an optimizer from its nnatlas name.

    Args:
        name: ``sgd`` (plain), ``momentum`` (heavy ball), ``nesterov``, ``adam``, ``adamw``
            (decoupled weight decay, Loshchilov & Hutter 2019, arXiv 1711.05101), ``rmsprop``.
        params: the parameters to optimize.
        lr: learning rate.
        momentum: used by momentum and nesterov.
        weight_decay: L2 penalty; ``adamw`` decays the weights directly instead.
        library: the module holding the classes: ``torch.optim`` (default) or
            :mod:`nnatlas.scratch.optim`.

    Returns:
        A ``library.SGD``, ``Adam``, ``AdamW`` or ``RMSprop`` instance.
    """
    if library is None:
        import torch

        library = torch.optim
    params = list(params)
    if name == "sgd":
        return library.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return library.SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=name == "nesterov",
            weight_decay=weight_decay,
        )
    if name == "adam":
        return library.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return library.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        # Plain RMSprop (Hinton's lecture 6e); momentum 0 keeps it the textbook rule.
        return library.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
