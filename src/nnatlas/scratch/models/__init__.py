"""Scratch (NumPy) models built only from nnatlas.scratch layers; their keys equal the zoo's."""

from nnatlas.scratch.models.alexnet import AlexNet
from nnatlas.scratch.models.attention import AdditiveAttention, LuongAttention
from nnatlas.scratch.models.char_lstm import CharLSTM, CharRNN
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.models.resnet import Bottleneck, ResNet
from nnatlas.scratch.models.resnet_block import BasicBlock
from nnatlas.scratch.models.resnet_cifar import CifarBasicBlock, CifarResNet, ShortcutA
from nnatlas.scratch.models.rnn_classifier import RecurrentClassifier
from nnatlas.scratch.models.seq2seq import Seq2Seq
from nnatlas.scratch.models.vgg import VGG

__all__ = [
    "MLP",
    "VGG",
    "AdditiveAttention",
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "CharLSTM",
    "CharRNN",
    "CifarBasicBlock",
    "CifarResNet",
    "LeNet5",
    "LuongAttention",
    "RecurrentClassifier",
    "ResNet",
    "Seq2Seq",
    "ShortcutA",
]
