"""Samples/s of the Trainer on ResNet-20 with CIFAR-shaped data: the plain path vs the fast path.

- plain: float32, NCHW, the split held on the CPU and each batch copied to the device (a
  ``DataLoader`` over a ``TensorDataset``, as most tutorials train);
- fast: the split copied to the device once (``TensorLoader``), ``--channels-last``,
  ``--amp bf16`` (autocast), and with ``--compile`` also ``torch.compile``.

Both train the same model (``resnet20``, 0.27 M parameters) on random 3x32x32 images (the
throughput does not depend on the pixel values) with the same batch size and optimizer. The
number is the median time between consecutive optimizer steps after warm-up, as samples per
second; the script prints one line per path and their ratio, with the device's name.

Run: ``python benchmarks/gpu_throughput.py [--device cuda] [--batch-size 512] [--steps 60]
[--compile]``; ``--device cpu --steps 6 --examples 512`` is a quick check that it runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import nnatlas.models.resnet_cifar  # noqa: F401  (registers resnet20)
from nnatlas.models.registry import create_model
from nnatlas.train import Callback, TensorLoader, TrainConfig, Trainer


class StepTimer(Callback):
    """Seconds between consecutive optimizer steps (the device synchronized at each)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.times, self.last = device, [], None

    def on_step_end(self, trainer, loss: float) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if self.last is not None:
            self.times.append(now - self.last)
        self.last = now


def measure(path: str, args: argparse.Namespace) -> float:
    """Samples/s of one path (``plain`` or ``fast``)."""
    torch.manual_seed(0)
    x = torch.randn(args.examples, 3, 32, 32)  # (N, 3, 32, 32) CIFAR-shaped
    y = torch.randint(0, 10, (args.examples,))
    fast = path == "fast"
    config = TrainConfig(
        epochs=max(1, -(-args.steps * args.batch_size // args.examples)),
        batch_size=args.batch_size,
        optimizer="nesterov",
        lr=0.05,
        device=args.device,
        amp="bf16" if fast else "off",
        channels_last=fast,
        compile=fast and args.compile,
        quiet=True,
        tensorboard=False,
        metrics="accuracy",
        restore_best=False,
    )
    model = create_model("resnet20", num_classes=10)
    timer = StepTimer(torch.device("cpu"))
    trainer = Trainer(model, config, callbacks=[timer])
    timer.device = trainer.device
    if fast:
        train = TensorLoader(x, y, batch_size=args.batch_size, shuffle=True,
                             device=trainer.data_device([x, y]))  # fmt: skip
    else:  # per-batch copies from pinned CPU memory, as a DataLoader trains
        pin = trainer.device.type == "cuda"
        train = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True,
                           pin_memory=pin)  # fmt: skip
    trainer.fit(train)
    steady = timer.times[args.warmup :] or timer.times
    return args.batch_size / statistics.median(steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per path")
    parser.add_argument("--warmup", type=int, default=10, help="first steps not counted")
    parser.add_argument("--examples", type=int, default=50_000, help="size of the random split")
    parser.add_argument("--compile", action="store_true", help="the fast path also compiles")
    args = parser.parse_args()
    from nnatlas.train import resolve_device

    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"device {name}; torch {torch.__version__}; resnet20, batch {args.batch_size}")
    rates = {}
    for path in ("plain", "fast"):
        rates[path] = measure(path, args)
        what = "fp32 NCHW, batches copied" if path == "plain" else "on-device data, NHWC, bf16"
        if path == "fast" and args.compile:
            what += ", compiled"
        print(f"{path:5s}  {rates[path]:10,.0f} samples/s  ({what})", flush=True)
    print(f"fast / plain = {rates['fast'] / rates['plain']:.2f}x")


if __name__ == "__main__":
    main()
