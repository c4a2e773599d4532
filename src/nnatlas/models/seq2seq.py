"""Encoder-decoder (Sutskever et al. 2014; Cho et al. 2014) with optional attention, trained with
teacher forcing and decoded greedily or with beam search.

Token conventions: ``pad_idx`` fills the ends of shorter sequences, ``bos_idx`` starts every
target, ``eos_idx`` ends it. ``forward(src, tgt_in)`` takes the target *input*
``[bos, y1, ..., yT]`` and returns logits for ``[y1, ..., yT, eos]`` position by position.

Attention (``attention=``):

- ``"bahdanau"`` (additive, arXiv 1409.0473): the context is computed from the previous decoder
  state and fed into the RNN together with the previous token's embedding;
- ``"dot"`` / ``"general"`` (Luong, arXiv 1508.04025): the context is computed from the new decoder
  state, after the RNN step;
- ``None``: no attention, the encoder's final state is the only link (Sutskever et al.).

With attention the logits come from Luong's attentional state tanh(W_c [context; h]) (eq. 5); the
Bahdanau decoder uses the same output layer, to keep one decoder (his maxout deep output is left
out).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nnatlas.models.attention import AdditiveAttention, LuongAttention
from nnatlas.models.registry import register_model
from nnatlas.models.rnn_utils import State, make_rnn, select_state, top_hidden

ATTENTIONS = ("bahdanau", "dot", "general", None)


class Encoder(nn.Module):
    """Embedding + RNN over the source; padding is packed away.

    Shape:
        src: (N, S) int64, lengths: (N,) -> outputs (N, S, H), state (L, N, H) [pair for LSTM]

    NumPy twin: nnatlas.scratch.models.seq2seq.Encoder.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        dropout: float,
        pad_idx: int,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, State]:
        S = src.shape[1]
        emb = self.dropout(self.embedding(src))  # (N, S, E)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (N, S, H)
        return out, state


class Decoder(nn.Module):
    """One-step-at-a-time decoder with optional attention (see the module docstring).

    Shape (one step):
        y_prev: (N,) int64, state, enc_out: (N, S, H), src_mask: (N, S)
        -> logits (N, V), state, attention weights (N, S) or None

    NumPy twin: nnatlas.scratch.models.seq2seq.Decoder.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        dropout: float,
        attention: str | None,
        pad_idx: int,
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        self.attention_type = attention
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        rnn_in = embed_dim + (hidden_size if attention == "bahdanau" else 0)
        self.rnn = make_rnn(cell, rnn_in, hidden_size, num_layers, dropout)
        self.attention: nn.Module | None = None
        self.combine: nn.Linear | None = None
        if attention == "bahdanau":
            self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size)
        elif attention in ("dot", "general"):
            self.attention = LuongAttention(hidden_size, hidden_size, attention)
        if attention is not None:
            self.combine = nn.Linear(2 * hidden_size, hidden_size)  # W_c of Luong eq. 5
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def project_keys(self, enc_out: torch.Tensor) -> torch.Tensor | None:
        """The attention's projection of the encoder outputs, the same at every decoder step:
        compute it once per batch and pass it to :meth:`step` (None without attention).

        Shape: enc_out (N, S, H) -> (N, S, A)
        """
        if self.attention is None:
            return None
        return self.attention.project(enc_out)  # type: ignore[operator]

    def features(
        self,
        y_prev: torch.Tensor,
        state: State,
        enc_out: torch.Tensor,
        src_mask: torch.Tensor,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """One step up to the output layer: the attentional state (N, H) that :meth:`step`
        turns into logits (teacher forcing applies the output layer to all steps at once)."""
        emb = self.dropout(self.embedding(y_prev)).unsqueeze(1)  # (N, 1, E)
        weights = None
        if self.attention_type == "bahdanau":
            assert self.attention is not None
            context, weights = self.attention(top_hidden(state), enc_out, src_mask, keys)  # (N, H)
            emb = torch.cat([emb, context.unsqueeze(1)], dim=-1)  # (N, 1, E + H)
        out, state = self.rnn(emb, state)
        h = out.squeeze(1)  # (N, H)
        if self.attention_type in ("dot", "general"):
            assert self.attention is not None
            context, weights = self.attention(h, enc_out, src_mask, keys)  # (N, H)
        if self.combine is not None:
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (N, H)
        return h, state, weights

    def output(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from attentional states. Shape: (..., H) -> (..., V)"""
        return self.head(self.dropout(h))

    def step(
        self,
        y_prev: torch.Tensor,
        state: State,
        enc_out: torch.Tensor,
        src_mask: torch.Tensor,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Advance one target position: read the previous token, return next-token logits.

        ``keys``: :meth:`project_keys` of ``enc_out``, if already computed.
        """
        h, state, weights = self.features(y_prev, state, enc_out, src_mask, keys)
        return self.output(h), state, weights  # logits (N, V)


class Seq2Seq(nn.Module):
    """Sequence-to-sequence model (translation, copying, reversing).

    Args:
        src_vocab_size: source token ids.
        tgt_vocab_size: target token ids.
        embed_dim: embedding width (both sides).
        hidden_size: RNN width (both sides; the encoder's final state starts the decoder).
        num_layers: stacked layers (both sides).
        cell: "gru" or "lstm" (or "rnn").
        attention: "bahdanau", "dot", "general" or None.
        dropout: on embeddings, between layers and before the output layer.
        pad_idx, bos_idx, eos_idx: the special token ids (shared by both vocabularies); the
            defaults are :class:`nnatlas.data.Vocab`'s reserved ids
            (<pad>=0 <unk>=1 <bos>=2 <eos>=3).

    Shape:
        src: (N, S) int64, tgt_in: (N, T) int64 starting with bos -> logits (N, T, tgt_vocab_size)

    NumPy twin: nnatlas.scratch.models.seq2seq.Seq2Seq (dropout 0 and teacher forcing only).
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
        dropout: float = 0.0,
        pad_idx: int = 0,
        bos_idx: int = 2,
        eos_idx: int = 3,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(
            src_vocab_size, embed_dim, hidden_size, num_layers, cell, dropout, pad_idx
        )
        self.decoder = Decoder(
            tgt_vocab_size, embed_dim, hidden_size, num_layers, cell, dropout, attention, pad_idx
        )
        self.pad_idx, self.bos_idx, self.eos_idx = pad_idx, bos_idx, eos_idx
        self.tgt_vocab_size = tgt_vocab_size

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        """Encode a right-padded batch.

        Shape:
            src: (N, S) -> outputs (N, S, H), state, mask (N, S) (True on real tokens)
        """
        if src.ndim != 2:
            raise ValueError(f"expected source token ids (N, S), got shape {tuple(src.shape)}")
        if src_lengths is None:
            src_lengths = (src != self.pad_idx).sum(dim=1)
        lengths = torch.as_tensor(src_lengths).to(src.device, torch.int64)  # (N,)
        if lengths.min() < 1:
            raise ValueError("every source sequence needs at least one non-pad token")
        positions = torch.arange(src.shape[1], device=src.device)  # (S,)
        mask = positions[None, :] < lengths[:, None]  # (N, S)
        out, state = self.encoder(src, lengths)
        return out, state, mask

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_lengths: torch.Tensor | None = None,
        teacher_forcing_ratio: float = 1.0,
    ) -> torch.Tensor:
        """Decode ``tgt_in`` step by step; each step's input is the true previous token with
        probability ``teacher_forcing_ratio`` (per example and step), else the model's own argmax
        prediction (Williams & Zipser 1989; scheduled sampling, Bengio et al. 2015, varies it).

        Shape:
            src: (N, S), tgt_in: (N, T) -> logits (N, T, tgt_vocab_size)
        """
        enc_out, state, mask = self.encode(src, src_lengths)
        keys = self.decoder.project_keys(enc_out)
        N, T = tgt_in.shape
        if teacher_forcing_ratio >= 1.0:
            # Every input is known: step the RNN, then one large output-layer GEMM over all
            # (N * T) states instead of T small ones.
            states = []
            for t in range(T):
                h, state, _ = self.decoder.features(tgt_in[:, t], state, enc_out, mask, keys)
                states.append(h)
            return self.decoder.output(torch.stack(states, dim=1))  # (N, T, V)
        y = tgt_in[:, 0]  # (N,) bos
        logits = []
        for t in range(T):
            step_logits, state, _ = self.decoder.step(y, state, enc_out, mask, keys)
            logits.append(step_logits)
            if t + 1 < T:
                own = step_logits.argmax(dim=-1)  # (N,)
                forced = torch.rand(N, device=own.device) < teacher_forcing_ratio
                y = torch.where(forced, tgt_in[:, t + 1], own)
        return torch.stack(logits, dim=1)  # (N, T, V)

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, max_len: int = 50, src_lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pick the most likely token at each step until every sequence has emitted eos.

        Returns:
            (N, L) token ids without the leading bos; each row ends with eos (unless ``max_len``
            was reached) and is padded with ``pad_idx`` after it; L <= max_len.
        """
        enc_out, state, mask = self.encode(src, src_lengths)
        keys = self.decoder.project_keys(enc_out)
        N = src.shape[0]
        y = torch.full((N,), self.bos_idx, dtype=torch.int64, device=src.device)
        done = torch.zeros(N, dtype=torch.bool, device=src.device)
        out = []
        for _ in range(max_len):
            logits, state, _ = self.decoder.step(y, state, enc_out, mask, keys)
            y = logits.argmax(dim=-1)  # (N,)
            out.append(y.masked_fill(done, self.pad_idx))
            done |= y == self.eos_idx
            if bool(done.all()):
                break
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def beam_search(
        self,
        src: torch.Tensor,
        beam_size: int = 4,
        max_len: int = 50,
        length_penalty: float = 0.6,
        src_lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Beam search, one source sentence at a time.

        Keeps the ``beam_size`` best partial translations by summed log-probability; one that
        emits eos is finished and scored by log P(Y) / lp(Y) with Wu et al. 2016 (GNMT, arXiv
        1609.08144, §7) length normalization lp(Y) = ((5 + |Y|) / 6) ** length_penalty
        (0 disables it; without it beam search prefers short outputs). Search stops once
        ``beam_size`` hypotheses have finished and no live beam scores above the worst of them
        (or at ``max_len``), and the best finished one wins.
        With ``beam_size=1`` this is greedy decoding.

        Returns:
            (N, L) token ids in :meth:`greedy_decode`'s format.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        enc_out, state, mask = self.encode(src, src_lengths)
        results = []
        for i in range(src.shape[0]):
            idx = torch.tensor([i], device=src.device)
            results.append(
                self._beam_one(
                    enc_out[i : i + 1],
                    select_state(state, idx),
                    mask[i : i + 1],
                    beam_size,
                    max_len,
                    length_penalty,
                )
            )
        L = max(len(r) for r in results)
        out = torch.full((len(results), L), self.pad_idx, dtype=torch.int64, device=src.device)
        for i, r in enumerate(results):
            out[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
        return out

    def _beam_one(
        self,
        enc_out: torch.Tensor,
        state: State,
        mask: torch.Tensor,
        beam_size: int,
        max_len: int,
        alpha: float,
    ) -> list[int]:
        def normalized(score: float, length: int) -> float:
            return score / (((5 + length) / 6) ** alpha)

        V = self.tgt_vocab_size
        keys = self.decoder.project_keys(enc_out)  # (1, S, A) or None
        live: list[list[int]] = [[]]
        scores = torch.zeros(1, device=enc_out.device)  # (k,) summed log-probs of live beams
        y = torch.full((1,), self.bos_idx, dtype=torch.int64, device=enc_out.device)
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len):
            k = len(live)
            logits, state, _ = self.decoder.step(
                y,
                state,
                enc_out.expand(k, -1, -1),
                mask.expand(k, -1),
                None if keys is None else keys.expand(k, -1, -1),
            )
            cand = (scores[:, None] + F.log_softmax(logits, dim=-1)).view(-1)  # (k * V,)
            top_scores, top_idx = cand.topk(min(2 * beam_size, cand.numel()))
            keep_beam, keep_tok, keep_score, new_live = [], [], [], []
            for s, flat in zip(top_scores.tolist(), top_idx.tolist(), strict=True):
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
            # worst of them (the rule of Hugging Face's BeamHypotheses.is_done). Stopping at the
            # first beam_size finished ones instead lets weak early-eos candidates end the search
            # while the best hypothesis is still running.
            if len(finished) == beam_size:
                best_live = max(
                    normalized(s, len(q)) for s, q in zip(keep_score, new_live, strict=True)
                )
                if best_live <= finished[-1][0]:
                    break
            live = new_live
            beam_idx = torch.tensor(keep_beam, device=enc_out.device)
            state = select_state(state, beam_idx)
            scores = torch.tensor(keep_score, device=enc_out.device)
            y = torch.tensor(keep_tok, dtype=torch.int64, device=enc_out.device)
        else:
            # max_len reached: unfinished hypotheses compete with the finished ones.
            finished += [
                (normalized(s, len(seq)), seq) for s, seq in zip(scores.tolist(), live, strict=True)
            ]
        return max(finished, key=lambda f: f[0])[1]


@register_model(
    family="seq2seq",
    default_input=(12,),
    kind="seq2seq",
    scratch_twin="nnatlas.scratch.models.seq2seq:Seq2Seq",
)
def seq2seq(**kwargs: object) -> Seq2Seq:
    """GRU encoder-decoder with Bahdanau attention (cell= and attention= change it)."""
    return Seq2Seq(**kwargs)  # type: ignore[arg-type]
