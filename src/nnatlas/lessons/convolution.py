"""Lesson 3, convolution and pooling: filters by hand, the two engines, LeNet-5 trained.

A convolution with hand-set filters (edges, blur) and a max-pool run in the NumPy engine on a
real image; LeNet-5 and its NumPy twin are proven equal in float64 (outputs, gradients, an SGD
step); then LeNet-5 trains on Fashion-MNIST (Debian's offline copy; scikit-learn's digits when
it is absent) and its learned filters and feature maps are drawn.
"""

from __future__ import annotations

import numpy as np

import nnatlas.bridge as bridge
import nnatlas.data as data
import nnatlas.inspect as inspect
import nnatlas.models as models
import nnatlas.scratch as nn
import nnatlas.tasks as tasks
from nnatlas.lessons import needs, plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    LessonError,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)

# 3x3 filters a person would design (the Sobel operators, a box blur); the network learns its own.
FILTERS = {
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur (box)": [[1 / 9] * 3] * 3,
}


def dataset(ctx: Context) -> str:
    """The configuration's dataset, or digits when Fashion-MNIST is asked for but absent."""
    name = ctx.config["data"]
    if name not in ("fashion-mnist", "digits"):
        raise LessonError(f"lesson convolution: data must be fashion-mnist or digits, not {name!r}")
    return "digits" if name == "fashion-mnist" and "fashion-mnist" in ctx.missing else name


def convolve_by_hand(ctx: Context, image: np.ndarray) -> Table:
    """The hand-set filters and a 2x2 max-pool on one image; writes hand_filters.png.

    Shape:
        image: (1, 1, H, W) float32 in [0, 1].
    """
    conv = nn.Conv2d(1, len(FILTERS), kernel_size=3, padding=1)
    conv.weight.data[:] = np.array(list(FILTERS.values()), dtype=np.float32)[:, None]
    conv.bias.data[:] = 0.0
    pool = nn.MaxPool2d(2)
    maps = conv.forward(image)  # (1, 3, H, W): padding 1 keeps the size
    pooled = pool.forward(maps)  # (1, 3, H/2, W/2)
    pictures = {"input": image[0, 0]}
    pictures.update({name: maps[0, i] for i, name in enumerate(FILTERS)})
    pictures.update(
        {f"max-pooled: {name.split(' (')[0]}": pooled[0, i] for i, name in enumerate(FILTERS)}
    )
    plots.images(ctx.path("hand_filters.png"), pictures, columns=4)
    table = Table(
        "Shapes through a convolution and a pooling layer: H_out = (H + 2p - k) / s + 1",
        ["layer", "kernel k", "stride s", "padding p", "output (C, H, W)", "parameters"],
    )
    table.add(layer="input", **{"output (C, H, W)": str(tuple(image.shape[1:]))})
    table.add(
        layer="Conv2d(1, 3, 3, padding=1)",
        **{
            "kernel k": 3,
            "stride s": 1,
            "padding p": 1,
            "output (C, H, W)": str(tuple(maps.shape[1:])),
            "parameters": conv.num_parameters(),
        },
    )
    table.add(
        layer="MaxPool2d(2)",
        **{
            "kernel k": 2,
            "stride s": 2,
            "padding p": 0,
            "output (C, H, W)": str(tuple(pooled.shape[1:])),
            "parameters": 0,
        },
    )
    return table


def prove_equal(ctx: Context, x: np.ndarray, y: np.ndarray) -> tuple[Table, float]:
    """LeNet-5 (PyTorch) against its NumPy twin in float64: outputs, gradients, one SGD step."""
    torch_model = models.create_model("lenet5", num_classes=10, in_chans=1, input_size=28)
    twin = bridge.scratch_twin(torch_model)
    report = bridge.check_parity(
        twin, torch_model, x, target=y, loss="cross_entropy", optimizer=("sgd", {"lr": 0.1})
    )
    table = Table(
        f"LeNet-5, PyTorch vs NumPy twin in float64 on {len(y)} images: max |difference|",
        ["quantity", "max |difference|"],
    )
    table.add(quantity="logits", **{"max |difference|": report.max_abs_forward})
    table.add(quantity="loss", **{"max |difference|": report.max_abs_loss})
    table.add(quantity="input gradient", **{"max |difference|": report.max_abs_input_grad})
    worst = max(report.max_abs_param_grad.values())
    table.add(quantity="parameter gradients (worst tensor)", **{"max |difference|": worst})
    table.add(
        quantity="parameters after one SGD step", **{"max |difference|": report.max_abs_after_step}
    )
    return table, report.max_abs


def run(ctx: Context) -> Result:
    cfg = ctx.config
    name = dataset(ctx)
    if name != ctx.config["data"]:
        ctx.note(
            "Fashion-MNIST is absent, so LeNet-5 trained on digits (8x8 images upsampled to 28x28)."
        )
    ctx.log(f"  convolution by hand on a {name} image")
    splits = data.load_image_dataset(name, val_fraction=0.0, seed=ctx.seed)
    image = splits.test.x[:1].numpy().astype(np.float32)  # (1, 1, H, W)
    shapes = convolve_by_hand(ctx, image)

    ctx.log(f"  training lenet5 on {name} (engine {ctx.engine})")
    limit = cfg["limit"] if name == "fashion-mnist" else None
    run_ = tasks.train(
        "lenet5",
        name,
        engine=ctx.engine,
        run_dir=ctx.path("runs/lenet5"),
        overwrite=True,
        epochs=cfg["epochs"] if name == "fashion-mnist" else cfg["digits_epochs"],
        limit=limit,
        seed=ctx.seed,
        quiet=True,
        tensorboard=False,
    )
    x_test, y_test = run_.task.load_split(run_.options, run_.record, "test")
    x_test = x_test.numpy()  # (N, 1, 28, 28), normalized as in training
    ctx.log("  lenet5 vs its NumPy twin, float64")
    parity, gap = prove_equal(
        ctx,
        x_test[: cfg["parity_images"]].astype(np.float64),
        y_test[: cfg["parity_images"]].numpy(),
    )
    inspect.plot_filters(run_.model, ctx.path("filters.png"), title="learned filters")
    inspect.plot_feature_maps(
        run_.model,
        x_test[:1],
        ctx.path("feature_maps.png"),
        mean=run_.record["mean"],
        std=run_.record["std"],
        title="feature maps",
    )
    plots.curves(
        ctx.path("curves.png"),
        {
            split: ([h["epoch"] for h in run_.history], [h[f"{split}_loss"] for h in run_.history])
            for split in ("train", "val")
        },
        xlabel="epoch",
        ylabel="loss",
    )

    ctx.log("  one epoch with each engine, for speed")
    speed = Table(
        f"One epoch of LeNet-5 on {cfg['speed_examples']} {name} examples (a tenth of them "
        "held out for validation)",
        ["engine", "seconds per epoch"],
    )
    seconds = {}
    for engine in ("scratch", "torch"):
        timed = tasks.train(
            "lenet5",
            name,
            engine=engine,
            run_dir=ctx.path(f"runs/speed-{engine}"),
            overwrite=True,
            epochs=1,
            limit=cfg["speed_examples"],
            seed=ctx.seed,
            quiet=True,
            tensorboard=False,
        )
        seconds[engine] = timed.history[0]["time_s"]
        speed.add(engine=engine, **{"seconds per epoch": seconds[engine]})
    ctx.note(
        f"On this machine the NumPy engine took {seconds['scratch'] / seconds['torch']:.1f}x "
        "PyTorch's time per epoch: the same arithmetic, without PyTorch's fused kernels."
    )

    trained = Table(
        f"LeNet-5 on {name}",
        ["engine", "training examples", "epochs", "test accuracy", "test loss", "seconds"],
    )
    trained.add(
        engine=ctx.engine,
        **{
            "training examples": limit or "all",
            "epochs": len(run_.history),
            "test accuracy": run_.test_metrics["accuracy"],
            "test loss": run_.test_metrics["loss"],
            "seconds": run_.seconds,
        },
    )
    numbers = {
        "parity_gap": gap,
        f"{name.replace('-', '_')}_accuracy": run_.test_metrics["accuracy"],
    }
    return Result(
        numbers=numbers,
        tables=[shapes, parity, trained, speed],
        plots=[
            Plot(
                "hand_filters.png",
                "Hand-set 3x3 filters on one image: each feature map lights up where its "
                "pattern is; max-pooling keeps the strongest response of each 2x2 window at "
                "half the size.",
            ),
            Plot("filters.png", "The six 5x5 filters LeNet-5's first convolution learned."),
            Plot("feature_maps.png", "The first convolution's feature maps for one test image."),
            Plot("curves.png", "LeNet-5's training and validation loss per epoch."),
        ],
    )


TEACHES = paragraphs(
    """
    A convolution slides a small filter (a k x k grid of weights) over the image and writes,
    at every position, the weighted sum of the pixels under it: one feature map per filter.
    The same weights are used everywhere (weight sharing), so a 5x5 filter has 25 weights
    whatever the image size, and a pattern is found wherever it is. The output size is
    (H + 2 padding - k) / stride + 1. Pooling then summarizes each window (max-pooling keeps
    its strongest response), halving the maps and making the net tolerant to small shifts.

    The first part sets filters by hand, the Sobel edge detectors and a blur, on one image in
    the NumPy engine (`nnatlas.scratch.Conv2d`, `MaxPool2d`). The second proves the NumPy
    LeNet-5 equal to the PyTorch one in float64: the same outputs, the same gradients, the
    same weights after an SGD step (`nnatlas.bridge.check_parity`).

    The third trains LeNet-5 (LeCun et al. 1998: two convolution + pooling stages, then three
    fully connected layers) and draws what it learned: its first-layer filters and the feature
    maps they produce. A CNN learns its own edge and texture detectors from the labels. The
    last table times one epoch with each engine.
    """
)

LESSON = Lesson(
    id="convolution",
    title="Convolution and pooling: filters, feature maps, LeNet-5 in NumPy and PyTorch",
    stage=2,
    teaches=TEACHES,
    run=run,
    quick={
        "data": "fashion-mnist",  # or digits (the fallback when Fashion-MNIST is absent)
        "limit": 12000,  # Fashion-MNIST training examples (a stratified subset)
        "epochs": 3,
        "digits_epochs": 10,  # the fallback's epochs (1,797 images in all)
        "parity_images": 8,
        "speed_examples": 1000,
    },
    full={"limit": None, "epochs": 10, "digits_epochs": 30},
    engines=("torch", "scratch"),
    needs=[
        needs.dataset(
            "fashion-mnist",
            "make fashion-mnist (Debian's dataset-fashion-mnist) or nnatlas data get fashion-mnist",
            required=False,
        )
    ],
    key_numbers=[
        KeyNumber(
            "parity_gap",
            "LeNet-5, PyTorch vs NumPy twin in float64: largest |difference|",
            quick=(0.0, 1e-9),
            fmt=".1e",
            reference=Reference(
                "float64 carries about 16 significant digits (machine epsilon 2.2e-16)",
                "IEEE 754-2008, the binary64 format",
            ),
        ),
        KeyNumber(
            "fashion_mnist_accuracy",
            "LeNet-5 test accuracy on Fashion-MNIST (the 10,000 test images)",
            quick=(0.79, 0.85),  # measured 0.817 to 0.819, seeds 0-2
            full=(0.88, 0.93),
            optional=True,
            reference=Reference(
                "0.897, the best scikit-learn classifier (an RBF SVC) of the benchmark",
                "Xiao, Rasul, Vollgraf (2017), Fashion-MNIST: a novel image dataset for "
                "benchmarking machine learning algorithms, arXiv:1708.07747",
            ),
        ),
        KeyNumber(
            "digits_accuracy",
            "LeNet-5 test accuracy on digits (the fallback when Fashion-MNIST is absent)",
            quick=(0.95, 1.0),
            optional=True,
            reference=Reference(
                "0.95 % test error (99.05 % accuracy) for LeNet-5 on MNIST's 28x28 digits",
                "LeCun, Bottou, Bengio, Haffner (1998), Gradient-based learning applied to "
                "document recognition, Proceedings of the IEEE 86(11)",
            ),
        ),
    ],
    commands=[
        "nnatlas check Conv2d",
        "nnatlas train lenet5 --data fashion-mnist",
        "nnatlas train lenet5 --data fashion-mnist --engine scratch",
        "nnatlas inspect runs/lenet5-fashion-mnist-torch-s0 --what filters",
    ],
)
