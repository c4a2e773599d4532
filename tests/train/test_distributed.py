"""Distributed training (torch DDP over gloo, launched by torchrun), on the CPU.

The cheap properties (sharding, accumulation, the launcher's command line, refused options) are
checked in this process; three torchrun runs of tests/train/ddp_worker.py prove that the
processes end with identical weights and that a SIGKILLed run resumes to the very weights of an
uninterrupted one; one `nnatlas train --nproc 2` run proves the command's own launcher.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import torch_mlp
from nnatlas.train import (
    ConfigError,
    TensorLoader,
    TrainConfig,
    Trainer,
    create_trainer,
    distributed,
)
from nnatlas.train.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# -- in this process -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [300, 301, 17])
def test_shards_of_each_global_batch_are_the_single_process_batch(n):
    x = torch.arange(n)
    single = [b for (b,) in TensorLoader(x, batch_size=8, shuffle=True, seed=3)]
    shards = [list(TensorLoader(x, batch_size=4, shuffle=True, seed=3).shard(r, 2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(single)
    for one, (a,), (b,) in zip(single, shards[0], shards[1], strict=True):
        assert len(a) == len(b)  # equal shards: DDP's mean of means is the global mean
        together = torch.cat([a, b])
        assert together[: len(one)].tolist() == one.tolist()  # the same examples, in order
        assert len(together) - len(one) <= 1  # at most world_size - 1 repeats (padding)


def test_a_dataloader_is_rebuilt_over_a_distributed_sampler_reseeded_each_epoch():
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(torch.arange(20)), batch_size=4)
    shares = []
    for rank in (0, 1):
        ctx = distributed.DistContext(rank=rank, local_rank=rank, world_size=2, backend="gloo")
        shared = distributed.distributed_loader(loader, ctx, seed=5)
        epochs = []
        for epoch in (0, 1):
            distributed.set_loader_epoch(shared, epoch)
            epochs.append([int(v) for (b,) in shared for v in b])
        assert epochs[0] != epochs[1]  # set_epoch reshuffles
        shares.append(epochs[0])
    assert sorted(shares[0] + shares[1]) == list(range(20))  # disjoint, and together all
    with pytest.raises(ConfigError, match="cannot share out list batches"):
        distributed.distributed_loader([torch.zeros(2)], ctx, seed=0)


def test_gradient_accumulation_equals_one_batch_of_the_total_size(data):
    weights = []
    for batch_size, accum in ((32, 1), (16, 2), (8, 4)):
        model = torch_mlp()
        config = TrainConfig(epochs=2, batch_size=batch_size, grad_accum=accum, lr=1e-2,
                             device="cpu", quiet=True, threads=1)  # fmt: skip
        trainer = Trainer(model, config)
        trainer.fit(*data)
        assert trainer.step == 2 * -(-180 // 32)  # optimizer steps, not micro-batches
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-5)
    assert torch.allclose(weights[0], weights[2], atol=1e-5)
    assert not torch.allclose(
        weights[0], torch.cat([p.flatten() for p in torch_mlp().parameters()])
    )


def test_bf16_autocast_trains_a_step_on_the_cpu(data):
    model = torch_mlp()
    before = model[0].weight.detach().clone()
    config = TrainConfig(epochs=1, batch_size=180, amp="bf16", device="cpu", quiet=True, threads=1)
    trainer = Trainer(model, config)
    assert trainer.amp_dtype == torch.bfloat16
    with trainer.autocast():
        assert model(data[0][0][:4]).dtype == torch.bfloat16  # autocast is really on
    trainer.fit(*data)
    assert trainer.step == 1 and not torch.equal(before, model[0].weight)
    assert torch.isfinite(torch.tensor(trainer.history[0]["train_loss"]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"amp": "fp16"}, "--amp fp16 needs CUDA"),
        ({"sync_bn": True}, "--sync-bn: torch's SyncBatchNorm works on GPU modules only"),
    ],
)
def test_gpu_only_options_are_refused_on_the_cpu(options, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(torch_mlp(), TrainConfig(device="cpu", **options))


def test_the_numpy_engine_refuses_the_torch_only_options():
    from conftest import scratch_mlp

    for options, flag in (({"grad_accum": 2}, "--grad-accum"), ({"compile": True}, "--compile")):
        with pytest.raises(ConfigError, match=f"{flag}: torch engine options"):
            create_trainer(scratch_mlp(), TrainConfig(engine="scratch", **options))


def test_the_launcher_builds_torchrun_with_the_same_arguments():
    argv = ["train", "lenet5", "--nproc", "2", "--data", "digits", "--master-port=29999"]
    command = distributed.torchrun_command(distributed.Launch(nproc=2, master_port=29999), argv)
    assert command[1:3] == ["-m", "torch.distributed.run"]
    assert command[-6:] == ["-m", "nnatlas", "train", "lenet5", "--data", "digits"]
    assert "--master-port" in command and "--standalone" not in command
    standalone = distributed.torchrun_command(distributed.Launch(nproc=2), argv)
    assert "--standalone" in standalone
    nodes = distributed.Launch(nproc=4, nnodes="2", node_rank=1, master_addr="10.0.0.1")
    command = distributed.torchrun_command(nodes, argv)
    joined = " ".join(command)
    assert "--nnodes 2 --node-rank 1 --master-addr 10.0.0.1" in joined
    with pytest.raises(ConfigError, match="every machine needs --node-rank"):
        distributed.torchrun_command(distributed.Launch(nproc=1, nnodes="2"), argv)


def test_nproc_with_the_numpy_engine_is_refused_with_a_message():
    done = subprocess.run(
        [sys.executable, "-m", "nnatlas", "train", "mlp", "--engine", "scratch", "--nproc", "2"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "the scratch (NumPy) engine trains in one process" in done.stderr


# -- several processes ---------------------------------------------------------------------------
def _torchrun(run_dir: Path, out: Path, *flags: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               "2", str(WORKER), str(run_dir), str(out), *flags]  # fmt: skip
    return subprocess.Popen(command, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _results(out: Path) -> list[dict]:
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_until_gone(group: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {group} still runs 30 s after SIGKILL")


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=240)
    assert process.returncode == 0, err.decode()[-3000:]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    root = tmp_path_factory.mktemp("ddp")
    _finish(_torchrun(root / "run", root / "out"))
    return _results(root / "out")


def test_every_process_ends_with_the_same_weights(uninterrupted):
    rank0, rank1 = uninterrupted
    assert rank0["world"] == rank1["world"] == 2
    assert rank0["hash"] == rank1["hash"]
    assert rank0["step"] == 4 * 19  # ceil(300 / (8 x 2)) optimizer steps an epoch


def test_a_killed_distributed_run_resumes_to_the_uninterrupted_weights(tmp_path, uninterrupted):
    run, out = tmp_path / "run", tmp_path / "out"
    process = _torchrun(run, out, "--slow")
    deadline = time.monotonic() + 180
    while not (run / "last.pt").is_file():  # written atomically: complete once it is there
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 180 s"
        time.sleep(0.05)
    # torchrun starts each worker in a session of its own: kill every group, with no warning
    # (as the OOM killer or a lost machine would).
    groups = [process.pid, *_children(process.pid)]
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=30)
    for group in groups:
        _wait_until_gone(group)  # the lock rank 0 held is stale only then
    saved = load_checkpoint(run / "last.pt")
    assert 0 < saved["step"] < 4 * 19 and saved["world_size"] == 2
    assert not out.exists()  # it died before the end
    _finish(_torchrun(run, out, "--resume"))
    resumed = _results(out)
    assert resumed[0]["hash"] == resumed[1]["hash"] == uninterrupted[0]["hash"]
    assert resumed[0]["val_loss"] == uninterrupted[0]["val_loss"]
    assert resumed[0]["history"] == 4


def test_nproc_trains_as_one_process_with_the_global_batch(tmp_path):
    import nnatlas.tasks as tasks

    common = ["--data", "digits", "--limit", "200", "--epochs", "2", "--quiet", "--runs-dir",
              str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "nnatlas", "train", "mlp", *common, "--batch-size", "16",
         "--run-name", "two", "--nproc", "2"],
        capture_output=True, text=True, env=_env(), timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test accuracy") == 1  # rank 0 alone reports
    two = json.loads((tmp_path / "two" / "test_metrics.json").read_text())
    one = tasks.train("mlp", "digits", limit=200, epochs=2, batch_size=32, quiet=True,
                      run_dir=tmp_path / "one", threads=1).test_metrics  # fmt: skip
    assert two["loss"] == pytest.approx(one["loss"], abs=1e-4)
    assert two["accuracy"] == pytest.approx(one["accuracy"], abs=1e-9)
    assert load_checkpoint(tmp_path / "two" / "last.pt")["world_size"] == 2
