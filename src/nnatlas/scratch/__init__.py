"""The NumPy engine: readable layers with explicit backward passes. Never imports torch.

Every layer mirrors its PyTorch twin's name, arguments and parameter layout (``See: torch.nn.X``
in each docstring), so weights move between the engines unchanged; :mod:`nnatlas.bridge` proves
them equal. A layer is a forward/backward pair: ``forward`` caches what ``backward`` needs,
``backward`` accumulates parameter gradients and returns the input gradient.
"""

from nnatlas.scratch import init
from nnatlas.scratch.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.batchnorm2d import BatchNorm2d
from nnatlas.scratch.clip import clip_grad_norm_, clip_grad_value_
from nnatlas.scratch.conv import Conv2d
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.embedding import Embedding
from nnatlas.scratch.flatten import Flatten
from nnatlas.scratch.gradcheck import (
    gradcheck,
    gradcheck_directions,
    gradcheck_loss,
    numerical_gradient,
    rel_error,
)
from nnatlas.scratch.init import manual_seed
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from nnatlas.scratch.module import Module, Parameter, ShapeError, load_npz, save_npz
from nnatlas.scratch.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from nnatlas.scratch.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from nnatlas.scratch.recurrent import GRU, LSTM, RNN
from nnatlas.scratch.rnn_cells import GRUCell, LSTMCell, RNNCell
from nnatlas.scratch.sequential import Sequential

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "RNN",
    "RNNCell",
    "ReLU",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "clip_grad_norm_",
    "clip_grad_value_",
    "gradcheck",
    "gradcheck_directions",
    "gradcheck_loss",
    "init",
    "load_npz",
    "manual_seed",
    "numerical_gradient",
    "rel_error",
    "save_npz",
]
