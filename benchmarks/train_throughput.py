"""Training throughput: nnatlas's Trainer against a plain loop written as the PyTorch tutorials do.

The reference loop is the one of the "Quickstart" and "Training a classifier" tutorials: a
``Dataset`` that stores uint8 images (as torchvision's FashionMNIST and CIFAR10 do) and applies
``ToTensor()`` + ``Normalize`` to each example through PIL, a ``DataLoader`` (shuffle, default
``num_workers=0``) that collates the examples, and ``loss.backward(); optimizer.step();
optimizer.zero_grad()``. For the LSTM the dataset returns one ``torch.tensor(list_of_ids)`` per
example.

The Trainer side uses the in-memory fast path (:class:`nnatlas.train.TensorLoader`: one gather
per batch from a normalized tensor), the thread policy, and ``channels_last`` for the CNNs.
Both run in this process, with the same model, batch size, optimizer and thread count. The
number is the median time between consecutive optimizer steps (data loading included), after
warm-up steps, as samples per second. Data are random, shaped like the real sets (throughput does
not depend on the pixel values).

Achieved GFLOP/s = FLOPs of one training step (forward + backward, counted by
``torch.utils.flop_counter.FlopCounterMode``) / median step time, shown next to a measured
float32 GEMM peak (``torch.mm`` of two 1024x1024 matrices) on the same threads.

Run: ``python benchmarks/train_throughput.py [--quick] [--threads N] [--rounds R]
[--only lenet5,resnet20,lstm]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

import nnatlas.models.lenet  # noqa: F401  (register the zoo entries used here)
import nnatlas.models.resnet_cifar  # noqa: F401
import nnatlas.models.rnn_classifier  # noqa: F401
from nnatlas.models.registry import create_model
from nnatlas.threads import configure_threads
from nnatlas.train import Callback, TensorLoader, TrainConfig, Trainer


# -- the tutorial-style reference ------------------------------------------------------------------
class ImageDataset(Dataset):
    """uint8 images (N, H, W) or (N, H, W, C) transformed one at a time through PIL."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


class TokenDataset(Dataset):
    """Token-id lists, one tensor per example."""

    def __init__(self, ids: list[list[int]], labels: np.ndarray) -> None:
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return torch.tensor(self.ids[i]), int(self.labels[i])


def reference_step_times(model, dataset, batch_size: int, steps: int, warmup: int) -> list[float]:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times, last = [], time.perf_counter()
    for i, (x, y) in enumerate(loader):
        pred = model(x)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()  # the tutorials read the loss to print it
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if i + 1 == warmup + steps:
            break
    return times[warmup:]


# -- the Trainer -----------------------------------------------------------------------------------
class StepTimer(Callback):
    """Records the time between optimizer steps and stops the run after enough of them."""

    class Done(Exception):
        pass

    def __init__(self, total: int) -> None:
        self.total, self.times, self.last = total, [], None

    def on_epoch_begin(self, trainer, epoch: int, num_batches: int) -> None:
        self.last = time.perf_counter()

    def on_step_end(self, trainer, loss: float) -> None:
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now
        if len(self.times) == self.total:
            raise StepTimer.Done


def trainer_step_times(model, x, y, batch_size: int, steps: int, warmup: int, channels_last: bool):
    config = TrainConfig(epochs=1, batch_size=batch_size, lr=1e-3, optimizer="adam", quiet=True,
                         tensorboard=False, threads=torch.get_num_threads(),
                         channels_last=channels_last, device="cpu")  # fmt: skip
    timer = StepTimer(warmup + steps)
    trainer = Trainer(model, config, callbacks=[timer])
    try:
        trainer.fit(TensorLoader(x, y, batch_size=batch_size, shuffle=True, seed=0))
    except StepTimer.Done:
        pass
    return timer.times[warmup:]


# -- FLOPs and peak --------------------------------------------------------------------------------
def step_flops(model, x: torch.Tensor, y: torch.Tensor) -> tuple[float, bool]:
    """FLOPs of one forward + backward; (flops, counted) where counted=False means estimated.

    FlopCounterMode has no formula for the fused CPU LSTM kernel, so recurrent layers are
    estimated: forward 2 * 4H * (D + H) multiply-adds per step and example (the four gates),
    backward twice the forward (as for a matmul: one product for each input's gradient).
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    flops, counted = float(counter.get_total_flops()), True
    for module in model.modules():
        if isinstance(module, torch.nn.LSTM):
            counted = False
            N, T = x.shape[:2]  # batch, time
            H, D = module.hidden_size, module.input_size
            for layer in range(module.num_layers):
                d_in = D if layer == 0 else H * (2 if module.bidirectional else 1)
                forward = 2 * 4 * H * (d_in + H) * N * T * (2 if module.bidirectional else 1)
                flops += 3 * forward
    return flops, counted


def gemm_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


# -- the cases -------------------------------------------------------------------------------------
def case_lenet5(quick: bool):
    n = 60_000
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.random.default_rng(1).integers(0, 10, n)
    mean, std = 0.286, 0.353  # Fashion-MNIST's
    dataset = ImageDataset(images, labels, transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]))  # fmt: skip
    x = (torch.from_numpy(images).float().div_(255).sub_(mean).div_(std)).unsqueeze(1)
    return dict(name="LeNet-5, 60k x 1x28x28", model=lambda: create_model("lenet5"),
                dataset=dataset, x=x, y=torch.from_numpy(labels), batch=256,
                steps=8 if quick else 20, warmup=3, channels_last=True, target=2.0)  # fmt: skip


def case_resnet20(quick: bool):
    n = 5_000 if quick else 10_000  # 10,000 of CIFAR's 50,000: same per-step work, less memory
    images = np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = np.random.default_rng(1).integers(0, 10, n)
    mean, std = (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)
    dataset = ImageDataset(images, labels, transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(mean, std)]))  # fmt: skip
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return dict(name="ResNet-20, 3x32x32", model=lambda: create_model("resnet20"),
                dataset=dataset, x=x, y=torch.from_numpy(labels), batch=128,
                steps=3 if quick else 5, warmup=1, channels_last=True, target=1.0)  # fmt: skip


def case_lstm(quick: bool):
    n, T, vocab = 64 * 12, 200, 10_000
    ids = np.random.default_rng(0).integers(1, vocab, (n, T))
    labels = np.random.default_rng(1).integers(0, 2, n)
    return dict(name="LSTM classifier, T=200", dataset=TokenDataset(ids.tolist(), labels),
                model=lambda: create_model("lstm_classifier", vocab_size=vocab, num_classes=2),
                x=torch.from_numpy(ids), y=torch.from_numpy(labels), batch=64,
                steps=3 if quick else 5, warmup=1, channels_last=False, target=1.0)  # fmt: skip


CASES = {"lenet5": case_lenet5, "resnet20": case_resnet20, "lstm": case_lstm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and smaller sets")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for both loops (0 = all cores)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two loops")
    parser.add_argument("--only", default=",".join(CASES), help="comma list of " + ",".join(CASES))
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 2)

    threads = configure_threads(args.threads, engine="torch")
    peak = gemm_peak_gflops()
    print(f"torch {torch.__version__}, {threads} thread(s), float32 GEMM peak {peak:.1f} GFLOP/s")
    rows = []
    for key in args.only.split(","):
        case = CASES[key](args.quick)
        # Alternate the two loops in rounds so a change in the machine's load (it is shared)
        # hits both alike; the median over all rounds' steps is reported.
        ref, ours = [], []
        for _ in range(args.rounds):
            torch.manual_seed(0)
            ref += reference_step_times(case["model"](), case["dataset"], case["batch"],
                                        case["steps"], case["warmup"])  # fmt: skip
            torch.manual_seed(0)
            ours += trainer_step_times(case["model"](), case["x"], case["y"], case["batch"],
                                       case["steps"], case["warmup"],
                                       case["channels_last"])  # fmt: skip
        flops, counted = step_flops(case["model"](), case["x"][: case["batch"]],
                                    case["y"][: case["batch"]])  # fmt: skip
        ref_sps = case["batch"] / statistics.median(ref)
        our_sps = case["batch"] / statistics.median(ours)
        gflops = flops / statistics.median(ours) / 1e9
        rows.append((case["name"], case["batch"], ref_sps, our_sps, our_sps / ref_sps,
                     case["target"], gflops, counted))  # fmt: skip
        print(f"  {case['name']}: reference {ref_sps:.0f}/s, trainer {our_sps:.0f}/s", flush=True)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="training throughput (samples/s, median step, same process)")
    for column in ("model / data", "batch", "tutorial loop", "Trainer", "ratio", "target",
                   "Trainer GFLOP/s", "% of GEMM peak"):  # fmt: skip
        table.add_column(column, justify="left" if column == "model / data" else "right")
    for name, batch, ref_sps, our_sps, ratio, target, gflops, counted in rows:
        verdict = "[green]" if ratio >= target else "[red]"
        table.add_row(name, str(batch), f"{ref_sps:,.0f}", f"{our_sps:,.0f}",
                      f"{verdict}{ratio:.2f}x", f">= {target:.1f}x",
                      f"{gflops:.1f}{'' if counted else '*'}",
                      f"{100 * gflops / peak:.0f} %")  # fmt: skip
    Console(width=130).print(table)
    print("* estimated: FlopCounterMode does not count the fused LSTM kernel (see step_flops)")


if __name__ == "__main__":
    main()
