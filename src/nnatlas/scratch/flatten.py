"""Flatten a range of dimensions into one. See: torch.nn.Flatten."""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.module import Module, ShapeError


class Flatten(Module):
    """Merge dimensions ``start_dim .. end_dim`` (inclusive; negative counts from the end).

    Args:
        start_dim: first dimension to merge (default 1: keep the batch dimension).
        end_dim: last dimension to merge (default -1).

    Shape:
        x: (N, C, H, W) -> (N, C * H * W) with the defaults; the backward pass reshapes back.

    See: torch.nn.Flatten. Check: ``nnatlas check "Flatten"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        ndim = max(x.ndim, 1)
        start, end = self.start_dim % ndim, self.end_dim % ndim
        if not (-ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim) or start > end:
            raise ShapeError(
                f"{self.layer_name}: cannot flatten dims {self.start_dim}..{self.end_dim} of an "
                f"input of shape {x.shape}"
            )
        self._cache = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        return grad_out.reshape(self._cache)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
