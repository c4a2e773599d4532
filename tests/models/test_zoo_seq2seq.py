"""Seq2seq: attention variants, teacher forcing, greedy and beam decoding, and a copy task."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnatlas.models import Seq2Seq, create_model
from nnatlas.models.attention import AdditiveAttention, LuongAttention

PAD, BOS, EOS = 0, 2, 3  # nnatlas.data.Vocab reserved ids, Seq2Seq defaults
V = 10  # ids 3..9 are the symbols to copy


def copy_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random symbol strings of length 3-6; target = bos + the same string + eos, right-padded."""
    lengths = torch.randint(3, 7, (n,), generator=gen)
    src = torch.full((n, 6), PAD)
    tgt = torch.full((n, 8), PAD)
    for i, n_i in enumerate(lengths.tolist()):
        symbols = torch.randint(EOS + 1, V, (n_i,), generator=gen)  # no special ids
        src[i, :n_i] = symbols
        tgt[i, 0], tgt[i, 1 : n_i + 1], tgt[i, n_i + 1] = BOS, symbols, EOS
    return src, tgt


@pytest.mark.parametrize("attention", ["bahdanau", "dot", "general", None])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_of_one_is_greedy(attention: str | None, cell: str) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(V, V, embed_dim=8, hidden_size=16, cell=cell, attention=attention).eval()
    src, _ = copy_batch(6, torch.Generator().manual_seed(1))
    greedy = model.greedy_decode(src, max_len=9)
    beam = model.beam_search(src, beam_size=1, max_len=9)
    assert torch.equal(beam, greedy)


def test_padding_gets_no_attention_and_does_not_change_outputs() -> None:
    torch.manual_seed(0)
    model = Seq2Seq(V, V, embed_dim=8, hidden_size=16, attention="general").eval()
    src, tgt = copy_batch(3, torch.Generator().manual_seed(2))
    wider = torch.cat([src, torch.full((3, 4), PAD)], dim=1)  # more padding on the right
    with torch.no_grad():
        torch.testing.assert_close(model(wider, tgt), model(src, tgt))
    keys = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    for attn in (AdditiveAttention(16, 16, 8), LuongAttention(16, 16, "dot")):
        context, weights = attn(torch.randn(2, 16), keys, mask)
        assert weights[1, 2:].abs().sum() == 0
        torch.testing.assert_close(weights.sum(-1), torch.ones(2))
        torch.testing.assert_close(context[1], weights[1, :2] @ keys[1, :2])


def test_teacher_forcing_ratio_zero_feeds_own_predictions() -> None:
    """With ratio 0 the decoder reads its own argmax, so its argmaxes are the greedy output."""
    torch.manual_seed(0)
    model = Seq2Seq(V, V, embed_dim=8, hidden_size=16).eval()
    src, tgt = copy_batch(4, torch.Generator().manual_seed(3))
    greedy = model.greedy_decode(src, max_len=7)
    with torch.no_grad():
        free = model(src, tgt[:, :7], teacher_forcing_ratio=0.0).argmax(-1)  # (N, 7)
    done = torch.cumsum(greedy == EOS, dim=1) - (greedy == EOS).int() > 0  # after the first eos
    steps = greedy.shape[1]
    assert torch.equal(free[:, :steps][~done], greedy[~done])


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(attention="multihead")
    with pytest.raises(ValueError, match=r"\('dot'\) needs equal query and key widths"):
        LuongAttention(8, 16, "dot")
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        create_model("seq2seq").beam_search(torch.ones(1, 3, dtype=torch.int64), beam_size=0)


def test_copy_task_trains_to_exact_outputs() -> None:
    """Overfit-style end-to-end check: the attention model learns to copy unseen strings."""
    torch.manual_seed(0)
    model = create_model(
        "seq2seq", src_vocab_size=V, tgt_vocab_size=V, embed_dim=16, hidden_size=48
    )
    steps = 400
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    # One-cycle annealing ends training at a sharp minimum, so exactness does not hinge on
    # the thread count's rounding.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        src, tgt = copy_batch(64, gen)
        logits = model(src, tgt[:, :-1])  # (N, 7, V)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    src, tgt = copy_batch(100, torch.Generator().manual_seed(123))  # fresh strings
    for out in (
        model.greedy_decode(src, max_len=8),
        model.beam_search(src, beam_size=3, max_len=8),
    ):
        assert torch.equal(out, tgt[:, 1 : 1 + out.shape[1]])
