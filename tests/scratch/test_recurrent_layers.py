"""Scratch Embedding, RNN/LSTM/GRU cells and sequence layers against torch (float64) and finite
differences; bad inputs; gate recording."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.bridge.checks_recurrent import CELL_CASES, SEQUENCE_CONFIGS, SEQUENCE_LAYERS
from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.module import ShapeError
from nnatlas.scratch.recurrent import GRU, LSTM, RNN
from nnatlas.scratch.rnn_cells import LSTMCell

D, H, T, N = 5, 4, 6, 3
# The cases are the recurrent checks' own tables (nnatlas.bridge.checks_recurrent: SEQUENCE_LAYERS,
# SEQUENCE_CONFIGS, CELL_CASES), run here at other sizes.


def _twin(scratch: object, torch_module: torch.nn.Module) -> torch.nn.Module:
    """Load the scratch weights into the torch module by name (they must have the same names)."""
    state = scratch.state_dict()
    assert list(state) == [name for name, _ in torch_module.named_parameters()]
    torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return torch_module


def _max_diff(a: np.ndarray, b: torch.Tensor) -> float:
    return float(np.max(np.abs(a - b.detach().numpy())))


@pytest.mark.parametrize("kind", list(SEQUENCE_LAYERS))
@pytest.mark.parametrize("config", list(SEQUENCE_CONFIGS), ids=lambda s: s.strip() or "default")
def test_sequence_layer_matches_torch(kind, config):
    num_layers, batch_first, bidirectional, with_state, bias = (
        SEQUENCE_CONFIGS[config][k]
        for k in ("num_layers", "batch_first", "bidirectional", "with_state", "bias")
    )
    # Rows of their own lengths, against torch's packed sequences.
    lengths = np.array([T, 3, 1]) if SEQUENCE_CONFIGS[config].get("lengths") else None
    cls, torch_cls, options = SEQUENCE_LAYERS[kind]
    rng = np.random.default_rng(7)
    kw = dict(
        num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional
    )
    layer = cls(D, H, **kw, **options, dtype=np.float64, rng=rng)
    twin = _twin(layer, torch_cls(D, H, **kw, **options, dtype=torch.float64))
    is_lstm = cls is LSTM
    dirs = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    h0, c0 = rng.standard_normal((2, num_layers * dirs, N, H))
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    if with_state:
        hx, hxt = ((h0, c0), (h0t, c0t)) if is_lstm else (h0, h0t)
    else:
        hx = hxt = None

    out, state = layer(x, hx, lengths=lengths)
    if lengths is None:
        out_t, state_t = twin(xt, hxt)
    else:
        pack = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=batch_first, enforce_sorted=False
        )
        out_t, state_t = twin(pack, hxt)
        out_t = torch.nn.utils.rnn.pad_packed_sequence(
            out_t, batch_first=batch_first, total_length=T
        )[0]
    finals = state if is_lstm else (state,)
    finals_t = state_t if is_lstm else (state_t,)
    assert out.shape == tuple(out_t.shape)
    assert _max_diff(out, out_t) < 1e-12
    assert all(_max_diff(a, b) < 1e-12 for a, b in zip(finals, finals_t, strict=True))

    # random upstream gradients on the output and on every final state
    g_out = rng.standard_normal(out.shape)
    g_finals = [rng.standard_normal(f.shape) for f in finals]
    loss = (out_t * torch.from_numpy(g_out)).sum()
    loss = loss + sum(
        (f * torch.from_numpy(g)).sum() for f, g in zip(finals_t, g_finals, strict=True)
    )
    loss.backward()
    dx = layer.backward(g_out, *g_finals)
    assert _max_diff(dx, xt.grad) < 1e-12
    for name, p in twin.named_parameters():
        assert _max_diff(dict(layer.named_parameters())[name].grad, p.grad) < 1e-12, name
    if with_state:
        grads_hx = layer.grad_hx if is_lstm else (layer.grad_hx,)
        for mine, theirs in zip(grads_hx, (h0t, c0t), strict=False):
            assert _max_diff(mine, theirs.grad) < 1e-12


@pytest.mark.parametrize("kind", ["RNN-tanh", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    cls, torch_cls, options = SEQUENCE_LAYERS[kind]
    rng = np.random.default_rng(3)
    layer = cls(D, H, num_layers=2, **options, dtype=np.float64, rng=rng)
    twin = _twin(layer, torch_cls(D, H, num_layers=2, **options, dtype=torch.float64))
    x = rng.standard_normal((T, D))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = layer(x)
    out_t, _ = twin(xt)
    g = rng.standard_normal(out.shape)
    (out_t * torch.from_numpy(g)).sum().backward()
    assert out.shape == (T, H)
    assert _max_diff(out, out_t) < 1e-12
    assert _max_diff(layer.backward(g), xt.grad) < 1e-12


@pytest.mark.parametrize("cls, torch_cls, options", CELL_CASES.values(), ids=CELL_CASES)
def test_cells_match_torch(cls, torch_cls, options):
    rng = np.random.default_rng(5)
    cell = cls(D, H, **options, dtype=np.float64, rng=rng)
    twin = _twin(cell, torch_cls(D, H, **options, dtype=torch.float64))
    x, h, c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    is_lstm = cls is LSTMCell
    out = cell(x, (h, c) if is_lstm else h)
    out_t = twin(xt, (ht, ct) if is_lstm else ht)
    outs, outs_t = (out, out_t) if is_lstm else ((out,), (out_t,))
    grads = [rng.standard_normal((N, H)) for _ in outs]
    sum((o * torch.from_numpy(g)).sum() for o, g in zip(outs_t, grads, strict=True)).backward()
    dx = cell.backward(*grads)
    assert all(_max_diff(a, b) < 1e-12 for a, b in zip(outs, outs_t, strict=True))
    assert _max_diff(dx, xt.grad) < 1e-12
    assert _max_diff(cell.grad_hx[0] if is_lstm else cell.grad_hx, ht.grad) < 1e-12
    for name, p in twin.named_parameters():
        assert _max_diff(dict(cell.named_parameters())[name].grad, p.grad) < 1e-12, name


def _numeric_grad(f, array: np.ndarray, index: tuple, eps: float = 1e-6) -> float:
    old = array[index]
    array[index] = old + eps
    plus = f()
    array[index] = old - eps
    minus = f()
    array[index] = old
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("kind", list(SEQUENCE_LAYERS))
def test_sequence_layer_passes_finite_differences(kind):
    """Central differences on the input, h0 and a few entries of every weight (2 layers, bidir)."""
    cls, _, options = SEQUENCE_LAYERS[kind]
    rng = np.random.default_rng(11)
    layer = cls(3, 3, num_layers=2, bidirectional=True, **options, dtype=np.float64, rng=rng)
    is_lstm = cls is LSTM
    x = rng.standard_normal((4, 2, 3))
    h0 = rng.standard_normal((4, 2, 3))
    c0 = rng.standard_normal((4, 2, 3))
    g_out = rng.standard_normal((4, 2, 6))

    def loss() -> float:
        out, _ = layer(x, (h0, c0) if is_lstm else h0)
        return float((out * g_out).sum())

    loss()
    dx = layer.backward(g_out)
    dh0 = layer.grad_hx[0] if is_lstm else layer.grad_hx
    checks = [(x, dx), (h0, dh0)] + [(p.data, p.grad) for p in layer.parameters()]
    if is_lstm:
        checks.append((c0, layer.grad_hx[1]))
    for array, analytic in checks:
        for flat in rng.choice(array.size, size=min(4, array.size), replace=False):
            index = np.unravel_index(flat, array.shape)
            numeric = _numeric_grad(loss, array, index)
            rel = abs(numeric - analytic[index]) / max(1e-8, abs(numeric) + abs(analytic[index]))
            assert rel < 1e-6, (index, numeric, analytic[index])


def test_lstm_records_gates_states_and_gradient_norms():
    rng = np.random.default_rng(0)
    layer = LSTM(D, H, num_layers=2, bidirectional=True, batch_first=True, rng=rng, record=True)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    out, (h_n, c_n) = layer(x)
    assert set(layer.last_gates) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    for key, gates in layer.last_gates.items():
        assert set(gates) == {"i", "f", "g", "o"}
        assert all(g.shape == (T, N, H) for g in gates.values())
        assert np.all((gates["f"] > 0) & (gates["f"] < 1)) and np.all(np.abs(gates["g"]) < 1)
        assert layer.last_states[key]["h"].shape == (T, N, H)
    # recorded states are in time order: the forward direction ends at t = T-1, the reverse at 0
    np.testing.assert_allclose(layer.last_states["l1"]["h"][-1], h_n[2], rtol=1e-6)
    np.testing.assert_allclose(layer.last_states["l1_reverse"]["h"][0], h_n[3], rtol=1e-6)
    np.testing.assert_allclose(layer.last_states["l0"]["c"][-1], c_n[0], rtol=1e-6)
    np.testing.assert_allclose(
        layer.last_states["l1"]["h"].transpose(1, 0, 2), out[..., :H], rtol=1e-6
    )
    # gradient only from the last output step: dL/dh_t is largest at the end and decays backwards
    g = np.zeros_like(out)
    g[:, -1, :H] = 1.0
    layer.backward(g)
    norms = layer.last_grad_h_norms["l1"]
    assert norms.shape == (T,) and norms[-1] == pytest.approx(np.sqrt(N * H))
    assert norms[0] < norms[-1]


def test_gru_records_r_z_n():
    layer = GRU(D, H, rng=np.random.default_rng(0), record=True)
    layer(np.ones((T, N, D), np.float32))
    assert {k: v.shape for k, v in layer.last_gates["l0"].items()} == {k: (T, N, H) for k in "rzn"}


def test_record_is_off_by_default():
    layer = LSTM(D, H, rng=np.random.default_rng(0))
    layer(np.ones((T, N, D), np.float32))
    assert layer.last_gates == {}


def test_state_dict_keys_and_init_match_torch():
    layer = LSTM(16, 32, num_layers=2, bidirectional=True, rng=np.random.default_rng(0))
    twin = torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True)
    ours = {k: v.shape for k, v in layer.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    bound = 1 / np.sqrt(32)
    w = layer.weight_hh_l1_reverse.data
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound


def test_lstm_runs_in_float32_and_casts_input():
    layer = LSTM(D, H, rng=np.random.default_rng(0))
    out, (h, c) = layer(np.ones((T, N, D)))  # float64 input, float32 layer
    assert out.dtype == h.dtype == c.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_lstm_float32_agrees_with_torch_float32():
    """The fast path (float32, fused gates) stays within float32 round-off of torch."""
    rng = np.random.default_rng(4)
    layer = LSTM(16, 32, num_layers=2, rng=rng)
    twin = _twin(layer, torch.nn.LSTM(16, 32, num_layers=2))
    x = rng.standard_normal((20, 8, 16)).astype(np.float32)
    g = rng.standard_normal((20, 8, 32)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = layer(x)
    out_t, _ = twin(xt)
    (out_t * torch.from_numpy(g)).sum().backward()
    dx = layer.backward(g)
    assert _max_diff(out, out_t) < 1e-5 and _max_diff(dx, xt.grad) < 1e-5
    assert _max_diff(layer.weight_hh_l0.grad, twin.weight_hh_l0.grad) < 1e-3


def test_wrong_feature_size_names_layer_and_shapes():
    layer = LSTM(32, 8)
    layer._path = "rnn"
    with pytest.raises(ShapeError) as err:
        layer(np.zeros((5, 4, 16), np.float32))
    assert "LSTM (rnn): expected input (T, N, 32) with batch_first=False" in str(err.value)
    assert "(5, 4, 16)" in str(err.value)
    with pytest.raises(ShapeError, match=r"\(N, T, 32\) with batch_first=True"):
        LSTM(32, 8, batch_first=True)(np.zeros((4, 5, 16), np.float32))


def test_bad_inputs_raise_clear_errors():
    layer = GRU(D, H, num_layers=2)
    with pytest.raises(ShapeError, match=r"expected h0 of shape \(2, 3, 4\)"):
        layer(np.zeros((T, N, D), np.float32), np.zeros((1, N, H), np.float32))
    with pytest.raises(TypeError, match="Embedding first"):
        layer(np.zeros((T, N, D), np.int64))
    with pytest.raises(ShapeError, match="T = 0"):
        layer(np.zeros((0, N, D), np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        GRU(D, H).backward(np.zeros((T, N, H)))
    with pytest.raises(TypeError, match=r"tuple \(h0, c0\)"):
        LSTM(D, H)(np.zeros((T, N, D), np.float32), np.zeros((1, N, H), np.float32))
    lstm = LSTM(D, H)
    out, _ = lstm(np.zeros((T, N, D), np.float32))
    with pytest.raises(ShapeError, match="grad_output"):
        lstm.backward(np.zeros((T, N, H + 1)))
    with pytest.raises(ShapeError, match=r"grad_c_n must have shape \(1, 3, 4\)"):
        lstm.backward(np.zeros((T, N, H)), None, np.zeros((N, H)))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(D, H, nonlinearity="sigmoid")


def test_gradient_from_final_state_only():
    """A classifier reads only h_n: backward(None, grad_h_n) must still reach the input."""
    rng = np.random.default_rng(2)
    layer = GRU(D, H, dtype=np.float64, rng=rng)
    twin = _twin(layer, torch.nn.GRU(D, H, dtype=torch.float64))
    x = rng.standard_normal((T, N, D))
    xt = torch.tensor(x, requires_grad=True)
    _, h_n = layer(x)
    twin(xt)[1].sum().backward()
    assert _max_diff(layer.backward(None, np.ones_like(h_n)), xt.grad) < 1e-12


# -- Embedding ------------------------------------------------------------------------------------
def test_embedding_matches_torch_with_repeats_and_padding():
    rng = np.random.default_rng(0)
    layer = Embedding(10, 4, padding_idx=0, dtype=np.float64, rng=rng)
    assert np.all(layer.weight.data[0] == 0)
    twin = _twin(layer, torch.nn.Embedding(10, 4, padding_idx=0, dtype=torch.float64))
    ids = np.array([[1, 2, 2, 0], [9, 1, 0, 2]])  # repeats must add up; padding gets nothing
    g = rng.standard_normal((2, 4, 4))
    out = layer(ids)
    twin(torch.from_numpy(ids)).mul(torch.from_numpy(g)).sum().backward()
    assert layer.backward(g) is None
    assert _max_diff(out, twin(torch.from_numpy(ids))) == 0.0
    assert _max_diff(layer.weight.grad, twin.weight.grad) < 1e-12
    assert np.all(layer.weight.grad[0] == 0) and np.any(layer.weight.grad[2] != 0)


def test_embedding_init_is_standard_normal_and_negative_padding_counts_from_end():
    layer = Embedding(2000, 8, padding_idx=-1, rng=np.random.default_rng(0))
    assert layer.padding_idx == 1999 and np.all(layer.weight.data[1999] == 0)
    assert abs(layer.weight.data.std() - 1.0) < 0.02


def test_embedding_rejects_bad_ids():
    layer = Embedding(5, 3)
    layer._path = "embedding"
    with pytest.raises(IndexError, match=r"Embedding \(embedding\): token id 7 .* 0 \.\. 4"):
        layer(np.array([[1, 7]]))
    with pytest.raises(IndexError, match="token id -1"):
        layer(np.array([-1]))
    with pytest.raises(TypeError, match="integer token ids"):
        layer(np.array([1.0]))
