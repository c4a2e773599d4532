"""Attention over encoder outputs in NumPy, forward and backward: the twins of the zoo's
``AdditiveAttention`` (Bahdanau) and ``LuongAttention`` ("dot", "general").

Both score each query against every key, softmax the scores over the valid source positions
(padding gets exactly zero weight) and average the keys with those weights. A query is one
decoder state, or Q of them at once: Luong's attention reads the RNN's outputs, which do not
depend on the attention, so the decoder attends with all T target positions in one call;
Bahdanau's feeds its context back into the RNN, so the decoder calls it once per step (Q = 1).

The key side is the same for every query of a sentence, so it is split off: ``prepare(keys)``
projects the keys once, ``attend(...)`` scores queries against them, and ``attend_backward``
returns the gradient of the projected keys for the caller to *sum over all steps* before one
``finish_backward`` takes it through the key projection.

The backward, with ``w = softmax(s)``, ``c = w @ K`` (per row: s (Q, S), K (S, Hk)):

- ``dw = dc @ K^T`` and ``dK = w^T @ dc`` (the weighted average);
- ``ds = w * (dw - sum_j dw_j w_j)`` (softmax's Jacobian-vector product; masked positions have
  ``w = 0``, so they get ``ds = 0``: padding takes no gradient);
- additive, ``s = v . tanh(W_q q + W_k k)`` with ``a = tanh(...)`` (Q, S, A):
  ``dv = sum ds * a``, ``d(pre) = ds * v * (1 - a^2)``, whose sum over the keys is d(W_q q) and
  whose sum over the queries is d(W_k k);
- multiplicative, ``s = q . p`` with ``p = k`` ("dot") or ``p = W k`` ("general"):
  ``dq = ds @ p``, ``dp = ds^T @ q``.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import softmax
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError


def attend(
    scores: np.ndarray, keys: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax the scores over the valid keys and average the keys.

    Shape:
        scores: (N, Q, S), keys: (N, S, Hk), mask: (N, S) bool or None
        -> context (N, Q, Hk), weights (N, Q, S)
    """
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)  # exp(-inf) = 0: no weight
    weights = softmax(scores, axis=-1)  # (N, Q, S)
    return weights @ keys, weights  # (N, Q, S) @ (N, S, Hk) -> (N, Q, Hk)


def attend_backward(
    grad_context: np.ndarray, weights: np.ndarray, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`attend`: ``(d scores, d keys)``.

    Shape:
        grad_context: (N, Q, Hk), weights: (N, Q, S), keys: (N, S, Hk)
        -> (N, Q, S), (N, S, Hk)
    """
    grad_weights = grad_context @ keys.transpose(0, 2, 1)  # (N, Q, S)
    grad_keys = weights.transpose(0, 2, 1) @ grad_context  # (N, S, Hk)
    inner = (grad_weights * weights).sum(axis=-1, keepdims=True)  # (N, Q, 1)
    return weights * (grad_weights - inner), grad_keys


class _Attention(Module):
    """The single-call layer API both attentions share: ``forward(query, keys, mask)``."""

    def prepare(self, keys: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish_backward(self, grad_prepared: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def attend(self, query, keys, prepared, mask):  # pragma: no cover - abstract
        raise NotImplementedError

    def attend_backward(self, grad_context, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(
        self, query: np.ndarray, keys: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One query per sentence, as the zoo's layer: query (N, Hq) -> context (N, Hk),
        weights (N, S)."""
        if query.ndim != 2 or keys.ndim != 3 or keys.shape[0] != query.shape[0]:
            raise ShapeError(
                f"{self.layer_name}: expected query (N, Hq) and keys (N, S, Hk), got "
                f"{query.shape} and {keys.shape}"
            )
        context, weights, cache = self.attend(query[:, None], keys, self.prepare(keys), mask)
        self._cache = cache
        return context[:, 0], weights[:, 0]

    def backward(self, grad_context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shape: grad_context (N, Hk) -> (d query (N, Hq), d keys (N, S, Hk))."""
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        grad_query, grad_keys, grad_prepared = self.attend_backward(
            grad_context[:, None], self._cache
        )
        return grad_query[:, 0], grad_keys + self.finish_backward(grad_prepared)


class AdditiveAttention(_Attention):
    """Bahdanau, Cho & Bengio 2015 (arXiv 1409.0473): ``score(q, k) = v . tanh(W_q q + W_k k)``.

    Args:
        query_size: Hq, the decoder state width.
        key_size: Hk, the encoder output width.
        attn_size: A, the hidden width of the scoring MLP.
        dtype: float32 (default) or float64.
        rng: generator for the initial weights.

    Shape:
        query: (N, Hq), keys: (N, S, Hk), mask: (N, S) bool or None
        -> context (N, Hk), weights (N, S); ``attend`` takes queries (N, Q, Hq).
        Keys: ``query_proj.weight`` (A, Hq), ``key_proj.weight`` (A, Hk), ``key_proj.bias``
        (A,), ``v.weight`` (1, A).

    See: nnatlas.models.attention.AdditiveAttention. Check:
    ``nnatlas check "AdditiveAttention"``. Tests: tests/scratch/test_text_models.py.
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        attn_size: int,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else default_generator()
        self.query_proj = Linear(query_size, attn_size, bias=False, dtype=dtype, rng=rng)
        self.key_proj = Linear(key_size, attn_size, dtype=dtype, rng=rng)
        self.v = Linear(attn_size, 1, bias=False, dtype=dtype, rng=rng)

    def prepare(self, keys: np.ndarray) -> np.ndarray:
        """``W_k k + b``, once per sentence. Shape: keys (N, S, Hk) -> (N, S, A)."""
        return self.key_proj(keys)

    def finish_backward(self, grad_prepared: np.ndarray) -> np.ndarray:
        """Shape: the summed (N, S, A) gradient of :meth:`prepare` -> d keys (N, S, Hk)."""
        return self.key_proj.backward(grad_prepared)

    def attend(
        self, query: np.ndarray, keys: np.ndarray, prepared: np.ndarray, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Shape: query (N, Q, Hq) -> context (N, Q, Hk), weights (N, Q, S), cache."""
        q = query @ self.query_proj.weight.data.T  # (N, Q, A)
        hidden = np.tanh(q[:, :, None, :] + prepared[:, None, :, :])  # (N, Q, S, A)
        scores = hidden @ self.v.weight.data[0]  # (N, Q, S)
        context, weights = attend(scores, keys, mask)
        return context, weights, (query, keys, hidden, weights)

    def attend_backward(
        self, grad_context: np.ndarray, cache: tuple
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(d query (N, Q, Hq), d keys through the average (N, S, Hk), d prepared (N, S, A))``;
        accumulates the ``query_proj`` and ``v`` gradients. The projection is called once per
        step, so the step keeps its own input here rather than in the Linear's single cache."""
        query, keys, hidden, weights = cache
        grad_scores, grad_keys = attend_backward(grad_context, weights, keys)  # (N, Q, S)
        v = self.v.weight.data[0]  # (A,)
        self.v.weight.accumulate(np.einsum("nqs,nqsa->a", grad_scores, hidden)[None])  # (1, A)
        grad_pre = grad_scores[..., None] * v * (1.0 - hidden * hidden)  # (N, Q, S, A)
        grad_q = grad_pre.sum(axis=2)  # (N, Q, A): each query met every key
        A, Hq = self.query_proj.weight.shape
        self.query_proj.weight.accumulate(grad_q.reshape(-1, A).T @ query.reshape(-1, Hq))
        return grad_q @ self.query_proj.weight.data, grad_keys, grad_pre.sum(axis=1)


class LuongAttention(_Attention):
    """Luong, Pham & Manning 2015 (arXiv 1508.04025): ``score(q, k) = q . k`` ("dot") or
    ``q . (W k)`` ("general").

    Args:
        query_size: Hq. key_size: Hk (equal to Hq for "dot").
        mode: "dot" or "general".
        dtype: float32 (default) or float64. rng: generator for the initial weights.

    Shape:
        query: (N, Hq), keys: (N, S, Hk), mask: (N, S) bool or None
        -> context (N, Hk), weights (N, S); ``attend`` takes queries (N, Q, Hq).
        Keys: ``proj.weight`` (Hq, Hk) for "general", none for "dot".

    See: nnatlas.models.attention.LuongAttention. Check:
    ``nnatlas check "LuongAttention(general)"``. Tests: tests/scratch/test_text_models.py.
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        mode: str = "general",
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("dot", "general"):
            raise ValueError(f"LuongAttention: mode must be 'dot' or 'general', got {mode!r}")
        if mode == "dot" and query_size != key_size:
            raise ValueError(
                f"LuongAttention('dot') needs equal query and key widths, got {query_size} and "
                f"{key_size}; use mode='general'"
            )
        rng = rng if rng is not None else default_generator()
        self.mode = mode
        self.proj = (
            Linear(key_size, query_size, bias=False, dtype=dtype, rng=rng)
            if mode == "general"
            else None
        )

    def prepare(self, keys: np.ndarray) -> np.ndarray:
        """``k`` or ``W k``, once per sentence. Shape: keys (N, S, Hk) -> (N, S, Hq)."""
        return keys if self.proj is None else self.proj(keys)

    def finish_backward(self, grad_prepared: np.ndarray) -> np.ndarray:
        """Shape: the summed (N, S, Hq) gradient of :meth:`prepare` -> d keys (N, S, Hk)."""
        return grad_prepared if self.proj is None else self.proj.backward(grad_prepared)

    def attend(
        self, query: np.ndarray, keys: np.ndarray, prepared: np.ndarray, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Shape: query (N, Q, Hq) -> context (N, Q, Hk), weights (N, Q, S), cache."""
        scores = query @ prepared.transpose(0, 2, 1)  # (N, Q, S)
        context, weights = attend(scores, keys, mask)
        return context, weights, (query, keys, prepared, weights)

    def attend_backward(
        self, grad_context: np.ndarray, cache: tuple
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(d query (N, Q, Hq), d keys via the average (N, S, Hk), d prepared (N, S, Hq))``."""
        query, keys, prepared, weights = cache
        grad_scores, grad_keys = attend_backward(grad_context, weights, keys)  # (N, Q, S)
        grad_query = grad_scores @ prepared  # (N, Q, Hq)
        return grad_query, grad_keys, grad_scores.transpose(0, 2, 1) @ query  # (N, S, Hq)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
