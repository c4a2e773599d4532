"""The registry's facts (kind, fitted arguments, NumPy twin) and the models tasks build."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import nnatlas.models as zoo
from nnatlas.bridge.zoo import models_with_twins
from nnatlas.tasks.base import TaskError, get_task, list_tasks
from nnatlas.tasks.models import build_model, model_entry, model_kwargs

# Facts a task may offer: enough to build every registered model of its kind.
FACTS = {
    "num_classes": 3,
    "in_chans": 1,
    "input_size": 28,
    "image_size": 64,
    "in_features": 784,
    "vocab_size": 30,
    "padding_idx": 0,
    "embed_dim": 8,
    "src_vocab_size": 20,
    "tgt_vocab_size": 25,
}


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_entry_fits_to_facts_its_constructor_takes(name: str) -> None:
    entry = zoo.get_model_entry(name)
    assert entry.kind in zoo.KINDS
    kwargs = model_kwargs(entry, FACTS)
    assert set(kwargs) == set(entry.fits)
    with torch.device("meta"):  # shapes only
        model = zoo.create_model(name, **kwargs)
    for fact in ("num_classes", "vocab_size", "tgt_vocab_size"):
        if fact in entry.fits and hasattr(model, fact):
            assert getattr(model, fact) == FACTS[fact]


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_model_is_trained_by_some_task(name: str) -> None:
    entry = zoo.get_model_entry(name)
    takers = [t for t in list_tasks() if get_task(t).accepts(entry)]
    assert takers, f"{name}: no task trains a {entry.kind} model"


def test_models_of_another_kind_are_refused_with_the_right_ones_named() -> None:
    with pytest.raises(TaskError, match=r"language modelling trains gru_lm, lstm_lm, rnn_lm"):
        model_entry("resnet20", get_task("language_modeling"))
    with pytest.raises(TaskError, match="Did you mean 'lenet5'"):
        model_entry("lenet", get_task("image_classification"))


def test_the_registry_is_the_one_list_of_twins() -> None:
    # The bridge reads the registry; these are the twins the NumPy engine has today: every
    # model of the learning path (the pretrained backbones of transfer learning have none).
    expected = [
        "alexnet", "alexnet_small", "gru_classifier", "gru_lm", "lenet5", "lenet5_1998",
        "lstm_classifier", "lstm_lm", "mlp", "plain20", "plain32", "plain44", "plain56", "resnet18",
        "resnet20", "resnet32", "resnet34", "resnet44", "resnet50", "resnet56", "rnn_classifier",
        "rnn_lm", "seq2seq", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
        "vgg19", "vgg19_bn",
    ]  # fmt: skip
    assert models_with_twins() == expected


def _built_size(name: str) -> int:
    with torch.device("meta"):  # shapes only
        model = zoo.create_model(name, **model_kwargs(zoo.get_model_entry(name), FACTS))
    return sum(p.numel() for p in model.parameters())


# VGG's and AlexNet's ImageNet heads hold 60-140M weights: seconds each to build and copy.
BIG = 20_000_000
EVERY_MODEL = [
    pytest.param(name, marks=pytest.mark.slow) if _built_size(name) > BIG else name
    for name in zoo.list_models()
]


@pytest.mark.parametrize("name", EVERY_MODEL)
def test_scratch_engine_builds_every_declared_twin_and_refuses_the_others(name: str) -> None:
    entry = zoo.get_model_entry(name)
    kwargs = model_kwargs(entry, FACTS)
    if entry.scratch_twin is None:
        with pytest.raises(TaskError, match="has no NumPy twin yet"):
            build_model(name, "scratch", kwargs)
        return
    twin = build_model(name, "scratch", kwargs, seed=3)
    module, _, cls = entry.scratch_twin.partition(":")
    assert isinstance(twin, getattr(importlib.import_module(module), cls))


@pytest.mark.parametrize("name", ["mlp", "lenet5_1998", "gru_lm"])
def test_both_engines_start_from_the_same_weights_for_a_seed(name: str) -> None:
    kwargs = model_kwargs(zoo.get_model_entry(name), FACTS)
    net = build_model(name, "torch", kwargs, seed=7)
    twin = build_model(name, "scratch", kwargs, seed=7)
    other = build_model(name, "torch", kwargs, seed=8)
    theirs = {k: np.asarray(v) for k, v in twin.state_dict().items()}
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), theirs[key])
    assert any(
        not torch.equal(a, b)
        for a, b in zip(net.state_dict().values(), other.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("name", ["vgg11_bn", "alexnet"])
def test_big_models_build_their_twin_with_a_small_head(name: str) -> None:
    # The fast stand-in for the slow cases above: the same twin class, a head of 64 units.
    kwargs = {**model_kwargs(zoo.get_model_entry(name), FACTS), "hidden": 64}
    twin = build_model(name, "scratch", {**kwargs, "pool_size": 1}, seed=3)
    net = build_model(name, "torch", {**kwargs, "pool_size": 1}, seed=3)
    assert type(twin).__name__ == type(net).__name__
    assert twin.num_parameters() == sum(p.numel() for p in net.parameters())


def test_a_twin_without_an_option_of_the_zoo_model_is_refused() -> None:
    with pytest.raises(TaskError, match="no dropout"):
        build_model("lstm_lm", "scratch", {"vocab_size": 10, "dropout": 0.2})
    with pytest.raises(TaskError, match="no dropout"):
        build_model("seq2seq", "scratch", {"dropout": 0.1})
    with pytest.raises(TaskError, match="no dropout between stacked layers"):
        build_model("gru_classifier", "scratch", {"num_layers": 2, "dropout": 0.3})


def test_a_twin_that_would_learn_other_numbers_is_refused() -> None:
    kwargs = {"vocab_size": 10, "embed_dim": 16, "hidden_size": 16, "tie_weights": True}
    with pytest.raises(TaskError, match="shared weights"):
        build_model("lstm_lm", "scratch", kwargs)
