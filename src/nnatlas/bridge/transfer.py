"""Move weights between a scratch model and its PyTorch twin, by parameter name.

Both engines build the same module tree (docs/LAYOUTS.md), so ``state_dict`` keys agree and no
transposes or renames are needed: a copy only converts arrays <-> tensors. Copies are strict:
a key present on one side only, or a shape mismatch, raises an error that names every offender.
Values take the **destination's** dtype (cast the destination first, e.g. ``.double()`` /
``.to(np.float64)``, to transfer in float64); integer buffers such as ``num_batches_tracked`` stay
integers.
"""

from __future__ import annotations

import numpy as np
import torch

from nnatlas.scratch.module import Module


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A NumPy copy of ``t`` (detached, on the CPU)."""
    return t.detach().cpu().numpy().copy()


def to_torch(
    a: np.ndarray, dtype: torch.dtype | None = None, requires_grad: bool = False
) -> torch.Tensor:
    """A tensor copy of ``a`` (optionally cast to ``dtype``)."""
    t = torch.from_numpy(np.array(a, copy=True))
    if dtype is not None:
        t = t.to(dtype)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _check_keys(src: dict, dst: dict, src_name: str, dst_name: str) -> None:
    missing, extra = sorted(set(dst) - set(src)), sorted(set(src) - set(dst))
    if missing or extra:
        raise KeyError(
            f"weight transfer {src_name} -> {dst_name}: keys only in the destination {missing}, "
            f"keys only in the source {extra}. Do both models follow the same layout "
            "(docs/LAYOUTS.md)?"
        )
    wrong = [
        f"{k}: {tuple(src[k].shape)} vs {tuple(dst[k].shape)}"
        for k in src
        if tuple(src[k].shape) != tuple(dst[k].shape)
    ]
    if wrong:
        raise ValueError(
            f"weight transfer {src_name} -> {dst_name}: shape mismatch (source vs destination) "
            f"for {wrong}"
        )


def scratch_to_torch(scratch_module: Module, torch_module: torch.nn.Module) -> torch.nn.Module:
    """Copy every parameter and buffer of ``scratch_module`` into ``torch_module`` in place.

    Returns:
        ``torch_module``, for chaining.
    """
    src = scratch_module.state_dict()
    dst = torch_module.state_dict()  # tensors sharing storage with the module's
    _check_keys(src, dst, type(scratch_module).__name__, type(torch_module).__name__)
    with torch.no_grad():
        for key, value in src.items():
            dst[key].copy_(torch.from_numpy(np.asarray(value)))  # copy_ casts to dst's dtype
    return torch_module


def torch_to_scratch(torch_module: torch.nn.Module, scratch_module: Module) -> Module:
    """Copy every parameter and buffer of ``torch_module`` into ``scratch_module`` in place.

    Returns:
        ``scratch_module``, for chaining.
    """
    src = {k: to_numpy(v) for k, v in torch_module.state_dict().items()}
    params = dict(scratch_module.named_parameters())
    buffers = dict(scratch_module.named_buffers())
    _check_keys(
        src, {**params, **buffers}, type(torch_module).__name__, type(scratch_module).__name__
    )
    for key, param in params.items():
        param.data = src[key].astype(param.data.dtype)
    for key, old in buffers.items():
        *path, attr = key.split(".")
        owner = scratch_module
        for part in path:
            owner = owner._modules[part]
        dtype = np.asarray(old).dtype
        object.__setattr__(owner, attr, np.asarray(src[key]).astype(dtype))
    return scratch_module
