"""docs/LAYOUTS.md says what both engines hold: each twin table lists exactly the state_dict keys
and shapes of the pairs its section names, and every reference to it in src/ and tests/ gives its
real path."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from nnatlas.models import alexnet as zoo_alexnet
from nnatlas.models import create_model
from nnatlas.models import resnet_cifar as zoo_cifar
from nnatlas.models import vgg as zoo_vgg
from nnatlas.models.resnet import BasicBlock as ZooBasicBlock
from nnatlas.models.resnet import Bottleneck as ZooBottleneck
from nnatlas.models.resnet import conv1x1
from nnatlas.scratch.models import (
    MLP,
    VGG,
    AlexNet,
    BasicBlock,
    Bottleneck,
    CharLSTM,
    CharRNN,
    CifarBasicBlock,
    LeNet5,
    RecurrentClassifier,
    Seq2Seq,
)

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs/LAYOUTS.md"
LM = dict(vocab_size=65, embed_dim=128, hidden_size=256, num_layers=2)
Pair = tuple[Callable[[], object], Callable[[], torch.nn.Module]]

# section heading -> the (scratch, zoo) pairs its table describes, built as the section says
SECTIONS: dict[str, list[Pair]] = {
    "mlp <-> MLP": [(lambda: MLP(784, 10), lambda: create_model("mlp"))],
    "mlp(batchnorm=True, dropout=0.5) <-> MLP(batchnorm=True, dropout=0.5)": [
        (
            lambda: MLP(784, 10, batchnorm=True, dropout=0.5),
            lambda: create_model("mlp", batchnorm=True, dropout=0.5),
        )
    ],
    "lenet5, lenet5_1998 <-> LeNet5": [
        (LeNet5, lambda: create_model("lenet5")),
        (
            lambda: LeNet5(input_size=32, variant="1998"),
            lambda: create_model("lenet5_1998", input_size=32),
        ),
    ],
    "resnet BasicBlock <-> BasicBlock": [
        (
            lambda: BasicBlock(64, 128, stride=2),
            lambda: ZooBasicBlock(
                64, 128, 2, torch.nn.Sequential(conv1x1(64, 128, 2), torch.nn.BatchNorm2d(128))
            ),
        )
    ],
    "resnet Bottleneck <-> Bottleneck": [
        (
            lambda: Bottleneck(256, 128, stride=2),
            lambda: ZooBottleneck(
                256, 128, 2, torch.nn.Sequential(conv1x1(256, 512, 2), torch.nn.BatchNorm2d(512))
            ),
        )
    ],
    "lstm_lm <-> CharLSTM": [
        (lambda: CharLSTM(65, 128, 256, num_layers=2), lambda: create_model("lstm_lm", **LM))
    ],
    'gru_lm <-> CharRNN(cell="gru")': [
        (
            lambda: CharRNN(65, 128, 256, num_layers=2, cell="gru"),
            lambda: create_model("gru_lm", **LM),
        )
    ],
    'rnn_lm <-> CharRNN(cell="rnn")': [
        (
            lambda: CharRNN(65, 128, 256, num_layers=2, cell="rnn"),
            lambda: create_model("rnn_lm", **LM),
        )
    ],
    "CIFAR ResNet block (option A) <-> CifarBasicBlock": [
        (lambda: CifarBasicBlock(16, 32, 2), lambda: zoo_cifar.CifarBasicBlock(16, 32, 2)),
        (
            lambda: CifarBasicBlock(16, 32, 2, residual=False),
            lambda: zoo_cifar.CifarBasicBlock(16, 32, 2, residual=False),
        ),
    ],
    "vgg11(pool_size=1, hidden=512) <-> VGG": [
        (
            lambda: VGG(zoo_vgg.CFGS["A"], num_classes=10, pool_size=1, hidden=512),
            lambda: create_model("vgg11", num_classes=10, pool_size=1, hidden=512),
        )
    ],
    "alexnet_small <-> AlexNet": [
        (
            lambda: AlexNet(zoo_alexnet.CFGS["small"], num_classes=10, pool_size=3, hidden=1024),
            lambda: create_model("alexnet_small"),
        )
    ],
    "lstm_classifier <-> RecurrentClassifier": [
        (RecurrentClassifier, lambda: create_model("lstm_classifier"))
    ],
    "seq2seq <-> Seq2Seq": [(Seq2Seq, lambda: create_model("seq2seq"))],
}


def _doc_tables() -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """The key/shape rows of every '### heading' under '## Twin models'."""
    text = DOC.read_text().split("## Twin models", 1)[1]
    tables = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, body = section.split("\n", 1)
        rows = re.findall(r"^\| `([\w.]+)` \| \(([\d, ]*)\) \|$", body, flags=re.M)
        tables[heading.strip()] = [
            (key, tuple(int(n) for n in dims.split(",") if n.strip())) for key, dims in rows
        ]
    return tables


def _keys_and_shapes(state: dict) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(np.shape(v))) for k, v in state.items()]


def test_every_twin_section_is_held_by_this_test() -> None:
    assert set(_doc_tables()) == set(SECTIONS)


@pytest.mark.parametrize("heading", SECTIONS)
def test_twin_table_lists_both_engines_state_dicts(heading: str) -> None:
    table = _doc_tables()[heading]
    assert table, f"{heading}: no rows parsed"
    for make_scratch, make_zoo in SECTIONS[heading]:
        assert _keys_and_shapes(make_scratch().state_dict()) == table
        assert _keys_and_shapes(make_zoo().state_dict()) == table


def test_references_to_the_layouts_doc_give_its_path() -> None:
    stale = []
    for folder in ("src", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"(?<!docs/)LAYOUTS\.md", line):
                    stale.append(f"{path.relative_to(REPO)}:{number}")
    assert not stale, f"say docs/LAYOUTS.md: {stale}"
