"""Recurrent classifiers and language models: packing, pooling, embeddings, state carrying."""

from __future__ import annotations

import pytest
import torch

from nnatlas.models import RecurrentClassifier, RecurrentLM, create_model, detach_state


def _padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.tensor([5, 2, 7])
    x = torch.randint(1, 50, (3, 7), generator=gen)
    x[torch.arange(7)[None, :] >= lengths[:, None]] = 0  # right padding with pad id 0
    return x, lengths


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_ignores_padding(cell: str, pooling: str, bidirectional: bool) -> None:
    """Each padded row gives the output of its unpadded sequence run alone."""
    torch.manual_seed(0)
    model = RecurrentClassifier(
        vocab_size=50,
        num_classes=3,
        embed_dim=8,
        hidden_size=6,
        num_layers=2,
        cell=cell,
        bidirectional=bidirectional,
        pooling=pooling,
    ).eval()
    x, lengths = _padded_batch()
    with torch.no_grad():
        batched = model(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone = model(x[i : i + 1, :n])
            torch.testing.assert_close(batched[i : i + 1], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_equal_lengths_skip_packing_with_the_same_result(bidirectional: bool) -> None:
    """A batch of one length (a bucketed batch) is not packed, and gives what packing gives."""
    torch.manual_seed(0)
    model = RecurrentClassifier(
        vocab_size=50, embed_dim=8, hidden_size=6, bidirectional=bidirectional
    )
    x = torch.randint(1, 50, (4, 5))
    lengths = torch.full((4,), 5)
    calls: list[type] = []
    model.rnn.register_forward_pre_hook(lambda module, args: calls.append(type(args[0])))
    out = model(x, lengths)
    assert calls == [torch.Tensor]  # the padded tensor went to the fused kernel, not packed
    packed = torch.nn.utils.rnn.pack_padded_sequence(model.embedding(x), lengths, batch_first=True)
    h = model.rnn(packed)[1][0]  # (D, N, H)
    torch.testing.assert_close(out, model.head(torch.cat(list(h), dim=1)))


def test_classifier_registry_names_pick_the_cell() -> None:
    assert isinstance(create_model("rnn_classifier").rnn, torch.nn.RNN)
    assert isinstance(create_model("lstm_classifier").rnn, torch.nn.LSTM)
    assert isinstance(create_model("gru_classifier").rnn, torch.nn.GRU)
    model = create_model("gru_classifier", hidden_size=5, bidirectional=True, num_classes=4)
    assert list(model.state_dict())[0] == "embedding.weight"
    assert model.head.weight.shape == (4, 10)  # hidden_size * num_directions


@pytest.mark.parametrize("freeze", [True, False])
def test_pretrained_embeddings(freeze: bool) -> None:
    vectors = torch.randn(30, 6)
    model = RecurrentClassifier(pretrained_embeddings=vectors, freeze_embeddings=freeze)
    assert model.vocab_size == 30 and model.embedding.weight.shape == (30, 6)
    torch.testing.assert_close(model.embedding.weight.detach(), vectors)
    model(torch.randint(1, 30, (2, 4))).sum().backward()
    assert model.embedding.weight.requires_grad is not freeze
    assert (model.embedding.weight.grad is None) is freeze


def test_classifier_rejects_bad_lengths_and_pooling() -> None:
    model = RecurrentClassifier(vocab_size=10)
    with pytest.raises(ValueError, match="lengths must be"):
        model(torch.ones(2, 3, dtype=torch.int64), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        RecurrentClassifier(pooling="attention")


@pytest.mark.parametrize("name", ["lstm_lm", "gru_lm", "rnn_lm"])
def test_lm_state_carries_across_chunks(name: str) -> None:
    """Truncated BPTT: two chunks with the carried state equal one pass over the whole text."""
    torch.manual_seed(0)
    model = create_model(name, vocab_size=20, embed_dim=8, hidden_size=12, num_layers=2).eval()
    x = torch.randint(0, 20, (2, 10))
    full, _ = model(x)
    first, state = model(x[:, :6])
    second, _ = model(x[:, 6:], model.detach_state(state))
    torch.testing.assert_close(torch.cat([first, second], dim=1), full)


def test_detach_state_cuts_the_graph() -> None:
    model = create_model("lstm_lm", vocab_size=10, embed_dim=4, hidden_size=4, num_layers=1)
    _, (h, c) = model(torch.randint(0, 10, (1, 3)))
    dh, dc = detach_state((h, c))
    assert h.requires_grad and not dh.requires_grad and not dc.requires_grad
    torch.testing.assert_close(dh, h.detach())
    assert detach_state(None) is None


def test_lm_keys_follow_layout_and_weight_tying() -> None:
    model = create_model("lstm_lm", vocab_size=11, embed_dim=8, hidden_size=8, num_layers=2)
    assert list(model.state_dict()) == [
        "embedding.weight",
        *(
            f"rnn.{p}_l{i}"
            for i in (0, 1)
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ),
        "head.weight",
        "head.bias",
    ]
    tied = create_model("lstm_lm", vocab_size=11, embed_dim=8, hidden_size=8, tie_weights=True)
    assert tied.head.weight is tied.embedding.weight
    untied_count = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in tied.parameters()) == untied_count - 11 * 8
    with pytest.raises(ValueError, match="embed_dim == hidden_size"):
        RecurrentLM(embed_dim=8, hidden_size=16, tie_weights=True)


def test_generate_is_reproducible_and_greedy_follows_argmax() -> None:
    torch.manual_seed(0)
    model = create_model("gru_lm", vocab_size=15, embed_dim=6, hidden_size=10, dropout=0.3)
    prompt = torch.tensor([3, 4, 5])
    a = model.generate(prompt, 8, generator=torch.Generator().manual_seed(1), top_k=5)
    b = model.generate(prompt, 8, generator=torch.Generator().manual_seed(1), top_k=5)
    assert a.shape == (11,) and torch.equal(a, b) and torch.equal(a[:3], prompt)
    assert model.training  # generate restores the mode it found
    greedy = model.generate(prompt[None], 5, temperature=0)
    model.eval()
    with torch.no_grad():  # re-score the whole greedy text: each new token is the argmax
        logits, _ = model(greedy[:, :-1])
    torch.testing.assert_close(logits[0, 2:].argmax(-1), greedy[0, 3:])
