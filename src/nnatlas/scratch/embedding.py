"""A lookup table of learned vectors, one row per token id. See: torch.nn.Embedding."""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, Parameter


class Embedding(Module):
    """``out[..., :] = weight[ids[...], :]``: token ids in, dense vectors out.

    Args:
        num_embeddings: vocabulary size V; valid ids are ``0 .. V - 1``.
        embedding_dim: size E of each vector.
        padding_idx: an id whose row stays zero and never gets a gradient (torch's
            ``padding_idx``); a negative value counts from the end, as in torch.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights; torch's init is ``N(0, 1)``.

    Shape:
        ids: (*) integer array -> (*, E); ``weight`` is (V, E).
        ``backward(grad_out (*, E))`` returns ``None``: ids are not differentiable.

    See: torch.nn.Embedding. Check: ``nnatlas check "Embedding"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got "
                f"{num_embeddings}, {embedding_dim}"
            )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be in [-{num_embeddings}, {num_embeddings - 1}], "
                    f"got {padding_idx}"
                )
            padding_idx %= num_embeddings
        rng = rng if rng is not None else default_generator()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        weight = rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.weight = Parameter(weight)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(
                f"{self.layer_name}: expected integer token ids, got dtype {ids.dtype}; "
                "convert with ids.astype(np.int64)"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids[(ids < 0) | (ids >= self.num_embeddings)]
            raise IndexError(
                f"{self.layer_name}: token id {int(bad.flat[0])} is out of range; valid ids are "
                f"0 .. {self.num_embeddings - 1} (num_embeddings={self.num_embeddings}). "
                "Is the vocabulary larger than the layer?"
            )
        self._cache = ids
        return self.weight.data[ids]  # (*, E)

    def backward(self, grad_out: np.ndarray) -> None:
        ids = self._cache
        if ids is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        grad = np.zeros_like(self.weight.data)  # (V, E)
        # add.at sums the rows of repeated ids; fancy-index assignment would keep only the last.
        np.add.at(grad, ids.reshape(-1), grad_out.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0.0
        self.weight.accumulate(grad)
        return None

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
