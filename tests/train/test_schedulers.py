import math

import pytest
import torch

from nnatlas.train.schedulers import LRScheduler


def lrs(name: str, steps: int, **kw) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = LRScheduler(opt, name, total_steps=steps, **kw)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_schedule_decays_at_epoch_boundaries():
    out = lrs("step", 40, steps_per_epoch=10, step_size=2, gamma=0.5)
    assert out[0] == out[19] == pytest.approx(0.1)
    assert out[20] == out[39] == pytest.approx(0.05)


def test_cosine_goes_from_base_to_zero():
    out = lrs("cosine", 100)
    assert out[0] == pytest.approx(0.1)
    assert out[50] == pytest.approx(0.05)
    assert all(a >= b for a, b in zip(out, out[1:], strict=False))
    assert out[-1] < 1e-3


def test_onecycle_matches_torch_onecycle():
    steps = 50
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.1, total_steps=steps, cycle_momentum=False
    )
    expected = []
    for _ in range(steps):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    assert lrs("onecycle", steps) == pytest.approx(expected, rel=1e-9)


def test_warmup_ramps_linearly():
    out = lrs("none", 20, warmup_steps=4)
    assert out[:5] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])


def test_plateau_decays_after_patience_and_round_trips():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = LRScheduler(opt, "plateau", patience=1, gamma=0.5, mode="min")
    for metric in (1.0, 0.9, 0.95, 0.95):  # two epochs without improvement > patience 1
        sched.epoch_end(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    other = LRScheduler(opt, "plateau", patience=1, gamma=0.5)
    other.load_state_dict(sched.state_dict())
    assert other.lr == pytest.approx(0.05) and math.isclose(other.plateau_best, 0.9)
