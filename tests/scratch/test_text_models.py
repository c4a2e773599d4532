"""The NumPy twins of the zoo's text models (RNN / LSTM / GRU classifiers, the attentions,
seq2seq): the checks of their tables pass, padding changes nothing, the one-step API of the
sequence layers equals a whole-sequence pass, decoding takes what the tasks give it, and bad
options are refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge import checks_text
from nnatlas.bridge.checks import GRADCHECK_TOL, PARITY_TOL
from nnatlas.bridge.zoo import scratch_twin, torch_twin
from nnatlas.models import create_model
from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models import RecurrentClassifier, Seq2Seq
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.optim import Adam
from nnatlas.scratch.recurrent import GRU, LSTM

TEXT = sorted(
    name
    for name, check in check_registry._CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_text"
)


def test_one_check_per_entry_of_the_checks_own_tables() -> None:
    names = [*checks_text.CLASSIFIER_CASES, *checks_text.ATTENTION_CASES]
    names += [f"{n}{s}" for n in checks_text.SEQ2SEQ_CASES for s in ("", " decoding")]
    assert sorted(names) == TEXT


@pytest.mark.parametrize("name", TEXT)
def test_check_passes(name: str) -> None:
    result = check_registry._CHECKS[name].run()
    assert result.passed, result
    assert result.parity_max_abs <= PARITY_TOL
    if not name.endswith("decoding"):
        assert result.gradcheck_rel_error is not None
        assert result.gradcheck_rel_error <= GRADCHECK_TOL


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_classifier_padding_changes_nothing(pooling: str) -> None:
    rng = np.random.default_rng(0)
    model = RecurrentClassifier(
        20, 3, 6, 5, cell="gru", bidirectional=True, pooling=pooling, dtype=np.float64, rng=rng
    )
    x = rng.integers(1, 20, (3, 6))
    lengths = np.array([6, 4, 2])
    x[1, 4:], x[2, 2:] = 0, 0
    longer = np.concatenate([x, np.zeros((3, 3), dtype=x.dtype)], axis=1)  # 3 more pad steps
    out = model(x, lengths)
    np.testing.assert_allclose(model(longer, lengths), out, rtol=0, atol=1e-12)
    for i, n in enumerate(lengths):  # and each row alone, unpadded
        np.testing.assert_allclose(model(x[i : i + 1, :n])[0], out[i], rtol=0, atol=1e-12)


def test_seq2seq_source_padding_changes_nothing_and_gets_no_attention() -> None:
    rng = np.random.default_rng(0)
    model = Seq2Seq(12, 9, 4, 5, cell="lstm", attention="general", dtype=np.float64, rng=rng)
    src = np.array([[5, 6, 7, 0, 0], [4, 5, 6, 7, 8]])
    tgt = np.array([[2, 4, 5], [2, 6, 7]])
    logits = model(src, tgt)
    alone = model(src[:1, :3], tgt[:1])
    np.testing.assert_allclose(alone[0], logits[0], rtol=0, atol=1e-12)
    enc, state, mask = model.encode(src)
    _, _, weights = model.decoder.step(tgt[:, 0], state, enc, model.decoder.prepare(enc), mask)
    assert np.all(weights[0, 3:] == 0) and np.allclose(weights.sum(axis=1), 1)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_one_step_at_a_time_equals_the_whole_sequence(cls) -> None:
    rng = np.random.default_rng(0)
    layer = cls(3, 4, num_layers=2, batch_first=True, dtype=np.float64, rng=rng)
    x, g = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    out, _ = layer(x)
    dx = layer.backward(g)
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    state, outs, caches = None, [], []
    for t in range(5):
        out_t, state, cache = layer.step(x[:, t : t + 1], state)
        outs.append(out_t)
        caches.append(cache)
    np.testing.assert_allclose(np.concatenate(outs, axis=1), out, rtol=0, atol=1e-12)
    grad_state, dxs = None, []
    for t in reversed(range(5)):
        dx_t, grad_state = layer.step_backward(caches[t], g[:, t : t + 1], grad_state)
        dxs.insert(0, dx_t)
    np.testing.assert_allclose(np.concatenate(dxs, axis=1), dx, rtol=0, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], rtol=0, atol=1e-12, err_msg=name)


def test_decoding_takes_torch_tensors_as_the_tasks_give_them() -> None:
    torch.manual_seed(0)
    zoo = create_model("seq2seq", src_vocab_size=10, tgt_vocab_size=8, hidden_size=8).eval()
    model = scratch_twin(zoo)
    src = torch.tensor([[4, 5, 6, 3]])  # what nnatlas.tasks.seq2seq passes to predict
    greedy = model.greedy_decode(src, max_len=5)
    assert isinstance(greedy, np.ndarray) and greedy.dtype == np.int64
    np.testing.assert_array_equal(greedy, zoo.greedy_decode(src, max_len=5).numpy())
    np.testing.assert_array_equal(model.beam_search(src, beam_size=1, max_len=5), greedy)


def test_seq2seq_twin_learns_to_copy() -> None:
    rng = np.random.default_rng(0)
    model = scratch_twin(
        create_model("seq2seq", src_vocab_size=8, tgt_vocab_size=8, embed_dim=8, hidden_size=16)
    )
    src = rng.integers(4, 8, (16, 4))
    tgt_in = np.concatenate([np.full((16, 1), 2), src], axis=1)  # bos + the source
    tgt_out = np.concatenate([src, np.full((16, 1), 3)], axis=1)  # the source + eos
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        model.zero_grad()
        criterion(model(src, tgt_in).reshape(-1, 8), tgt_out.reshape(-1))
        model.backward(criterion.backward().reshape(16, 5, 8))
        optimizer.step()
    np.testing.assert_array_equal(model.greedy_decode(src, max_len=6), tgt_out)


def test_options_the_twins_do_not_have_are_refused() -> None:
    with pytest.raises(TypeError, match="no dropout between stacked layers"):
        scratch_twin(create_model("lstm_classifier", num_layers=2, dropout=0.2))
    with pytest.raises(TypeError, match="no dropout"):
        scratch_twin(create_model("seq2seq", dropout=0.2))
    model = Seq2Seq(5, 5, 3, 3)
    with pytest.raises(ValueError, match="teacher_forcing_ratio=1.0"):
        model(np.array([[4, 3]]), np.array([[2, 4]]), teacher_forcing_ratio=0.5)
    with pytest.raises(ShapeError, match="at least one non-pad token"):
        model.greedy_decode(np.array([[0, 0]]))
    with pytest.raises(ShapeError, match=r"lengths must be \(N,\) = \(2,\)"):
        RecurrentClassifier(5, 2, 3, 3)(np.ones((2, 4), dtype=np.int64), np.array([1, 5]))


def test_frozen_embeddings_stay_frozen_and_round_trip() -> None:
    zoo = create_model("gru_classifier", vocab_size=9, embed_dim=4, hidden_size=3)
    zoo.embedding.weight.requires_grad_(False)
    model = scratch_twin(zoo)
    assert model.freeze_embeddings
    model(np.array([[1, 2, 3]]))
    model.backward(np.ones((1, 2), dtype=np.float32))
    assert model.embedding.weight.grad is None and model.head.weight.grad is not None
    assert not torch_twin(model).embedding.weight.requires_grad
