"""Training on several processes with PyTorch's own engine: torch.distributed and torchrun.

One process per CPU group or GPU, started by ``torchrun`` (``torch.distributed.run``), which
sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in each
process's environment. :func:`context` reads them and joins the process group (gloo on the
CPU, NCCL on CUDA); the Trainer then

- wraps the model in ``DistributedDataParallel`` (gradients averaged over the processes in
  the backward pass, so every process takes the same optimizer step and holds the same weights);
- gives each process its share of every batch (:meth:`TensorLoader.shard`, the in-memory path:
  the permutation is the one a single process would draw, and global batch ``b`` is cut
  between the processes, so N processes of batch B see what one process of batch N x B sees),
  or a ``DistributedSampler`` with ``set_epoch`` for a ``DataLoader``;
- logs, writes history, plots and checkpoints on rank 0 only, with a barrier after each
  checkpoint so no process runs ahead of a file a resume may need;
- resumes every process from the same ``last.pt``.

Outside torchrun (no ``RANK`` and ``WORLD_SIZE`` in the environment) everything here is a
no-op, so the same code trains one process.

Example (two processes on this machine; see the README's "Beyond one machine")::

    nnatlas train lenet5 --data fashion-mnist --nproc 2
    torchrun --nproc-per-node 2 -m nnatlas train lenet5 --data fashion-mnist
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch

from nnatlas.train.config import ConfigError

TIMEOUT = timedelta(minutes=10)  # a collective that waits this long fails instead of hanging


@dataclass(frozen=True)
class DistContext:
    """Where this process stands among the processes of one training.

    Attributes:
        rank: this process's number, 0 .. world_size - 1 (rank 0 writes the files).
        local_rank: its number on this machine (picks its GPU).
        world_size: processes in all, on every machine.
        backend: ``"gloo"`` or ``"nccl"``; ``""`` for a single process.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str = ""

    @property
    def enabled(self) -> bool:
        """Whether this process is one of a torchrun job (a process group was joined)."""
        return bool(self.backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


def launched() -> bool:
    """Whether torchrun started this process (it sets ``RANK`` and ``WORLD_SIZE``); a job of
    one process counts too, so ``--nproc 1`` runs DDP and NCCL on one GPU."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def context(device: str = "auto") -> DistContext:
    """This process's place in the training, joining the process group on first call.

    Args:
        device: the ``--device`` option: CUDA (``auto`` when a GPU is there, ``cuda``) takes
            NCCL and one GPU per local rank; the CPU takes gloo.
    """
    if not launched():
        return SINGLE
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
    world = int(os.environ["WORLD_SIZE"])
    on_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(
            f"--device {device}: distributed training runs on the CPU (gloo) or CUDA (NCCL)"
        )
    if not dist.is_initialized():
        backend = "nccl" if on_cuda else "gloo"
        if on_cuda:
            torch.cuda.set_device(local_rank)  # before NCCL starts: one GPU per process
        dist.init_process_group(backend, timeout=TIMEOUT)
    return DistContext(rank, local_rank, world, dist.get_backend())


def is_main_process() -> bool:
    """Rank 0, or a process that trains alone: the one that prints and writes files."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
    if ctx.enabled and device.type == "cuda" and device.index is None:
        if ctx.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"process {ctx.local_rank} of this machine has no GPU of its own: NCCL takes one "
                f"GPU per process and there are {torch.cuda.device_count()}; use --nproc "
                f"{torch.cuda.device_count()} or fewer, or --device cpu (gloo)"
            )
        return torch.device("cuda", ctx.local_rank)
    return device


def barrier(ctx: DistContext) -> None:
    """Wait until every process gets here (a no-op for one process)."""
    if ctx.enabled:
        import torch.distributed as dist

        if ctx.backend == "nccl":
            dist.barrier(device_ids=[ctx.local_rank])
        else:
            dist.barrier()


def broadcast(ctx: DistContext, value: Any) -> Any:
    """Rank 0's ``value`` (any picklable object) on every process."""
    if not ctx.enabled:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_processes(ctx: DistContext, values: dict[str, float]) -> dict[str, float]:
    """The mean of each value over the processes (equal shards: the mean over all examples)."""
    if not ctx.enabled or not values:
        return values
    import torch.distributed as dist

    names = sorted(values)
    device = torch.device("cuda", ctx.local_rank) if ctx.backend == "nccl" else None
    tensor = torch.tensor([float(values[k]) for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return {k: float(v) / ctx.world_size for k, v in zip(names, tensor.tolist(), strict=True)}


def wrap_model(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> Any:
    """``DistributedDataParallel(model)``; the model itself stays the trainer's ``model``
    (its state_dict keys carry no ``module.`` prefix)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def convert_sync_batchnorm(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """BatchNorm layers whose statistics cover the global batch (``--sync-bn``).

    Raises:
        ConfigError: off CUDA: torch's SyncBatchNorm runs on GPU modules only.
    """
    if device.type != "cuda":
        raise ConfigError(
            f"--sync-bn: torch's SyncBatchNorm works on GPU modules only, and this run trains on "
            f"{device.type}; drop --sync-bn (each process then normalizes over its own share)"
        )
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def distributed_loader(loader: Any, ctx: DistContext, seed: int) -> Any:
    """A ``DataLoader`` rebuilt over a ``DistributedSampler`` (each process its share,
    reshuffled each epoch through ``sampler.set_epoch``).

    Raises:
        ConfigError: batches that cannot be shared out (a generator, a batch list).
    """
    from torch.utils.data import DataLoader, DistributedSampler

    if not isinstance(loader, DataLoader) or loader.batch_size is None:
        raise ConfigError(
            f"distributed training cannot share out {type(loader).__name__} batches between "
            "processes: give tensors, a TensorLoader or a DataLoader with a batch_size"
        )
    sampler = DistributedSampler(
        loader.dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
    )


def set_loader_epoch(loader: Any, epoch: int) -> None:
    """Tell a DistributedSampler which epoch begins (its shuffle is seeded by seed + epoch)."""
    sampler = getattr(loader, "sampler", None)
    if callable(getattr(sampler, "set_epoch", None)):
        sampler.set_epoch(epoch)


def close(ctx: DistContext) -> None:
    """Leave the process group (at the end of a distributed command)."""
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


# -- the launcher: `nnatlas train ... --nproc N` becomes torchrun with the same arguments --------
@dataclass(frozen=True)
class Launch:
    """torchrun's options, as ``nnatlas train`` takes them.

    Attributes:
        nproc: processes on this machine (``--nproc-per-node``): CPU processes, or one per GPU.
        nnodes: machines (``"2"``, or ``"1:4"`` for an elastic range).
        node_rank: this machine's number, 0 .. nnodes - 1 (static rendezvous).
        master_addr, master_port: where node 0 listens; every machine gives the same.
        rdzv_endpoint, rdzv_id: a c10d rendezvous (``HOST:PORT``) instead of master/node rank.
    """

    nproc: int = 1
    nnodes: str = "1"
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None


# The command's own launcher flags: kept from the arguments torchrun hands each process.
LAUNCH_FLAGS = (
    "--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port", "--rdzv-endpoint",
    "--rdzv-id",
)  # fmt: skip


def strip_launch_flags(argv: list[str]) -> list[str]:
    """``argv`` without the launcher's flags and their values (``--nproc 2``, ``--nproc=2``)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_FLAGS:
            skip = True
        elif not arg.startswith(tuple(f + "=" for f in LAUNCH_FLAGS)):
            kept.append(arg)
    return kept


def torchrun_command(launch: Launch, argv: list[str]) -> list[str]:
    """The torchrun command line that runs ``python -m nnatlas ARGV`` in every process.

    Args:
        launch: the launcher options.
        argv: the command's arguments after ``nnatlas`` (``["train", "lenet5", ...]``); the
            launcher flags are taken out, so the processes train instead of launching again.
    """
    import sys

    if launch.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {launch.nproc}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(launch.nproc)]
    cmd += ["--nnodes", launch.nnodes]
    if launch.rdzv_endpoint:
        if launch.node_rank is not None or launch.master_addr:
            raise ConfigError(
                "--rdzv-endpoint replaces --node-rank and --master-addr: give one or the other"
            )
        cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", launch.rdzv_endpoint]
        cmd += ["--rdzv-id", launch.rdzv_id or "nnatlas"]
    else:
        multi_node = launch.nnodes not in ("1", "1:1")
        if multi_node and (launch.node_rank is None or not launch.master_addr):
            raise ConfigError(
                f"--nnodes {launch.nnodes}: every machine needs --node-rank (0 on the first) and "
                "--master-addr of the first machine (or --rdzv-endpoint HOST:PORT)"
            )
        if launch.node_rank is not None:
            cmd += ["--node-rank", str(launch.node_rank)]
        if launch.master_addr:
            cmd += ["--master-addr", launch.master_addr]
        if launch.master_port is not None:
            cmd += ["--master-port", str(launch.master_port)]
        elif not multi_node:
            cmd += ["--standalone"]  # one machine: a free port chosen by torchrun
    return [*cmd, "-m", "nnatlas", *strip_launch_flags(argv)]


def launch_env(nproc: int) -> dict[str, str]:
    """The processes' environment: ``OMP_NUM_THREADS`` shares this machine's cores between
    them when the user did not set it (torchrun would give each one thread, with a warning)."""
    from nnatlas.threads import available_cores

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, available_cores() // max(1, nproc))))
    return env
