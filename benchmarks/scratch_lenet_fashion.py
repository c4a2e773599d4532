"""Train the scratch (NumPy) LeNet-5 on Fashion-MNIST and report test accuracy and wall time.

Run:  .venv/bin/python benchmarks/scratch_lenet_fashion.py [--epochs 2] [--threads 2]

The acceptance bar of ``nnatlas train lenet5 --engine scratch --data fashion-mnist`` is >= 0.87
test accuracy after 2 epochs; this script shows the scratch engine reaches it on its own: NumPy
only (no torch), Adam, batch 128, inputs standardized with the training set's mean and std.

Data: the IDX files of Debian's ``dataset-fashion-mnist`` package (``--data-dir``, default
/usr/share/datasets/fashion-mnist), i.e. train-images-idx3-ubyte.gz and friends.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from nnatlas.scratch.losses import CrossEntropyLoss
from nnatlas.scratch.models.lenet import LeNet5
from nnatlas.scratch.optim import Adam

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally .gz): magic 00 00 08 (uint8) <ndim>, then big-endian dims."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {array.size} values (truncated?)")
    return array.reshape(dims)


def load_fashion(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shape: -> x_train (60000, 1, 28, 28) float32 standardized, y_train (60000,), and test."""

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(
            f"{folder / stem}(.gz) not found; install Debian's dataset-fashion-mnist or pass "
            "--data-dir"
        )

    x_train = read_idx(find("train-images-idx3-ubyte")).astype(np.float32) / 255.0
    y_train = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    x_test = read_idx(find("t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
    y_test = read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    mean, std = x_train.mean(), x_train.std()  # statistics of the training split only
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return x_train[:, None], y_train, x_test[:, None], y_test


def accuracy(model: LeNet5, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(axis=1) == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    model.train()
    return correct / len(x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    parser.add_argument("--variant", choices=["modern", "1998"], default="modern")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit", type=int, default=0, help="use only the first N training images (0: all)"
    )
    args = parser.parse_args(argv)

    train(args.data_dir, args.epochs, args.batch_size, args.lr, args.variant, args.threads,
          args.seed, args.limit)  # fmt: skip
    return 0


def train(
    data_dir: Path = DEFAULT_DIR,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 2e-3,
    variant: str = "modern",
    threads: int = 2,
    seed: int = 0,
    limit: int = 0,
) -> float:
    """Train a fresh scratch LeNet-5 and return its test accuracy (printing progress)."""
    x_train, y_train, x_test, y_test = load_fashion(data_dir)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    rng = np.random.default_rng(seed)
    model = LeNet5(num_classes=10, in_chans=1, input_size=28, variant=variant, rng=rng)
    model.features[0].requires_input_grad = False  # nothing upstream of the image needs it
    criterion, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=lr)
    print(
        f"scratch LeNet5[{variant}] on Fashion-MNIST: {len(x_train)} train / {len(x_test)} test, "
        f"Adam lr={lr}, batch {batch_size}, {threads} BLAS threads"
    )
    start = time.perf_counter()
    with threadpool_limits(limits=threads, user_api="blas"):
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x_train))
            total, seen = 0.0, 0
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                optimizer.zero_grad()
                loss = criterion(model(x_train[idx]), y_train[idx])
                model.backward(criterion.backward())
                optimizer.step()
                total, seen = total + float(loss) * len(idx), seen + len(idx)
            test_acc = accuracy(model, x_test, y_test)
            print(f"epoch {epoch}: train loss {total / seen:.4f}  test accuracy {test_acc:.4f}  "
                  f"elapsed {time.perf_counter() - start:.1f} s")  # fmt: skip
    wall = time.perf_counter() - start
    print(f"final test accuracy {test_acc:.4f} after {epochs} epochs, wall time {wall:.1f} s")
    return test_acc


if __name__ == "__main__":
    sys.exit(main())
