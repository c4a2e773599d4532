"""Character-level recurrent language models in NumPy: the scratch twins of the zoo's
``lstm_lm`` (:class:`CharLSTM`), ``gru_lm`` and ``rnn_lm`` (:class:`CharRNN` with ``cell=``).

The module tree is the one in docs/LAYOUTS.md (``embedding``, ``rnn``, ``head``), so
``state_dict()`` keys equal the PyTorch model's and weights move between the engines unchanged.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.recurrent import GRU, LSTM, RNN

LSTMState = tuple[np.ndarray, np.ndarray]
State = np.ndarray | LSTMState  # (L, N, H) for RNN/GRU, (h, c) for LSTM
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


class CharRNN(Module):
    """Embedding -> multi-layer RNN, GRU or LSTM (batch_first) -> Linear to next-token logits.

    Args:
        vocab_size: V, number of distinct tokens (65 characters for Tiny Shakespeare).
        embed_dim: E, size of each token vector.
        hidden_size: H, LSTM state size.
        num_layers: stacked recurrent layers.
        cell: "lstm", "gru" or "rnn" (tanh), as the zoo's ``make_rnn``.
        dtype: float32 (default) or float64.
        rng: generator for every initial weight (torch's inits: N(0, 1) for the embedding,
            U(-1/sqrt(H), 1/sqrt(H)) for the LSTM, U(-1/sqrt(H), 1/sqrt(H)) for the head).

    Shape:
        x: (N, T) int token ids, state: (L, N, H) (LSTM: a pair of them) or None
        -> logits (N, T, V), state h_n (LSTM: (h_n, c_n)).
        ``backward(grad_logits (N, T, V))`` accumulates every parameter gradient; ids have no
        gradient, so it returns None.
        Keys: ``embedding.weight``, ``rnn.weight_ih_l0`` ..., ``head.weight``, ``head.bias``.

    See: nnatlas.models.language_model.RecurrentLM (``gru_lm``, ``rnn_lm``; ``lstm_lm`` with
    cell="lstm"). Check: ``nnatlas check "GRU-2layer"`` and ``nnatlas check "RNN-2layer"``. Tests:
    tests/bridge/test_zoo_bridge.py.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(
                f"{type(self).__name__}: cell must be one of {list(CELLS)}, got {cell!r}"
            )
        rng = rng if rng is not None else default_generator()
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell = cell
        self.embedding = Embedding(vocab_size, embed_dim, dtype=dtype, rng=rng)
        self.rnn = CELLS[cell](
            embed_dim, hidden_size, num_layers, batch_first=True, dtype=dtype, rng=rng
        )
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self._name_children()

    def forward(self, x: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        x = np.asarray(x)
        if x.ndim != 2:
            raise ShapeError(
                f"{type(self).__name__}: expected token ids of shape (N, T), got {x.shape}; "
                "add a batch axis with x[None] for one sequence"
            )
        emb = self.embedding(x)  # (N, T, E)
        hidden, state = self.rnn(emb, state)  # (N, T, H)
        return self.head(hidden), state  # (N, T, V)

    def backward(self, grad_logits: np.ndarray) -> None:
        grad_hidden = self.head.backward(grad_logits)  # (N, T, H)
        grad_emb = self.rnn.backward(grad_hidden)  # (N, T, E)
        self.embedding.backward(grad_emb)

    def generate(
        self,
        prefix_ids: list[int] | np.ndarray,
        length: int,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> np.ndarray:
        """Sample ``length`` token ids after reading ``prefix_ids``, one step at a time.

        Args:
            prefix_ids: at least one token id to condition on.
            length: how many ids to sample.
            temperature: divides the logits; < 1 is more conservative, > 1 more varied;
                0 picks the most likely token every time (greedy).
            rng: generator for the sampling (default: a fresh unseeded one).
            top_k: sample only among the k most likely tokens.
            top_p: sample only among the most likely tokens whose probabilities add up to
                ``top_p`` (nucleus sampling, Holtzman et al. 2019, arXiv 1904.09751).

        Returns:
            The prefix followed by the sampled ids, shape (T0 + length,), as the zoo's
            ``lstm_lm.generate`` returns it.
        """
        prefix = np.asarray(prefix_ids, dtype=np.int64).reshape(-1)
        name = type(self).__name__
        if prefix.size == 0:
            raise ValueError(f"{name}.generate: prefix_ids must hold at least one id")
        if temperature < 0:
            raise ValueError(f"{name}.generate: temperature must be >= 0, got {temperature}")
        rng = rng if rng is not None else default_generator()
        logits, state = self.forward(prefix[None])  # (1, T0, V)
        out = np.empty(length, dtype=np.int64)
        for k in range(length):
            last = logits[0, -1].astype(np.float64)  # (V,)
            if temperature == 0:
                token = int(np.argmax(last))
            else:
                z = last / temperature
                if top_k is not None and top_k < z.size:
                    z[z < np.partition(z, -top_k)[-top_k]] = -np.inf
                p = np.exp(z - z.max())
                p /= p.sum()
                if top_p is not None and top_p < 1.0:
                    order = np.argsort(-p, kind="stable")
                    # Keep a token while the more likely ones before it hold less than top_p.
                    before = np.cumsum(p[order]) - p[order]
                    p[order[before >= top_p]] = 0.0
                    p /= p.sum()
                token = int(rng.choice(p.size, p=p))
            out[k] = token
            logits, state = self.forward(np.array([[token]]), state)  # one step, carrying the state
        return np.concatenate([prefix, out])

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, cell={self.cell!r}"
        )


class CharLSTM(CharRNN):
    """:class:`CharRNN` with LSTM cells: the scratch twin of the zoo's ``lstm_lm``.

    See: nnatlas.models.language_model.RecurrentLM (``lstm_lm``). Check:
    ``nnatlas check "LSTM-2layer"``. Tests: tests/scratch/test_recurrent_models.py.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_size, num_layers, "lstm", dtype, rng)
