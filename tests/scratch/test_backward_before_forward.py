"""``backward`` before ``forward`` raises the project's clear error in every public scratch layer
and model: a RuntimeError that names the layer (a container names the part whose backward ran
first), never an AttributeError from inside the arithmetic."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import nnatlas.scratch as S
import nnatlas.scratch.models as M
from nnatlas.scratch.module import Module

# class name -> (a simple instance, the upstream gradient(s) its backward takes)
GRAD = np.ones((2, 3))
CASES: dict[str, tuple[Callable[[], Module], tuple]] = {
    "Linear": (lambda: S.Linear(3, 3), (GRAD,)),
    "Sigmoid": (S.Sigmoid, (GRAD,)),
    "Tanh": (S.Tanh, (GRAD,)),
    "ReLU": (S.ReLU, (GRAD,)),
    "LeakyReLU": (S.LeakyReLU, (GRAD,)),
    "GELU": (S.GELU, (GRAD,)),
    "Softmax": (S.Softmax, (GRAD,)),
    "Dropout": (S.Dropout, (GRAD,)),
    "BatchNorm1d": (lambda: S.BatchNorm1d(3), (GRAD,)),
    "BatchNorm2d": (lambda: S.BatchNorm2d(3), (np.ones((2, 3, 4, 4)),)),
    "Conv2d": (lambda: S.Conv2d(3, 3, 3), (np.ones((2, 3, 4, 4)),)),
    "MaxPool2d": (lambda: S.MaxPool2d(2), (np.ones((2, 3, 2, 2)),)),
    "AvgPool2d": (lambda: S.AvgPool2d(2), (np.ones((2, 3, 2, 2)),)),
    "AdaptiveAvgPool2d": (lambda: S.AdaptiveAvgPool2d(1), (np.ones((2, 3, 1, 1)),)),
    "Flatten": (S.Flatten, (GRAD,)),
    "Embedding": (lambda: S.Embedding(5, 3), (np.ones((2, 4, 3)),)),
    "RNN": (lambda: S.RNN(3, 3), (np.ones((4, 2, 3)),)),
    "LSTM": (lambda: S.LSTM(3, 3), (np.ones((4, 2, 3)),)),
    "GRU": (lambda: S.GRU(3, 3), (np.ones((4, 2, 3)),)),
    "RNNCell": (lambda: S.RNNCell(3, 3), (GRAD,)),
    "LSTMCell": (lambda: S.LSTMCell(3, 3), (GRAD, GRAD)),
    "GRUCell": (lambda: S.GRUCell(3, 3), (GRAD,)),
    "Sequential": (lambda: S.Sequential(S.Linear(3, 3), S.ReLU()), (GRAD,)),
    "MSELoss": (S.MSELoss, ()),
    "CrossEntropyLoss": (S.CrossEntropyLoss, ()),
    "BCEWithLogitsLoss": (S.BCEWithLogitsLoss, ()),
    "MLP": (lambda: M.MLP(3, 3, hidden_sizes=(4,)), (GRAD,)),
    "LeNet5": (M.LeNet5, (np.ones((2, 10)),)),
    "BasicBlock": (lambda: M.BasicBlock(3, 3), (np.ones((2, 3, 4, 4)),)),
    "CharRNN": (lambda: M.CharRNN(5, 3, 3, cell="gru"), (np.ones((2, 4, 5)),)),
    "CharLSTM": (lambda: M.CharLSTM(5, 3, 3), (np.ones((2, 4, 5)),)),
    "ShortcutA": (lambda: M.ShortcutA(2, 4, 2), (np.ones((2, 4, 2, 2)),)),
    "CifarBasicBlock": (lambda: M.CifarBasicBlock(3, 3), (np.ones((2, 3, 4, 4)),)),
    "CifarResNet": (lambda: M.CifarResNet(1), (np.ones((2, 10)),)),
    "Bottleneck": (lambda: M.Bottleneck(8, 2), (np.ones((2, 8, 4, 4)),)),
    "ResNet": (lambda: M.ResNet("basic", [1, 1, 1, 1], 10), (np.ones((2, 10)),)),
    "VGG": (lambda: M.VGG([4, "M"], hidden=8, pool_size=1), (np.ones((2, 1000)),)),
    "AlexNet": (lambda: M.AlexNet([(4, 3, 1, 1, True)], hidden=8), (np.ones((2, 1000)),)),
    "RecurrentClassifier": (lambda: M.RecurrentClassifier(5, 2, 3, 3), (np.ones((2, 2)),)),
    "AdditiveAttention": (lambda: M.AdditiveAttention(3, 3, 3), (np.ones((2, 3)),)),
    "LuongAttention": (lambda: M.LuongAttention(3, 3), (np.ones((2, 3)),)),
    "Seq2Seq": (lambda: M.Seq2Seq(5, 5, 3, 3), (np.ones((2, 4, 5)),)),
}


def test_every_public_layer_and_model_has_a_case() -> None:
    public = {
        name
        for package in (S, M)
        for name in package.__all__
        if isinstance(obj := getattr(package, name), type)
        and issubclass(obj, Module)
        and obj is not Module
    }
    assert public == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_backward_before_forward_is_a_clear_error(name: str) -> None:
    make, grads = CASES[name]
    layer = make()
    with pytest.raises(RuntimeError, match=r"^\S.*: backward called before") as info:
        layer.backward(*grads)
    if not layer._modules:  # a leaf names itself; a container names the part that ran first
        assert str(info.value).startswith(type(layer).__name__)


@pytest.mark.parametrize("train", [True, False])
def test_dropout_backward_after_an_identity_forward_passes_the_gradient(train: bool) -> None:
    """Eval mode (or p = 0) makes forward the identity; backward then is too, not an error."""
    layer = S.Dropout(0.5 if not train else 0.0).train(train)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(GRAD), GRAD)
