"""Recurrent text classifiers in NumPy: the twins of the zoo's ``rnn_classifier``,
``lstm_classifier`` and ``gru_classifier`` (embedding -> RNN / LSTM / GRU -> pooling -> Linear).

The module tree is the zoo's (``embedding``, ``rnn``, ``head``), so state_dict keys are equal.
Where the zoo packs a padded batch (``pack_padded_sequence``), the twin passes the lengths to the
sequence layer, which stops each row at its own last token (:mod:`nnatlas.scratch.recurrent`):
padded steps change neither the "last" state nor the "mean" / "max" pooling.

Pooling and its backward, per row over its L real steps (outputs are 0 on padding):

- ``last``: the final state of the top layer, per direction (the backward direction's is the one
  at t = 0); the gradient enters the sequence layer as dL/dh_n;
- ``mean``: ``sum_t out_t / L``; every real step gets ``g / L``;
- ``max``: the maximum per feature over the real steps; the gradient goes to the step that holds
  it, split evenly between equal maxima as torch's ``amax`` does.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.recurrent import GRU, LSTM, RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
POOLINGS = ("last", "mean", "max")


class RecurrentClassifier(Module):
    """Sequence classifier over token ids: embedding, recurrent layers, pooling, Linear.

    Args:
        vocab_size: number of token ids.
        num_classes: number of outputs.
        embed_dim: embedding width.
        hidden_size: recurrent state width per direction.
        num_layers: stacked recurrent layers.
        cell: "rnn" (tanh), "lstm" or "gru".
        bidirectional: read the text both ways; the head sees both directions' features.
        dropout: on the embeddings and before the head (the zoo also drops between stacked
            layers, which this twin does not: the bridge refuses dropout with num_layers > 1).
        pooling: "last", "mean" or "max" over the real time steps.
        padding_idx: the pad id; its embedding row gets no gradient.
        freeze_embeddings: keep the embedding matrix fixed (no gradient, so no update).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights and the dropout masks.

    Shape:
        x: (N, T) int token ids, lengths: (N,) ints in 1..T or None (all T) -> (N, num_classes).
        ``backward(grad_logits (N, num_classes))`` accumulates every parameter gradient and
        returns None (ids have no gradient).

    See: nnatlas.models.rnn_classifier.RecurrentClassifier (``rnn_classifier``,
    ``lstm_classifier``, ``gru_classifier``). Check:
    ``nnatlas check "LSTM classifier (last, lengths)"``. Tests: tests/scratch/test_text_models.py.
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
        freeze_embeddings: bool = False,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(
                f"RecurrentClassifier: cell must be one of {list(CELLS)}, got {cell!r}"
            )
        if pooling not in POOLINGS:
            raise ValueError(
                f"RecurrentClassifier: pooling must be one of {POOLINGS}, got {pooling!r}"
            )
        rng = rng if rng is not None else default_generator()
        self.vocab_size, self.num_classes, self.cell = vocab_size, num_classes, cell
        self.pooling, self.freeze_embeddings = pooling, freeze_embeddings
        self.num_directions = 2 if bidirectional else 1
        self.num_features = hidden_size * self.num_directions
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx, dtype=dtype, rng=rng)
        self.rnn = CELLS[cell](
            embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
            dtype=dtype, rng=rng,
        )  # fmt: skip
        # Two layers where the zoo reuses one nn.Dropout: each use keeps its own mask.
        self.embedding_dropout = Dropout(dropout, rng=rng)
        self.head_dropout = Dropout(dropout, rng=rng)
        self.head = Linear(self.num_features, num_classes, dtype=dtype, rng=rng)
        self._name_children()

    # -- forward ----------------------------------------------------------------------------
    def forward_features(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Encode and pool. Shape: x: (N, T) int, lengths: (N,) -> (N, num_directions * H)."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise ShapeError(f"RecurrentClassifier: expected token ids (N, T), got {x.shape}")
        N, T = x.shape
        if lengths is not None:
            lengths = np.asarray(lengths).astype(np.int64)
            if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
                raise ShapeError(
                    f"RecurrentClassifier: lengths must be (N,) = ({N},) with values in 1..{T}, "
                    f"got {lengths.tolist()}"
                )
        emb = self.embedding_dropout(self.embedding(x))  # (N, T, E)
        out, state = self.rnn(emb, lengths=lengths)  # out: (N, T, D*H), 0 on padding
        h_n = state[0] if isinstance(state, tuple) else state  # (L*D, N, H)
        self._cache = (out.shape, h_n.shape, lengths, out if self.pooling == "max" else None)
        D = self.num_directions
        if self.pooling == "last":
            top = h_n[-D:]  # (D, N, H): the last layer, forward then backward direction
            return np.concatenate(list(top), axis=1)  # (N, D*H)
        if self.pooling == "mean":
            count = T if lengths is None else lengths[:, None]  # padding adds 0 to the sum
            return out.sum(axis=1) / count  # (N, D*H)
        if lengths is not None:  # padded steps must never be the maximum
            out = np.where(np.arange(T)[None, :, None] < lengths[:, None, None], out, -np.inf)
            self._cache = (*self._cache[:3], out)
        return out.max(axis=1)  # (N, D*H)

    def forward_head(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, D*H) -> (N, num_classes)."""
        return self.head(self.head_dropout(x))

    def forward(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Shape: x: (N, T) int, lengths: (N,) or None -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x, lengths))

    # -- backward ---------------------------------------------------------------------------
    def backward(self, grad_logits: np.ndarray) -> None:
        if self._cache is None:
            raise RuntimeError("RecurrentClassifier: backward called before forward")
        out_shape, state_shape, lengths, pooled_from = self._cache
        grad = self.head_dropout.backward(self.head.backward(grad_logits))  # (N, D*H)
        N, T, _ = out_shape
        grad_out, grad_h_n = None, None
        if self.pooling == "last":
            D, H = self.num_directions, state_shape[-1]
            grad_h_n = np.zeros(state_shape, dtype=grad.dtype)  # (L*D, N, H)
            for d in range(D):  # only the top layer's final states were read
                grad_h_n[state_shape[0] - D + d] = grad[:, d * H : (d + 1) * H]
        elif self.pooling == "mean":
            count = T if lengths is None else lengths[:, None]
            grad_out = np.broadcast_to((grad / count)[:, None, :], out_shape)
            if lengths is not None:  # padded outputs are constant: they take no gradient
                grad_out = grad_out * (np.arange(T)[None, :, None] < lengths[:, None, None])
        else:
            hit = pooled_from == pooled_from.max(axis=1, keepdims=True)  # (N, T, D*H)
            grad_out = hit * (grad / hit.sum(axis=1))[:, None, :]  # ties share, as torch's amax
        grad_emb = self.rnn.backward(grad_out, grad_h_n)  # (N, T, E); an LSTM's c_n was not read
        grad_emb = self.embedding_dropout.backward(grad_emb)
        if not self.freeze_embeddings:
            self.embedding.backward(grad_emb)
        return None

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, directions={self.num_directions}, pooling={self.pooling!r}, "
            f"num_classes={self.num_classes}"
        )
