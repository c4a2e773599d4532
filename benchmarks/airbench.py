"""CIFAR-10 speed recipe after airbench94 (Keller Jordan, 2024): time to 94% test accuracy.

airbench94 reaches 94.01% mean accuracy in 3.29 s on one A100 (its README, arXiv 2404.00498).
This script follows its ideas, written out for reading:

- a small VGG-like net: a 2x2 *whitening* convolution (24 filters), then three groups of
  conv-pool-BN-GELU-conv-BN-GELU (64, 256, 256 channels), max-pool, linear, scaled by 1/9;
- whitening init: the first layer's filters are the eigenvectors of the covariance of 2x2
  patches of 5,000 training images, scaled by 1/sqrt(eigenvalue + 5e-4), and their negatives;
  that layer's weights stay fixed, its bias trains for the first 3 epochs only;
- identity (Dirac) init of the first half of each conv's filters; BatchNorm weights fixed at 1;
- SGD with Nesterov momentum 0.85, sum-reduced label-smoothed (0.2) cross-entropy, batch 1024,
  lr 11.5 per 1024 examples (BN biases 64x), weight decay 0.0153, a linear warm-up over 23% of
  the steps then a linear decay to 7%;
- *lookahead* (an EMA pulled into the weights every 5 steps, its decay rising as 0.95^5 t^3);
- alternating horizontal flips (each image flipped on every other epoch) and 2-pixel
  translations with reflection padding;
- test-time augmentation: the mean of the logits of the image, its mirror and two translations.

Differences from airbench94, said here rather than hidden: bf16 autocast instead of fp16
weights (``--amp fp16`` is there too), no ``torch.compile`` unless ``--compile``, and plain
random translations. The clock runs over training only (data already on the GPU, after one
warm-up run of a few steps, as airbench times it); the test accuracy is measured after.

Data: ``--data-root`` is either CIFAR-10 in torchvision's format (``cifar-10-batches-py``,
with its real 10,000-image test set) or the ImageFolder JPEG copy of ../shared/data
(``cifar10-jpeg/train/<class>/*.jpg``: the training set only, re-encoded as JPEG; a seeded
stratified 10,000 of its 50,000 images are held out as the test split, so the recipe trains
on 40,000 degraded images and 94% is out of its reach there: the script reports the accuracy
reached and the time to the target when it is reached).

Run (on a GPU): ``python benchmarks/airbench.py --data-root ../shared/data/cifar10-jpeg
[--runs 3] [--target 0.94]``; ``--smoke`` trains 2 tiny epochs on random data on any device.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN = torch.tensor([0.4914, 0.4822, 0.4465])  # CIFAR-10's per-channel mean and std
STD = torch.tensor([0.2470, 0.2435, 0.2616])

HYP = {
    "batch_size": 1024,
    "lr": 11.5,  # learning rate per 1024 examples (the loss is a sum)
    "momentum": 0.85,
    "weight_decay": 0.0153,  # per 1024 examples
    "bias_scaler": 64.0,  # BatchNorm biases learn this much faster
    "label_smoothing": 0.2,
    "whiten_bias_epochs": 3,
    "epochs": 9.9,
    "widths": (64, 256, 256),
    "bn_momentum": 0.6,  # airbench's convention: the weight kept of the running statistic
    "scaling_factor": 1 / 9,
    "ema_every": 5,  # lookahead: steps between pulls
}


# -- the network -----------------------------------------------------------------------------------
class BatchNorm(nn.BatchNorm2d):
    """BatchNorm with its weight fixed at 1 (only the bias learns), as airbench94."""

    def __init__(self, channels: int, momentum: float) -> None:
        super().__init__(channels, eps=1e-12, momentum=1 - momentum)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    """3x3 'same' convolution without bias; the first ``in_channels`` filters start as the
    identity (Dirac), so each group starts close to passing its input through."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__(channels_in, channels_out, 3, padding="same", bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class ConvGroup(nn.Module):
    """conv, max-pool 2, BN, GELU, conv, BN, GELU. Shape: (N, C_in, H, W) -> (N, C_out, H/2, W/2)"""

    def __init__(self, channels_in: int, channels_out: int, momentum: float) -> None:
        super().__init__()
        self.conv1, self.pool = Conv(channels_in, channels_out), nn.MaxPool2d(2)
        self.norm1 = BatchNorm(channels_out, momentum)
        self.conv2, self.norm2 = Conv(channels_out, channels_out), BatchNorm(channels_out, momentum)
        self.activ = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Mul(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def make_net(widths: tuple[int, int, int] = HYP["widths"]) -> nn.Sequential:
    """The airbench94 network. Shape: (N, 3, 32, 32) -> (N, 10)"""
    whiten_width = 2 * 3 * 2**2  # 24: 12 eigenvectors of 2x2x3 patches and their negatives
    net = nn.Sequential(
        nn.Conv2d(3, whiten_width, 2, padding=0, bias=True),  # (N, 24, 31, 31)
        nn.GELU(),
        ConvGroup(whiten_width, widths[0], HYP["bn_momentum"]),  # (N, 64, 15, 15)
        ConvGroup(widths[0], widths[1], HYP["bn_momentum"]),  # (N, 256, 7, 7)
        ConvGroup(widths[1], widths[2], HYP["bn_momentum"]),  # (N, 256, 3, 3)
        nn.MaxPool2d(3),  # (N, 256, 1, 1)
        nn.Flatten(),
        nn.Linear(widths[2], 10, bias=False),
        Mul(HYP["scaling_factor"]),
    )
    net[0].weight.requires_grad = False
    return net


def init_whitening(layer: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Filters that whiten 2x2 patches: eigenvectors of their covariance / sqrt(eigenvalue).

    Shape: images (N, 3, 32, 32) -> patches (N * 31 * 31, 3, 2, 2) -> weight (24, 3, 2, 2)
    """
    c, (h, w) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).float()
    flat = patches.reshape(len(patches), -1)  # (M, 12)
    covariance = flat.T @ flat / len(flat)  # (12, 12)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)  # largest first
    eigenvectors = eigenvectors.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled))


class Lookahead:
    """An exponential moving average of the weights, copied back into them at each update."""

    def __init__(self, net: nn.Module) -> None:
        self.ema = {k: v.detach().clone() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float) -> None:
        for ema, param in zip(self.ema.values(), net.state_dict().values(), strict=True):
            if param.dtype.is_floating_point:
                ema.lerp_(param, 1 - decay)
                param.copy_(ema)


# -- data ----------------------------------------------------------------------------------------
def load_cifar(root: Path, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Train and test images as uint8 (N, 32, 32, 3) and labels (N,): torchvision's format
    (its test set), else the JPEG folders (a stratified 10,000 held out as test)."""
    batches = next(iter(root.rglob("cifar-10-batches-py")), None) if root.is_dir() else None
    if batches is not None or (root / "data_batch_1").is_file():
        import pickle

        folder = batches or root

        def read(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
            xs, ys = [], []
            for name in names:
                with open(folder / name, "rb") as handle:
                    d = pickle.load(handle, encoding="latin1")
                xs.append(np.asarray(d["data"]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                ys.append(np.asarray(d["labels"]))
            return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

        return (*read([f"data_batch_{i}" for i in range(1, 6)]), *read(["test_batch"]))
    return _jpeg_split(root, seed)


def _jpeg_split(root: Path, seed: int) -> tuple[torch.Tensor, ...]:
    from PIL import Image

    train = root / "train" if (root / "train").is_dir() else root
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if len(classes) != 10:
        raise SystemExit(f"{train}: expected 10 class folders of CIFAR-10, found {len(classes)}")
    import os

    # Decoding 50,000 JPEGs takes a while on a CPU: decoded once, kept beside the user's data.
    cache = Path(os.environ.get("NNATLAS_DATA", Path.home() / ".cache" / "nnatlas"))
    cached = cache / "cifar10-jpeg-uint8.npz"
    if cached.is_file():
        data = np.load(cached)
        images, labels = data["images"], data["labels"]
    else:
        files = [(f, k) for k, c in enumerate(classes) for f in sorted((train / c).glob("*.jpg"))]
        images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f, _ in files])
        labels = np.asarray([k for _, k in files])
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cached, images=images, labels=labels)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:1000] for k in range(10)])
    keep = np.ones(len(labels), bool)
    keep[test] = False
    train_rows = rng.permutation(np.flatnonzero(keep))  # mixed classes, so --limit N is fair
    as_t = torch.from_numpy
    return (as_t(images[train_rows]), as_t(labels[train_rows]), as_t(images[test]),
            as_t(labels[test]))  # fmt: skip


def to_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> normalized float (N, 3, 32, 32), channels-last, on the device."""
    x = images.to(device).permute(0, 3, 1, 2).float().div_(255)
    x = (x - MEAN.to(device).view(1, 3, 1, 1)) / STD.to(device).view(1, 3, 1, 1)
    return x.contiguous(memory_format=torch.channels_last)


def translate(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to ``pad`` pixels (reflection padding). Shape: kept."""
    n = len(x)
    padded = F.pad(x, (pad,) * 4, mode="reflect")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    out = torch.empty_like(x)
    for sx in range(2 * pad + 1):  # one slice per shift: 25 gathers an epoch, no per-image loop
        for sy in range(2 * pad + 1):
            rows = torch.nonzero((dx == sx) & (dy == sy)).flatten().to(x.device)
            out[rows] = padded[rows, :, sy : sy + 32, sx : sx + 32]
    return out


# -- training --------------------------------------------------------------------------------------
def lr_factor(step: int, total: int) -> float:
    """Linear warm-up from 0.2 over 23% of the steps, then a linear decay to 0.07."""
    warmup = int(total * 0.23)
    if step < warmup:
        return 0.2 + 0.8 * step / warmup
    return 1.0 - 0.93 * (step - warmup) / max(1, total - warmup)


def tta_logits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean logits of the image, its mirror and two 1-pixel translations of both."""

    def mirror(inputs: torch.Tensor) -> torch.Tensor:
        return 0.5 * net(inputs) + 0.5 * net(inputs.flip(-1))

    padded = F.pad(x, (1,) * 4, mode="reflect")
    shifted = [padded[:, :, 0:32, 0:32], padded[:, :, 2:34, 2:34]]
    return 0.5 * mirror(x) + 0.5 * torch.stack([mirror(s) for s in shifted]).mean(0)


@torch.no_grad()
def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: torch.dtype | None) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(x), 2000):
        with torch.autocast(x.device.type, dtype=amp, enabled=amp is not None):
            logits = tta_logits(net, x[i : i + 2000])
        correct += int((logits.argmax(1) == y[i : i + 2000]).sum())
    return correct / len(x)


def train(data: tuple[torch.Tensor, ...], args: argparse.Namespace, seed: int) -> dict:
    """One airbench run; returns its training seconds and TTA test accuracy."""
    device = data[0].device
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[args.amp]
    batch = args.batch_size
    epochs = args.epochs
    steps_per_epoch = len(x_train) // batch  # drop_last: BN statistics of full batches
    total = math.ceil(epochs * steps_per_epoch)

    net = make_net(args.widths).to(device).to(memory_format=torch.channels_last)
    init_whitening(net[0], x_train[:5000])
    forward = torch.compile(net) if args.compile else net
    kilostep = 1024 * (1 + 1 / (1 - HYP["momentum"]))  # airbench's SGD unit conversion
    lr = HYP["lr"] / kilostep
    wd = HYP["weight_decay"] * batch / kilostep
    lr_bias = lr * HYP["bias_scaler"]
    norm_biases = [p for k, p in net.named_parameters() if "norm" in k and p.requires_grad]
    others = [p for k, p in net.named_parameters() if "norm" not in k and p.requires_grad]
    optimizer = torch.optim.SGD(
        [dict(params=norm_biases, lr=lr_bias, weight_decay=wd / lr_bias),
         dict(params=others, lr=lr, weight_decay=wd / lr)],
        momentum=HYP["momentum"], nesterov=True,
    )  # fmt: skip
    base = [g["lr"] for g in optimizer.param_groups]
    lookahead = Lookahead(net)
    flips = torch.rand(len(x_train), generator=generator) < 0.5

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    step = 0
    for epoch in range(math.ceil(epochs)):
        net[0].bias.requires_grad = epoch < HYP["whiten_bias_epochs"]
        flip = (flips ^ bool(epoch % 2)).to(device).view(-1, 1, 1, 1)  # alternating flips
        x_epoch = translate(torch.where(flip, x_train.flip(-1), x_train), 2, generator)
        order = torch.randperm(len(x_train), generator=generator).to(device)
        net.train()
        for b in range(steps_per_epoch):
            rows = order[b * batch : (b + 1) * batch]
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                logits = forward(x_epoch[rows])
            loss = F.cross_entropy(logits.float(), y_train[rows], reduction="sum",
                                   label_smoothing=HYP["label_smoothing"])  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for group, rate in zip(optimizer.param_groups, base, strict=True):
                group["lr"] = rate * lr_factor(step, total)
            optimizer.step()
            step += 1
            if step % HYP["ema_every"] == 0:
                lookahead.update(net, decay=0.95**5 * (step / total) ** 3)
            if step >= total:
                break
        if step >= total:
            break
    lookahead.update(net, decay=1.0)  # end on the averaged weights
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": evaluate(net, x_test, y_test, amp)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/cifar10-jpeg"))
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, cpu")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (after one warm-up)")
    parser.add_argument("--target", type=float, default=0.94, help="test accuracy to reach")
    parser.add_argument("--amp", default="bf16", choices=("bf16", "fp16", "off"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--epochs", type=float, default=HYP["epochs"])
    parser.add_argument("--batch-size", type=int, default=HYP["batch_size"])
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--widths", default="64,256,256", help="channels of the 3 conv groups")
    parser.add_argument(
        "--smoke", action="store_true", help="random data, a narrow net, 2 epochs, any device"
    )
    args = parser.parse_args()
    args.widths = tuple(int(w) for w in args.widths.split(","))
    from nnatlas.train import resolve_device

    device = resolve_device(args.device)
    if args.smoke:
        g = torch.Generator().manual_seed(0)
        data = [torch.randint(0, 256, (n, 32, 32, 3), generator=g, dtype=torch.uint8)
                for n in (512, 256)]  # fmt: skip
        labels = [torch.randint(0, 10, (n,), generator=g) for n in (512, 256)]
        raw = (data[0], labels[0], data[1], labels[1])
        args.epochs, args.batch_size, args.widths, args.runs = 2, 128, (16, 32, 32), 1
    else:
        if not args.data_root.exists():
            raise SystemExit(f"{args.data_root}: no CIFAR-10 there (give --data-root)")
        raw = load_cifar(args.data_root)
    x_train, y_train, x_test, y_test = raw
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    data = (to_input(x_train, device), y_train.to(device), to_input(x_test, device),
            y_test.to(device))  # fmt: skip
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"device {name}; torch {torch.__version__}; {len(x_train):,} train / "
          f"{len(x_test):,} test images from {'random data' if args.smoke else args.data_root}; "
          f"amp {args.amp}{', compiled' if args.compile else ''}", flush=True)  # fmt: skip
    warm = argparse.Namespace(**{**vars(args), "epochs": 1 if args.smoke else 0.1})
    train(data, warm, seed=999)  # cuDNN autotuning and compilation, not timed
    results = [train(data, args, seed) for seed in range(args.runs)]
    for i, r in enumerate(results):
        print(f"run {i}: {r['seconds']:.2f} s, TTA test accuracy {r['accuracy']:.4f}", flush=True)
    accuracies = [r["accuracy"] for r in results]
    seconds = statistics.mean(r["seconds"] for r in results)
    mean = statistics.mean(accuracies)
    verdict = "reached" if mean >= args.target else "NOT reached"
    print(
        f"mean over {len(results)} run(s): {seconds:.2f} s, accuracy {mean:.4f} (target "
        f"{args.target:.2f} {verdict}; airbench94: 94.01% in 3.29 s on an A100)"
    )


if __name__ == "__main__":
    main()
