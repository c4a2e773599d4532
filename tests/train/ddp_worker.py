"""A Trainer run under torchrun, for tests/train/test_distributed.py (not a test itself).

Usage: torchrun --nproc-per-node 2 ddp_worker.py RUN_DIR OUT_DIR [--resume] [--slow]

Every rank trains the same tiny MLP (with dropout, so the generators matter, and a weight
average, ``--ema``, which a resume must restore too) on the same blobs and writes
OUT_DIR/rank{R}.json: a hash of its final (averaged) weights and the weights' sum. ``--slow``
sleeps in each forward so a test can kill the run mid-training.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import blobs, torch_mlp  # noqa: E402
from nnatlas.train import TrainConfig, Trainer  # noqa: E402


def state_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode() + value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    run_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    resume, slow = "--resume" in sys.argv, "--slow" in sys.argv
    model = torch_mlp(dropout=0.2)
    if slow:
        model.register_forward_pre_hook(lambda module, args: time.sleep(0.04))
    x, y = blobs(n=360)
    config = TrainConfig(epochs=4, batch_size=8, lr=3e-3, device="cpu", threads=1, quiet=True,
                         checkpoint_every=5, tensorboard=False, restore_best=False,
                         ema=0.9)  # fmt: skip
    trainer = Trainer(model, config, run_dir=run_dir)
    trainer.fit(
        (x[:300], y[:300]), (x[300:], y[300:]), resume=run_dir / "last.pt" if resume else None
    )
    rank = int(os.environ["RANK"])
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"hash": state_hash(model), "step": trainer.step, "world": trainer.dist.world_size}
    result.update(val_loss=trainer.history[-1]["val_loss"], history=len(trainer.history))
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
