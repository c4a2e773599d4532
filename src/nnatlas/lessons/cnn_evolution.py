"""Lesson 4, CNN evolution: LeNet -> AlexNet -> VGG -> ResNet, and plain vs residual depth.

What each architecture costs (parameters, forward FLOPs at its native input size, the time of
one training step here) and what it buys on one budget (test accuracy on a CIFAR-10 subset,
or Fashion-MNIST / digits when CIFAR-10 is absent); then why depth needed the residual
connection: the gradient each layer of a 56-layer plain net and of ResNet-56 gets at
initialization. The quick configuration trains LeNet-5 and ResNet-20; the full one trains all
four families and runs the depth experiment (``nnatlas experiment depth --quick``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import nnatlas
import nnatlas.data as data
import nnatlas.inspect as inspect
import nnatlas.models as models
import nnatlas.tasks as tasks
from nnatlas.lessons import plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    Need,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)

# (zoo name, input (C, H, W)) at each architecture's native size.
ARCHITECTURES = [
    ("lenet5", (1, 28, 28)),
    ("alexnet", (3, 224, 224)),
    ("vgg11", (3, 224, 224)),
    ("vgg16", (3, 224, 224)),
    ("resnet18", (3, 224, 224)),
    ("resnet50", (3, 224, 224)),
    ("resnet20", (3, 32, 32)),
    ("resnet56", (3, 32, 32)),
]
# The CIFAR-sized members of each family, timed and trained on 32x32 images.
CIFAR_SIZED = {
    "lenet5": {"input_size": 32},  # training fits this to the data itself
    "alexnet_small": {},
    "vgg11_bn": {"pool_size": 1, "hidden": 512},  # the CIFAR head: 512-wide, no 7x7 pool
    "resnet20": {},
}


def cifar_folder() -> Path:
    """The CIFAR-10 training set as JPEG class folders, in the project's shared data."""
    env = os.environ.get("NNATLAS_CIFAR10_FOLDER")
    if env:
        return Path(env)
    # src/nnatlas/__init__.py -> parents[2] is the repository root; ../shared/data beside it.
    return (
        Path(nnatlas.__file__).resolve().parents[2].parent
        / "shared"
        / "data"
        / "cifar10-jpeg"
        / "train"
    )


def cifar_subset(per_class: int) -> Path:
    """A folder of ``per_class`` images of each class, as links into :func:`cifar_folder`
    (made once, under the data cache): reading 500 images instead of 50,000."""
    source = cifar_folder()
    target = data.data_home() / "lessons" / f"cifar10-jpeg-{per_class}-per-class"
    for label in sorted(p.name for p in source.iterdir() if p.is_dir()):
        folder = target / label
        if folder.is_dir() and len(os.listdir(folder)) == per_class:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(source / label))[:per_class]:
            link = folder / name
            if not link.exists():
                try:
                    link.symlink_to(source / label / name)
                except OSError:  # a file system without links: copy the (2 KB) image
                    link.write_bytes((source / label / name).read_bytes())
    return target


def dataset(ctx: Context) -> tuple[str, dict[str, Any], str]:
    """(catalog name, tasks.train reading options, what the report calls it)."""
    per_class = ctx.config["per_class"]
    if "CIFAR-10" not in ctx.missing:
        folder = cifar_subset(per_class)
        return f"imagefolder:{folder}", {"image_size": 32}, f"CIFAR-10 ({per_class} per class)"
    if "fashion-mnist" not in ctx.missing:
        options = {"limit_per_class": per_class}
        return "fashion-mnist", options, f"Fashion-MNIST ({per_class} per class)"
    return "digits", {}, "digits (all 1,797)"


def architecture_table(ctx: Context) -> tuple[Table, dict[str, tuple[int, int]]]:
    table = Table(
        "Parameters and forward FLOPs (a multiply-add counts 2) at each network's input size",
        ["model", "input", "parameters", "GFLOPs (forward, 1 image)"],
    )
    sizes = {}
    ctx.log("  counting parameters and FLOPs")
    for name, shape in ARCHITECTURES:
        # On the meta device: shapes only, no weights drawn and no arithmetic done, so
        # counting VGG-16's 138M parameters and 31 GFLOPs costs milliseconds.
        with torch.device("meta"):
            model = models.create_model(name, num_classes=1000 if shape[1] == 224 else 10)
            model.eval()
            params = models.count_parameters(model)
            flops = models.count_flops(model, (torch.zeros(1, *shape),))
        sizes[name] = (params, flops)
        table.add(
            model=name,
            input="x".join(map(str, shape)),
            parameters=params,
            **{"GFLOPs (forward, 1 image)": flops / 1e9},
        )
        del model
    return table, sizes


def step_seconds(name: str, options: dict[str, Any], batch: int, repeats: int) -> float:
    """Median wall time of one training step (forward, loss, backward) on (batch, 3, 32, 32)."""
    model = models.create_model(name, num_classes=10, in_chans=3, **options)
    model.train()
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    times = []
    for _ in range(repeats + 1):  # the first step warms the allocator up
        start = time.perf_counter()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def depth_gradients(ctx: Context) -> tuple[Table, dict[str, float]]:
    """‖dL/dW‖ of every weight at initialization, plain-56 vs ResNet-56, one batch at 32 px."""
    x = torch.randn(ctx.config["depth_batch"], 3, 32, 32)
    y = torch.randint(0, 10, (ctx.config["depth_batch"],))
    records, ratios = {}, {}
    table = Table(
        "56 layers at initialization: the gradient of the first convolution vs the last",
        ["model", "‖dL/dW‖ first conv", "‖dL/dW‖ last conv", "first / last"],
    )
    for name in ("plain56", "resnet56"):
        model = models.create_model(name, num_classes=10)
        record = inspect.measure_gradients(model, (x, y))
        records[name] = record
        norms = [v for k, v in record.grad_norms().items() if record.grads[k].ndim == 4]
        ratios[name] = norms[0] / norms[-1]
        table.add(
            model=name,
            **{"‖dL/dW‖ first conv": norms[0], "‖dL/dW‖ last conv": norms[-1]},
            **{"first / last": ratios[name]},
        )
    inspect.plot_gradient_flow(records, ctx.path("depth_gradients.png"))
    return table, ratios


def run(ctx: Context) -> Result:
    cfg = ctx.config
    arch, sizes = architecture_table(ctx)

    ctx.log("  timing one training step of each CIFAR-sized family")
    timing = Table(
        f"One training step, batch {cfg['time_batch']} of 32x32 images, on this machine",
        ["model", "parameters", "seconds per step"],
    )
    seconds = {}
    for name, options in CIFAR_SIZED.items():
        seconds[name] = step_seconds(name, options, cfg["time_batch"], cfg["time_repeats"])
        model = models.create_model(name, num_classes=10, in_chans=3, **options)
        timing.add(
            model=name,
            parameters=models.count_parameters(model),
            **{"seconds per step": seconds[name]},
        )
    plots.bars(ctx.path("step_time.png"), seconds, ylabel="seconds per training step", log_y=True)

    name, reading, label = dataset(ctx)
    if label.startswith(("Fashion", "digits")):
        ctx.note(f"CIFAR-10 is absent, so the networks trained on {label}.")
    budget = Table(
        f"One budget: {cfg['epochs']} epochs of Adam on {label} (15 % held out for the test)",
        ["model", "parameters", "test accuracy", "seconds"],
    )
    accuracy = {}
    for model_name in cfg["train"]:
        ctx.log(f"  training {model_name} on {label}")
        # The zoo fits the input size and channels to the data; only VGG's head is chosen.
        options = {k: v for k, v in CIFAR_SIZED[model_name].items() if k != "input_size"}
        run_ = tasks.train(
            model_name,
            name,
            engine="torch",
            run_dir=ctx.path(f"runs/{model_name}"),
            overwrite=True,
            epochs=cfg["epochs"],
            seed=ctx.seed,
            augment="none",
            model_options=options or None,
            quiet=True,
            tensorboard=False,
            **reading,
        )
        accuracy[model_name] = run_.test_metrics["accuracy"]
        budget.add(
            model=model_name,
            parameters=models.count_parameters(run_.model),
            **{"test accuracy": accuracy[model_name], "seconds": run_.seconds},
        )

    ctx.log("  plain-56 vs ResNet-56 at initialization")
    depth, ratios = depth_gradients(ctx)
    tables = [arch, timing, budget, depth]
    if cfg["depth_experiment"]:
        ctx.log("  the depth experiment (plain-20/56 vs ResNet-20/56, minutes)")
        result = inspect.run_experiment("depth", ctx.path("depth-experiment"), quick=True)
        ctx.note("The depth experiment's tables: " + result.markdown().replace("\n", " "))

    numbers = {
        "alexnet_params": sizes["alexnet"][0] / 1e6,
        "vgg16_params": sizes["vgg16"][0] / 1e6,
        "resnet50_gflops": sizes["resnet50"][1] / 1e9,
        "resnet20_params": sizes["resnet20"][0] / 1e6,
        "plain56_ratio": ratios["plain56"],
    }
    if "resnet20" in accuracy and "lenet5" in accuracy:
        gap = accuracy["resnet20"] - accuracy["lenet5"]
        if name.startswith("imagefolder"):  # the range was measured on the CIFAR-10 subset
            numbers["resnet_minus_lenet"] = gap
        else:
            ctx.note(
                f"On {label} ResNet-20 minus LeNet-5 is {gap:+.4f}; the expected range "
                "is for CIFAR-10, so it is not judged here."
            )
    return Result(
        numbers=numbers,
        tables=tables,
        plots=[
            Plot("step_time.png", "Seconds per training step of each family at 32x32 (log scale)."),
            Plot(
                "depth_gradients.png",
                "‖dL/dW‖ of every layer at initialization, one batch: plain-56's and "
                "ResNet-56's (the table gives the first / last ratio of each).",
            ),
        ],
    )


def _cifar_present() -> bool:
    return cifar_folder().is_dir()


def _fashion_present() -> bool:
    try:
        data.fetch("fashion-mnist", download=False)
    except (data.DataNotFoundError, data.DatasetError):
        return False
    return True


TEACHES = paragraphs(
    """
    Twenty years of CNNs in four steps. LeNet-5 (1998) is two convolution + pooling stages and
    three fully connected layers: 62 thousand parameters that read 28x28 digits. AlexNet (2012)
    scaled the idea to 224x224 ImageNet photos with ReLUs, dropout, data augmentation and two
    GPUs: 61 million parameters, most of them in its fully connected layers. VGG (2014) showed
    that depth built from nothing but 3x3 convolutions works better: VGG-16 has 138 million
    parameters and needs about 31 GFLOPs per image. ResNet (2015) made depth trainable with
    identity shortcuts, y = F(x) + x, and replaced the huge fully connected layers with global
    average pooling: ResNet-50 is deeper than VGG-16 with a fifth of its parameters and a
    quarter of its FLOPs.

    The first table counts parameters and forward FLOPs of the zoo's networks at their native
    input size (`nnatlas models info NAME`); the second times one training step of each
    family's CIFAR-sized member here; the third trains them on one budget.

    Why did depth need the shortcut? Stacking more plain layers made training worse, not
    better (the degradation problem, He et al. 2016, figure 1): the signal and its gradient
    pass through every layer's weights, and their product drifts. With a shortcut each block
    only adds a correction to an identity, so the gradient reaches the first layers by the
    identity path. The last table measures the gradient of each layer of a 56-layer plain net
    and of ResNet-56 at initialization on one batch.
    """
)

LESSON = Lesson(
    id="cnn-evolution",
    title="CNN evolution: LeNet -> AlexNet -> VGG -> ResNet, and plain vs residual depth",
    stage=2,
    teaches=TEACHES,
    run=run,
    quick={
        "per_class": 100,  # training images per class (CIFAR-10 subset, or Fashion-MNIST)
        "epochs": 2,
        "train": ["lenet5", "resnet20"],  # the families trained on the budget
        "time_batch": 32,
        "time_repeats": 2,
        "depth_batch": 32,
        "depth_experiment": False,
    },
    full={
        "per_class": 500,
        "epochs": 15,
        "train": ["lenet5", "alexnet_small", "vgg11_bn", "resnet20"],
        "depth_experiment": True,
    },
    needs=[
        Need(
            "CIFAR-10",
            "put the CIFAR-10 training images as class folders in ../shared/data/cifar10-jpeg/"
            "train (or set NNATLAS_CIFAR10_FOLDER to such a folder)",
            _cifar_present,
            required=False,
        ),
        Need("fashion-mnist", "make fashion-mnist", _fashion_present, required=False),
    ],
    key_numbers=[
        KeyNumber(
            "alexnet_params",
            "AlexNet parameters (millions)",
            quick=(60.0, 62.0),
            fmt=".2f",
            reference=Reference(
                "60 million parameters",
                "Krizhevsky, Sutskever, Hinton (2012), ImageNet classification with deep "
                "convolutional neural networks, NeurIPS, abstract",
            ),
        ),
        KeyNumber(
            "vgg16_params",
            "VGG-16 parameters (millions)",
            quick=(138.0, 139.0),
            fmt=".2f",
            reference=Reference(
                "138 million parameters (configuration D)",
                "Simonyan and Zisserman (2015), Very deep convolutional networks for "
                "large-scale image recognition, ICLR, table 2",
            ),
        ),
        KeyNumber(
            "resnet50_gflops",
            "ResNet-50 forward GFLOPs at 224x224 (2 per multiply-add)",
            quick=(7.5, 8.5),
            fmt=".2f",
            reference=Reference(
                "3.8 x 10^9 multiply-adds (7.6 GFLOPs); torchvision's v1.5 puts the stride in "
                "the 3x3 convolution, 4.1 x 10^9",
                "He, Zhang, Ren, Sun (2016), Deep residual learning for image recognition, "
                "CVPR, table 1",
            ),
        ),
        KeyNumber(
            "resnet20_params",
            "ResNet-20 (CIFAR) parameters (millions)",
            quick=(0.26, 0.28),
            fmt=".3f",
            reference=Reference(
                "0.27 million parameters; 8.75 % test error on CIFAR-10 after 64k iterations",
                "He, Zhang, Ren, Sun (2016), Deep residual learning for image recognition, "
                "CVPR, table 6",
            ),
        ),
        KeyNumber(
            "plain56_ratio",
            "plain-56 at initialization: ‖dL/dW‖ first conv / last conv",
            quick=(1.0, 1e4),
            fmt=".1f",
            reference=Reference(
                "deeper plain nets have higher training error (the degradation problem); "
                "the gradients of deep plain nets resemble white noise (shattered)",
                "He et al. (2016), CVPR, figure 1; Balduzzi et al. (2017), The shattered "
                "gradients problem, ICML",
            ),
        ),
        KeyNumber(
            "resnet_minus_lenet",
            "test accuracy, ResNet-20 minus LeNet-5, on the CIFAR-10 budget",
            quick=(-0.1, 0.3),
            optional=True,
            reference=Reference(
                "ResNet-20 reaches 91.25 % on CIFAR-10 with the full training set and 64k "
                "iterations (this budget is a few hundred images and epochs)",
                "He, Zhang, Ren, Sun (2016), Deep residual learning for image recognition, "
                "CVPR, table 6",
            ),
        ),
    ],
    commands=[
        "nnatlas models info vgg16",
        "nnatlas models info resnet20 --input 3x32x32",
        "nnatlas train resnet20 --data cifar10",
        "nnatlas experiment depth --quick",
    ],
)
