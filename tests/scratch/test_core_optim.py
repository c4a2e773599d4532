"""Scratch optimizers and gradient clipping against torch.optim / torch.nn.utils, step for step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnatlas.bridge.checks_basic import OPTIMIZER_CASES
from nnatlas.bridge.parity import TORCH_OPTIMIZERS
from nnatlas.scratch.clip import clip_grad_norm_, clip_grad_value_
from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Parameter
from nnatlas.scratch.optim import OPTIMIZERS, SGD, Adam, AdamW, RMSprop

# The optimizer checks' own table (nnatlas.bridge.checks_basic.OPTIMIZER_CASES), as classes.
CONFIGS = [
    (OPTIMIZERS[name], TORCH_OPTIMIZERS[name], kwargs) for name, kwargs in OPTIMIZER_CASES.values()
]
IDS = list(OPTIMIZER_CASES)


def _pair(rng, shapes=((3, 4), (4,))):
    values = [rng.standard_normal(s) for s in shapes]
    return [Parameter(v.copy()) for v in values], [
        torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values
    ]


def _set_grads(params, twins, rng, skip=()):
    for i, (p, t) in enumerate(zip(params, twins, strict=True)):
        if i in skip:
            p.grad, t.grad = None, None
            continue
        g = rng.standard_normal(p.shape)
        p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())


def _assert_same(params, twins, tol=1e-12):
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), atol=tol, rtol=0)


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS, ids=IDS)
def test_optimizer_matches_torch_over_steps(ours, theirs, kwargs):
    rng = np.random.default_rng(0)
    params, twins = _pair(rng)
    opt, opt_t = ours(params, **kwargs), theirs(twins, **kwargs)
    for step in range(6):
        # Step 3 leaves the bias without a gradient: both must skip it (and keep its state).
        _set_grads(params, twins, rng, skip=(1,) if step == 3 else ())
        opt.step()
        opt_t.step()
        _assert_same(params, twins)


@pytest.mark.parametrize("ours, theirs, kwargs", CONFIGS[1::3], ids=IDS[1::3])
def test_state_dict_round_trip_continues_identically(ours, theirs, kwargs):
    rng = np.random.default_rng(1)
    params, twins = _pair(rng)
    opt, opt_t = ours(params, **kwargs), theirs(twins, **kwargs)
    for _ in range(2):
        _set_grads(params, twins, rng)
        opt.step()
        opt_t.step()
    saved = opt.state_dict()
    clone_params = [Parameter(p.data.copy()) for p in params]
    clone = ours(clone_params, **kwargs)
    clone.load_state_dict(saved)
    for _ in range(2):
        _set_grads(params, twins, rng)
        for c, p in zip(clone_params, params, strict=True):
            c.grad = p.grad.copy()
        opt.step()
        clone.step()
        opt_t.step()
    _assert_same(clone_params, twins)
    assert saved["param_groups"][0]["params"] == [0, 1]


def test_param_groups_and_lr_changes_match_torch():
    rng = np.random.default_rng(2)
    params, twins = _pair(rng)
    opt = SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(
        [{"params": [twins[0]]}, {"params": [twins[1]], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    for step in range(4):
        if step == 2:  # what a scheduler does
            for group, group_t in zip(opt.param_groups, opt_t.param_groups, strict=True):
                group["lr"] *= 0.1
                group_t["lr"] *= 0.1
        _set_grads(params, twins, rng)
        opt.step()
        opt_t.step()
    _assert_same(params, twins)


def test_zero_grad_and_float32_parameters():
    layer = Linear(3, 2, rng=np.random.default_rng(0))
    opt = Adam(layer.parameters(), lr=0.1)
    layer.weight.grad = np.ones((2, 3), dtype=np.float32)
    opt.step()
    assert layer.weight.data.dtype == np.float32
    assert layer.bias.grad is None  # skipped, no error
    opt.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


def test_optimizer_arguments_are_validated():
    params = [Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="SGD: lr must be >= 0"):
        SGD(params, lr=-1)
    with pytest.raises(ValueError, match="nesterov momentum requires"):
        SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"Adam: betas must be in \[0, 1\)"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="pass model.parameters"):
        SGD(Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        AdamW([])
    with pytest.raises(ValueError, match="more than one param group"):
        RMSprop([{"params": params}, {"params": params}])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(3)
    params, twins = _pair(rng)
    _set_grads(params, twins, rng)
    total = clip_grad_norm_(params, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(twins, max_norm, norm_type)
    assert total == pytest.approx(total_t.item(), rel=1e-12)
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), atol=1e-14)


def test_clip_grad_value_and_nonfinite_norm():
    rng = np.random.default_rng(4)
    params, twins = _pair(rng)
    _set_grads(params, twins, rng)
    clip_grad_value_(params, 0.3)
    torch.nn.utils.clip_grad_value_(twins, 0.3)
    for p, t in zip(params, twins, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    params[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="nan/inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([Parameter(np.zeros(2))], 1.0) == 0.0  # no gradients: nothing to clip


def test_add_param_group_matches_torch():
    rng = np.random.default_rng(5)
    params, twins = _pair(rng)
    opt = Adam([params[0]], lr=0.01)
    opt_t = torch.optim.Adam([twins[0]], lr=0.01)
    opt.add_param_group({"params": [params[1]], "lr": 0.1})
    opt_t.add_param_group({"params": [twins[1]], "lr": 0.1})
    for _ in range(3):
        _set_grads(params, twins, rng)
        opt.step()
        opt_t.step()
    _assert_same(params, twins)
    with pytest.raises(ValueError, match="more than one param group"):
        opt.add_param_group({"params": [params[0]]})
