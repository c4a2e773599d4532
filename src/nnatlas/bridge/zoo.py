"""Twins across the engines: the zoo's PyTorch models <-> the scratch NumPy models.

:func:`scratch_twin` builds the scratch model with the same architecture as a zoo model and copies
its weights in; :func:`torch_twin` goes the other way. Both models then compute the same function
(in eval mode: dropout masks are random in each engine). Which registry entries have a twin is
said once, by each entry's ``scratch_twin`` (:mod:`nnatlas.models.registry`); this module knows
how to carry the architecture's arguments across. Supported pairs, with the layouts of
docs/LAYOUTS.md:

==========================================  ==============================================
zoo (``nnatlas.models``)                    scratch (``nnatlas.scratch.models``)
==========================================  ==============================================
``MLP`` (``mlp``)                           ``mlp.MLP``
``LeNet5`` (``lenet5``, both variants)      ``lenet.LeNet5``
``AlexNet`` (``alexnet``, ``alexnet_small``) ``alexnet.AlexNet``
``VGG`` (``vgg11`` ... ``vgg19_bn``)        ``vgg.VGG`` (the zoo model's own ``cfg`` table)
``CifarResNet`` (``resnet20/32/44/56``,     ``resnet_cifar.CifarResNet``
``plain20/32/56``)
``ResNet`` (``resnet18/34/50``)             ``resnet.ResNet`` (basic or bottleneck blocks)
``RecurrentClassifier`` (``rnn/lstm/gru``   ``rnn_classifier.RecurrentClassifier``
``_classifier``)
``RecurrentLM`` (``lstm_lm``)               ``char_lstm.CharLSTM``
``RecurrentLM`` (``gru_lm``, ``rnn_lm``)    ``char_lstm.CharRNN`` with the same ``cell``
``Seq2Seq`` (``seq2seq``)                   ``seq2seq.Seq2Seq``
==========================================  ==============================================

The scratch language models have no dropout and no weight tying: a tied ``lstm_lm`` becomes an
untied twin with two equal matrices (same outputs, they drift apart if trained). The scratch
classifier has dropout on the embeddings and before the head but not between stacked layers,
and the scratch seq2seq has none: such zoo models are refused with the reason.
"""

from __future__ import annotations

import numpy as np
import torch

from nnatlas.bridge.transfer import scratch_to_torch, torch_to_scratch
from nnatlas.models import alexnet as torch_alexnet
from nnatlas.models import resnet as torch_resnet
from nnatlas.models import resnet_cifar as torch_resnet_cifar
from nnatlas.models import rnn_classifier as torch_rnn_classifier
from nnatlas.models import seq2seq as torch_seq2seq
from nnatlas.models import vgg as torch_vgg
from nnatlas.models.language_model import RecurrentLM
from nnatlas.models.lenet import LeNet5 as TorchLeNet5
from nnatlas.models.mlp import MLP as TorchMLP
from nnatlas.models.registry import get_model_entry, list_models
from nnatlas.models.rnn_utils import CELLS as TORCH_CELLS
from nnatlas.scratch.models import alexnet, resnet, resnet_cifar, rnn_classifier, seq2seq, vgg
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


def _vision_args(model: torch.nn.Module, names: tuple[str, ...]) -> dict:
    """Constructor arguments that the zoo and scratch vision models both keep as attributes."""
    return {name: getattr(model, name) for name in names}


CIFAR_ARGS = ("num_blocks", "num_classes", "in_chans", "residual")
VGG_ARGS = ("cfg", "batch_norm", "num_classes", "in_chans", "dropout", "pool_size", "hidden")
ALEXNET_ARGS = ("cfg", "num_classes", "in_chans", "pool_size", "hidden", "dropout")
_CELL_NAMES = {cls: name for name, cls in TORCH_CELLS.items()}
_RESNET_BLOCKS = {torch_resnet.BasicBlock: "basic", torch_resnet.Bottleneck: "bottleneck"}


def _resnet_args(model: torch_resnet.ResNet) -> dict:
    """The scratch ResNet's arguments, read from the zoo model's stages."""
    stages = (model.layer1, model.layer2, model.layer3, model.layer4)
    return dict(
        block=_RESNET_BLOCKS[type(model.layer1[0])], layers=[len(stage) for stage in stages],
        num_classes=model.num_classes, in_chans=model.in_chans,
    )  # fmt: skip


def _classifier_args(model: torch_rnn_classifier.RecurrentClassifier) -> dict:
    """The scratch classifier's arguments, read from the zoo model's modules."""
    rnn = model.rnn
    if model.dropout.p > 0 and rnn.num_layers > 1:
        raise TypeError(
            "the scratch twin of a recurrent classifier has no dropout between stacked layers; "
            f"build the zoo model with dropout=0 or num_layers=1 (it has {model.dropout.p}, "
            f"{rnn.num_layers} layers)"
        )
    return dict(
        vocab_size=model.vocab_size, num_classes=model.num_classes,
        embed_dim=model.embedding.embedding_dim, hidden_size=rnn.hidden_size,
        num_layers=rnn.num_layers, cell=model.cell, bidirectional=rnn.bidirectional,
        dropout=model.dropout.p, pooling=model.pooling, padding_idx=model.embedding.padding_idx,
        freeze_embeddings=not model.embedding.weight.requires_grad,
    )  # fmt: skip


def _seq2seq_args(model: torch_seq2seq.Seq2Seq) -> dict:
    """The scratch seq2seq's arguments, read from the zoo model's modules."""
    encoder, decoder = model.encoder, model.decoder
    if encoder.dropout.p > 0:
        raise TypeError(
            "the scratch twin of seq2seq has no dropout; build the zoo model with dropout=0 "
            f"(it has {encoder.dropout.p})"
        )
    return dict(
        src_vocab_size=encoder.embedding.num_embeddings, tgt_vocab_size=model.tgt_vocab_size,
        embed_dim=encoder.embedding.embedding_dim, hidden_size=encoder.rnn.hidden_size,
        num_layers=encoder.rnn.num_layers, cell=_CELL_NAMES[type(encoder.rnn)],
        attention=decoder.attention_type, pad_idx=model.pad_idx, bos_idx=model.bos_idx,
        eos_idx=model.eos_idx,
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
    elif isinstance(model, torch_resnet_cifar.CifarResNet):
        twin = resnet_cifar.CifarResNet(**_vision_args(model, CIFAR_ARGS), dtype=dtype, rng=_rng())
    elif isinstance(model, torch_resnet.ResNet):
        twin = resnet.ResNet(**_resnet_args(model), dtype=dtype, rng=_rng())
    elif isinstance(model, torch_vgg.VGG):
        twin = vgg.VGG(**_vision_args(model, VGG_ARGS), dtype=dtype, rng=_rng())
    elif isinstance(model, torch_alexnet.AlexNet):
        twin = alexnet.AlexNet(**_vision_args(model, ALEXNET_ARGS), dtype=dtype, rng=_rng())
    elif isinstance(model, torch_rnn_classifier.RecurrentClassifier):
        twin = rnn_classifier.RecurrentClassifier(
            **_classifier_args(model), dtype=dtype, rng=_rng()
        )
    elif isinstance(model, torch_seq2seq.Seq2Seq):
        twin = seq2seq.Seq2Seq(**_seq2seq_args(model), dtype=dtype, rng=_rng())
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
    elif isinstance(model, resnet_cifar.CifarResNet):
        twin = torch_resnet_cifar.CifarResNet(**_vision_args(model, CIFAR_ARGS))
    elif isinstance(model, resnet.ResNet):
        block = {name: cls for cls, name in _RESNET_BLOCKS.items()}[model.block]
        twin = torch_resnet.ResNet(block, model.layers, model.num_classes, model.in_chans)
    elif isinstance(model, vgg.VGG):
        twin = torch_vgg.VGG(**_vision_args(model, VGG_ARGS))
    elif isinstance(model, alexnet.AlexNet):
        args = _vision_args(model, ALEXNET_ARGS)
        args["cfg"] = [torch_alexnet.ConvSpec(*row) for row in model.cfg]  # the zoo's row type
        twin = torch_alexnet.AlexNet(**args)
    elif isinstance(model, rnn_classifier.RecurrentClassifier):
        twin = torch_rnn_classifier.RecurrentClassifier(
            model.vocab_size, model.num_classes, model.embedding.embedding_dim,
            model.rnn.hidden_size, model.rnn.num_layers, model.cell, model.rnn.bidirectional,
            model.embedding_dropout.p, model.pooling, model.embedding.padding_idx,
            freeze_embeddings=model.freeze_embeddings,
        )  # fmt: skip
    elif isinstance(model, seq2seq.Seq2Seq):
        twin = torch_seq2seq.Seq2Seq(
            model.src_vocab_size, model.tgt_vocab_size, model.embed_dim, model.hidden_size,
            model.num_layers, model.cell, model.attention, pad_idx=model.pad_idx,
            bos_idx=model.bos_idx, eos_idx=model.eos_idx,
        )  # fmt: skip
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
