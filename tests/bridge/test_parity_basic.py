"""Weight transfer and float64 parity between scratch modules and their torch twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.bridge.parity import check_parity
from nnatlas.bridge.transfer import scratch_to_torch, to_numpy, to_torch, torch_to_scratch
from nnatlas.scratch import activations as act
from nnatlas.scratch.batchnorm import BatchNorm1d
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.models.mlp import MLP
from nnatlas.scratch.sequential import Sequential

TORCH_ACT = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "gelu": torch.nn.GELU,
    "leaky_relu": torch.nn.LeakyReLU,
}


class TorchMLP(torch.nn.Module):
    """The zoo layout of docs/LAYOUTS.md, written out so these tests need only torch."""

    def __init__(self, in_features, num_classes, hidden_sizes, activation, batchnorm, dropout=0.0):
        super().__init__()
        layers, prev = [], in_features
        for width in hidden_sizes:
            layers.append(torch.nn.Linear(prev, width))
            if batchnorm:
                layers.append(torch.nn.BatchNorm1d(width))
            layers.append(TORCH_ACT[activation]())
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
            prev = width
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(prev, num_classes)

    def forward(self, x):
        return self.head(self.features(x.flatten(1)))


@pytest.mark.parametrize("activation", sorted(TORCH_ACT))
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_mlp_parity_forward_backward(activation, batchnorm, train):
    # Dropout masks differ between engines, so dropout layers are included only in eval mode.
    dropout = 0.0 if train else 0.5
    torch.manual_seed(0)
    twin = TorchMLP(6, 3, (5, 4), activation, batchnorm, dropout).train(train)
    scratch = MLP(6, 3, (5, 4), activation=activation, batchnorm=batchnorm, dropout=dropout)
    x = np.random.default_rng(0).standard_normal((7, 2, 3))
    report = check_parity(scratch, twin, x)
    assert report.passed, report
    assert report.max_abs_input_grad is not None
    assert set(report.max_abs_param_grad) == {n for n, _ in twin.named_parameters()}
    if batchnorm:
        assert "features.1.running_var" in report.max_abs_buffers


@pytest.mark.parametrize(
    "optimizer",
    [
        ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("rmsprop", dict(lr=0.01, centered=True)),
        ("adam", dict(lr=0.01, amsgrad=True)),
        ("adamw", dict(lr=0.01, weight_decay=0.1)),
    ],
)
@pytest.mark.parametrize(
    "loss, target_kind",
    [
        ("cross_entropy", "classes"),
        (("cross_entropy", {"label_smoothing": 0.1}), "classes"),
        ("mse", "values"),
        ("bce_with_logits", "binary"),
    ],
)
def test_training_steps_match_torch(optimizer, loss, target_kind):
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    twin = TorchMLP(5, 3, (6,), "tanh", batchnorm=False)
    scratch = MLP(5, 3, hidden_sizes=(6,), activation="tanh")
    x = rng.standard_normal((8, 5))
    target = {
        "classes": rng.integers(0, 3, 8),
        "values": rng.standard_normal((8, 3)),
        "binary": (rng.random((8, 3)) > 0.5).astype(np.float64),
    }[target_kind]
    report = check_parity(scratch, twin, x, target=target, loss=loss, optimizer=optimizer, steps=3)
    assert report.passed, report
    assert report.max_abs_after_step is not None and report.max_abs_loss is not None


def test_parity_detects_a_different_computation():
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    scratch = Sequential(Linear(3, 4), act.GELU("tanh"))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU())  # exact erf GELU
    report = check_parity(scratch, twin, x)
    assert not report.passed and report.max_abs_forward > 1e-6
    assert "FAIL" in str(report)


def test_parity_leaves_the_callers_modules_untouched():
    torch.manual_seed(0)
    scratch, twin = (
        Sequential(Linear(3, 2), BatchNorm1d(2)),
        torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)),
    )
    before = scratch.state_dict()
    check_parity(scratch, twin, np.ones((4, 3)), optimizer=("sgd", dict(lr=1.0)))
    after = scratch.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert scratch[0].weight.data.dtype == np.float32 and twin[0].weight.dtype == torch.float32


def test_parity_with_tuple_outputs_via_forward_callables():
    """How a recurrent module with (output, state) results reuses check_parity."""
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal((3, 4))

    def forward_scratch(m, inp):
        y = m(inp)
        return y, (2.0 * y,)

    def backward_scratch(m, grads):
        g_y, (g_state,) = grads
        return m.backward(g_y + 2.0 * g_state)

    def forward_torch(m, inp):
        y = m(inp)
        return y, (2.0 * y,)

    report = check_parity(
        Sequential(Linear(4, 3), act.Tanh()),
        torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()),
        x,
        forward_scratch=forward_scratch,
        forward_torch=forward_torch,
        backward_scratch=backward_scratch,
    )
    assert report.passed, report


# -- transfer -------------------------------------------------------------------------------------
def test_transfer_round_trip_and_dtypes():
    torch.manual_seed(0)
    twin = TorchMLP(6, 3, (5,), "relu", batchnorm=True)
    twin.train()(torch.randn(8, 6))  # move the running statistics away from their init
    scratch = MLP(6, 3, hidden_sizes=(5,), batchnorm=True, dtype=np.float64)
    torch_to_scratch(twin, scratch)
    assert scratch.head.weight.data.dtype == np.float64  # destination dtype kept
    state = scratch.state_dict()
    for key, value in twin.state_dict().items():
        np.testing.assert_allclose(state[key], to_numpy(value), rtol=1e-7)
    assert state["features.1.num_batches_tracked"].dtype == np.int64
    fresh = TorchMLP(6, 3, (5,), "relu", batchnorm=True)
    scratch_to_torch(scratch, fresh)
    for key, value in twin.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
    assert to_torch(np.ones(2), dtype=torch.float64).dtype == torch.float64


def test_transfer_is_strict_and_names_the_offending_keys():
    with pytest.raises(KeyError, match=r"keys only in the destination \['bias'\]"):
        scratch_to_torch(Linear(3, 2, bias=False), torch.nn.Linear(3, 2))
    with pytest.raises(KeyError, match=r"keys only in the source \['bias'\]"):
        torch_to_scratch(torch.nn.Linear(3, 2), Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match=r"weight: \(2, 3\) vs \(4, 3\)"):
        scratch_to_torch(Linear(3, 2), torch.nn.Linear(3, 4))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_scratch_mlp_matches_the_zoo_mlp(batchnorm):
    zoo = pytest.importorskip("nnatlas.models.mlp")
    torch.manual_seed(0)
    twin = zoo.MLP(16, 4, hidden_sizes=(8, 6), activation="gelu", batchnorm=batchnorm)
    scratch = MLP(16, 4, hidden_sizes=(8, 6), activation="gelu", batchnorm=batchnorm)
    assert set(scratch.state_dict()) == set(twin.state_dict())
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 1, 4, 4)), rng.integers(0, 4, 6)
    report = check_parity(
        scratch, twin, x, target=y, loss="cross_entropy", optimizer=("adamw", {"lr": 0.01}), steps=2
    )
    # BatchNorm makes the first bias gradient ~0; Adam turns its round-off into ~1e-10 steps.
    assert report.max_abs_forward < 1e-12 and max(report.max_abs_param_grad.values()) < 1e-12
    assert report.max_abs_after_step < (1e-9 if batchnorm else 1e-12), report
