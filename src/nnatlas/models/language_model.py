"""Recurrent language models (character or word level): embedding -> RNN/LSTM/GRU -> Linear.

Keys follow docs/LAYOUTS.md (``embedding``, ``rnn``, ``head``), so the scratch ``CharLSTM`` loads
the state_dict of ``lstm_lm``. The hidden state is an explicit input and output, which is what
truncated backpropagation through time needs: carry the state from one chunk of the text to the
next, and :func:`detach_state` it so the gradient stops at the chunk boundary.
"""

from __future__ import annotations

import torch
from torch import nn

from nnatlas.models.registry import register_model
from nnatlas.models.rnn_utils import State, make_rnn
from nnatlas.models.rnn_utils import detach_state as _detach_state


class RecurrentLM(nn.Module):
    """Next-token model: logits for token t+1 from tokens up to t.

    Args:
        vocab_size: number of token ids (65 for Tiny Shakespeare's characters).
        embed_dim: embedding width.
        hidden_size: recurrent state width.
        num_layers: stacked recurrent layers.
        cell: "rnn" (tanh), "lstm" or "gru".
        dropout: on the embeddings, between layers and on the outputs: the non-recurrent
            connections only (Zaremba, Sutskever & Vinyals 2014, arXiv 1409.2329).
        tie_weights: share the embedding matrix with the output layer (Press & Wolf 2017,
            arXiv 1608.05859; Inan et al. 2017): fewer parameters and usually lower perplexity.
            Needs ``embed_dim == hidden_size``.

    Shape:
        x: (N, T) int64, state: None or (L, N, H) [pair for LSTM]
        -> logits (N, T, vocab_size), state

    NumPy twin: nnatlas.scratch.models.char_lstm.CharRNN, with the same cell (CharLSTM for
    cell="lstm"); it has no dropout and no weight tying.
    """

    def __init__(
        self,
        vocab_size: int = 65,
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(
                f"tie_weights needs embed_dim == hidden_size (the head's weight is the "
                f"(vocab_size, embed_dim) embedding matrix), got {embed_dim} and {hidden_size}"
            )
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight  # one Parameter, two names in state_dict
        self.vocab_size, self.cell, self.tie_weights = vocab_size, cell, tie_weights

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run the model over a chunk, starting from ``state`` (zeros when None).

        Shape:
            x: (N, T) int64 -> logits (N, T, vocab_size), state (L, N, H) [pair for LSTM]
        """
        if x.ndim != 2:
            raise ValueError(f"expected token ids (N, T), got shape {tuple(x.shape)}")
        emb = self.dropout(self.embedding(x))  # (N, T, E)
        out, state = self.rnn(emb, state)  # (N, T, H)
        return self.head(self.dropout(out)), state  # (N, T, V)

    @staticmethod
    def detach_state(state: State | None) -> State | None:
        """Cut the graph behind ``state`` between truncated-BPTT chunks."""
        return _detach_state(state)

    @torch.no_grad()
    def generate(
        self,
        prompt: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
    ) -> torch.Tensor:
        """Sample a continuation of ``prompt``, one token at a time, carrying the state.

        Args:
            prompt: (T0,) or (N, T0) int64 token ids, T0 >= 1.
            max_new_tokens: number of tokens to append.
            temperature: divides the logits; < 1 is more conservative. 0 picks the argmax.
            top_k: sample only among the k most likely tokens.
            generator: a seeded ``torch.Generator`` for reproducible samples.
            top_p: sample only among the most likely tokens whose probabilities add up to
                ``top_p`` (nucleus sampling, Holtzman et al. 2019, arXiv 1904.09751).

        Returns:
            (N, T0 + max_new_tokens) (or (T0 + max_new_tokens,) for a 1-D prompt).
        """
        squeeze = prompt.ndim == 1
        tokens = prompt.unsqueeze(0) if squeeze else prompt
        if tokens.ndim != 2 or tokens.shape[1] < 1:
            raise ValueError(f"prompt must be (T0,) or (N, T0) with T0 >= 1, got {prompt.shape}")
        was_training = self.training
        self.eval()  # no dropout while sampling
        try:
            logits, state = self(tokens)
            out = [tokens]
            for i in range(max_new_tokens):
                last = logits[:, -1]  # (N, V)
                if temperature <= 0:
                    nxt = last.argmax(dim=-1, keepdim=True)  # (N, 1)
                else:
                    last = last / temperature
                    if top_k is not None:
                        kth = torch.topk(last, min(top_k, last.shape[-1])).values[:, -1:]
                        last = last.masked_fill(last < kth, float("-inf"))
                    probs = torch.softmax(last, dim=-1)
                    if top_p is not None and top_p < 1.0:
                        sorted_p, order = probs.sort(dim=-1, descending=True)
                        # Keep a token while the more likely ones before it hold under top_p.
                        drop = (sorted_p.cumsum(dim=-1) - sorted_p) >= top_p
                        probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
                        probs = probs / probs.sum(dim=-1, keepdim=True)
                    nxt = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
                out.append(nxt)
                if i + 1 < max_new_tokens:  # the last token needs no prediction after it
                    logits, state = self(nxt, state)
        finally:
            self.train(was_training)
        result = torch.cat(out, dim=1)  # (N, T0 + max_new_tokens)
        return result[0] if squeeze else result


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a recurrent state (truncated BPTT). See RecurrentLM.detach_state."""
    return _detach_state(state)


@register_model(
    family="language_model",
    default_input=(32,),
    kind="lm",
    scratch_twin="nnatlas.scratch.models.char_lstm:CharLSTM",
)
def lstm_lm(**kwargs: object) -> RecurrentLM:
    """LSTM language model (char-rnn style; scratch twin: CharLSTM)."""
    return RecurrentLM(cell="lstm", **kwargs)  # type: ignore[arg-type]


@register_model(
    family="language_model",
    default_input=(32,),
    kind="lm",
    scratch_twin="nnatlas.scratch.models.char_lstm:CharRNN",
)
def gru_lm(**kwargs: object) -> RecurrentLM:
    """GRU language model."""
    return RecurrentLM(cell="gru", **kwargs)  # type: ignore[arg-type]


@register_model(
    family="language_model",
    default_input=(32,),
    kind="lm",
    scratch_twin="nnatlas.scratch.models.char_lstm:CharRNN",
)
def rnn_lm(**kwargs: object) -> RecurrentLM:
    """Elman (tanh) RNN language model."""
    return RecurrentLM(cell="rnn", **kwargs)  # type: ignore[arg-type]
