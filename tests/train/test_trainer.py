"""The loop: learning, history format across engines, early stopping, best weights, NaN stops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import blobs, scratch_mlp, torch_mlp
from nnatlas.train import NonFiniteLossError, TrainConfig, create_trainer, load_checkpoint


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=4, batch_size=32, lr=1e-2, quiet=True, threads=1, tensorboard=False)
    return TrainConfig(**{**base, **kw})


def test_torch_trainer_learns_and_writes_a_run(data, tmp_path):
    trainer = create_trainer(torch_mlp(), cfg(epochs=6, scheduler="onecycle"), run_dir=tmp_path)
    history = trainer.fit(*data)
    assert len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert trainer.evaluate(data[1])["accuracy"] > 0.9
    for name in ("config.json", "history.csv", "history.json", "last.pt", "best.pt", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (
        TrainConfig.from_dict(__import__("json").loads((tmp_path / "config.json").read_text()))
        == trainer.config
    )


def test_history_format_is_identical_across_engines_and_numbers_agree(data):
    """Same weights, same batches, same optimizer: the two engines give the same history."""
    import nnatlas.models.mlp  # noqa: F401  (registers "mlp")
    from nnatlas.models.registry import create_model

    scratch = scratch_mlp()
    torch_model = create_model("mlp", in_features=8, num_classes=3, hidden_sizes=(16,))
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in scratch.state_dict().items()})
    histories = {}
    for engine, model in (("torch", torch_model), ("scratch", scratch)):
        config = cfg(
            engine=engine, optimizer="momentum", scheduler="cosine", metrics="accuracy,f1,top5"
        )
        histories[engine] = create_trainer(model, config).fit(*data)
    torch_rows, scratch_rows = histories["torch"], histories["scratch"]
    assert [list(r) for r in torch_rows] == [list(r) for r in scratch_rows]
    for a, b in zip(torch_rows, scratch_rows, strict=True):
        for key in a:
            if key != "time_s":
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key


def test_early_stopping_stops_after_patience(data):
    # A rate this small leaves the predictions (so the accuracy) unchanged: no improvement.
    trainer = create_trainer(
        torch_mlp(), cfg(epochs=20, lr=1e-9, patience=2, monitor="val_accuracy")
    )
    history = trainer.fit(*data)
    assert len(history) == 3
    assert "early stopping" in trainer.stop_reason and "val_accuracy" in trainer.stop_reason


def test_best_checkpoint_is_kept_and_restored(data, tmp_path):
    trainer = create_trainer(torch_mlp(), cfg(epochs=6, lr=0.3, optimizer="sgd"), run_dir=tmp_path)
    history = trainer.fit(*data)
    losses = [row["val_loss"] for row in history]
    best_epoch = int(np.argmin(losses)) + 1
    best = load_checkpoint(tmp_path / "best.pt")
    assert trainer.best_epoch == best_epoch == best["epoch"]
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, best["model"][key]), key
    assert trainer.evaluate(data[1])["loss"] == pytest.approx(min(losses), rel=1e-6)


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_nan_loss_stops_with_step_last_loss_and_hint(data, engine):
    model = torch_mlp() if engine == "torch" else scratch_mlp()
    trainer = create_trainer(model, cfg(engine=engine, lr=1e6, optimizer="sgd", epochs=50))
    with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError) as info:
        trainer.fit(*data)
    message = str(info.value)
    assert f"at step {trainer.step + 1}" in message
    assert f"last finite loss was {trainer.last_finite_loss:.4f}" in message
    assert "lower it (--lr)" in message


def test_scratch_engine_learns_blobs(data):
    trainer = create_trainer(scratch_mlp(), cfg(engine="scratch", epochs=5))
    trainer.fit(*data)
    assert trainer.evaluate(data[1])["accuracy"] > 0.9


def test_engine_mismatch_is_refused():
    from nnatlas.train import ScratchTrainer

    with pytest.raises(ValueError, match="config.engine"):
        ScratchTrainer(scratch_mlp(), cfg(engine="torch"))


def test_sequence_outputs_train(tmp_path):
    """(N, T, C) logits with (N, T) targets and a tuple output, as language models return."""

    class TinyLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = torch.nn.Embedding(5, 8), torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.head(self.embed(x)), None  # (N, T, V), state

    x = torch.randint(0, 5, (64, 6))
    y = (x + 1) % 5  # predict the next symbol of a fixed cycle
    trainer = create_trainer(TinyLM(), cfg(epochs=15, lr=0.05, metrics="accuracy,perplexity"))
    history = trainer.fit((x, y), (x, y))
    assert history[-1]["val_accuracy"] > 0.95
    assert history[-1]["val_perplexity"] < history[0]["val_perplexity"]


def test_blobs_are_deterministic():
    assert torch.equal(blobs()[0], blobs()[0])


def test_monitoring_f1_without_a_validation_set_watches_the_training_f1(data):
    x, y = data[0]
    trainer = create_trainer(torch_mlp(), cfg(epochs=2, monitor="val_f1"))
    history = trainer.fit((x, y))  # no validation data
    assert trainer.monitor == "train_f1"
    assert all(0.0 <= row["train_f1"] <= 1.0 for row in history)
