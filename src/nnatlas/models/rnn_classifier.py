"""Recurrent text classifiers: embedding -> RNN / LSTM / GRU -> pooling -> Linear.

Keys follow the language models' layout in docs/LAYOUTS.md (``embedding``, ``rnn``, ``head``).
Padded batches are packed with ``pack_padded_sequence`` so the recurrence never reads padding:
the "last" state is the state at each sequence's own last token, and "mean" / "max" pooling
ignore padded steps. A batch whose texts all have the batch's length (the text task's training
batches are bucketed by length, :class:`nnatlas.train.TensorLoader` ``bucket_by``) has no
padding to skip and is not packed: on the CPU, PyTorch runs packed sequences step by step
through small autograd operations, and a padded batch through one fused (oneDNN) kernel. The
fused kernel took a bidirectional LSTM step (N=64, T=64) from 172 to 91 ms at one thread;
``benchmarks/text_throughput.py`` measures it on SST-2.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nnatlas.models.registry import register_model
from nnatlas.models.rnn_utils import make_rnn

POOLINGS = ("last", "mean", "max")
SCRATCH_TWIN = "nnatlas.scratch.models.rnn_classifier:RecurrentClassifier"


class RecurrentClassifier(nn.Module):
    """Sequence classifier (sentiment, topic) over token ids.

    Args:
        vocab_size: number of token ids (ignored when ``pretrained_embeddings`` is given).
        num_classes: number of outputs.
        embed_dim: embedding width (ignored when ``pretrained_embeddings`` is given).
        hidden_size: recurrent state width per direction.
        num_layers: stacked recurrent layers.
        cell: "rnn" (tanh), "lstm" or "gru".
        bidirectional: read the text both ways; the head sees both directions' features.
        dropout: on embeddings, between stacked layers and before the head.
        pooling: "last" (final state per direction), "mean" or "max" over the valid time steps.
        padding_idx: the pad id; its embedding row gets no gradient.
        pretrained_embeddings: (vocab_size, embed_dim) matrix (e.g. GloVe) to start from.
        freeze_embeddings: keep the pretrained matrix fixed (``requires_grad=False``).

    Shape:
        x: (N, T) int64, lengths: (N,) or None (all T) -> (N, num_classes)

    NumPy twin: nnatlas.scratch.models.rnn_classifier.RecurrentClassifier (without dropout
    between stacked layers).
    """

    def __init__(
        self,
        vocab_size: int = 1000,
        num_classes: int = 2,
        embed_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        pooling: str = "last",
        padding_idx: int | None = 0,
        pretrained_embeddings: torch.Tensor | None = None,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if pretrained_embeddings is not None:
            weights = torch.as_tensor(pretrained_embeddings, dtype=torch.get_default_dtype())
            if weights.ndim != 2:
                raise ValueError(
                    "pretrained_embeddings must be a (vocab_size, embed_dim) matrix, got shape "
                    f"{tuple(weights.shape)}"
                )
            self.embedding = nn.Embedding.from_pretrained(
                weights, freeze=freeze_embeddings, padding_idx=padding_idx
            )
            vocab_size, embed_dim = weights.shape
        else:
            self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
            self.embedding.weight.requires_grad_(not freeze_embeddings)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.num_directions = 2 if bidirectional else 1
        self.num_features = hidden_size * self.num_directions
        self.head = nn.Linear(self.num_features, num_classes)
        self.vocab_size, self.num_classes, self.pooling = vocab_size, num_classes, pooling
        self.cell = cell

    def forward_features(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encode and pool.

        Shape:
            x: (N, T) int64, lengths: (N,) -> (N, hidden_size * num_directions)
        """
        if x.ndim != 2:
            raise ValueError(f"expected token ids (N, T), got shape {tuple(x.shape)}")
        N, T = x.shape  # batch, time
        emb = self.dropout(self.embedding(x))  # (N, T, E)
        if lengths is not None:
            lengths = torch.as_tensor(lengths).to("cpu", torch.int64)
            if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
                raise ValueError(
                    f"lengths must be (N,) = ({N},) with values in 1..{T}, got {lengths.tolist()}"
                )
            if bool((lengths == T).all()):
                lengths = None  # no padding: the fused kernel, with the same result as packing
        if lengths is None:
            out, state = self.rnn(emb)  # out: (N, T, D*H)
            mask = None
        else:
            packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (N, T, D*H)
            mask = torch.arange(T)[None, :] < lengths[:, None]  # (N, T), True on real tokens
            mask = mask.to(x.device)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (L*D, N, H)
            h = h.view(self.rnn.num_layers, self.num_directions, N, -1)[-1]  # (D, N, H)
            # The backward direction's final state is the one at t = 0, which packing gives.
            return torch.cat(list(h), dim=1)  # (N, D*H)
        if mask is None:
            return out.mean(dim=1) if self.pooling == "mean" else out.amax(dim=1)
        m = mask.unsqueeze(-1)  # (N, T, 1)
        if self.pooling == "mean":
            return (out * m).sum(dim=1) / m.sum(dim=1)  # (N, D*H)
        return out.masked_fill(~m, float("-inf")).amax(dim=1)  # (N, D*H)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Shape: x: (N, D*H) -> (N, num_classes)."""
        x = self.dropout(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Shape: x: (N, T) int64, lengths: (N,) or None -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x, lengths))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh Linear with ``num_classes`` outputs."""
        ref = self.head.weight
        self.head = nn.Linear(self.num_features, num_classes, device=ref.device, dtype=ref.dtype)
        self.num_classes = num_classes


@register_model(
    family="rnn_classifier", default_input=(32,), kind="tokens", scratch_twin=SCRATCH_TWIN
)
def rnn_classifier(**kwargs: object) -> RecurrentClassifier:
    """Elman (tanh) RNN text classifier."""
    return RecurrentClassifier(cell="rnn", **kwargs)  # type: ignore[arg-type]


@register_model(
    family="rnn_classifier", default_input=(32,), kind="tokens", scratch_twin=SCRATCH_TWIN
)
def lstm_classifier(**kwargs: object) -> RecurrentClassifier:
    """LSTM text classifier (Hochreiter & Schmidhuber 1997)."""
    return RecurrentClassifier(cell="lstm", **kwargs)  # type: ignore[arg-type]


@register_model(
    family="rnn_classifier", default_input=(32,), kind="tokens", scratch_twin=SCRATCH_TWIN
)
def gru_classifier(**kwargs: object) -> RecurrentClassifier:
    """GRU text classifier (Cho et al. 2014)."""
    return RecurrentClassifier(cell="gru", **kwargs)  # type: ignore[arg-type]
