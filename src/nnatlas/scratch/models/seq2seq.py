"""Encoder-decoder with attention in NumPy: the twin of the zoo's ``seq2seq`` (Sutskever et al.
2014; Cho et al. 2014), trained with teacher forcing, decoded greedily or with beam search.

The module tree is the zoo's (``encoder.embedding``, ``encoder.rnn``, ``decoder.embedding``,
``decoder.rnn``, ``decoder.attention.*``, ``decoder.combine``, ``decoder.head``), so state_dict
keys are equal, and so are the token conventions: ``forward(src, tgt_in)`` reads the target input
``[bos, y1 .. yT]`` and returns logits for ``[y1 .. yT, eos]``.

One decoder step, as the zoo's ``Decoder.step``:

- ``"bahdanau"``: context from the previous top-layer state, fed into the RNN with the previous
  token's embedding; so the RNN runs one step at a time (``rnn.step``), and so does BPTT;
- ``"dot"`` / ``"general"`` (Luong): context from the new state, after the RNN; nothing feeds
  back, so the RNN reads the whole teacher-forced target in one call and attention scores all T
  positions at once;
- then (with attention) Luong's attentional state ``tanh(W_c [context; h])`` (eq. 5), and the
  Linear head to next-token logits.

Backward, in reverse: head, combine (d context, d h), Luong's attention (d h, d encoder outputs),
the decoder RNN (d embeddings and d of its initial state, the encoder's final state); with
Bahdanau, each step back also sends d context through the attention to the state the step read
and to the encoder outputs. The key projection's gradient is summed over all steps and taken
through it once. Finally the encoder's BPTT with d outputs and d final state.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import log_softmax
from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.init import default_generator
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.attention import AdditiveAttention, LuongAttention
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.recurrent import GRU, LSTM, RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
ATTENTIONS = ("bahdanau", "dot", "general", None)
State = np.ndarray | tuple[np.ndarray, np.ndarray]  # (L, N, H), or (h, c) for an LSTM


def _top(state: State) -> np.ndarray:
    """The top layer's h. Shape: (L, N, H) (or a pair of them) -> (N, H)."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


def _add_to_top(grad_state: State | None, grad_h: np.ndarray, like: State) -> State:
    """``grad_state`` plus ``grad_h`` (N, H) on the top layer's h (zeros when None)."""
    if grad_state is None:
        grad_state = (
            tuple(np.zeros_like(s) for s in like)
            if isinstance(like, tuple)
            else (np.zeros_like(like))
        )
    h = (grad_state[0] if isinstance(grad_state, tuple) else grad_state).copy()
    h[-1] += grad_h
    return (h, grad_state[1]) if isinstance(grad_state, tuple) else h


def _select(state: State, index: np.ndarray) -> State:
    """Batch rows ``index`` of a state (beam search). Shape: (L, N, H) -> (L, len(index), H)."""
    if isinstance(state, tuple):
        return (state[0][:, index], state[1][:, index])
    return state[:, index]


class Encoder(Module):
    """Embedding + RNN over the source; each row stops at its own length (as the zoo packs it).

    Shape:
        src: (N, S) int, lengths: (N,) -> outputs (N, S, H) (0 on padding), state (L, N, H)
        [pair for LSTM]

    See: nnatlas.models.seq2seq.Encoder. Check: ``nnatlas check "Seq2Seq(GRU, Bahdanau)"``.
    Tests: tests/scratch/test_text_models.py.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        pad_idx: int,
        dtype: type[np.floating],
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, embed_dim, pad_idx, dtype=dtype, rng=rng)
        self.rnn = CELLS[cell](
            embed_dim, hidden_size, num_layers, batch_first=True, dtype=dtype, rng=rng
        )

    def forward(self, src: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, State]:
        return self.rnn(self.embedding(src), lengths=lengths)  # (N, S, H), state

    def backward(self, grad_out: np.ndarray, grad_state: State) -> None:
        grads = grad_state if isinstance(grad_state, tuple) else (grad_state,)
        self.embedding.backward(self.rnn.backward(grad_out, *grads))  # (N, S, E)


class Decoder(Module):
    """The decoder of the module docstring: teacher-forced ``forward`` and one-step ``step``.

    Shape:
        forward: tgt_in (N, T) int, state, enc_out (N, S, H), mask (N, S) -> logits (N, T, V);
        step: y_prev (N,) int -> logits (N, V), state, attention weights (N, S) or None.

    See: nnatlas.models.seq2seq.Decoder. Check: ``nnatlas check "Seq2Seq(GRU, Bahdanau)"``.
    Tests: tests/scratch/test_text_models.py.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        attention: str | None,
        pad_idx: int,
        dtype: type[np.floating],
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        self.attention_type = attention
        self.embed_dim, self.hidden_size = embed_dim, hidden_size
        self.embedding = Embedding(vocab_size, embed_dim, pad_idx, dtype=dtype, rng=rng)
        rnn_in = embed_dim + (hidden_size if attention == "bahdanau" else 0)
        self.rnn = CELLS[cell](
            rnn_in, hidden_size, num_layers, batch_first=True, dtype=dtype, rng=rng
        )
        kw = {"dtype": dtype, "rng": rng}
        self.attention: AdditiveAttention | LuongAttention | None = None
        self.combine: Linear | None = None
        if attention == "bahdanau":
            self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size, **kw)
        elif attention in ("dot", "general"):
            self.attention = LuongAttention(hidden_size, hidden_size, attention, **kw)
        if attention is not None:
            self.combine = Linear(2 * hidden_size, hidden_size, **kw)  # W_c of Luong eq. 5
        self.head = Linear(hidden_size, vocab_size, **kw)

    def prepare(self, enc_out: np.ndarray) -> np.ndarray | None:
        """The attention's key side, once per batch. Shape: (N, S, H) -> (N, S, A) or None."""
        return None if self.attention is None else self.attention.prepare(enc_out)

    # -- teacher forcing ----------------------------------------------------------------------
    def forward(
        self, tgt_in: np.ndarray, state: State, enc_out: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        state0 = state
        emb = self.embedding(tgt_in)  # (N, T, E)
        prepared = self.prepare(enc_out)
        context = steps = attn_cache = None
        if self.attention_type == "bahdanau":
            outs, contexts, steps = [], [], []
            for t in range(emb.shape[1]):
                query = _top(state)[:, None]  # (N, 1, H): the state before this step
                ctx, _, a_cache = self.attention.attend(query, enc_out, prepared, mask)
                x_t = np.concatenate([emb[:, t : t + 1], ctx], axis=-1)  # (N, 1, E + H)
                out_t, state, r_cache = self.rnn.step(x_t, state)  # (N, 1, H)
                outs.append(out_t)
                contexts.append(ctx)
                steps.append((a_cache, r_cache))
            h = np.concatenate(outs, axis=1)  # (N, T, H)
            context = np.concatenate(contexts, axis=1)  # (N, T, H)
        else:
            h, _ = self.rnn(emb, state)  # (N, T, H): the whole target in one call
            if self.attention is not None:  # Luong: every position attends at once
                context, _, attn_cache = self.attention.attend(h, enc_out, prepared, mask)
        attentional = h
        if self.combine is not None:
            attentional = np.tanh(self.combine(np.concatenate([context, h], axis=-1)))  # (N, T, H)
        self._cache = (state0, steps, attn_cache, attentional, emb.shape)
        return self.head(attentional)  # (N, T, V)

    def backward(self, grad_logits: np.ndarray) -> tuple[State, np.ndarray | None]:
        """Shape: grad_logits (N, T, V) -> (d initial state, d enc_out (N, S, H) or None)."""
        if self._cache is None:
            raise RuntimeError("Decoder: backward called before forward")
        state0, steps, attn_cache, attentional, emb_shape = self._cache
        H = self.hidden_size
        grad = self.head.backward(grad_logits)  # (N, T, H)
        grad_context = None
        if self.combine is not None:
            grad = self.combine.backward(grad * (1.0 - attentional * attentional))  # (N, T, 2H)
            grad_context, grad = grad[..., :H], grad[..., H:]  # [context; h] was the input
        grad_enc = grad_prepared = None
        if self.attention_type == "bahdanau":
            grad_emb = np.empty(emb_shape, dtype=grad.dtype)  # (N, T, E)
            grad_enc, grad_prepared, grad_state = 0.0, 0.0, None
            for t in reversed(range(emb_shape[1])):
                a_cache, r_cache = steps[t]
                dx, grad_state = self.rnn.step_backward(r_cache, grad[:, t : t + 1], grad_state)
                grad_emb[:, t] = dx[:, 0, : self.embed_dim]
                # The context reached the loss twice: through the RNN input and through W_c.
                d_ctx = dx[:, :, self.embed_dim :] + grad_context[:, t : t + 1]  # (N, 1, H)
                d_query, d_keys, d_prepared = self.attention.attend_backward(d_ctx, a_cache)
                grad_enc, grad_prepared = grad_enc + d_keys, grad_prepared + d_prepared
                grad_state = _add_to_top(grad_state, d_query[:, 0], state0)  # the state it read
        else:
            if self.attention is not None:
                d_query, grad_enc, grad_prepared = self.attention.attend_backward(
                    grad_context, attn_cache
                )
                grad = grad + d_query  # h was both the query and the input of W_c
            grad_emb = self.rnn.backward(grad)  # (N, T, E)
            grad_state = self.rnn.grad_hx
        if self.attention is not None:
            grad_enc = grad_enc + self.attention.finish_backward(grad_prepared)
        self.embedding.backward(grad_emb)
        return grad_state, grad_enc

    # -- decoding -----------------------------------------------------------------------------
    def step(
        self,
        y_prev: np.ndarray,
        state: State,
        enc_out: np.ndarray,
        prepared: np.ndarray | None,
        mask: np.ndarray,
    ) -> tuple[np.ndarray, State, np.ndarray | None]:
        """One position, forward only (decoding). Shape: y_prev (N,) -> logits (N, V)."""
        x = self.embedding(y_prev)[:, None]  # (N, 1, E)
        weights = context = None
        if self.attention_type == "bahdanau":
            context, weights, _ = self.attention.attend(
                _top(state)[:, None], enc_out, prepared, mask
            )
            x = np.concatenate([x, context], axis=-1)  # (N, 1, E + H)
        h, state = self.rnn(x, state)  # (N, 1, H)
        if self.attention_type in ("dot", "general"):
            context, weights, _ = self.attention.attend(h, enc_out, prepared, mask)
        if self.combine is not None:
            h = np.tanh(self.combine(np.concatenate([context, h], axis=-1)))
        return self.head(h)[:, 0], state, None if weights is None else weights[:, 0]


class Seq2Seq(Module):
    """Sequence-to-sequence model with the zoo's arguments, training and decoding.

    Args:
        src_vocab_size, tgt_vocab_size: token ids on each side.
        embed_dim: embedding width (both sides).
        hidden_size: RNN width (both sides; the encoder's final state starts the decoder).
        num_layers: stacked layers (both sides).
        cell: "gru", "lstm" or "rnn".
        attention: "bahdanau", "dot", "general" or None.
        pad_idx, bos_idx, eos_idx: the special ids (``nnatlas.data.Vocab``'s by default).
        dtype: float32 (default) or float64.
        rng: generator for the initial weights (the bridge overwrites them with the zoo's).

    The zoo's dropout is not here (the bridge refuses a zoo model with dropout > 0), nor is
    ``teacher_forcing_ratio < 1`` (the decoder would have to run step by step on its own
    predictions).

    Shape:
        src: (N, S) int, tgt_in: (N, T) int starting with bos, src_lengths: (N,) or None (the
        non-pad tokens) -> logits (N, T, tgt_vocab_size). ``backward(grad_logits)`` returns None.
        ``greedy_decode`` / ``beam_search``: src (N, S) -> (N, L) ids without the leading bos,
        each row ending with eos (unless max_len was reached) and padded with pad_idx after it.

    See: nnatlas.models.seq2seq.Seq2Seq (``seq2seq``). Check:
    ``nnatlas check "Seq2Seq(GRU, Bahdanau)"``. Tests: tests/scratch/test_text_models.py.
    """

    def __init__(
        self,
        src_vocab_size: int = 100,
        tgt_vocab_size: int = 100,
        embed_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "gru",
        attention: str | None = "bahdanau",
        pad_idx: int = 0,
        bos_idx: int = 2,
        eos_idx: int = 3,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {list(CELLS)}, got {cell!r}")
        rng = rng if rng is not None else default_generator()
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.embed_dim, self.hidden_size, self.num_layers = embed_dim, hidden_size, num_layers
        self.cell, self.attention = cell, attention
        self.pad_idx, self.bos_idx, self.eos_idx = pad_idx, bos_idx, eos_idx
        size = (embed_dim, hidden_size, num_layers, cell)
        self.encoder = Encoder(src_vocab_size, *size, pad_idx, dtype, rng)
        self.decoder = Decoder(tgt_vocab_size, *size, attention, pad_idx, dtype, rng)
        self._name_children()

    def encode(
        self, src: np.ndarray, src_lengths: np.ndarray | None = None
    ) -> tuple[np.ndarray, State, np.ndarray]:
        """Shape: src (N, S) -> outputs (N, S, H), state, mask (N, S) (True on real tokens)."""
        src = np.asarray(src)
        if src.ndim != 2:
            raise ShapeError(f"Seq2Seq: expected source token ids (N, S), got {src.shape}")
        if src_lengths is None:
            src_lengths = (src != self.pad_idx).sum(axis=1)
        lengths = np.asarray(src_lengths).astype(np.int64)  # (N,)
        if lengths.min() < 1:
            raise ShapeError("Seq2Seq: every source sequence needs at least one non-pad token")
        mask = np.arange(src.shape[1])[None, :] < lengths[:, None]  # (N, S)
        enc_out, state = self.encoder(src, lengths)
        return enc_out, state, mask

    def forward(
        self,
        src: np.ndarray,
        tgt_in: np.ndarray,
        src_lengths: np.ndarray | None = None,
        teacher_forcing_ratio: float = 1.0,
    ) -> np.ndarray:
        """Teacher forcing: each step reads the true previous token.

        Shape:
            src: (N, S), tgt_in: (N, T) -> logits (N, T, tgt_vocab_size)
        """
        if teacher_forcing_ratio != 1.0:
            raise ValueError(
                "Seq2Seq (NumPy): only teacher_forcing_ratio=1.0 is implemented; train with "
                "--engine torch to feed the model its own predictions"
            )
        enc_out, state, mask = self.encode(src, src_lengths)
        return self.decoder(np.asarray(tgt_in), state, enc_out, mask)

    def backward(self, grad_logits: np.ndarray) -> None:
        grad_state, grad_enc = self.decoder.backward(grad_logits)
        # Without attention grad_enc is None: only the final state links the two halves.
        self.encoder.backward(grad_enc, grad_state)

    # -- decoding ---------------------------------------------------------------------------
    def greedy_decode(
        self, src: np.ndarray, max_len: int = 50, src_lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """The most likely token at each step until every row has emitted eos.

        Returns:
            (N, L) int64, L <= max_len, in the format of the class docstring.
        """
        enc_out, state, mask = self.encode(src, src_lengths)
        prepared = self.decoder.prepare(enc_out)
        N = enc_out.shape[0]
        y = np.full(N, self.bos_idx, dtype=np.int64)
        done = np.zeros(N, dtype=bool)
        out = []
        for _ in range(max_len):
            logits, state, _ = self.decoder.step(y, state, enc_out, prepared, mask)
            y = logits.argmax(axis=-1)  # (N,): the first maximum, as torch's argmax
            out.append(np.where(done, self.pad_idx, y))
            done |= y == self.eos_idx
            if done.all():
                break
        return np.stack(out, axis=1)

    def beam_search(
        self,
        src: np.ndarray,
        beam_size: int = 4,
        max_len: int = 50,
        length_penalty: float = 0.6,
        src_lengths: np.ndarray | None = None,
    ) -> np.ndarray:
        """Beam search, one source sentence at a time, with the zoo's rules.

        Keeps the ``beam_size`` best partial outputs by summed log-probability; one that emits
        eos is finished and scored by log P(Y) / lp(Y), lp(Y) = ((5 + |Y|) / 6) ** length_penalty
        (Wu et al. 2016, GNMT, arXiv 1609.08144, §7). Search stops once ``beam_size`` have
        finished and no live beam scores above the worst of them (or at ``max_len``).

        Returns:
            (N, L) int64 in :meth:`greedy_decode`'s format.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        enc_out, state, mask = self.encode(src, src_lengths)
        prepared = self.decoder.prepare(enc_out)
        results = [
            self._beam_one(
                enc_out[i : i + 1],
                _select(state, np.array([i])),
                None if prepared is None else prepared[i : i + 1],
                mask[i : i + 1],
                beam_size,
                max_len,
                length_penalty,
            )
            for i in range(enc_out.shape[0])
        ]
        out = np.full((len(results), max(len(r) for r in results)), self.pad_idx, dtype=np.int64)
        for i, r in enumerate(results):
            out[i, : len(r)] = r
        return out

    def _beam_one(
        self,
        enc_out: np.ndarray,
        state: State,
        prepared: np.ndarray | None,
        mask: np.ndarray,
        beam_size: int,
        max_len: int,
        alpha: float,
    ) -> list[int]:
        """One sentence's search. Shape: enc_out (1, S, H), mask (1, S) -> the best ids."""

        def normalized(score: float, length: int) -> float:
            return score / (((5 + length) / 6) ** alpha)

        V = self.tgt_vocab_size
        live: list[list[int]] = [[]]
        scores = np.zeros(1)  # (k,) summed log-probs of the live beams
        y = np.array([self.bos_idx])
        finished: list[tuple[float, list[int]]] = []

        def expand(a: np.ndarray | None, k: int) -> np.ndarray | None:
            return None if a is None else np.broadcast_to(a, (k, *a.shape[1:]))  # (k, ...)

        for _ in range(max_len):
            k = len(live)
            logits, state, _ = self.decoder.step(
                y, state, expand(enc_out, k), expand(prepared, k), expand(mask, k)
            )
            cand = (scores[:, None] + log_softmax(logits.astype(np.float64), axis=-1)).reshape(-1)
            top_idx = np.argsort(-cand, kind="stable")[: min(2 * beam_size, cand.size)]
            keep_beam, keep_tok, keep_score, new_live = [], [], [], []
            for flat in top_idx.tolist():
                s = float(cand[flat])
                b, tok = divmod(flat, V)
                seq = live[b] + [tok]
                if tok == self.eos_idx:
                    finished.append((normalized(s, len(seq)), seq))
                else:
                    keep_beam.append(b)
                    keep_tok.append(tok)
                    keep_score.append(s)
                    new_live.append(seq)
                if len(new_live) == beam_size:
                    break
            finished = sorted(finished, key=lambda f: f[0], reverse=True)[:beam_size]
            if not new_live:
                break
            # Stop once beam_size hypotheses have finished and no live beam scores above the
            # worst of them (Hugging Face's BeamHypotheses.is_done, as the zoo).
            if len(finished) == beam_size:
                best_live = max(
                    normalized(s, len(q)) for s, q in zip(keep_score, new_live, strict=True)
                )
                if best_live <= finished[-1][0]:
                    break
            live = new_live
            state = _select(state, np.array(keep_beam))
            scores = np.array(keep_score)
            y = np.array(keep_tok, dtype=np.int64)
        else:
            # max_len reached: unfinished hypotheses compete with the finished ones.
            finished += [
                (normalized(s, len(seq)), seq) for s, seq in zip(scores.tolist(), live, strict=True)
            ]
        return max(finished, key=lambda f: f[0])[1]

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, attention={self.attention!r}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}"
        )
