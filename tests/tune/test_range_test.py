"""The learning-rate range test: a callback over the real Trainer, for both engines."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import nnatlas.tasks as tasks
from nnatlas.train import Callback
from nnatlas.tune.range_test import RangeTest, SweepDone, lr_find, smooth_centred, suggest

FAST = dict(limit=400, threads=1, seed=0)


class RateRecorder(Callback):
    """The rate in the optimizer after each step: the next step trains with it."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_step_end(self, trainer, loss):
        self.rates.append(trainer.optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_each_step_trains_with_the_sweeps_rate_not_the_schedules(tmp_path, engine):
    sweep, seen = RangeTest(1e-5, 1e-1, steps=30), RateRecorder()
    # cosine would move the rate itself; the sweep must overrule it after every step.
    with pytest.raises(SweepDone):
        tasks.train(
            "mlp", "digits", engine=engine, run_dir=tmp_path / "run", callbacks=[sweep, seen],
            lr=1e-5, scheduler="cosine", epochs=100, quiet=True, **FAST,
        )  # fmt: skip
    assert len(sweep.losses) == 30 or sweep.stop.startswith("the loss blew up")
    ratios = [b / a for a, b in zip(sweep.rates, sweep.rates[1:], strict=False)]
    assert all(math.isclose(r, sweep.factor, rel_tol=1e-9) for r in ratios)
    assert math.isclose(sweep.rates[0], 1e-5) and math.isclose(sweep.rate(29), 1e-1)
    assert seen.rates == pytest.approx(sweep.rates[1 : len(seen.rates) + 1], rel=1e-12)


def test_both_engines_draw_the_same_curve(tmp_path):
    # Same seed: the NumPy twin starts from the zoo model's weights and sees the same batches.
    curves = {
        engine: lr_find(
            "mlp",
            "digits",
            engine=engine,
            folder=tmp_path / engine,
            steps=40,
            start_lr=1e-5,
            end_lr=1.0,
            **FAST,
        )  # fmt: skip
        for engine in ("torch", "scratch")
    }
    torch_curve, numpy_curve = curves["torch"], curves["scratch"]
    n = min(len(torch_curve.losses), len(numpy_curve.losses), 25)  # before the blow-up
    assert n >= 20
    assert numpy_curve.losses[:n] == pytest.approx(torch_curve.losses[:n], rel=1e-4, abs=1e-5)
    for found in curves.values():
        assert set(found.suggestions) == {"min/10", "steepest"}
        assert found.suggested == found.suggestions["min/10"]
        assert 1e-5 < found.suggested < 1.0
        assert Path(found.plot).stat().st_size > 10_000
        assert (found.folder / "lr-find.csv").read_text().count("\n") == len(found.losses) + 1
        assert not (found.folder / "test_metrics.json").exists()  # the sweep never tests


def test_the_sweep_stops_when_the_loss_blows_up(tmp_path):
    found = lr_find("mlp", "digits", folder=tmp_path / "f", start_lr=1e-3, end_lr=1e4, steps=60,
                    **FAST)  # fmt: skip
    assert found.stop.startswith("the loss blew up") or "NaN" in found.stop
    assert len(found.losses) < 60


def test_the_rules_on_a_known_curve():
    # A loss that falls fastest at rate 1e-3 (a logistic step in log10 rate), is lowest at
    # 1e-1, then climbs.
    rates = [10 ** (-6 + 6 * i / 120) for i in range(121)]

    def loss(rate: float) -> float:
        x = math.log10(rate)
        return 2.0 - 1.5 / (1 + math.exp(-4 * (x + 3))) + (5.0 * (x + 1) ** 2 if x > -1 else 0)

    curve = [loss(r) for r in rates]
    found = suggest(rates, smooth_centred(curve, 2))
    assert found["steepest"] == pytest.approx(1e-3, rel=0.15)
    lowest = rates[min(range(len(curve)), key=curve.__getitem__)]
    # The centred window pulls the minimum of an asymmetric valley a step or two (0.05 decade
    # each) towards its gentler side.
    assert found["min/10"] == pytest.approx(lowest / 10, rel=0.3)
    assert suggest(rates[:2], curve[:2]) == {}


def test_a_sweep_that_cannot_be_made_is_refused():
    from nnatlas.tune.range_test import RangeTestError

    with pytest.raises(RangeTestError, match="0 < start < end"):
        RangeTest(1.0, 1e-3)
    with pytest.raises(RangeTestError, match="at least 2"):
        RangeTest(steps=1)
