"""``depth``: the degradation problem (He, Zhang, Ren & Sun 2016, arXiv 1512.03385, Fig. 1, 6).

A plain 56-layer CIFAR net *trains* worse than a plain 20-layer one, on the training set, so
it is no overfitting: the deeper plain net is harder to optimize. Its residual twin, the same
stack with identity shortcuts, is not. The four zoo models ``plain20``, ``plain56``,
``resnet20``, ``resnet56`` (option-A shortcuts, §4.2) train on the same budget with the
Trainer (SGD with momentum 0.9 and weight decay 1e-4, the paper's), the training loss is kept
at every step, and the gradient norm of every layer is measured at initialization and after
training with :func:`nnatlas.inspect.measure_gradients`.

Data: the CIFAR-10 training set as JPEG folders (``../shared/data/cifar10-jpeg``), of which a
stratified part is held out as the test split (the folder has no test set); Fashion-MNIST
when the folder is absent. The quick budget reads a class-balanced subset at 16x16 pixels
(CPU time: a ResNet-56 step on 64 CIFAR images at 32x32 takes about 5 s on 2 cores), so its
numbers are an early-training picture, not the paper's 64k iterations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nnatlas.inspect.curves import plot_curve_comparison
from nnatlas.inspect.experiments.common import (
    Clock,
    ExperimentResult,
    Log,
    StepLosses,
    Table,
    train_torch,
)
from nnatlas.inspect.experiments.common import write as write_result
from nnatlas.inspect.figures import figure, save
from nnatlas.inspect.gradflow import layer_rows, measure_gradients, plot_norm_series
from nnatlas.models import create_model
from nnatlas.train.steps import ClassificationStep

MODELS = ("plain20", "plain56", "resnet20", "resnet56")


@dataclass(frozen=True)
class Budget:
    """What each of the four nets trains on.

    Attributes:
        per_class: training images per class (None: the whole training split).
        image_size: pixels a side (32 is CIFAR's own).
        test_fraction: share of the folder held out as the test split (it has no test set).
        epochs, batch_size, lr: SGD with momentum 0.9, a cosine schedule over the run.
        weight_decay: the paper's 1e-4.
        threads: torch threads (these nets are big enough to split over the cores).
    """

    per_class: int | None
    image_size: int
    epochs: int
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 1e-4
    test_fraction: float = 0.15
    threads: int = 0
    # He et al. warm ResNet-110 up at a tenth of the rate (§4.2); at the quick budget's rate
    # ResNet-56's loss jumps from 2.3 to 10 in its first 6 steps without one (measured).
    warmup_epochs: float = 0.0
    data: str | None = None  # an image folder to use instead of CIFAR-10 (imagefolder:PATH)


# One thread for the quick budget: 16x16 maps give a thread little to do, and on a shared
# machine two threads waiting on each other cost more than they split.
QUICK = Budget(per_class=300, image_size=16, epochs=3, threads=1, warmup_epochs=0.5)
FULL = Budget(per_class=None, image_size=32, epochs=3, batch_size=128, lr=0.1)


def _cifar_folder() -> Path | None:
    from nnatlas.data.catalog import shared_data_dir, system_locations_enabled

    folder = shared_data_dir() / "cifar10-jpeg" / "train"
    return folder if system_locations_enabled() and folder.is_dir() else None


def load_data(budget: Budget) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """Normalized ``{"train", "test"}`` splits (x (N, C, S, S), y) and where they came from."""
    from nnatlas.data import load_image_dataset, stratified_split

    folder = None
    if budget.data is not None:
        folder = Path(budget.data.removeprefix("imagefolder:"))
    elif (found := _cifar_folder()) is not None:
        folder = found
    if folder is not None and budget.per_class is not None:
        from nnatlas.data.images.readers import list_image_folder, read_images

        paths, labels, _ = list_image_folder(folder)
        rng = np.random.default_rng(0)
        rows = np.sort(
            np.concatenate(
                [
                    rng.permutation(np.flatnonzero(labels == c))[: budget.per_class]
                    for c in np.unique(labels)
                ]
            )
        )
        x = torch.from_numpy(read_images([paths[i] for i in rows], budget.image_size)).float()
        x, y = x / 255.0, torch.from_numpy(labels[rows])
        source = f"{folder}: {budget.per_class} images per class at {budget.image_size} px"
    elif folder is not None:
        splits = load_image_dataset(
            f"imagefolder:{folder}",
            image_size=budget.image_size,
            test_fraction=budget.test_fraction,
            val_fraction=0.0,
        )
        x = torch.cat([splits.train.x, splits.test.x])
        y = torch.cat([splits.train.y, splits.test.y])
        source = f"{folder}: all {len(y)} images at {budget.image_size} px"
    else:
        splits = load_image_dataset("fashion-mnist", val_fraction=0.0)
        x, y = splits.train.x, splits.train.y
        if budget.per_class is not None:
            rng = np.random.default_rng(0)
            rows = np.sort(
                np.concatenate(
                    [
                        rng.permutation(np.flatnonzero(y.numpy() == c))[: budget.per_class]
                        for c in range(10)
                    ]
                )
            )
            x, y = x[rows], y[rows]
        if budget.image_size != x.shape[-1]:
            x = F.interpolate(x, size=budget.image_size, mode="bilinear", antialias=True)
        source = f"fashion-mnist (no CIFAR-10 folder found): {len(y)} images"
    keep, held = stratified_split(y.numpy(), budget.test_fraction, seed=0)
    train, test = (x[keep], y[keep]), (x[held], y[held])
    mean = train[0].mean(dim=(0, 2, 3), keepdim=True)
    std = train[0].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    norm = {
        name: ((part[0] - mean) / std, part[1]) for name, part in (("train", train), ("test", test))
    }
    return norm, source


@torch.no_grad()
def _scores(model: Any, data: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """(mean cross-entropy, error rate) in eval mode, batch by batch."""
    model.eval()
    losses, wrong = [], 0
    for i in range(0, len(data[1]), 256):
        logits = model(data[0][i : i + 256])
        losses.append(F.cross_entropy(logits, data[1][i : i + 256], reduction="sum"))
        wrong += int((logits.argmax(1) != data[1][i : i + 256]).sum())
    return float(sum(losses) / len(data[1])), wrong / len(data[1])


def _smooth(values: list[float], window: int) -> list[float]:
    """The mean over each non-overlapping window of steps."""
    window = max(1, window)
    return [float(np.mean(values[i : i + window])) for i in range(0, len(values), window)]


def run(
    folder: Path, quick: bool = False, log: Log | None = None, **overrides: Any
) -> ExperimentResult:
    """Run the experiment (``quick``: :data:`QUICK`, else :data:`FULL`) into ``folder``."""
    budget = Budget(**{**asdict(QUICK if quick else FULL), **overrides})
    clock = Clock(log)
    data, source = load_data(budget)
    in_chans = data["train"][0].shape[1]
    clock.say(f"depth: {source}; {len(data['train'][1])} train, {len(data['test'][1])} test")
    probe = tuple(t[:64] for t in data["train"])
    table = Table(
        [
            "model",
            "layers",
            "parameters",
            "train loss (last epoch)",
            "train error",
            "test error",
            "‖dL/dW‖ first / last layer at init",
            "seconds",
        ],
        title=f"depth: {budget.epochs} epochs of SGD on {source}",
    )
    losses: dict[str, list[float]] = {}
    histories: dict[str, Any] = {}
    layer_norms: dict[str, list[float]] = {}
    styles: dict[str, str] = {}
    numbers: dict[str, Any] = {"source": source, "models": {}}
    for name in MODELS:
        torch.manual_seed(0)
        model = create_model(name, num_classes=10, in_chans=in_chans)
        init = layer_rows(measure_gradients(model, probe))
        recorder = StepLosses()
        trained = train_torch(
            model,
            data["train"],
            data["test"],
            ClassificationStep(),
            epochs=budget.epochs,
            batch_size=budget.batch_size,
            lr=budget.lr,
            optimizer="momentum",
            momentum=0.9,
            weight_decay=budget.weight_decay,
            scheduler="cosine",
            warmup_epochs=budget.warmup_epochs,
            threads=budget.threads,
            metrics="accuracy",
            callbacks=[recorder],
            seed=0,
        )
        after = layer_rows(measure_gradients(model, probe))
        train_loss, train_error = _scores(model, data["train"])
        test_loss, test_error = _scores(model, data["test"])
        last_epoch = recorder.losses[-max(1, len(recorder.losses) // budget.epochs) :]
        label = name.replace("plain", "plain-").replace("resnet", "ResNet-")
        losses[label], histories[label] = recorder.losses, trained.history
        for when, rows in (("at init", init), ("trained", after)):
            layer_norms[f"{label} {when}"] = [r["grad_norm"] for r in rows]
            styles[f"{label} {when}"] = "--" if when == "at init" else "-"
        ratio = init[0]["grad_norm"] / init[-1]["grad_norm"]
        table.add(
            **{
                "model": label,
                "layers": int(name[-2:]),
                "parameters": sum(p.numel() for p in model.parameters()),
                "train loss (last epoch)": float(np.mean(last_epoch)),
                "train error": train_error,
                "test error": test_error,
                "‖dL/dW‖ first / last layer at init": ratio,
                "seconds": round(trained.seconds),
            }
        )
        numbers["models"][label] = {
            "step_losses": recorder.losses,
            "history": trained.history,
            "train_loss_eval": train_loss,
            "train_error": train_error,
            "test_loss": test_loss,
            "test_error": test_error,
            "grad_norms_init": init,
            "grad_norms_trained": after,
            "diverged": trained.diverged,
        }
        clock.say(
            f"{label}: last-epoch train loss {np.mean(last_epoch):.4f}, train error "
            f"{train_error:.4f}, test error {test_error:.4f} ({trained.seconds:.0f} s)"
        )
    plots = [
        _plot_step_losses(losses, folder / "training_loss.png", budget).png,
        plot_curve_comparison(
            histories,
            folder / "curves.png",
            metrics=("train_loss", "val_loss", "val_accuracy"),
            title="per epoch (val = the held-out test split)",
        ).png,
        plot_norm_series(
            layer_norms,
            folder / "gradient_per_layer.png",
            "layer (input -> output)",
            "‖dL/dW‖",
            styles=styles,
            title="gradient norm of each layer's weight (dashed: at initialization)",
        ).png,
    ]
    rows = {r["model"]: r for r in table.rows}
    key = "train loss (last epoch)"
    plain_worse = rows["plain-56"][key] > rows["plain-20"][key]
    resnet_ok = rows["ResNet-56"][key] <= rows["ResNet-20"][key]
    notes = [
        f"plain-56 trains {'worse' if plain_worse else 'no worse'} than plain-20 (last-epoch "
        f"train loss {rows['plain-56'][key]:.4f} vs {rows['plain-20'][key]:.4f})",
        f"ResNet-56 trains {'no worse' if resnet_ok else 'worse'} than ResNet-20 "
        f"({rows['ResNet-56'][key]:.4f} vs {rows['ResNet-20'][key]:.4f})",
        "the degradation problem is "
        + ("shown on this budget" if plain_worse and resnet_ok else "not shown on this budget"),
    ]
    chance = float(np.log(10))  # the cross-entropy of a uniform guess over the 10 classes
    for label in ("plain-56", "ResNet-56"):
        if rows[label][key] > 0.98 * chance:
            notes.append(f"{label} has not left the chance loss ln 10 = {chance:.4f}")
    steps = len(next(iter(losses.values())))
    if not (plain_worse and resnet_ok):
        notes.append(
            f"{steps} optimizer steps are early training, where the deeper net of either kind "
            "is still behind; He et al. show the gap between plain-20 and plain-56 and "
            "ResNet-56 ahead of ResNet-20 over 64k steps of 128 images at 32 px (Fig. 6). "
            "The full budget (nnatlas experiment depth: every image at 32 px) is the next to try"
        )
    numbers["degradation_shown"] = bool(plain_worse and resnet_ok)
    result = ExperimentResult("depth", folder, quick, [table], plots, clock.seconds, notes, numbers)
    return write_result(result, asdict(budget))


def _plot_step_losses(losses: dict[str, list[float]], path: Path, budget: Budget) -> Any:
    fig, axes = figure(size=(6.0, 4.0))
    ax = axes[0, 0]
    window = max(1, max(len(v) for v in losses.values()) // 60)  # about 60 points per curve
    data = {}
    for label, values in losses.items():
        smooth = _smooth(values, window)
        steps = [min(len(values), (i + 1) * window) for i in range(len(smooth))]
        ax.plot(steps, smooth, "--" if label.startswith("plain") else "-", label=label)
        data[label] = {"steps": steps, "loss": smooth}
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.set_title("plain nets (dashed) and ResNets (solid): training loss", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path, {"window": window, "curves": data})
