"""The zoo's models and their scratch twins compute the same function after a weight copy, in
both directions (nnatlas.bridge.zoo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.bridge.zoo import scratch_twin, torch_twin
from nnatlas.models import create_model
from nnatlas.scratch.models import VGG, AlexNet, CifarResNet, RecurrentClassifier, Seq2Seq
from nnatlas.scratch.models.char_lstm import CharLSTM
from nnatlas.scratch.models.lenet import LeNet5 as ScratchLeNet5
from nnatlas.scratch.models.mlp import MLP as ScratchMLP

# (registry name, kwargs, input shape); the language model reads token ids below vocab_size.
CASES = [
    ("mlp", {}, (4, 1, 28, 28)),
    ("mlp", {"activation": "tanh", "hidden_sizes": (16,)}, (3, 784)),
    ("mlp", {"activation": "sigmoid", "batchnorm": True}, (5, 784)),
    ("mlp", {"activation": "gelu", "dropout": 0.5}, (2, 784)),
    ("mlp", {"activation": "leaky_relu"}, (2, 784)),
    ("lenet5", {}, (2, 1, 28, 28)),
    ("lenet5_1998", {"input_size": 32, "in_chans": 3}, (2, 3, 32, 32)),
    ("lstm_lm", {"vocab_size": 20, "embed_dim": 8, "hidden_size": 12, "num_layers": 2}, (2, 9)),
    ("gru_lm", {"vocab_size": 20, "embed_dim": 8, "hidden_size": 12, "num_layers": 2}, (2, 9)),
    ("rnn_lm", {"vocab_size": 20, "embed_dim": 8, "hidden_size": 12, "num_layers": 1}, (2, 9)),
    ("resnet20", {"num_classes": 5}, (2, 3, 16, 16)),
    ("plain20", {"in_chans": 1}, (2, 1, 12, 12)),
    ("vgg11_bn", {"pool_size": 1, "hidden": 32}, (2, 3, 32, 32)),  # 9M weights: slow
    ("vgg13", {"hidden": 32, "dropout": 0.5}, (2, 3, 32, 32)),  # the 7x7 ImageNet pooling
    ("alexnet_small", {"hidden": 64}, (2, 3, 32, 32)),
    ("lstm_classifier", {"vocab_size": 20, "embed_dim": 6, "hidden_size": 5}, (2, 9)),
    (
        "gru_classifier",
        {"vocab_size": 20, "embed_dim": 6, "hidden_size": 5, "bidirectional": True,
         "pooling": "max", "num_layers": 2},
        (2, 9),
    ),
]  # fmt: skip
LANGUAGE_MODELS = ("lstm_lm", "gru_lm", "rnn_lm")
TOKEN_MODELS = (*LANGUAGE_MODELS, "lstm_classifier", "gru_classifier")
IDS = [f"{name}-{'-'.join(map(str, kw.values())) or 'default'}" for name, kw, _ in CASES]
SLOW = {"vgg11_bn"}
PARAMS = [
    pytest.param(*case, id=i, marks=[pytest.mark.slow] if case[0] in SLOW else [])
    for case, i in zip(CASES, IDS, strict=True)
]


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    """Non-trivial running statistics, so eval-mode BatchNorm is really compared."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def _logits(out: object) -> np.ndarray:
    out = out[0] if isinstance(out, tuple) else out
    return out.detach().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)


@pytest.mark.parametrize(("name", "kwargs", "shape"), PARAMS)
def test_torch_to_scratch_equal_outputs_and_gradients(name, kwargs, shape) -> None:
    torch.manual_seed(0)
    model = create_model(name, **kwargs).double().eval()
    _randomise_batchnorm(model)
    twin = scratch_twin(model)
    assert not twin.training and twin.dtype == np.float64
    gen = torch.Generator().manual_seed(1)
    if name in TOKEN_MODELS:
        x = torch.randint(0, kwargs["vocab_size"], shape, generator=gen)
    else:
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    twin_out = twin(x.numpy())
    np.testing.assert_allclose(_logits(twin_out), logits.detach().numpy(), rtol=0, atol=1e-10)
    if name in LANGUAGE_MODELS:  # the carried state is equal too (LSTM: h and c)
        pairs = (
            zip(twin_out[1], out[1], strict=True) if name == "lstm_lm" else [(twin_out[1], out[1])]
        )
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)
    # Gradients of every parameter under a random upstream gradient.
    grad_out = torch.randn(logits.shape, generator=torch.Generator().manual_seed(2)).double()
    logits.backward(grad_out)
    twin.zero_grad()
    twin.backward(grad_out.numpy())
    theirs = dict(model.named_parameters())
    for key, param in twin.named_parameters():
        np.testing.assert_allclose(
            param.grad, theirs[key].grad.numpy(), rtol=0, atol=1e-10, err_msg=key
        )


@pytest.mark.parametrize(
    "scratch",
    [
        lambda: ScratchMLP(
            784, 10, (32, 16), "tanh", dropout=0.2, batchnorm=True, rng=np.random.default_rng(0)
        ),
        lambda: ScratchLeNet5(5, 1, 32, "1998", rng=np.random.default_rng(0)),
        lambda: CharLSTM(15, 6, 10, 2, rng=np.random.default_rng(0)),
        lambda: CifarResNet(1, num_classes=4, residual=False, rng=np.random.default_rng(0)),
        lambda: VGG([4, "M", 8, "M"], True, 5, pool_size=2, hidden=6, rng=np.random.default_rng(0)),
        lambda: AlexNet([(4, 5, 1, 2, True), (6, 3, 1, 1, True)], 3, hidden=8, pool_size=2),
        lambda: RecurrentClassifier(15, 3, 4, 5, cell="rnn", pooling="mean", bidirectional=True),
        lambda: Seq2Seq(15, 12, 4, 6, cell="lstm", attention="dot", rng=np.random.default_rng(0)),
    ],
    ids=["mlp", "lenet5_1998", "char_lstm", "plain8", "vgg", "alexnet", "classifier", "seq2seq"],
)
def test_scratch_to_torch_round_trip(scratch) -> None:
    model = scratch().eval()
    twin = torch_twin(model)
    assert not twin.training and next(twin.parameters()).dtype == torch.float32
    back = scratch_twin(twin)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value, err_msg=key)
        np.testing.assert_array_equal(twin.state_dict()[key].numpy(), value, err_msg=key)
    if isinstance(model, Seq2Seq):
        x = np.random.default_rng(1).integers(4, 12, (2, 6))
        with torch.no_grad():
            expected = twin(torch.from_numpy(x), torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(x, x), expected, rtol=1e-5, atol=1e-5)
        return
    if isinstance(model, CharLSTM | RecurrentClassifier):
        x = np.random.default_rng(1).integers(0, 15, (2, 6))
        expected = _logits(twin(torch.from_numpy(x)))
    else:
        shape = {ScratchMLP: (3, 784), ScratchLeNet5: (3, 1, 32, 32)}.get(
            type(model), (3, 3, 16, 16)
        )
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_logits(model(x)), expected, rtol=1e-5, atol=1e-5)


def test_mode_and_tied_weights_carry_over() -> None:
    model = create_model("lstm_lm", vocab_size=9, embed_dim=6, hidden_size=6, tie_weights=True)
    twin = scratch_twin(model)  # trains in train mode, untied but equal
    assert twin.training
    np.testing.assert_array_equal(twin.head.weight.data, twin.embedding.weight.data)


def test_models_without_twin_are_named() -> None:
    with pytest.raises(TypeError, match="no scratch twin for MobileNetV2; models with one: alex"):
        scratch_twin(create_model("mobilenet_v2"))
    with pytest.raises(TypeError, match="scratch models hold float32 or float64"):
        scratch_twin(create_model("mlp").half())


@pytest.mark.parametrize("attention", ["bahdanau", "general", None])
def test_seq2seq_twin_equal_logits_gradients_and_decodes(attention: str | None) -> None:
    torch.manual_seed(0)
    kwargs = dict(src_vocab_size=13, tgt_vocab_size=11, embed_dim=5, hidden_size=6)
    model = create_model("seq2seq", cell="gru", attention=attention, **kwargs).double()
    twin = scratch_twin(model)
    src = torch.tensor([[5, 6, 7, 8, 0], [4, 9, 0, 0, 0]])
    tgt = torch.tensor([[2, 5, 6], [2, 7, 8]])
    logits = model(src, tgt)
    ours = twin(src.numpy(), tgt.numpy())
    np.testing.assert_allclose(ours, logits.detach().numpy(), rtol=0, atol=1e-10)
    grad = torch.randn(logits.shape, generator=torch.Generator().manual_seed(2)).double()
    logits.backward(grad)
    twin.zero_grad()
    twin.backward(grad.numpy())
    theirs = dict(model.named_parameters())
    for key, param in twin.named_parameters():
        np.testing.assert_allclose(
            param.grad, theirs[key].grad.numpy(), rtol=0, atol=1e-10, err_msg=key
        )
    model.eval()
    np.testing.assert_array_equal(
        twin.beam_search(src.numpy(), beam_size=3, max_len=7),
        model.beam_search(src, beam_size=3, max_len=7).numpy(),
    )
