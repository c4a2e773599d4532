"""``--ema``: the weight average's arithmetic, what uses it, and exact resumes with it."""

from __future__ import annotations

import pytest
import torch

from conftest import scratch_mlp, torch_mlp
from nnatlas.train import Callback, TrainConfig, create_trainer, load_checkpoint
from nnatlas.train.averaging import WeightAverage
from nnatlas.train.config import ConfigError


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=32, lr=1e-2, quiet=True, threads=1, tensorboard=False)
    return TrainConfig(**{**base, **kw})


def test_average_follows_the_warmed_up_decay_and_copies_integer_buffers():
    weight = torch.zeros(3)
    count = torch.tensor(0)
    average = WeightAverage(0.7, {"w": weight, "n": count})
    expected = torch.zeros(3)
    for step in range(1, 30):
        weight.fill_(float(step))
        count.fill_(step)
        decay = min(0.7, (1 + step) / (10 + step))  # TensorFlow's num_updates rule
        expected = decay * expected + (1 - decay) * weight
        average.update({"w": weight, "n": count})
    assert torch.allclose(average.state()["w"], expected, rtol=1e-6)
    assert average.state()["n"].item() == 29 and average.updates == 29
    assert average.current_decay() == 0.7  # the warm-up is over (from update 20)
    with pytest.raises(KeyError, match="differ"):
        average.update({"w": weight})


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_decay_outside_zero_one_is_refused(bad):
    with pytest.raises(ConfigError, match="--ema"):
        cfg(ema=bad)


def test_ema_leaves_training_alone_and_validation_scores_the_average(data, tmp_path):
    plain = create_trainer(torch_mlp(dropout=0.2), cfg(restore_best=False), run_dir=tmp_path / "a")
    plain.fit(*data)
    averaged = create_trainer(
        torch_mlp(dropout=0.2), cfg(restore_best=False, ema=0.9), run_dir=tmp_path / "b"
    )
    averaged.fit(*data)
    last = load_checkpoint(tmp_path / "b" / "last.pt")
    # The optimizer's weights are bit-identical to a run without --ema: the average draws no
    # random numbers and never feeds back into training.
    for name, value in plain.model.state_dict().items():
        assert torch.equal(last["ema"]["training"][name], value)
    # The final model, last.pt's "model" and the validation figures are the average's.
    own = averaged.model.state_dict()
    assert all(torch.equal(last["model"][name], own[name]) for name in own)
    assert not torch.equal(last["model"]["3.weight"], last["ema"]["training"]["3.weight"])
    assert averaged.evaluate(data[1])["loss"] == pytest.approx(
        averaged.history[-1]["val_loss"], abs=1e-7
    )
    assert averaged.history[-1]["val_loss"] != plain.history[-1]["val_loss"]


def test_average_is_less_noisy_than_the_steps_at_a_high_rate():
    """Plain SGD at a rate that keeps the weights bouncing on noisy labels: the average's
    validation loss, epoch by epoch, is lower than the raw weights' (why --ema exists)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(800, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] + torch.randn(800, generator=g) > 0).long()

    def mean_val_loss(ema: float) -> float:
        config = cfg(epochs=5, batch_size=8, lr=1.0, optimizer="sgd", ema=ema,
                     restore_best=False)  # fmt: skip
        trainer = create_trainer(torch_mlp(classes=2), config)
        trainer.fit((x[:600], y[:600]), (x[600:], y[600:]))
        return sum(row["val_loss"] for row in trainer.history) / len(trainer.history)

    assert mean_val_loss(0.99) < mean_val_loss(0.0) - 0.01


class Interrupt(Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, trainer, loss: float) -> None:
        if trainer.step == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_run_with_ema_resumes_mid_epoch_to_the_same_numbers(data, tmp_path, engine):
    def model():
        return torch_mlp(dropout=0.2) if engine == "torch" else scratch_mlp()

    def config() -> TrainConfig:
        return cfg(engine=engine, epochs=3, checkpoint_every=2, scheduler="cosine", ema=0.8)

    full = create_trainer(model(), config(), run_dir=tmp_path / "full")
    full_rows = full.fit(*data)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        create_trainer(model(), config(), run_dir=cut, callbacks=[Interrupt(8)]).fit(*data)
    assert load_checkpoint(cut / "last.pt")["ema"]["updates"] == 8
    resumed = create_trainer(model(), config(), run_dir=cut)
    rows = resumed.fit(*data, resume=cut / "last.pt")

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]

    assert strip(rows) == strip(full_rows)
    assert resumed.average.updates == full.average.updates == 18
    for name, value in full.model_state().items():
        assert torch.equal(resumed.model_state()[name], value)
