"""Twins across the engines: the zoo's PyTorch models <-> the scratch NumPy models.

:func:`scratch_twin` builds the scratch model with the same architecture as a zoo model and copies
its weights in; :func:`torch_twin` goes the other way. Both models then compute the same function
(in eval mode: dropout masks are random in each engine). Which registry entries have a twin is
said once, by each entry's ``scratch_twin`` (:mod:`nnatlas.models.registry`); this module knows
how to carry the architecture's arguments across. Supported pairs, with the layouts of
docs/LAYOUTS.md:

=====================================  ==========================================
zoo (``nnatlas.models``)               scratch (``nnatlas.scratch.models``)
=====================================  ==========================================
``MLP`` (``mlp``)                      ``mlp.MLP``
``LeNet5`` (``lenet5``, both variants) ``lenet.LeNet5``
``RecurrentLM`` (``lstm_lm``)          ``char_lstm.CharLSTM``
``RecurrentLM`` (``gru_lm``,           ``char_lstm.CharRNN`` with the same ``cell``
``rnn_lm``)
=====================================  ==========================================

The scratch language models have no dropout and no weight tying: a tied ``lstm_lm`` becomes an
untied twin with two equal matrices (same outputs, they drift apart if trained).
"""

from __future__ import annotations

import numpy as np
import torch

from nnatlas.bridge.transfer import scratch_to_torch, torch_to_scratch
from nnatlas.models.language_model import RecurrentLM
from nnatlas.models.lenet import LeNet5 as TorchLeNet5
from nnatlas.models.mlp import MLP as TorchMLP
from nnatlas.models.registry import get_model_entry, list_models
from nnatlas.scratch.models.char_lstm import CharLSTM, CharRNN
from nnatlas.scratch.models.lenet import LeNet5 as ScratchLeNet5
from nnatlas.scratch.models.mlp import MLP as ScratchMLP
from nnatlas.scratch.module import Module

_TORCH_TO_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}
_NUMPY_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def models_with_twins() -> list[str]:
    """The registry names whose entry declares a NumPy twin."""
    return [name for name in list_models() if get_model_entry(name).scratch_twin]


def _supported() -> str:
    return ", ".join(models_with_twins())


def _numpy_dtype(model: torch.nn.Module) -> type[np.floating]:
    dtype = next(model.parameters()).dtype
    if dtype not in _TORCH_TO_NUMPY:
        raise TypeError(f"scratch models hold float32 or float64 weights, got {dtype}")
    return _TORCH_TO_NUMPY[dtype]


def _rng() -> np.random.Generator:
    # The initial values are overwritten by the copy; a fixed seed keeps dropout masks repeatable.
    return np.random.default_rng(0)


def _mlp_args(model: TorchMLP | ScratchMLP) -> tuple:
    """The constructor arguments both MLPs keep: (in_features, num_classes, hidden_sizes,
    activation, dropout, batchnorm)."""
    return (
        model.in_features, model.num_classes, model.hidden_sizes, model.activation,
        model.dropout_p, model.batchnorm,
    )  # fmt: skip


def scratch_twin(model: torch.nn.Module) -> Module:
    """A scratch NumPy model equal to the zoo ``model`` (same architecture, copied weights,
    same dtype and train/eval mode).

    Raises:
        TypeError: for a model without a scratch twin (the message lists the supported ones).
    """
    dtype = _numpy_dtype(model)
    twin: Module
    if isinstance(model, TorchMLP):
        twin = ScratchMLP(*_mlp_args(model), dtype=dtype, rng=_rng())
    elif isinstance(model, TorchLeNet5):
        twin = ScratchLeNet5(
            model.num_classes,
            model.in_chans,
            model.input_size,
            model.variant,
            dtype=dtype,
            rng=_rng(),
        )
    elif isinstance(model, RecurrentLM):
        if model.dropout.p > 0:
            raise TypeError(
                f"the scratch twin of {model.cell}_lm has no dropout; build the zoo model with "
                f"dropout=0 (it has {model.dropout.p})"
            )
        size = (model.vocab_size, model.embedding.embedding_dim, model.rnn.hidden_size)
        if model.cell == "lstm":
            twin = CharLSTM(*size, model.rnn.num_layers, dtype=dtype, rng=_rng())
        else:
            twin = CharRNN(*size, model.rnn.num_layers, model.cell, dtype=dtype, rng=_rng())
    else:
        raise TypeError(
            f"no scratch twin for {type(model).__name__}; models with one: {_supported()}"
        )
    torch_to_scratch(model, twin)
    twin.train(model.training)
    return twin


def torch_twin(model: Module) -> torch.nn.Module:
    """A zoo PyTorch model equal to the scratch ``model`` (same architecture, copied weights,
    same dtype and train/eval mode).

    Raises:
        TypeError: for a scratch model without a zoo twin.
    """
    dtype = _NUMPY_TO_TORCH[np.dtype(model.dtype)]
    twin: torch.nn.Module
    if isinstance(model, ScratchMLP):
        twin = TorchMLP(*_mlp_args(model))
    elif isinstance(model, ScratchLeNet5):
        twin = TorchLeNet5(model.num_classes, model.in_chans, model.input_size, model.variant)
    elif isinstance(model, CharRNN):  # CharLSTM included
        embed_dim = model.embedding.weight.shape[1]
        twin = RecurrentLM(
            model.vocab_size, embed_dim, model.hidden_size, model.num_layers, cell=model.cell
        )
    else:
        raise TypeError(
            f"no zoo twin for scratch {type(model).__name__}; models with one: {_supported()}"
        )
    twin = twin.to(dtype)
    scratch_to_torch(model, twin)
    twin.train(model.training)
    return twin
