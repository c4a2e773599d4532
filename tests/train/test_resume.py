"""Fault test: a training process killed with SIGKILL mid-epoch, then resumed, ends with exactly
the numbers of an uninterrupted run (same seed, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import torch
    from nnatlas.train import Callback, TrainConfig, create_trainer

    run_dir, resume, kill_at = sys.argv[1], sys.argv[2] == "resume", int(sys.argv[3])

    class PauseForKill(Callback):
        # Stops after step `kill_at` (not a checkpoint step) so the parent can SIGKILL us there.
        def on_step_end(self, trainer, loss):
            if trainer.step == kill_at:
                open(os.path.join(run_dir, "KILL_ME"), "w").close()
                time.sleep(120)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + 2 * (x[:, 0, 0, 0] > 0).long()
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Dropout(0.2),
        torch.nn.Linear(64, 4),
    )

    def augment(xb, generator):  # random noise: the augmentation generator must resume too
        return xb + 0.1 * torch.randn(xb.shape, generator=generator)

    from nnatlas.train import TensorLoader
    config = TrainConfig(epochs=3, batch_size=20, lr=5e-3, scheduler="onecycle",
                         checkpoint_every=4, quiet=True, threads=1, tensorboard=False)
    train = TensorLoader(x[:240], y[:240], batch_size=20, shuffle=True, seed=0, augment=augment)
    callbacks = [PauseForKill()] if kill_at else []
    trainer = create_trainer(model, config, run_dir=run_dir, callbacks=callbacks)
    last = os.path.join(run_dir, "last.pt")
    trainer.fit(train, (x[240:], y[240:]), resume=last if resume else None)
    final = trainer.evaluate((x[240:], y[240:]))
    with open(os.path.join(run_dir, "result.json"), "w") as handle:
        json.dump({"history": trainer.history, "final": final}, handle)
    """
)


def _run(script, run_dir, mode: str, kill_at: int = 0) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(run_dir), mode, str(kill_at)], env=env
    )


def _numbers(run_dir) -> dict:
    result = json.loads((run_dir / "result.json").read_text())
    for row in result["history"]:
        row.pop("time_s")
    return result


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir()
    cut.mkdir()

    reference = _run(script, full, "fresh")
    victim = _run(script, cut, "fresh", kill_at=19)  # epoch 2 (12 steps/epoch), batch 7
    deadline = time.monotonic() + 60
    while not (cut / "KILL_ME").exists():
        assert victim.poll() is None, "the training process ended before reaching the kill step"
        assert time.monotonic() < deadline, "the training process never reached the kill step"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert not (cut / "result.json").exists()
    assert not [p for p in os.listdir(cut) if p.endswith(".tmp")]

    import torch

    saved = torch.load(cut / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["step"], saved["loader"]["batches_done"]) == (1, 16, 4)

    resumed = _run(script, cut, "resume")
    assert resumed.wait(timeout=120) == 0
    assert reference.wait(timeout=120) == 0
    assert _numbers(cut) == _numbers(full)
