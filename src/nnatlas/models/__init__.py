"""The PyTorch model zoo: a registry of named models, from the MLP to seq2seq with attention.

>>> from nnatlas.models import create_model, list_models
>>> model = create_model("resnet20", num_classes=10)

Importing this package registers every family below. ``models`` knows nothing of ``scratch``;
the bridge (``nnatlas.bridge.zoo``) connects the two.
"""

from nnatlas.models.alexnet import AlexNet
from nnatlas.models.base import VisionModel
from nnatlas.models.box_ops import box_iou, nms
from nnatlas.models.centernet import CenterNet
from nnatlas.models.detectors import FasterRCNNMobileNet, SSDLiteMobileNet
from nnatlas.models.efficientnet import efficientnet_lite0
from nnatlas.models.language_model import RecurrentLM
from nnatlas.models.lenet import LeNet5
from nnatlas.models.mlp import MLP
from nnatlas.models.mobilenet import MobileNetV2
from nnatlas.models.registry import (
    KINDS,
    ModelEntry,
    UnknownModelError,
    create_model,
    get_model_entry,
    list_models,
    register_model,
)
from nnatlas.models.resnet import ResNet
from nnatlas.models.resnet_cifar import CifarResNet, load_pretrained_cifar_resnet
from nnatlas.models.rnn_classifier import RecurrentClassifier
from nnatlas.models.rnn_utils import detach_state
from nnatlas.models.seq2seq import Seq2Seq
from nnatlas.models.summary import count_flops, count_parameters, example_inputs
from nnatlas.models.transfer import STRATEGIES, TransferNet
from nnatlas.models.vgg import VGG

__all__ = [
    "box_iou",
    "count_flops",
    "count_parameters",
    "example_inputs",
    "KINDS",
    "AlexNet",
    "CenterNet",
    "CifarResNet",
    "FasterRCNNMobileNet",
    "LeNet5",
    "MobileNetV2",
    "MLP",
    "ModelEntry",
    "RecurrentClassifier",
    "RecurrentLM",
    "ResNet",
    "SSDLiteMobileNet",
    "STRATEGIES",
    "Seq2Seq",
    "TransferNet",
    "UnknownModelError",
    "VGG",
    "VisionModel",
    "create_model",
    "nms",
    "detach_state",
    "efficientnet_lite0",
    "get_model_entry",
    "list_models",
    "load_pretrained_cifar_resnet",
    "register_model",
]
