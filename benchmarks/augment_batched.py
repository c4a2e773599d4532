"""Batched tensor augmentation (BatchAugment) vs the per-image torchvision v2 pipeline.

Run: ``OMP_NUM_THREADS=1 python benchmarks/augment_batched.py``. Prints, per preset, the time
to augment one batch both ways and the ratio (absolute times depend on the machine; the ratio
is what to compare).
"""

from __future__ import annotations

import argparse
import time

import torch

from nnatlas.data import BatchAugment, build_transforms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--size", type=int, default=28, help="image side (28: Fashion-MNIST)")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread each way: compare the methods, not the thread pools
    x = torch.rand(args.batch, args.channels, args.size, args.size)  # (N, C, H, W)
    x_uint8 = (x * 255).to(torch.uint8)
    g = torch.Generator().manual_seed(0)
    print(f"batch {tuple(x.shape)}, 1 thread")
    for preset in ("light", "standard", "strong"):
        augment = BatchAugment(preset)
        augment(x, g)  # warm-up
        start = time.perf_counter()
        for _ in range(args.repeats):
            augment(x, g)
        batched = (time.perf_counter() - start) / args.repeats
        per_image = build_transforms(preset)
        start = time.perf_counter()
        for image in x_uint8:
            per_image(image)
        looped = time.perf_counter() - start
        print(
            f"{preset:9s} batched {batched * 1e3:7.1f} ms   per-image v2 {looped * 1e3:7.1f} ms"
            f"   ratio {looped / batched:5.1f}x"
        )


if __name__ == "__main__":
    main()
