"""``nnatlas check`` entries for the recurrent half of the NumPy engine.

Each check runs, in float64 on a few tiny random inputs:

- a finite-difference gradient check (:func:`nnatlas.scratch.gradcheck.gradcheck`) of the input,
  every weight and, where the layer takes one, the initial state ``h0`` (and ``c0``);
- a parity comparison with the torch twin holding the same weights: the outputs, the final
  states and every gradient (input, initial state, weights) under random upstream gradients.

``LSTM-2layer``, ``GRU-2layer`` and ``RNN-2layer`` check whole models with
:func:`nnatlas.bridge.parity.check_parity`: the scratch :class:`CharLSTM` and :class:`CharRNN`
against the zoo's ``lstm_lm``, ``gru_lm`` and ``rnn_lm`` (outputs, loss, gradients, weights after
three Adam steps), plus a finite-difference check of every weight.

The layer checks compare by hand instead of through ``check_parity`` because they also need the
gradients w.r.t. the initial state ``hx``, an argument ``check_parity`` does not differentiate.
The ``lengths`` configurations give the rows their own lengths, against torch's
``pack_padded_sequence``.

The cases are declarative tables owned by the checks (``SEQUENCE_LAYERS`` x ``SEQUENCE_CONFIGS``,
``CELL_CASES``, ``LM_CASES``); the tests in ``tests/scratch`` parametrize over these same tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from nnatlas.bridge.checks import CheckResult, register_check
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import scratch_to_torch, to_numpy
from nnatlas.models import create_model
from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.gradcheck import gradcheck
from nnatlas.scratch.models.char_lstm import CharLSTM, CharRNN
from nnatlas.scratch.module import Parameter
from nnatlas.scratch.recurrent import GRU, LSTM, RNN
from nnatlas.scratch.rnn_cells import GRUCell, LSTMCell, RNNCell

GROUP = "recurrent"
T, N, D, H = 3, 2, 3, 2  # tiny: gradcheck costs two forwards per weight element

# kind -> (scratch class, torch class, options both take)
SEQUENCE_LAYERS: dict[str, tuple[type, Callable[..., torch.nn.Module], dict]] = {
    "RNN-tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "RNN-relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "LSTM": (LSTM, torch.nn.LSTM, {}),
    "GRU": (GRU, torch.nn.GRU, {}),
}
# name suffix -> configuration; every kind is checked in every configuration
SEQUENCE_CONFIGS: dict[str, dict[str, bool | int]] = {
    "": dict(num_layers=1, batch_first=False, bidirectional=False, with_state=False, bias=True),
    " 2 layers, initial state": dict(
        num_layers=2, batch_first=False, bidirectional=False, with_state=True, bias=True
    ),
    " 2 layers, batch_first, initial state": dict(
        num_layers=2, batch_first=True, bidirectional=False, with_state=True, bias=True
    ),
    " bidirectional, initial state": dict(
        num_layers=1, batch_first=False, bidirectional=True, with_state=True, bias=True
    ),
    " bidirectional, 2 layers, initial state": dict(
        num_layers=2, batch_first=False, bidirectional=True, with_state=True, bias=True
    ),
    " bidirectional, 2 layers, batch_first, initial state": dict(
        num_layers=2, batch_first=True, bidirectional=True, with_state=True, bias=True
    ),
    " bias=False, initial state": dict(
        num_layers=1, batch_first=False, bidirectional=False, with_state=True, bias=False
    ),
    # rows of their own lengths, as torch runs a PackedSequence (pack_padded_sequence)
    " lengths": dict(
        num_layers=1, batch_first=True, bidirectional=False, with_state=False, bias=True,
        lengths=True,
    ),
    " bidirectional, 2 layers, lengths, initial state": dict(
        num_layers=2, batch_first=False, bidirectional=True, with_state=True, bias=True,
        lengths=True,
    ),
}  # fmt: skip
LENGTHS = np.array([2, 3, 1])  # N = 3 rows, one full, one of a single step
# name -> (scratch cell, torch cell, options both take)
CELL_CASES: dict[str, tuple[type, Callable[..., torch.nn.Module], dict]] = {
    "RNNCell": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "RNNCell(nonlinearity='relu')": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "LSTMCell": (LSTMCell, torch.nn.LSTMCell, {}),
    "GRUCell": (GRUCell, torch.nn.GRUCell, {}),
}


def _max_abs(pairs: list[tuple[np.ndarray, torch.Tensor]]) -> float:
    return max(float(np.max(np.abs(np.asarray(a) - to_numpy(b)))) for a, b in pairs)


def _check_sequence(
    kind: str,
    num_layers: int,
    batch_first: bool,
    bidirectional: bool,
    with_state: bool,
    bias: bool = True,
    lengths: bool = False,
):
    cls, torch_cls, options = SEQUENCE_LAYERS[kind]
    rng = np.random.default_rng(0)
    n = len(LENGTHS) if lengths else N
    lens = LENGTHS if lengths else None
    kw = dict(
        num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias
    )
    layer = cls(D, H, **kw, **options, dtype=np.float64, rng=rng)
    is_lstm = cls is LSTM
    states_shape = (num_layers * (2 if bidirectional else 1), n, H)
    x = rng.standard_normal((n, T, D) if batch_first else (T, n, D))
    h0 = Parameter(rng.standard_normal(states_shape))  # Parameters so gradcheck perturbs them
    c0 = Parameter(rng.standard_normal(states_shape))

    def hx():
        if not with_state:
            return None
        return (h0.data, c0.data) if is_lstm else h0.data

    # -- gradcheck: the layer as a function of x, its weights and (h0, c0) ----------------------
    def forward(inp: np.ndarray):
        return layer(inp, hx(), lengths=lens)

    def backward(grad):
        out_grad, final_grad = grad
        dx = (
            layer.backward(out_grad, *final_grad)
            if is_lstm
            else layer.backward(out_grad, final_grad)
        )
        if with_state:
            h0.grad, c0.grad = layer.grad_hx if is_lstm else (layer.grad_hx, None)
        return dx

    params = list(layer.named_parameters())
    if with_state:
        params += [("h0", h0), ("c0", c0)] if is_lstm else [("h0", h0)]
    report = gradcheck(forward, x, backward=backward, params=params, rng=rng)

    # -- parity with torch.nn.<kind>, float64, random upstream gradients -----------------------
    twin = scratch_to_torch(layer, torch_cls(D, H, **kw, **options, dtype=torch.float64))
    xt = torch.tensor(x, requires_grad=True)
    h0t, c0t = (torch.tensor(s.data, requires_grad=True) for s in (h0, c0))
    hxt = ((h0t, c0t) if is_lstm else h0t) if with_state else None
    layer.zero_grad()  # gradcheck left its gradients in place
    out, finals = layer(x, hx(), lengths=lens)
    if lengths:  # torch's way: pack the padded batch, unpack the output to its full length
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lens), batch_first=batch_first, enforce_sorted=False
        )
        out_t, finals_t = twin(packed, hxt)
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_t, batch_first=batch_first, total_length=T
        )
    else:
        out_t, finals_t = twin(xt, hxt)
    finals, finals_t = (finals, finals_t) if is_lstm else ((finals,), (finals_t,))
    g_out = rng.standard_normal(out.shape)
    g_finals = [rng.standard_normal(f.shape) for f in finals]
    loss_t = (out_t * torch.from_numpy(g_out)).sum()
    for f, g in zip(finals_t, g_finals, strict=True):
        loss_t = loss_t + (f * torch.from_numpy(g)).sum()
    loss_t.backward()
    dx = layer.backward(g_out, *g_finals)
    pairs = [(out, out_t), (dx, xt.grad), *zip(finals, finals_t, strict=True)]
    torch_params = dict(twin.named_parameters())
    pairs += [(p.grad, torch_params[name].grad) for name, p in layer.named_parameters()]
    if with_state:
        grads_hx = layer.grad_hx if is_lstm else (layer.grad_hx,)
        pairs += list(zip(grads_hx, (h0t.grad, c0t.grad), strict=False))
    return report.max_rel_error, _max_abs(pairs), str(report.worst)


def _register_sequence(kind: str, suffix: str, config: dict) -> None:
    name = f"{kind}{suffix}"

    @register_check(name, group=GROUP)
    def _check() -> CheckResult:
        rel, parity, worst = _check_sequence(kind, **config)
        return CheckResult(
            name, GROUP, gradcheck_rel_error=rel, parity_max_abs=parity, detail=worst
        )


for _kind in SEQUENCE_LAYERS:
    for _suffix, _config in SEQUENCE_CONFIGS.items():
        _register_sequence(_kind, _suffix, _config)


def _check_cell(
    name: str, cls: type, torch_cls: Callable[..., torch.nn.Module], options: dict
) -> CheckResult:
    rng = np.random.default_rng(1)
    cell = cls(D, H, **options, dtype=np.float64, rng=rng)
    is_lstm = cls is LSTMCell
    x, h, c = (
        rng.standard_normal((N, D)),
        Parameter(rng.standard_normal((N, H))),
        rng.standard_normal((N, H)),
    )

    def forward(inp: np.ndarray):
        out = cell(inp, (h.data, c) if is_lstm else h.data)
        return out if is_lstm else (out,)

    def backward(grad):
        dx = cell.backward(*grad)
        h.grad = cell.grad_hx[0] if is_lstm else cell.grad_hx
        return dx

    report = gradcheck(
        forward, x, backward=backward, params=[*cell.named_parameters(), ("h", h)], rng=rng
    )
    twin = scratch_to_torch(cell, torch_cls(D, H, **options, dtype=torch.float64))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h.data, c))
    cell.zero_grad()  # gradcheck left its gradients in place
    outs = forward(x)
    outs_t = twin(xt, (ht, ct)) if is_lstm else (twin(xt, ht),)
    grads = [rng.standard_normal(o.shape) for o in outs]
    sum((o * torch.from_numpy(g)).sum() for o, g in zip(outs_t, grads, strict=True)).backward()
    dx = cell.backward(*grads)
    dh = cell.grad_hx[0] if is_lstm else cell.grad_hx
    pairs = [*zip(outs, outs_t, strict=True), (dx, xt.grad), (dh, ht.grad)]
    torch_params = dict(twin.named_parameters())
    pairs += [(p.grad, torch_params[n].grad) for n, p in cell.named_parameters()]
    return CheckResult(
        name, GROUP, gradcheck_rel_error=report.max_rel_error, parity_max_abs=_max_abs(pairs),
        detail=str(report.worst),
    )  # fmt: skip


for _name, _case in CELL_CASES.items():
    register_check(_name, group=GROUP)(lambda n=_name, c=_case: _check_cell(n, *c))


@register_check("Embedding", group=GROUP)
def _check_embedding() -> CheckResult:
    rng = np.random.default_rng(2)
    ids = np.array([[0, 1, 2, 2], [6, 2, 1, 5]])  # repeated ids and the padding id
    # Finite differences would see the padding row (it is read in forward) where torch's
    # semantics give it no gradient, so the gradcheck runs without padding_idx and the parity
    # check, against torch's padding_idx, covers the padding row.
    report = gradcheck(Embedding(7, 3, dtype=np.float64, rng=rng), ids, rng=rng)  # weights only
    layer = Embedding(7, 3, padding_idx=1, dtype=np.float64, rng=rng)
    twin = scratch_to_torch(layer, torch.nn.Embedding(7, 3, padding_idx=1, dtype=torch.float64))
    g = rng.standard_normal((2, 4, 3))
    out = layer(ids)
    out_t = twin(torch.from_numpy(ids))
    (out_t * torch.from_numpy(g)).sum().backward()
    layer.backward(g)
    parity = _max_abs([(out, out_t), (layer.weight.grad, twin.weight.grad)])
    return CheckResult(
        "Embedding", GROUP, gradcheck_rel_error=report.max_rel_error, parity_max_abs=parity,
        detail=str(report.worst),
    )  # fmt: skip


# name -> (scratch model class, its options, zoo entry): 2-layer language models, both engines
LM_CASES: dict[str, tuple[type[CharRNN], dict, str]] = {
    "LSTM-2layer": (CharLSTM, {}, "lstm_lm"),
    "GRU-2layer": (CharRNN, {"cell": "gru"}, "gru_lm"),
    "RNN-2layer": (CharRNN, {"cell": "rnn"}, "rnn_lm"),
}


def _check_lm(name: str, cls: type[CharRNN], options: dict, zoo_name: str) -> CheckResult:
    """A 2-layer scratch LM vs the zoo entry: outputs, loss, gradients, 3 Adam steps."""
    V, E, HID = 11, 4, 3
    rng = np.random.default_rng(3)
    model = cls(V, E, HID, num_layers=2, **options, dtype=np.float64, rng=rng)
    x = rng.integers(0, V, (2, 4))
    report = gradcheck(
        lambda ids: model(ids)[0], x, backward=model.backward,
        params=list(model.named_parameters()), rng=rng,
    )  # fmt: skip
    N_, T_ = 3, 5
    x, y = rng.integers(0, V, (N_, T_)), rng.integers(0, V, (N_ * T_,))
    # Cross-entropy wants (M, V) logits: both engines flatten (N, T, V) the same way.
    parity = check_parity(
        model, create_model(zoo_name, vocab_size=V, embed_dim=E, hidden_size=HID, num_layers=2),
        x, target=y, loss="cross_entropy",
        optimizer=("adam", {"lr": 0.05}), steps=3, rng=rng,
        forward_scratch=lambda m, ids: m(ids)[0].reshape(-1, V),
        forward_torch=lambda m, ids: m(ids)[0].reshape(-1, V),
        backward_scratch=lambda m, g: m.backward(g.reshape(N_, T_, V)),
    )  # fmt: skip
    return CheckResult(
        name, "models", gradcheck_rel_error=report.max_rel_error,
        parity_max_abs=parity.max_abs, detail=f"{cls.__name__} vs zoo {zoo_name}, 3 Adam steps",
    )  # fmt: skip


for _name, _case in LM_CASES.items():
    register_check(_name, group="models")(lambda n=_name, c=_case: _check_lm(n, *c))
