"""``nnatlas check`` entries for the core scratch components: Linear, activations, Dropout,
BatchNorm1d, Sequential, the MLP (against the zoo's ``mlp``), losses and optimizers.

Each check runs a finite-difference gradient check (float64, random upstream gradient) and a
float64 parity comparison with the PyTorch twin (same weights -> same outputs and gradients;
for optimizers, the same parameters after 3 steps). Inputs are small so each check takes a few
milliseconds; seeds are fixed so the numbers are reproducible.

The cases are declarative tables, one per component (``LAYER_CASES``, ``ACTIVATION_CASES``,
``LOSS_CASES``, ``OPTIMIZER_CASES``), each registered as one check per entry; the tests in
``tests/scratch`` parametrize over these same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nnatlas.bridge.checks import CheckResult, register_check
from nnatlas.bridge.parity import ParityReport, check_parity
from nnatlas.bridge.transfer import to_numpy, torch_to_scratch
from nnatlas.models import create_model
from nnatlas.scratch import activations as act
from nnatlas.scratch import losses as L
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.clip import clip_grad_norm_, clip_grad_value_
from nnatlas.scratch.dropout import Dropout
from nnatlas.scratch.gradcheck import GradcheckReport, gradcheck, gradcheck_loss
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.module import Module, Parameter
from nnatlas.scratch.sequential import Sequential


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _result(
    name: str, group: str, grad: GradcheckReport | None, parity: ParityReport | None
) -> CheckResult:
    notes = []
    if grad is not None and not grad.passed and grad.worst is not None:
        tensor, index, analytic, numeric = grad.worst
        notes.append(
            f"gradcheck worst: {tensor}{list(index or [])} analytic {analytic:.6g} "
            f"numeric {numeric:.6g}"
        )
    if parity is not None and not parity.passed:
        notes.append(str(parity).replace("\n", "; "))
    return CheckResult(
        name,
        group,
        gradcheck_rel_error=None if grad is None else grad.max_rel_error,
        parity_max_abs=None if parity is None else parity.max_abs,
        detail=" | ".join(notes),
    )


LayerCase = tuple[Callable[[], Module], Callable[[], torch.nn.Module], tuple[int, ...], bool]


def _perturbed_bn(bn: torch.nn.BatchNorm1d) -> torch.nn.BatchNorm1d:
    """Non-trivial gamma, beta and running statistics, so eval mode is more than the identity."""
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return bn


def _register_layer(name: str, group: str, case: LayerCase) -> None:
    """Register a gradcheck + parity check of one layer on a random input of the case's shape."""
    make_scratch, make_torch, shape, train = case

    @register_check(name, group)
    def _run() -> CheckResult:
        torch.manual_seed(0)
        scratch, twin = make_scratch(), make_torch()
        torch_to_scratch(twin, scratch)  # gradcheck at the same (non-trivial) weights as parity
        scratch.train(train)
        twin.train(train)
        x = _rng(1).standard_normal(shape)
        return _result(
            name,
            group,
            gradcheck(scratch, x, rng=_rng(2)),
            check_parity(scratch, twin, x, rng=_rng(3)),
        )


# -- layers -----------------------------------------------------------------------------------
_BN1D = (lambda: BatchNorm1d(4), lambda: _perturbed_bn(torch.nn.BatchNorm1d(4)))
# name -> (scratch factory, torch factory, input shape, training mode)
LAYER_CASES: dict[str, LayerCase] = {
    "Linear": (lambda: Linear(5, 4), lambda: torch.nn.Linear(5, 4), (3, 5), True),
    "Linear(bias=False, 3-D input)": (
        lambda: Linear(5, 4, bias=False),
        lambda: torch.nn.Linear(5, 4, bias=False),
        (2, 3, 5),
        True,
    ),
    "BatchNorm1d train (N, C)": (*_BN1D, (6, 4), True),
    "BatchNorm1d eval (N, C)": (*_BN1D, (6, 4), False),
    "BatchNorm1d train (N, C, L)": (*_BN1D, (5, 4, 3), True),
    "BatchNorm1d eval (N, C, L)": (*_BN1D, (5, 4, 3), False),
    "BatchNorm1d(momentum=None, affine=False)": (
        lambda: BatchNorm1d(4, momentum=None, affine=False),
        lambda: torch.nn.BatchNorm1d(4, momentum=None, affine=False),
        (6, 4),
        True,
    ),
    "BatchNorm1d(track_running_stats=False) eval": (
        lambda: BatchNorm1d(4, track_running_stats=False),
        lambda: torch.nn.BatchNorm1d(4, track_running_stats=False),
        (6, 4),
        False,
    ),
}
for _name, _case in LAYER_CASES.items():
    _register_layer(_name, "layers", _case)


@register_check("Dropout", "layers")
def _check_dropout() -> CheckResult:
    # The engines draw masks differently, so take torch's mask (seeded; the non-zero outputs) and
    # give it to the scratch layer: then output scaling and backward must agree exactly.
    x = _rng(1).standard_normal((4, 6))
    p = 0.4

    def forward_torch(m: torch.nn.Module, inp: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)
        return m(inp)

    keep = to_numpy(forward_torch(torch.nn.Dropout(p), torch.from_numpy(x))) != 0
    scratch = Dropout(p)
    scratch.fixed_mask = keep
    parity = check_parity(scratch, torch.nn.Dropout(p), x, rng=_rng(3), forward_torch=forward_torch)
    eval_parity = check_parity(Dropout(p).eval(), torch.nn.Dropout(p).eval(), x)
    parity.max_abs_forward = max(parity.max_abs_forward, eval_parity.max_abs)
    return _result("Dropout", "layers", gradcheck(Dropout(p, rng=_rng(4)), x, rng=_rng(2)), parity)


@register_check("Sequential(Linear, BatchNorm1d, ReLU, Linear)", "layers")
def _check_sequential() -> CheckResult:
    torch.manual_seed(0)
    scratch = Sequential(Linear(5, 8), BatchNorm1d(8), act.ReLU(), Linear(8, 3))
    twin = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    )
    x = _rng(1).standard_normal((6, 5))
    return _result(
        "Sequential(Linear, BatchNorm1d, ReLU, Linear)",
        "layers",
        gradcheck(scratch, x, rng=_rng(2)),
        check_parity(scratch, twin, x, rng=_rng(3)),
    )


# -- activations ------------------------------------------------------------------------------
# name -> (scratch factory, torch factory); each on a (3, 4, 5) input in training mode
ACTIVATION_CASES: dict[str, tuple[Callable[[], Module], Callable[[], torch.nn.Module]]] = {
    "Sigmoid": (act.Sigmoid, torch.nn.Sigmoid),
    "Tanh": (act.Tanh, torch.nn.Tanh),
    "ReLU": (act.ReLU, torch.nn.ReLU),
    "LeakyReLU(0.1)": (lambda: act.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    "GELU": (act.GELU, torch.nn.GELU),
    "GELU(approximate='tanh')": (lambda: act.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    "Softmax(dim=1)": (lambda: act.Softmax(1), lambda: torch.nn.Softmax(1)),
    "Softmax(dim=-1)": (lambda: act.Softmax(-1), lambda: torch.nn.Softmax(-1)),
}
for _name, (_make_s, _make_t) in ACTIVATION_CASES.items():
    _register_layer(_name, "activations", (_make_s, _make_t, (3, 4, 5), True))


# -- losses -----------------------------------------------------------------------------------
LossData = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _register_loss(
    name: str, make: Callable[[], tuple[Module, torch.nn.Module]], data: LossData
) -> None:
    """Register gradcheck of d loss/d logits and parity of loss value and gradient with torch."""

    @register_check(name, "losses")
    def _run() -> CheckResult:
        crit_s, crit_t = make()
        logits, target = data(_rng(1))
        grad = gradcheck_loss(crit_s, logits, target, rng=_rng(2))
        value_s = crit_s(logits, target)
        upstream = _rng(3).standard_normal(np.shape(value_s))
        grad_s = crit_s.backward(upstream)
        logits_t = torch.from_numpy(logits).requires_grad_(True)
        target_t = torch.from_numpy(target)
        value_t = crit_t(logits_t, target_t)
        value_t.backward(torch.from_numpy(np.asarray(upstream)))
        parity = ParityReport(
            max_abs_forward=float(np.max(np.abs(value_s - to_numpy(value_t)))),
            max_abs_input_grad=float(np.max(np.abs(grad_s - to_numpy(logits_t.grad)))),
        )
        return _result(name, "losses", grad, parity)


def _classes(shape: tuple[int, ...], n_classes: int, ignore: int = 0) -> LossData:
    """Logits of ``shape`` and class targets, the first ``ignore`` of them -100 (ignored)."""

    def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.standard_normal(shape) * 2
        target = rng.integers(0, n_classes, (shape[0],) + shape[2:])
        target.reshape(-1)[:ignore] = -100
        return logits, target

    return data


_W = np.array([0.5, 1.0, 2.0, 1.5])
# name -> (factory of the (scratch, torch) criteria, data(rng) -> (logits, target))
LOSS_CASES: dict[str, tuple[Callable[[], tuple[Module, torch.nn.Module]], LossData]] = {
    "CrossEntropyLoss": (
        lambda: (L.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        _classes((6, 4), 4),
    ),
    "CrossEntropyLoss(label_smoothing=0.1)": (
        lambda: (
            L.CrossEntropyLoss(label_smoothing=0.1),
            torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        ),
        _classes((6, 4), 4),
    ),
    "CrossEntropyLoss(weight, ignore_index, label_smoothing)": (
        lambda: (
            L.CrossEntropyLoss(weight=_W, label_smoothing=0.2),
            torch.nn.CrossEntropyLoss(weight=torch.from_numpy(_W), label_smoothing=0.2),
        ),
        _classes((6, 4), 4, ignore=2),
    ),
    "CrossEntropyLoss((N, C, d) sum)": (
        lambda: (L.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum")),
        _classes((3, 4, 5), 4, ignore=1),
    ),
    "CrossEntropyLoss(none)": (
        lambda: (
            L.CrossEntropyLoss(reduction="none"),
            torch.nn.CrossEntropyLoss(reduction="none"),
        ),
        _classes((6, 4), 4, ignore=1),
    ),
    "CrossEntropyLoss(probability targets)": (
        lambda: (
            L.CrossEntropyLoss(label_smoothing=0.1),
            torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        ),
        lambda rng: (rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), 5)),
    ),
    "MSELoss": (
        lambda: (L.MSELoss(), torch.nn.MSELoss()),
        lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 3))),
    ),
    "BCEWithLogitsLoss": (
        lambda: (L.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()),
        lambda rng: (
            rng.standard_normal((5, 3)) * 4,
            (rng.random((5, 3)) > 0.5).astype(np.float64),
        ),
    ),
    "BCEWithLogitsLoss(pos_weight, sum)": (
        lambda: (
            L.BCEWithLogitsLoss(pos_weight=_W[:3], reduction="sum"),
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(_W[:3]), reduction="sum"),
        ),
        lambda rng: (rng.standard_normal((5, 3)) * 4, rng.random((5, 3))),
    ),
}
for _name, (_make, _data) in LOSS_CASES.items():
    _register_loss(_name, _make, _data)


# -- optimizers -------------------------------------------------------------------------------
# name -> (optimizer, keyword arguments): ``nnatlas.scratch.optim.OPTIMIZERS[optimizer]`` against
# ``nnatlas.bridge.parity.TORCH_OPTIMIZERS[optimizer]``, 3 steps of a Linear on cross-entropy
OPTIMIZER_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "SGD": ("sgd", dict(lr=0.1)),
    "SGD(momentum)": ("sgd", dict(lr=0.1, momentum=0.9)),
    "SGD(momentum, dampening, weight_decay)": (
        "sgd",
        dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
    ),
    "SGD(nesterov, weight_decay)": (
        "sgd",
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    "RMSprop": ("rmsprop", dict(lr=0.01)),
    "RMSprop(alpha, momentum, weight_decay)": (
        "rmsprop",
        dict(lr=0.01, alpha=0.9, momentum=0.7, weight_decay=0.1),
    ),
    "RMSprop(centered, eps)": ("rmsprop", dict(lr=0.01, centered=True, eps=1e-6)),
    "RMSprop(centered, momentum, weight_decay)": (
        "rmsprop",
        dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01),
    ),
    "Adam": ("adam", dict(lr=0.01)),
    "Adam(betas, weight_decay)": ("adam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1)),
    "Adam(amsgrad, weight_decay)": (
        "adam",
        dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01),
    ),
    "AdamW": ("adamw", dict(lr=0.01)),
    "AdamW(amsgrad)": ("adamw", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "AdamW(weight_decay, eps)": ("adamw", dict(lr=0.02, weight_decay=0.3, eps=1e-6)),
}


def _register_optimizer(name: str, opt: str, kwargs: dict[str, Any]) -> None:
    @register_check(name, "optim")
    def _run() -> CheckResult:
        torch.manual_seed(0)
        x = _rng(1).standard_normal((6, 5))
        y = _rng(2).integers(0, 3, 6)
        parity = check_parity(
            Linear(5, 3),
            torch.nn.Linear(5, 3),
            x,
            target=y,
            loss="cross_entropy",
            optimizer=(opt, kwargs),
            steps=3,
        )
        return _result(name, "optim", None, parity)


for _name, (_opt, _kwargs) in OPTIMIZER_CASES.items():
    _register_optimizer(_name, _opt, _kwargs)


@register_check("clip_grad_norm_ / clip_grad_value_", "optim")
def _check_clip() -> CheckResult:
    rng = _rng(1)
    grads = [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5)]
    worst = 0.0
    for clip in ("norm2", "norm_inf", "value"):
        params = [Parameter(np.zeros_like(g)) for g in grads]
        twins = [torch.nn.Parameter(torch.zeros_like(torch.from_numpy(g))) for g in grads]
        for p, t, g in zip(params, twins, grads, strict=True):
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        if clip == "value":
            clip_grad_value_(params, 0.5)
            torch.nn.utils.clip_grad_value_(twins, 0.5)
        else:
            norm_type = 2.0 if clip == "norm2" else float("inf")
            total_s = clip_grad_norm_(params, 1.0, norm_type)
            total_t = torch.nn.utils.clip_grad_norm_(twins, 1.0, norm_type).item()
            worst = max(worst, abs(total_s - total_t))
        for p, t in zip(params, twins, strict=True):
            worst = max(worst, float(np.max(np.abs(p.grad - to_numpy(t.grad)))))
    return CheckResult("clip_grad_norm_ / clip_grad_value_", "optim", parity_max_abs=worst)


# -- models -----------------------------------------------------------------------------------
@register_check("MLP (scratch model, cross-entropy, SGD step)", "models")
def _check_mlp() -> CheckResult:
    """The scratch MLP against the zoo's ``mlp`` entry itself, same arguments on both sides."""
    kwargs = dict(hidden_sizes=(8, 6), activation="tanh", batchnorm=True)
    torch.manual_seed(0)
    scratch = MLP(12, 3, **kwargs)
    twin = create_model("mlp", in_features=12, num_classes=3, **kwargs)
    x = _rng(1).standard_normal((5, 3, 4))  # (N, *) is flattened to (N, 12)
    y = _rng(2).integers(0, 3, 5)
    parity = check_parity(
        scratch,
        twin,
        x,
        target=y,
        loss="cross_entropy",
        optimizer=("sgd", dict(lr=0.1, momentum=0.9)),
        steps=2,
    )
    return _result(
        "MLP (scratch model, cross-entropy, SGD step)",
        "models",
        gradcheck(scratch, x, rng=_rng(3)),
        parity,
    )
