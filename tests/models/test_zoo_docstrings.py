"""Every zoo class names its NumPy twin in its own docstring, or says it has none yet
(DESIGN.md): ``NumPy twin: nnatlas.scratch.models.mlp.MLP.`` or ``NumPy twin: none yet.``; a
named twin must be a real scratch model."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
import torch

import nnatlas.models
from nnatlas.scratch.module import Module

TWIN = re.compile(r"NumPy twin: (none yet|nnatlas\.scratch\.[\w.]*\w)")


def _zoo_classes() -> list[type]:
    classes = []
    for info in pkgutil.iter_modules(nnatlas.models.__path__):
        if info.name == "registry":
            continue
        module = importlib.import_module(f"nnatlas.models.{info.name}")
        classes += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, torch.nn.Module)
            and obj.__module__ == module.__name__
        ]
    return classes


ZOO = _zoo_classes()


@pytest.mark.parametrize("cls", ZOO, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_zoo_class_names_its_numpy_twin_or_none(cls: type) -> None:
    doc = " ".join((cls.__dict__.get("__doc__") or "").split())
    found = TWIN.findall(doc)
    assert len(found) == 1, f"{cls.__name__}: expected one 'NumPy twin: ...', found {found}"
    if found[0] == "none yet":
        return
    module_name, _, class_name = found[0].rpartition(".")
    twin = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(twin, type) and issubclass(twin, Module)


def test_the_twins_the_bridge_proves_are_named() -> None:
    named = {cls.__name__: TWIN.findall(" ".join((cls.__doc__ or "").split()))[0] for cls in ZOO}
    assert named["MLP"] == "nnatlas.scratch.models.mlp.MLP"
    assert named["LeNet5"] == "nnatlas.scratch.models.lenet.LeNet5"
    assert named["BasicBlock"] == "nnatlas.scratch.models.resnet_block.BasicBlock"
    assert named["RecurrentLM"] == "nnatlas.scratch.models.char_lstm.CharRNN"
