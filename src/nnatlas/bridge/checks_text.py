"""``nnatlas check`` entries for the NumPy twins of the zoo's text models: the RNN / LSTM / GRU
classifiers, the two attentions and the seq2seq encoder-decoder.

Each model check builds the zoo model from its registry entry at tiny sizes, gives the scratch
twin its weights (:func:`nnatlas.bridge.zoo.scratch_twin`) and runs
:func:`nnatlas.bridge.parity.check_parity` in float64 (outputs, loss, parameter gradients and the
weights after three Adam steps; token ids have no gradient), plus an element-wise
finite-difference check of every parameter (seq2seq: of the decoder's, and along random
directions over all of them). Padding is real in the inputs: rows have their own
lengths, which the zoo packs (``pack_padded_sequence``) and the twin masks. The decoding checks
run greedy decoding and beam search in both engines and compare the token ids.

The cases are declarative tables (``CLASSIFIER_CASES``, ``ATTENTION_CASES``, ``SEQ2SEQ_CASES``),
one check per entry (two per seq2seq entry: training and decoding); tests/scratch/
test_text_models.py parametrizes over the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nnatlas.bridge.checks import CheckResult, register_check
from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import to_numpy, torch_to_scratch
from nnatlas.bridge.zoo import scratch_twin
from nnatlas.models import attention as zoo_attention
from nnatlas.models import create_model
from nnatlas.scratch.gradcheck import gradcheck, gradcheck_directions
from nnatlas.scratch.models import attention
from nnatlas.scratch.module import Module, Parameter

LAYER_GROUP, MODEL_GROUP = "layers", "models"
ADAM = ("adam", {"lr": 0.05})
V, E, H, C = 11, 4, 3, 3  # vocabulary, embedding, hidden, classes: tiny, for finite differences
LENGTHS = np.array([5, 3, 1, 4])  # N = 4 rows of T = 5 steps: full, padded, a single token

# name -> (registry name, model options, lengths given, train mode)
CLASSIFIER_CASES: dict[str, tuple[str, dict[str, Any], bool, bool]] = {
    "LSTM classifier (last, lengths)": ("lstm_classifier", {}, True, True),
    "LSTM classifier (bidirectional, 2 layers, max, lengths)": (
        "lstm_classifier", {"bidirectional": True, "num_layers": 2, "pooling": "max"}, True, True
    ),
    "LSTM classifier (eval, dropout 0.5, mean, lengths)": (
        "lstm_classifier", {"dropout": 0.5, "pooling": "mean"}, True, False
    ),
    "GRU classifier (bidirectional, mean, lengths)": (
        "gru_classifier", {"bidirectional": True, "pooling": "mean"}, True, True
    ),
    "GRU classifier (bidirectional, last, no lengths)": (
        "gru_classifier", {"bidirectional": True}, False, True
    ),
    "RNN classifier (max, no lengths)": ("rnn_classifier", {"pooling": "max"}, False, True),
    "RNN classifier (2 layers, last, lengths, frozen embeddings)": (
        "rnn_classifier", {"num_layers": 2, "freeze_embeddings": True}, True, True
    ),
}  # fmt: skip
# name -> (scratch factory, zoo factory), query and key widths 4
ATTENTION_CASES: dict[str, tuple[Callable[[], Module], Callable[[], torch.nn.Module]]] = {
    "AdditiveAttention": (
        lambda: attention.AdditiveAttention(4, 4, 5),
        lambda: zoo_attention.AdditiveAttention(4, 4, 5),
    ),
    "LuongAttention(general)": (
        lambda: attention.LuongAttention(4, 4, "general"),
        lambda: zoo_attention.LuongAttention(4, 4, "general"),
    ),
    "LuongAttention(dot)": (
        lambda: attention.LuongAttention(4, 4, "dot"),
        lambda: zoo_attention.LuongAttention(4, 4, "dot"),
    ),
}
# name -> zoo seq2seq options; every case also gets a "... decoding" check
SEQ2SEQ_CASES: dict[str, dict[str, Any]] = {
    "Seq2Seq(GRU, Bahdanau)": {"cell": "gru", "attention": "bahdanau"},
    "Seq2Seq(LSTM, Bahdanau, 2 layers)": {"cell": "lstm", "attention": "bahdanau", "num_layers": 2},
    "Seq2Seq(LSTM, Luong general)": {"cell": "lstm", "attention": "general"},
    "Seq2Seq(GRU, Luong dot, 2 layers)": {"cell": "gru", "attention": "dot", "num_layers": 2},
    "Seq2Seq(RNN, no attention)": {"cell": "rnn", "attention": None},
}


def _padded_ids(rng: np.random.Generator, lengths: np.ndarray, T: int, vocab: int) -> np.ndarray:
    """Token ids 1 .. vocab - 1, the pad id 0 after each row's length. Shape: (N, T)."""
    ids = rng.integers(1, vocab, (len(lengths), T))
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids


def _gradcheck_params(
    forward, backward, model: Module, x: np.ndarray, seed: int, prefix: str = ""
) -> float:
    """Element-wise finite differences of every trainable parameter whose name starts with
    ``prefix`` (float64; ids are fixed). A frozen embedding has, by design, no gradient."""
    frozen = {"embedding.weight"} if getattr(model, "freeze_embeddings", False) else set()
    params = [
        (n, p) for n, p in model.named_parameters() if n not in frozen and n.startswith(prefix)
    ]
    report = gradcheck(
        forward, x, backward=backward, params=params, rng=np.random.default_rng(seed)
    )
    return report.max_rel_error


# -- classifiers ------------------------------------------------------------------------------
def _classifier_check(name: str, zoo_name: str, options: dict, with_lengths: bool, train: bool):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    twin = create_model(
        zoo_name, vocab_size=V, num_classes=C, embed_dim=E, hidden_size=H, **options
    ).double().train(train)  # fmt: skip
    lengths = LENGTHS if with_lengths else None
    x = _padded_ids(rng, LENGTHS if with_lengths else np.full(4, 5), 5, V)
    y = rng.integers(0, C, len(x))
    lengths_t = None if lengths is None else torch.from_numpy(lengths)
    report = check_parity(
        scratch_twin(twin), twin, x, target=y, loss="cross_entropy", optimizer=ADAM, steps=3,
        forward_scratch=lambda m, ids: m(ids, lengths),
        forward_torch=lambda m, ids: m(ids, lengths_t),
    )  # fmt: skip
    model = scratch_twin(twin)
    grad = _gradcheck_params(lambda ids: model(ids, lengths), model.backward, model, x, seed=1)
    return CheckResult(
        name, MODEL_GROUP, gradcheck_rel_error=grad, parity_max_abs=report.max_abs,
        detail=f"{zoo_name} {options}, lengths {lengths}, 3 Adam steps",
    )  # fmt: skip


# -- attention --------------------------------------------------------------------------------
def _attention_check(name: str, make_scratch, make_torch) -> CheckResult:
    """Context and weights, d query, d keys and the weights' gradients, with padded keys."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    twin = make_torch().double()
    layer = torch_to_scratch(twin, make_scratch().to(np.float64))
    query, keys = rng.standard_normal((4, 4)), rng.standard_normal((4, 5, 4))
    mask = np.arange(5)[None, :] < LENGTHS[:, None]  # (N, S): padding gets no weight
    keys_p = Parameter(keys.copy())  # a Parameter, so the gradcheck perturbs the keys too

    def forward(q: np.ndarray) -> np.ndarray:
        return layer(q, keys_p.data, mask)[0]  # the context

    def backward(grad: np.ndarray) -> np.ndarray:
        grad_query, grad_keys = layer.backward(grad)
        keys_p.accumulate(grad_keys)
        return grad_query

    params = [*layer.named_parameters(), ("keys", keys_p)]
    report = gradcheck(forward, query, backward=backward, params=params, rng=rng)
    layer.zero_grad()
    keys_p.grad = None
    qt, kt = (torch.tensor(a, requires_grad=True) for a in (query, keys))
    context_t, weights_t = twin(qt, kt, torch.from_numpy(mask))
    context, weights = layer(query, keys, mask)
    g = rng.standard_normal(context.shape)
    (context_t * torch.from_numpy(g)).sum().backward()
    grad_query, grad_keys = layer.backward(g)
    pairs = [
        (context, context_t),
        (weights, weights_t),
        (grad_query, qt.grad),
        (grad_keys, kt.grad),
    ]
    theirs = dict(twin.named_parameters())
    pairs += [(p.grad, theirs[n].grad) for n, p in layer.named_parameters()]
    parity = max(float(np.max(np.abs(a - to_numpy(b)))) for a, b in pairs)
    return CheckResult(
        name, LAYER_GROUP, gradcheck_rel_error=report.max_rel_error, parity_max_abs=parity,
        detail="query (4, 4), keys (4, 5, 4), lengths [5, 3, 1, 4]",
    )  # fmt: skip


# -- seq2seq ----------------------------------------------------------------------------------
def _seq2seq_pair(options: dict) -> tuple[torch.nn.Module, Module]:
    torch.manual_seed(0)
    twin = create_model(
        "seq2seq", src_vocab_size=V, tgt_vocab_size=V - 2, embed_dim=E, hidden_size=4, **options
    ).double()  # fmt: skip
    return twin, scratch_twin(twin)


def _seq2seq_check(name: str, options: dict) -> CheckResult:
    rng = np.random.default_rng(0)
    twin, model = _seq2seq_pair(options)
    src = _padded_ids(rng, LENGTHS, 5, V)  # (4, 5), right-padded as the tasks pad
    T, Vt = 4, V - 2
    tgt_in = np.concatenate([np.full((4, 1), 2), rng.integers(4, Vt, (4, T - 1))], axis=1)
    y = rng.integers(0, Vt, 4 * T)
    lengths_t = torch.from_numpy(LENGTHS)
    report = check_parity(
        model, twin, src, target=y, loss="cross_entropy", optimizer=ADAM, steps=3,
        forward_scratch=lambda m, s: m(s, tgt_in, src_lengths=LENGTHS).reshape(-1, Vt),
        forward_torch=lambda m, s: m(s, torch.from_numpy(tgt_in), src_lengths=lengths_t)
        .reshape(-1, Vt),
        backward_scratch=lambda m, g: m.backward(g.reshape(4, T, Vt)),
    )  # fmt: skip
    # Element by element for the decoder (where attention and BPTT meet), along random
    # directions for everything (the encoder is sequence layers checked on their own).
    forward = lambda s: model(s, tgt_in, src_lengths=LENGTHS)  # noqa: E731
    grad = _gradcheck_params(forward, model.backward, model, src, seed=1, prefix="decoder.")
    along = gradcheck_directions(
        forward, src, backward=model.backward, params=list(model.named_parameters()),
        rng=np.random.default_rng(2), directions=4,
    )  # fmt: skip
    grad = max(grad, along.max_rel_error)
    return CheckResult(
        name, MODEL_GROUP, gradcheck_rel_error=grad, parity_max_abs=report.max_abs,
        detail=f"seq2seq {options}: teacher forcing, lengths {LENGTHS.tolist()}, 3 Adam steps",
    )  # fmt: skip


def _decoding_check(name: str, options: dict) -> CheckResult:
    """Greedy decoding and beam search (beam 3) give the same ids in both engines."""
    twin, _ = _seq2seq_pair(options)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # N(0, 1) weights: varied tokens, some <eos>, beams unlike greedy
        for p in twin.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    model = scratch_twin(twin.eval())
    src = _padded_ids(np.random.default_rng(5), LENGTHS, 5, V)
    worst = 0.0
    for decode, kwargs in (("greedy_decode", {}), ("beam_search", {"beam_size": 3})):
        ours = getattr(model, decode)(src, max_len=6, src_lengths=LENGTHS, **kwargs)
        theirs = to_numpy(
            getattr(twin, decode)(
                torch.from_numpy(src), max_len=6, src_lengths=torch.from_numpy(LENGTHS), **kwargs
            )
        )
        same = ours.shape == theirs.shape and np.array_equal(ours, theirs)
        worst = max(worst, 0.0 if same else float("inf"))
    return CheckResult(
        name, MODEL_GROUP, parity_max_abs=worst,
        detail="greedy and beam-3 token ids equal (inf: they differ)",
    )  # fmt: skip


for _name, _case in CLASSIFIER_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, c=_case: _classifier_check(n, *c))
for _name, _case in ATTENTION_CASES.items():
    register_check(_name, group=LAYER_GROUP)(lambda n=_name, c=_case: _attention_check(n, *c))
for _name, _options in SEQ2SEQ_CASES.items():
    register_check(_name, group=MODEL_GROUP)(lambda n=_name, o=_options: _seq2seq_check(n, o))
    register_check(f"{_name} decoding", group=MODEL_GROUP)(
        lambda n=f"{_name} decoding", o=_options: _decoding_check(n, o)
    )
