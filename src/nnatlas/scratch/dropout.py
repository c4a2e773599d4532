"""Inverted dropout. See: torch.nn.Dropout."""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, ShapeError

# The cache of a forward pass that was the identity (eval mode or p == 0): backward passes the
# gradient through. None, as in every layer, means forward has not run.
_IDENTITY = "identity"


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the rest by ``1/(1-p)``.

    Scaling at training time ("inverted" dropout, as PyTorch does) keeps the expected activation
    unchanged, so evaluation is the identity and needs no rescaling.

    Args:
        p: probability of zeroing an element, in [0, 1].
        rng: generator for the masks (seed it for reproducible runs).

    Attributes:
        fixed_mask: when set to a boolean "keep" array of the input's shape, forward uses it
            instead of drawing a new one. Gradient checks and parity tests set it so that every
            forward call drops the same elements.

    Shape:
        x: (N, *) -> (N, *)

    See: torch.nn.Dropout. Check: ``nnatlas check "Dropout"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = float(p)
        self.rng = rng if rng is not None else default_generator()
        self.fixed_mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self._cache = _IDENTITY
            return x
        if self.fixed_mask is not None:
            if self.fixed_mask.shape != x.shape:
                raise ShapeError(
                    f"{self.layer_name}: fixed_mask has shape {self.fixed_mask.shape} but the "
                    f"input is {x.shape}; set fixed_mask = None to draw masks again"
                )
            keep = self.fixed_mask
        else:
            keep = self.rng.random(x.shape) >= self.p
        # p == 1 drops everything (PyTorch returns zeros rather than dividing by zero).
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        mask = keep.astype(x.dtype) * x.dtype.type(scale)  # (N, *): 0 or 1/(1-p)
        self._cache = mask
        return x * mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        return grad_out if self._cache is _IDENTITY else grad_out * self._cache

    def extra_repr(self) -> str:
        return f"p={self.p}"
