"""PyTorch optimizers by name: sgd, momentum, nesterov, adam, adamw, rmsprop."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from nnatlas.train.config import OPTIMIZERS


def build_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Create a ``torch.optim`` optimizer from its nnatlas name.

    Args:
        name: ``sgd`` (plain), ``momentum`` (heavy ball), ``nesterov``, ``adam``, ``adamw``
            (decoupled weight decay, Loshchilov & Hutter 2019, arXiv 1711.05101), ``rmsprop``.
        params: the parameters to optimize.
        lr: learning rate.
        momentum: used by momentum, nesterov and rmsprop.
        weight_decay: L2 penalty; ``adamw`` decays the weights directly instead.
    """
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        # Plain RMSprop (Hinton's lecture 6e); momentum 0 keeps it the textbook rule.
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
