"""Checkpoints: safe loading, atomic writes, refusal of foreign files, in-process resume."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import torch_mlp
from nnatlas.train import (
    Callback,
    CheckpointError,
    TensorLoader,
    TrainConfig,
    create_trainer,
    load_checkpoint,
    save_atomic,
)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=32, lr=1e-2, quiet=True, threads=1, tensorboard=False)
    return TrainConfig(**{**base, **kw})


def test_checkpoint_round_trip_with_weights_only(data, tmp_path):
    trainer = create_trainer(torch_mlp(), cfg(scheduler="cosine"), run_dir=tmp_path)
    trainer.fit(*data)
    raw = torch.load(tmp_path / "last.pt", weights_only=True)  # the safe loader reads it as is
    assert raw["epoch"] == 2 and raw["step"] == trainer.step
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(raw["model"][key], value)
    assert isinstance(raw["rng"]["torch"], torch.Tensor)
    assert raw["rng"]["numpy"]["keys"].shape == (624,)
    assert raw["config"] == trainer.config.to_dict()


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "last.pt"
    save_atomic({"format": "x", "value": torch.arange(3)}, target)
    with pytest.raises((AttributeError, TypeError, RuntimeError)):  # a lambda does not pickle
        save_atomic({"value": torch.arange(1000), "bad": lambda: None}, target)
    assert os.listdir(tmp_path) == ["last.pt"]  # no temp file left behind
    assert torch.equal(torch.load(target, weights_only=True)["value"], torch.arange(3))


def test_not_a_checkpoint_is_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(junk)
    plain = tmp_path / "plain.pt"
    torch.save({"state_dict": torch_mlp().state_dict()}, plain)
    with pytest.raises(CheckpointError, match="not an nnatlas checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_for_another_model_is_refused(data, tmp_path):
    trainer = create_trainer(torch_mlp(hidden=32), cfg(epochs=1), run_dir=tmp_path,
                             model_info={"name": "mlp32", "kwargs": {}})  # fmt: skip
    trainer.fit(*data)
    other = create_trainer(
        torch_mlp(hidden=16), cfg(epochs=2), model_info={"name": "mlp16", "kwargs": {}}
    )
    with pytest.raises(CheckpointError, match="do not fit this mlp16 model"):
        other.fit(*data, resume=tmp_path / "last.pt")


class Interrupt(Callback):
    """Raises after a given optimizer step, as Ctrl-C would (the checkpoint is already written)."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, trainer, loss: float) -> None:
        if trainer.step == self.at_step and trainer.step % 6:
            raise KeyboardInterrupt

    def on_epoch_end(self, trainer, row) -> None:
        if trainer.step == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("at_step", [6, 8])  # 6 = epoch 1's end, 8 = mid-epoch (6 steps/epoch)
def test_interrupted_run_resumes_to_the_same_numbers(data, tmp_path, at_step):
    def config() -> TrainConfig:
        return cfg(epochs=3, scheduler="onecycle", checkpoint_every=2, metrics="accuracy,f1")

    full = create_trainer(torch_mlp(dropout=0.2), config(), run_dir=tmp_path / "full").fit(*data)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        create_trainer(torch_mlp(dropout=0.2), config(), run_dir=cut,
                       callbacks=[Interrupt(at_step)]).fit(*data)  # fmt: skip
    assert load_checkpoint(cut / "last.pt")["step"] == at_step
    # Different initial weights and global RNG: everything must come from the checkpoint.
    torch.manual_seed(999)
    resumed = create_trainer(torch_mlp(dropout=0.2, seed=5), config(), run_dir=cut)
    rows = resumed.fit(*data, resume=cut / "last.pt")

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]

    assert strip(rows) == strip(full)


def test_tensor_loader_resumes_mid_epoch_with_same_order():
    x, y = torch.arange(50).float().view(50, 1), torch.arange(50)
    a = TensorLoader(x, y, batch_size=8, shuffle=True, seed=3)
    next(iter(a))  # an epoch abandoned after one batch
    it = iter(a)
    seen = [next(it)[1] for _ in range(3)]
    state = a.state_dict()
    rest = [b[1] for b in it]
    b = TensorLoader(x, y, batch_size=8, shuffle=True, seed=99)
    b.load_state_dict(state)
    assert [batch[1].tolist() for batch in b] == [t.tolist() for t in rest]
    assert len(seen) + len(rest) == len(a)


def test_scratch_engine_resumes_mid_epoch_to_the_same_numbers(data, tmp_path):
    """The NumPy layers' own generators (Dropout's masks) are checkpointed as well."""
    import numpy as np

    from nnatlas.scratch.models.mlp import MLP

    def model():
        return MLP(8, 3, hidden_sizes=(16,), dropout=0.3, rng=np.random.default_rng(0))

    def config() -> TrainConfig:
        return cfg(engine="scratch", epochs=2, checkpoint_every=2, scheduler="cosine")

    full = create_trainer(model(), config(), run_dir=tmp_path / "full").fit(*data)
    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        create_trainer(model(), config(), run_dir=cut, callbacks=[Interrupt(8)]).fit(*data)
    rows = create_trainer(model(), config(), run_dir=cut).fit(*data, resume=cut / "last.pt")
    strip = [{k: v for k, v in r.items() if k != "time_s"} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k != "time_s"} for r in full]
