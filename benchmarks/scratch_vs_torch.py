"""Scratch (NumPy) engine vs PyTorch: forward + backward time per training step, as a ratio.

Run:  .venv/bin/python benchmarks/scratch_vs_torch.py [--threads 2] [--repeats 9] [--json]

Both engines run in one process, alternating step by step (so background load hits both alike),
in float32, with the same weights. Each row reports the median of ``--repeats`` timed steps after
``--warmup`` untimed ones. Thread pools are set deliberately: BLAS (NumPy) via threadpoolctl and
PyTorch's intra-op pool get the same N; PyTorch's inter-op pool gets 1.
On a machine other jobs load, use ``--threads 1``: with 2 threads and both cores taken, every
parallel region of either engine waits a scheduler tick or two for its second thread (a GEMM
call for NumPy), and the 2-thread rows swing from run to run (README.md has runs of both).

Equal work: PyTorch skips the input gradient of the first layer when the input does not require
grad, so the scratch LeNet skips it too (``requires_input_grad = False`` on conv1); the ResNet
block and the LSTM compute the input gradient in both engines (as inside a deeper network).

Rows (targets = the largest acceptable scratch/torch ratio):
    LeNet-5          N=128, 1x28x28, cross-entropy loss                  <= 2.0
    BasicBlock       N=64, 16 channels, 32x32, random upstream           <= 4.0
    LSTM             T=100, N=32, D=H=256, random upstream                <= 1.5
    ResNet-20        N=128, 3x32x32, training step                       <= 2.0
    LSTM classifier  N=64, T=64, vocabulary 10k, E=100, H=128, training   <= 2.0

The two training-step rows are whole steps as the Trainer takes them: forward, cross-entropy,
backward, the optimizer step (ResNet-20: SGD with Nesterov momentum and weight decay, the
cifar10 preset; the classifier: Adam after clipping the gradient norm to 1, the sst2 preset),
with the zoo model and the NumPy twin that ``nnatlas.bridge.scratch_twin`` builds from it
(both compute the input gradient of the first layer as they do in training: torch skips it).
The classifier reads texts padded at the end with their lengths (packed in torch, masked in the
twin), as the text task feeds it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.models.resnet_block import BasicBlock

Step = Callable[[], None]


@dataclass
class Row:
    model: str
    scratch_ms: float | None
    torch_ms: float | None
    ratio: float | None
    target: float
    status: str  # PASS, FAIL or "not available"


def load_into_torch(scratch_model, torch_model: torch.nn.Module) -> None:
    """Copy the scratch state_dict into the torch twin (same keys by construction)."""
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in scratch_model.state_dict().items()
    }
    torch_model.load_state_dict(state, strict=True)


def lenet_steps(rng: np.random.Generator) -> tuple[Step, Step]:
    from nnatlas.models.lenet import LeNet5 as TorchLeNet5

    model = LeNet5(rng=rng)
    model.features[0].requires_input_grad = False  # equal work: torch skips it for the input
    twin = TorchLeNet5()
    load_into_torch(model, twin)
    x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    criterion = CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def scratch_step() -> None:
        model.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())

    def torch_step() -> None:
        twin.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(twin(tx), ty).backward()

    return scratch_step, torch_step


def upstream_steps(
    scratch_layer, twin: torch.nn.Module, x: np.ndarray, grad: np.ndarray
) -> tuple[Step, Step]:
    """Forward + backward of a random upstream gradient, input gradient included in both engines.

    A torch module that returns a tuple (the LSTM's ``(output, state)``) is read by its first
    element, as the scratch layer returns only the output.
    """
    tx, tgrad = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(grad)

    def scratch_step() -> None:
        scratch_layer.zero_grad()
        scratch_layer(x)
        scratch_layer.backward(grad)

    def torch_step() -> None:
        twin.zero_grad(set_to_none=True)
        tx.grad = None
        out = twin(tx)
        (out[0] if isinstance(out, tuple) else out).backward(tgrad)

    return scratch_step, torch_step


def block_steps(rng: np.random.Generator) -> tuple[Step, Step]:
    from torchvision.models.resnet import BasicBlock as TorchBasicBlock

    block = BasicBlock(16, 16, rng=rng)
    twin = TorchBasicBlock(16, 16)
    load_into_torch(block, twin)
    x = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    grad = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    return upstream_steps(block, twin, x, grad)


def lstm_steps(rng: np.random.Generator) -> tuple[Step, Step] | None:
    try:
        from nnatlas.scratch.recurrent import LSTM
    except ImportError:
        return None
    t, n, d, h = 100, 32, 256, 256
    lstm = LSTM(d, h, rng=rng)
    twin = torch.nn.LSTM(d, h)
    load_into_torch(lstm, twin)
    x = rng.standard_normal((t, n, d)).astype(np.float32)
    grad = rng.standard_normal((t, n, h)).astype(np.float32)
    return upstream_steps(lstm, twin, x, grad)


def training_steps(
    zoo_name: str,
    kwargs: dict,
    inputs: tuple[np.ndarray, ...],
    y: np.ndarray,
    optimizer: tuple[str, dict],
    clip: float = 0.0,
) -> tuple[Step, Step]:
    """A full training step of the zoo model and of its NumPy twin, from the same weights."""
    from nnatlas.bridge.zoo import scratch_twin
    from nnatlas.models import create_model
    from nnatlas.scratch import optim
    from nnatlas.scratch.clip import clip_grad_norm_
    from nnatlas.train.optimizers import build_optimizer

    twin = create_model(zoo_name, **kwargs)
    model = scratch_twin(twin)
    name, opts = optimizer
    opt_s = build_optimizer(name, model.parameters(), library=optim, **opts)
    opt_t = build_optimizer(name, twin.parameters(), **opts)
    criterion = CrossEntropyLoss()
    t_inputs, ty = tuple(torch.from_numpy(a) for a in inputs), torch.from_numpy(y)

    def scratch_step() -> None:
        model.zero_grad()
        criterion(model(*inputs), y)
        model.backward(criterion.backward())
        if clip:
            clip_grad_norm_(model.parameters(), clip)
        opt_s.step()

    def torch_step() -> None:
        opt_t.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(twin(*t_inputs), ty).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(twin.parameters(), clip)
        opt_t.step()

    return scratch_step, torch_step


def resnet20_steps(rng: np.random.Generator) -> tuple[Step, Step]:
    x = rng.standard_normal((128, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    sgd = ("nesterov", {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4})
    return training_steps("resnet20", {"num_classes": 10}, (x,), y, sgd)


def lstm_classifier_steps(rng: np.random.Generator) -> tuple[Step, Step]:
    n, t, vocab = 64, 64, 10_000
    x = rng.integers(1, vocab, (n, t))
    lengths = rng.integers(8, t + 1, n)
    lengths[0] = t  # the batch is cut to its longest text, as the text task cuts it
    x[np.arange(t)[None, :] >= lengths[:, None]] = 0  # padding at the end, with the lengths
    y = rng.integers(0, 2, n)
    kwargs = {"vocab_size": vocab, "num_classes": 2, "padding_idx": 0}
    adam = ("adam", {"lr": 2e-3})
    return training_steps("lstm_classifier", kwargs, (x, lengths), y, adam, clip=1.0)


def time_pair(scratch: Step, torch_step: Step, warmup: int, repeats: int) -> tuple[float, float]:
    """Median milliseconds of each step, alternating the engines."""
    for _ in range(warmup):
        scratch()
        torch_step()
    times: dict[str, list[float]] = {"scratch": [], "torch": []}
    for _ in range(repeats):
        for name, step in (("scratch", scratch), ("torch", torch_step)):
            start = time.perf_counter()
            step()
            times[name].append((time.perf_counter() - start) * 1e3)
    return statistics.median(times["scratch"]), statistics.median(times["torch"])


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    lines = [
        f"{'model':40s} {'scratch ms':>10s} {'torch ms':>9s} {'ratio':>6s} {'target':>6s}  status"
    ]
    for r in rows:
        if r.ratio is None:
            numbers = f"{'-':>10s} {'-':>9s} {'-':>6s}"
        else:
            numbers = f"{r.scratch_ms:10.2f} {r.torch_ms:9.2f} {r.ratio:6.2f}"
        lines.append(f"{r.model:40s} {numbers} {r.target:6.1f}  {r.status}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads for BLAS and for torch (same N)"
    )
    parser.add_argument(
        "--repeats", type=int, default=9, help="timed steps per engine (median; >= 7)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per engine first")
    parser.add_argument(
        "--only",
        choices=["lenet", "block", "lstm", "resnet20", "lstm_classifier"],
        action="append",
        help="run some rows",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the rows as JSON instead of a table"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 7:
        parser.error("--repeats must be at least 7 (the median of fewer steps is too noisy)")

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before torch's first parallel op
        pass
    rows: list[Row] = []
    rng = np.random.default_rng(args.seed)
    cases = [
        ("lenet", "LeNet-5 (N=128, 1x28x28)", 2.0, lenet_steps),
        ("block", "ResNet BasicBlock (N=64, 16ch, 32x32)", 4.0, block_steps),
        ("lstm", "LSTM (T=100, N=32, H=256)", 1.5, lstm_steps),
        ("resnet20", "ResNet-20 train step (N=128, 3x32x32)", 2.0, resnet20_steps),
        ("lstm_classifier", "LSTM classifier train step (N=64, T=64)", 2.0, lstm_classifier_steps),
    ]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [
            f"{i['internal_api']} {i.get('version')} {Path(i['filepath']).name} "
            f"({i['num_threads']} threads{', NumPy' if 'numpy' in i['filepath'] else ''})"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        for key, label, target, build in cases:
            if args.only and key not in args.only:
                continue
            with torch.random.fork_rng():
                torch.manual_seed(args.seed)
                steps = build(rng)
            if steps is None:
                rows.append(Row(label, None, None, None, target, "not available"))
                continue
            s_ms, t_ms = time_pair(*steps, warmup=args.warmup, repeats=args.repeats)
            ratio = s_ms / t_ms
            rows.append(
                Row(label, s_ms, t_ms, ratio, target, "PASS" if ratio <= target else "FAIL")
            )

    if args.json:
        info = {"threads": args.threads, "blas": blas, "torch": torch.__version__}
        print(json.dumps({**info, "rows": [asdict(r) for r in rows]}, indent=2))
    else:
        print(
            f"threads={args.threads}  torch {torch.__version__} ({torch.get_num_threads()} threads)"
        )
        print(f"BLAS (threadpoolctl): {'; '.join(blas) or 'none found'}")
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
