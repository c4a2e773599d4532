"""Scratch (NumPy) models built only from nnatlas.scratch layers; their keys equal the zoo's."""

from nnatlas.scratch.models.char_lstm import CharLSTM, CharRNN
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.models.resnet_block import BasicBlock

__all__ = ["MLP", "BasicBlock", "CharLSTM", "CharRNN", "LeNet5"]
