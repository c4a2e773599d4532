"""Gradient flow, measured: both engines agree, the PyTorch probe equals plain autograd and a
closed form, the model is left untouched, and the recurrence's scale decides vanishing vs
exploding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnatlas.bridge import scratch_twin
from nnatlas.inspect import measure_gradients
from nnatlas.inspect.experiments.long_memory import RegressionStep, adding_model
from nnatlas.models import create_model
from nnatlas.tasks.seq2seq import Seq2SeqStep
from nnatlas.train.metrics import IGNORE_INDEX
from nnatlas.train.steps import Step, StepOutput


class WithLengths(Step):
    """A classifier batch (ids, lengths, labels): the padded rows stop at their own length."""

    def loss(self, model, batch, losses, training):  # type: ignore[no-untyped-def]
        x, lengths, y = batch
        logits = model(x, lengths)
        return StepOutput(losses.cross_entropy(logits, y), logits, y)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def _case(name: str) -> tuple[torch.nn.Module, tuple, Step]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    if name == "mlp":
        model = create_model("mlp", num_classes=3, in_features=6, hidden_sizes=[8, 8])
        return model, (torch.randn(5, 6, generator=gen), torch.tensor([0, 1, 2, 1, 0])), None
    if name == "lenet5":
        model = create_model("lenet5", num_classes=4, in_chans=1)
        return model, (torch.randn(3, 1, 28, 28, generator=gen), torch.tensor([0, 1, 3])), None
    if name == "plain20":
        model = create_model("plain20", num_classes=4)
        return model, (torch.randn(4, 3, 8, 8, generator=gen), torch.tensor([0, 1, 3, 2])), None
    if name.endswith("_classifier"):
        model = create_model(
            name,
            vocab_size=20,
            num_classes=3,
            embed_dim=5,
            hidden_size=6,
            num_layers=2,
            bidirectional=True,
        )
        x = torch.randint(1, 20, (4, 9), generator=gen)
        batch = (x, torch.tensor([9, 5, 2, 7]), torch.tensor([0, 2, 1, 1]))
        return model, batch, WithLengths()
    if name.endswith("_lm"):
        model = create_model(name, vocab_size=11, embed_dim=5, hidden_size=7, num_layers=2)
        x = torch.randint(0, 11, (3, 12), generator=gen)
        return model, (x, torch.randint(0, 11, (3, 12), generator=gen)), None
    assert name == "seq2seq"
    model = create_model("seq2seq", src_vocab_size=12, tgt_vocab_size=9, embed_dim=4, hidden_size=5)
    src = torch.randint(4, 12, (3, 6), generator=gen)
    src[1, 4:] = 0
    tgt_in = torch.randint(4, 9, (3, 5), generator=gen)
    tgt_in[:, 0] = 2
    tgt_out = torch.randint(4, 9, (3, 5), generator=gen)
    tgt_out[2, 3:] = IGNORE_INDEX
    return model, (src, torch.tensor([6, 4, 6]), tgt_in, tgt_out), Seq2SeqStep()


CASES = [
    "mlp",
    "lenet5",
    "plain20",
    "lstm_classifier",
    "gru_classifier",
    "rnn_classifier",
    "lstm_lm",
    "gru_lm",
    "rnn_lm",
    "seq2seq",
]


@pytest.mark.parametrize("name", CASES)
def test_both_engines_measure_the_same_gradients_on_the_same_weights(name: str) -> None:
    model, batch, step = _case(name)
    model = model.double()
    twin = scratch_twin(model)
    torch_side = measure_gradients(model, batch, step)
    numpy_side = measure_gradients(twin, batch, step)
    assert _rel(torch_side.loss, numpy_side.loss) < 1e-6  # the torch loss is taken in float32
    norms_t, norms_s = torch_side.grad_norms(), numpy_side.grad_norms()
    assert set(norms_t) == set(norms_s)
    worst = max(_rel(norms_t[k], norms_s[k]) for k in norms_t)
    assert worst < 1e-5, worst
    assert all(norms_t[k] > 0 for k in norms_t if "embedding" not in k and "decoder" not in k)
    assert [r.layer for r in torch_side.recurrent] == [r.layer for r in numpy_side.recurrent]
    assert torch_side.skipped == numpy_side.skipped
    for a, b in zip(torch_side.recurrent, numpy_side.recurrent, strict=True):
        assert a.grad_norms.shape == b.grad_norms.shape
        np.testing.assert_allclose(a.grad_norms, b.grad_norms, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(a.states["h"], b.states["h"], atol=1e-12)
    if name.endswith(("_classifier", "_lm")):
        assert len(torch_side.recurrent) == (4 if name.endswith("classifier") else 2)
    if name == "seq2seq":  # the Bahdanau decoder steps once a token: no per-step record
        assert [r.layer for r in torch_side.recurrent] == ["encoder.rnn.l0"]
        assert torch_side.skipped == [("decoder.rnn", 5)]


def test_the_unrolled_recurrence_gives_the_fused_kernels_gradients_and_dl_dh_T() -> None:
    torch.manual_seed(0)
    model = create_model(
        "lstm_classifier", vocab_size=30, num_classes=2, embed_dim=8, hidden_size=12
    )
    x, y = torch.randint(1, 30, (6, 15)), torch.tensor([0, 1, 1, 0, 1, 0])
    record = measure_gradients(model, (x, y))
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()  # nn.LSTM's own kernel
    for name, p in model.named_parameters():
        np.testing.assert_allclose(record.grads[name], p.grad.numpy(), rtol=1e-4, atol=1e-7)
    # "last" pooling reads h_T only, so dL/dh_T is the gradient of the head's input.
    features = model.forward_features(x).detach().requires_grad_(True)
    F.cross_entropy(model.forward_head(features), y).backward()
    (lstm,) = record.recurrent
    assert lstm.grad_norms[-1] == pytest.approx(float(features.grad.norm()), rel=1e-5)
    assert lstm.grad_norms.shape == (15,)


def test_measuring_leaves_the_model_as_it_was() -> None:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=3)
    model.eval()
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    record = measure_gradients(model, (x, y))  # train mode: BatchNorm updates its statistics
    assert record.loss > 0
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(rng, torch.get_rng_state())
    twin = scratch_twin(create_model("resnet20", num_classes=3))
    state = {k: v.copy() for k, v in twin.state_dict().items()}
    measure_gradients(twin, (x, y))
    assert all(np.array_equal(state[k], v) for k, v in twin.state_dict().items())
    assert all(p.grad is None for p in twin.parameters())


def test_the_recurrent_matrix_decides_between_vanishing_and_exploding() -> None:
    from nnatlas.data import adding_problem
    from nnatlas.inspect.experiments.long_memory import QUICK

    batch = adding_problem(32, 40, seed=0)
    step = RegressionStep()
    small = adding_model("rnn", QUICK, seed=0, recurrent_scale=0.5)
    large = adding_model("rnn", QUICK, seed=0, recurrent_scale=2.0)
    vanishing = measure_gradients(small, batch, step).recurrent[0].grad_norms
    exploding = measure_gradients(large, batch, step).recurrent[0].grad_norms
    assert vanishing[0] < 1e-6 * vanishing[-1]  # the gradient dies on its way back
    assert exploding[0] > 1e2 * exploding[-1]  # and here it grows
    assert np.all(np.diff(np.log(vanishing[20:])) > 0)  # monotone towards the output
