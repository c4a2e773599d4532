"""Attention over encoder outputs for the seq2seq decoder.

Both return a context vector (the weighted sum of encoder outputs) and the weights, with padded
source positions masked out before the softmax so they get exactly zero weight.
"""

from __future__ import annotations

import torch
from torch import nn


def _attend(
    scores: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax the (N, S) scores over valid positions and average the (N, S, Hk) keys."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (N, S)
    context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (N, Hk)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau, Cho & Bengio 2015 (arXiv 1409.0473): score(q, k) = v^T tanh(W q + U k).

    Args:
        query_size: decoder state width.
        key_size: encoder output width.
        attn_size: width of the hidden layer of the scoring MLP.

    Shape:
        query: (N, Hq), keys: (N, S, Hk), mask: (N, S) bool or None
        -> context (N, Hk), weights (N, S)

    NumPy twin: nnatlas.scratch.models.attention.AdditiveAttention.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, attn_size, bias=False)
        self.key_proj = nn.Linear(key_size, attn_size)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def project(self, keys: torch.Tensor) -> torch.Tensor:
        """U k + b for every key, computed once per source rather than at every decoder step.

        Shape: keys (N, S, Hk) -> (N, S, A)
        """
        return self.key_proj(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``projected``: :meth:`project` of ``keys`` when the caller has it already."""
        projected = self.project(keys) if projected is None else projected  # (N, S, A)
        hidden = torch.tanh(self.query_proj(query).unsqueeze(1) + projected)  # (N, S, A)
        return _attend(self.v(hidden).squeeze(-1), keys, mask)  # scores (N, S)


class LuongAttention(nn.Module):
    """Luong, Pham & Manning 2015 (arXiv 1508.04025) multiplicative scores.

    "dot": score(q, k) = q . k (needs equal widths); "general": score(q, k) = q^T W k.

    Shape:
        query: (N, Hq), keys: (N, S, Hk), mask: (N, S) bool or None
        -> context (N, Hk), weights (N, S)

    NumPy twin: nnatlas.scratch.models.attention.LuongAttention.
    """

    def __init__(self, query_size: int, key_size: int, mode: str = "general") -> None:
        super().__init__()
        if mode not in ("dot", "general"):
            raise ValueError(f"LuongAttention: mode must be 'dot' or 'general', got {mode!r}")
        if mode == "dot" and query_size != key_size:
            raise ValueError(
                f"LuongAttention('dot') needs equal query and key widths, got {query_size} and "
                f"{key_size}; use mode='general'"
            )
        self.mode = mode
        self.proj = nn.Linear(key_size, query_size, bias=False) if mode == "general" else None

    def project(self, keys: torch.Tensor) -> torch.Tensor:
        """W k for every key ("general"; the keys themselves for "dot"), once per source.

        Shape: keys (N, S, Hk) -> (N, S, Hq)
        """
        return keys if self.proj is None else self.proj(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``projected``: :meth:`project` of ``keys`` when the caller has it already."""
        projected = self.project(keys) if projected is None else projected  # (N, S, Hq)
        scores = torch.bmm(projected, query.unsqueeze(-1)).squeeze(-1)  # (N, S)
        return _attend(scores, keys, mask)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
