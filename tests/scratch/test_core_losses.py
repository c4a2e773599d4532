"""Scratch losses against torch.nn losses: values and gradients, every option; bad targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnatlas.scratch.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from nnatlas.scratch.module import ShapeError

WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])


def _torch_kwargs(kwargs):
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def _compare(scratch, twin, logits, target, dtype=np.float64, tol=1e-12):
    logits = logits.astype(dtype)
    value = scratch(logits, target)
    upstream = np.random.default_rng(9).standard_normal(np.shape(value))
    grad = scratch.backward(upstream)
    assert grad.shape == logits.shape and grad.dtype == dtype
    logits_t = torch.from_numpy(logits.copy()).requires_grad_(True)
    target_t = torch.from_numpy(np.asarray(target))
    if target_t.is_floating_point():
        target_t = target_t.to(logits_t.dtype)
    value_t = twin(logits_t, target_t)
    value_t.backward(torch.from_numpy(np.asarray(upstream, dtype=dtype)))
    np.testing.assert_allclose(value, value_t.detach().numpy(), atol=tol, rtol=tol)
    np.testing.assert_allclose(grad, logits_t.grad.numpy(), atol=tol, rtol=tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(7, 4), (3, 4, 5), (2, 4, 3, 2)])
def test_cross_entropy_matches_torch(reduction, label_smoothing, weighted, shape):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    target.reshape(-1)[:2] = -100  # two ignored elements
    kwargs = dict(reduction=reduction, label_smoothing=label_smoothing)
    if weighted:
        kwargs["weight"] = WEIGHT
    _compare(
        CrossEntropyLoss(**kwargs),
        torch.nn.CrossEntropyLoss(**_torch_kwargs(kwargs)),
        logits,
        target,
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(label_smoothing):
    rng = np.random.default_rng(1)
    logits, probs = rng.standard_normal((6, 4)), rng.dirichlet(np.ones(4), 6)
    kwargs = dict(label_smoothing=label_smoothing, weight=WEIGHT)
    _compare(
        CrossEntropyLoss(**kwargs),
        torch.nn.CrossEntropyLoss(**_torch_kwargs(kwargs)),
        logits,
        probs,
    )


def test_cross_entropy_custom_ignore_index_and_float32():
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((5, 3)), np.array([0, 2, 7, 1, 7])
    _compare(
        CrossEntropyLoss(ignore_index=7),
        torch.nn.CrossEntropyLoss(ignore_index=7),
        logits,
        target,
        dtype=np.float32,
        tol=1e-6,
    )


def test_cross_entropy_is_stable_for_huge_logits():
    loss = CrossEntropyLoss()
    value = loss(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), np.array([1, 1]))
    assert np.isclose(value, 1000.0)
    assert np.all(np.isfinite(loss.backward()))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    value = CrossEntropyLoss()(np.zeros((2, 3)), np.array([-100, -100]))
    assert np.isnan(value)
    assert torch.isnan(
        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([-100, -100]))
    )


def test_cross_entropy_bad_targets_name_the_loss_and_range():
    loss = CrossEntropyLoss()
    with pytest.raises(
        ValueError, match=r"CrossEntropyLoss: target class indices must be in \[0, 2\]"
    ):
        loss(np.zeros((3, 3)), np.array([0, 3, 1]))
    with pytest.raises(ValueError, match="found -1"):
        loss(np.zeros((3, 3)), np.array([0, -1, 1]))
    with pytest.raises(ShapeError, match=r"class indices of shape \(3,\)"):
        loss(np.zeros((3, 3)), np.array([[0], [1], [2]]))
    with pytest.raises(TypeError, match="must be integers"):
        loss(np.zeros((3, 3)), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"\(N, C\) or \(N, C, d1, \.\.\.\)"):
        loss(np.zeros(3), np.array(1))
    with pytest.raises(ShapeError, match=r"weight must have shape \(3,\)"):
        CrossEntropyLoss(weight=np.ones(4))(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        CrossEntropyLoss(reduction="avg")
    with pytest.raises(RuntimeError, match="backward called before"):
        CrossEntropyLoss().backward()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [{}, {"pos_weight": WEIGHT[:3]}, {"weight": WEIGHT[1:]}])
def test_bce_with_logits_matches_torch(reduction, options):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 3)) * 30  # saturated logits must stay finite
    target = rng.random((5, 3))
    kwargs = dict(reduction=reduction, **options)
    _compare(
        BCEWithLogitsLoss(**kwargs),
        torch.nn.BCEWithLogitsLoss(**_torch_kwargs(kwargs)),
        logits,
        target,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_mse_matches_torch(reduction, dtype, tol):
    rng = np.random.default_rng(4)
    logits, target = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2)).astype(dtype)
    _compare(MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), logits, target, dtype, tol)


def test_regression_losses_reject_mismatched_targets():
    with pytest.raises(ShapeError, match=r"MSELoss: target must have the input's shape \(4, 1\)"):
        MSELoss()(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ShapeError, match="BCEWithLogitsLoss: target must have the input's shape"):
        BCEWithLogitsLoss()(np.zeros((4, 2)), np.zeros((4, 1)))
    loss = MSELoss(reduction="none")
    loss(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ShapeError, match=r"grad must have the loss's shape \(2, 2\)"):
        loss.backward(np.ones(3))
