"""Optimizers by name: PyTorch's fused kernels where every parameter allows them, the same
update rule as the default implementation, and parameter groups given as generators."""

from __future__ import annotations

import pytest
import torch

from nnatlas.train.optimizers import build_optimizer, fused_options


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Embedding(50, 8), torch.nn.Flatten(), torch.nn.Linear(24, 3)
    )


def _train(optimizer: torch.optim.Optimizer, model: torch.nn.Module, steps: int = 5) -> None:
    torch.manual_seed(1)
    for _ in range(steps):
        x, y = torch.randint(0, 50, (16, 3)), torch.randint(0, 3, (16,))
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_torch_optimizers_are_fused_on_the_cpu_and_update_as_the_default_does(name: str) -> None:
    fused_model, plain_model = _model(), _model()
    fused = build_optimizer(name, fused_model.parameters(), lr=1e-2, weight_decay=1e-3)
    assert fused.defaults["fused"] is True
    plain_class = type(fused)
    extra = (
        {"momentum": 0.9, "nesterov": name == "nesterov"}
        if name in ("momentum", "nesterov")
        else {}
    )
    plain = plain_class(plain_model.parameters(), lr=1e-2, weight_decay=1e-3, **extra)
    assert not plain.defaults.get("fused")
    _train(fused, fused_model)
    _train(plain, plain_model)
    for a, b in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_rmsprop_has_no_fused_kernel_and_is_built_plain() -> None:
    optimizer = build_optimizer("rmsprop", _model().parameters(), lr=1e-3)
    assert not optimizer.defaults.get("fused")


def test_groups_given_as_generators_keep_their_parameters() -> None:
    model = _model()
    groups = [
        {"params": (p for p in model[0].parameters()), "lr": 1e-4},
        {"params": model[2].parameters()},
    ]
    optimizer = build_optimizer("adam", groups, lr=1e-2)
    counts = [len(group["params"]) for group in optimizer.param_groups]
    assert counts == [1, 2] and optimizer.defaults["fused"] is True
    assert optimizer.param_groups[0]["lr"] == 1e-4


def test_no_fused_kernel_for_integer_tensors() -> None:
    assert fused_options([torch.zeros(3), torch.zeros(3, dtype=torch.int64)]) == {}
    assert fused_options([torch.zeros(3)]) == {"fused": True}
    assert fused_options([]) == {}
