"""Fully connected layer. See: torch.nn.Linear."""

from __future__ import annotations

import math

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, Parameter, ShapeError, check_ndim


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights; PyTorch's default init,
            ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` for weight and bias.

    Shape:
        x: (N, *, in_features) -> (N, *, out_features); ``weight`` is (out_features, in_features)
        as in PyTorch, so weights move between engines without transposes.

    See: torch.nn.Linear. Check: ``nnatlas check "Linear"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                "Linear: in_features and out_features must be positive, "
                f"got {in_features}, {out_features}"
            )
        rng = rng if rng is not None else default_generator()
        bound = 1.0 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(
            rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        )
        self.bias = (
            Parameter(rng.uniform(-bound, bound, out_features).astype(dtype)) if bias else None
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_ndim(self, x, f"(N, *, {self.in_features})", tuple(range(1, 8)))
        if x.shape[-1] != self.in_features:
            raise ShapeError(
                f"{self.layer_name}: expected input of shape (N, *, {self.in_features}), "
                f"got {x.shape}"
            )
        self._cache = x
        out = x @ self.weight.data.T  # (N, *, out_features)
        if self.bias is not None:
            out = out + self.bias.data
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        x = self._cache
        x2d = x.reshape(-1, self.in_features)  # (M, in)
        g2d = grad_out.reshape(-1, self.out_features)  # (M, out)
        self.weight.accumulate(g2d.T @ x2d)  # (out, in)
        if self.bias is not None:
            self.bias.accumulate(g2d.sum(axis=0))
        return grad_out @ self.weight.data  # (N, *, in)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"
