"""Every public scratch class names, in its own docstring, its twin, the ``nnatlas check`` entry
that proves it and its test file (DESIGN.md), and each name is real: the twin imports, the check
is registered, the test file exists. Written as one closing paragraph::

    See: torch.nn.Tanh. Check: ``nnatlas check "Tanh"``. Tests: tests/scratch/test_core_layers.py.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch

import nnatlas.scratch
import nnatlas.scratch.models
from nnatlas.bridge.checks import all_checks
from nnatlas.scratch.module import Module
from nnatlas.scratch.optim import Optimizer

REPO = Path(__file__).resolve().parents[2]
TWIN = re.compile(r"See: ((?:torch|nnatlas)\.[\w.]*\w)")
CHECK = re.compile(r'``nnatlas check "([^"]+)"``')
TESTS = re.compile(r"Tests: (tests/[\w/]+\.py)")


def _public(package, base: type) -> list[type]:
    return [
        cls
        for name in package.__all__
        if isinstance(cls := getattr(package, name), type) and issubclass(cls, base)
        if cls not in (Module, Optimizer)
    ]


LAYERS = _public(nnatlas.scratch, Module)
OPTIMIZERS = _public(nnatlas.scratch, Optimizer)
MODELS = _public(nnatlas.scratch.models, Module)


def _resolve(dotted: str) -> object:
    """``torch.nn.Linear`` -> the object, importing the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _doc(cls: type) -> str:
    # The class's own docstring (never inherited), with line breaks folded.
    return " ".join((cls.__dict__.get("__doc__") or "").split())


def _twin(cls: type) -> object:
    found = TWIN.findall(_doc(cls))
    assert len(found) == 1, f"{cls.__name__}: expected one 'See: <twin>', found {found}"
    return _resolve(found[0])


@pytest.mark.parametrize("cls", LAYERS + OPTIMIZERS + MODELS, ids=lambda c: c.__name__)
def test_docstring_names_a_registered_check_and_an_existing_test_file(cls: type) -> None:
    doc = _doc(cls)
    checks = CHECK.findall(doc)
    assert checks, f'{cls.__name__}: no ``nnatlas check "..."`` in the docstring'
    registered = all_checks()
    for name in checks:
        assert name in registered, f"{cls.__name__}: no check named {name!r}"
    tests = TESTS.findall(doc)
    assert len(tests) == 1, f"{cls.__name__}: expected one 'Tests: tests/...py', found {tests}"
    assert (REPO / tests[0]).is_file(), f"{cls.__name__}: {tests[0]} does not exist"


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_twin_is_the_torch_nn_layer_of_the_same_name(cls: type) -> None:
    twin = _twin(cls)
    assert isinstance(twin, type) and issubclass(twin, torch.nn.Module)
    assert twin.__module__.startswith("torch.nn") and twin.__name__ == cls.__name__
    assert all(name.startswith(cls.__name__) for name in CHECK.findall(_doc(cls)))


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizer_twin_is_the_torch_optimizer_of_the_same_name(cls: type) -> None:
    twin = _twin(cls)
    assert isinstance(twin, type) and issubclass(twin, torch.optim.Optimizer)
    assert twin.__name__ == cls.__name__
    assert all(name.startswith(cls.__name__) for name in CHECK.findall(_doc(cls)))


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_model_twin_is_a_zoo_class(cls: type) -> None:
    twin = _twin(cls)
    assert isinstance(twin, type) and issubclass(twin, torch.nn.Module)
    assert twin.__module__.startswith("nnatlas.models.")


def test_every_scratch_layer_is_covered() -> None:
    """The lists above come from the packages' ``__all__``: a new layer is held to the rule too."""
    names = {cls.__name__ for cls in LAYERS + OPTIMIZERS + MODELS}
    assert {"Linear", "Conv2d", "LSTM", "GRUCell", "CrossEntropyLoss", "AdamW"} <= names
    assert {"MLP", "LeNet5", "BasicBlock", "CharLSTM", "CharRNN"} <= names
