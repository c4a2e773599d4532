"""A trained playground network as a Python file that rebuilds it with nnatlas and PyTorch.

TensorFlow Playground's most wanted feature (its issue #39) is "export the model as code". The
file written here holds the architecture (the playground's options), every weight (float32
values written as the shortest decimal that reads back to the same float32) and a few test
points with the lab's own predictions. Run it (``python network.py``) and it builds the network
in both engines, loads the weights and checks that both predict what the lab predicted; import
it and ``build_torch()`` / ``build_scratch()`` / ``predict(points)`` are yours.
"""

from __future__ import annotations

import pprint
from typing import Any

import numpy as np

from nnatlas.lab.playground import Trained, layer_plan, probabilities

_CODE = '''
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")


def _weights(dtype=None):
    """Every parameter as an array of its shape (float32)."""
    import numpy as np

    return {name: np.asarray(values, dtype=np.float32).reshape(shape)
            for name, (shape, values) in WEIGHTS.items()}


def build_torch():
    """The network as a torch.nn.Sequential, weights loaded, in eval mode."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        """x + block(x): the identity shortcut (He et al. 2016)."""

        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            return x + self.block(x)

    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
             "leaky_relu": nn.LeakyReLU}
    layers = []
    for layer in LAYERS:
        parts = [nn.Linear(layer["in"], layer["out"]), kinds[layer["activation"]]()]
        if SPEC["dropout"] > 0:
            parts.append(nn.Dropout(SPEC["dropout"]))
        block = nn.Sequential(*parts)
        layers.append(Residual(block) if layer["residual"] else block)
    layers.append(nn.Linear(LAYERS[-1]["out"], len(CLASSES)))
    net = nn.Sequential(*layers)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in _weights().items()})
    return net.eval()


def build_scratch():
    """The same network in nnatlas's NumPy engine (nnatlas.scratch), weights loaded."""
    import nnatlas.scratch as nn

    class Residual(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            return x + self.block(x)

        def backward(self, grad_out):
            return grad_out + self.block.backward(grad_out)

    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
             "leaky_relu": nn.LeakyReLU}
    layers = []
    for layer in LAYERS:
        parts = [nn.Linear(layer["in"], layer["out"]), kinds[layer["activation"]]()]
        if SPEC["dropout"] > 0:
            parts.append(nn.Dropout(SPEC["dropout"]))
        block = nn.Sequential(*parts)
        layers.append(Residual(block) if layer["residual"] else block)
    layers.append(nn.Linear(LAYERS[-1]["out"], len(CLASSES)))
    net = nn.Sequential(*layers)
    net.load_state_dict(_weights())
    return net.eval()


def predict(points, engine="torch"):
    """Class probabilities of points (N, 2) -> (N, classes), with "torch" or "scratch"."""
    import numpy as np

    x = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if engine == "torch":
        import torch

        with torch.no_grad():
            return torch.softmax(build_torch()(torch.from_numpy(x)), dim=1).numpy()
    logits = build_scratch()(x)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def check(tolerance=1e-5):
    """Both engines predict what the lab predicted on CHECK_POINTS; returns the largest gap."""
    import numpy as np

    worst = 0.0
    for engine in ("torch", "scratch"):
        probs = predict(CHECK_POINTS, engine)
        gap = float(np.abs(probs - np.asarray(CHECK_PROBABILITIES)).max())
        if gap > tolerance or probs.argmax(axis=1).tolist() != CHECK_CLASSES:
            raise SystemExit(f"{engine}: predictions differ from the lab's by {gap:.3g}")
        worst = max(worst, gap)
    return worst


if __name__ == "__main__":
    import json

    gap = check()
    print(json.dumps({"checked_points": len(CHECK_POINTS), "largest_difference": gap,
                      "engines": ["torch", "scratch"], "agree": True}))
'''


def export_network(trained: Trained, check_points: int = 64) -> str:
    """The Python source of a file that rebuilds ``trained`` and checks itself.

    The check points are the first ``check_points`` test points (the lab's predictions on
    them are written into the file, with the probabilities in full float32 precision).
    """
    x = trained.points.x_test[:check_points]
    probs = probabilities(trained.net, x)  # (K, C)
    weights = {
        name: (list(p.data.shape), [float(v) for v in p.data.astype(np.float32).ravel()])
        for name, p in trained.net.named_parameters()
    }
    spec = trained.spec.to_dict()
    header = [
        '"""A network trained in the nnatlas lab playground, rebuilt with nnatlas and PyTorch.',
        "",
        f"Data: {spec['data']}; hidden layers {spec['hidden']} ({', '.join(spec['activations'])});",
        f"loss {spec['loss']}, {spec['optimizer']} lr {spec['lr']}, {spec['epochs']} epochs,"
        f" dropout {spec['dropout']}, residual {spec['residual']}.",
        "",
        "    python this_file.py      # both engines predict what the lab did on CHECK_POINTS",
        "    from this_file import build_torch, build_scratch, predict",
        '"""',
        "",
    ]
    values = {
        "SPEC": spec,
        "CLASSES": trained.classes,
        "LAYERS": layer_plan(trained.spec),
        "CHECK_POINTS": [[float(a), float(b)] for a, b in x],
        "CHECK_CLASSES": probs.argmax(axis=1).astype(int).tolist(),
        "CHECK_PROBABILITIES": [[float(p) for p in row] for row in probs.astype(np.float32)],
        "WEIGHTS": weights,
    }
    body = [f"{name} = {_literal(value)}\n" for name, value in values.items()]
    return "\n".join(header) + "\n".join(body) + _CODE


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=100, compact=True, sort_dicts=False)
