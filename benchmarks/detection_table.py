"""The detection table: fine-tuned pretrained torchvision detectors (Faster R-CNN, SSDlite),
Faster R-CNN from random weights, and the project's own CenterNet, on the generated ``pasted``
set, with training time.

Run all rows one after another (each is an ordinary ``nnatlas train`` run, through
:func:`nnatlas.tasks.train`, written under ``--runs-dir``)::

    OMP_NUM_THREADS=2 python benchmarks/detection_table.py --runs-dir runs/detection-table

or one row per process (``--row NAME``) and then ``--table`` to print what the runs recorded
(each run's ``bench.json``: training seconds, test mAP@0.5 and mAP@[.5:.95]). The test split is
held out: its images were generated from Fashion-MNIST's test items, never seen in training.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

FROZEN = 2  # epochs the pretrained trunks stay frozen before they are fine-tuned
# name: (model, model options, description). The same data, epochs, batch and augmentation
# for every row; the pretrained rows train the trunk frozen first, then fine-tune it.
ROWS = {
    "fasterrcnn-pretrained": (
        "fasterrcnn_mobilenet_v2", {"weights": "pretrained", "freeze_epochs": FROZEN},
        f"Faster R-CNN, ImageNet MobileNetV2 trunk, frozen {FROZEN} epochs then fine-tuned",
    ),
    "fasterrcnn-random": (
        "fasterrcnn_mobilenet_v2", {"weights": None},
        "Faster R-CNN, the same trunk from random weights",
    ),
    "ssdlite-pretrained": (
        "ssdlite_mobilenet_v2", {"weights": "pretrained", "freeze_epochs": FROZEN},
        f"SSDlite, ImageNet MobileNetV2 trunk, frozen {FROZEN} epochs then fine-tuned",
    ),
    "centernet-pretrained": (
        "centernet_mobilenet_v2", {"weights": "pretrained", "freeze_epochs": FROZEN},
        f"CenterNet (the project's), ImageNet trunk, frozen {FROZEN} epochs then fine-tuned",
    ),
    "centernet-random": (
        "centernet_mobilenet_v2", {"weights": None},
        "CenterNet (the project's), the same trunk from random weights",
    ),
}  # fmt: skip
# CenterNet's heatmap loss sums over cells: Adam copes with its scale better than SGD.
OPTIMIZER = {
    "fasterrcnn": {"optimizer": "momentum", "lr": 0.01, "warmup_epochs": 0.25, "grad_clip": 10.0},
    "ssdlite": {"optimizer": "momentum", "lr": 0.01, "warmup_epochs": 0.25, "grad_clip": 10.0},
    "centernet": {"optimizer": "adam", "lr": 1e-3, "warmup_epochs": 0.25, "grad_clip": 10.0},
}


def run_row(name: str, args: argparse.Namespace) -> dict:
    """Train one row and return (and save as bench.json in its run folder) its figures."""
    import nnatlas.tasks as tasks

    model, options, what = ROWS[name]
    folder = Path(args.runs_dir) / name
    start = time.perf_counter()
    run = tasks.train(
        model, data=args.data, run_dir=folder, overwrite=True, model_options=dict(options),
        epochs=args.epochs, batch_size=args.batch_size, limit=args.limit,
        image_size=args.image_size,
        augment=args.augment, quiet=args.quiet, **OPTIMIZER[model.split("_")[0]],
    )  # fmt: skip
    seconds = time.perf_counter() - start
    sizes = run.trainer.extra["sizes"]
    result = {
        "row": name, "what": what, "model": model, "options": options, "epochs": args.epochs,
        "image_size": args.image_size, "train_images": sizes["train"],
        "test_images": sizes["test"], "threads": os.environ.get("OMP_NUM_THREADS"),
        "seconds": round(seconds, 1),  # data, training, validation and the test's mAP
        "train_seconds": round(sum(h.get("time_s", 0.0) for h in run.history), 1),
        "map_50": run.test_metrics["map_50"], "map": run.test_metrics["map"],
    }  # fmt: skip
    (folder / "bench.json").write_text(json.dumps(result, indent=2))
    return result


def table(runs_dir: Path) -> str:
    """The rows found under ``runs_dir`` as a Markdown table."""
    lines = [
        "| row | detector | epochs | train images | training time | test mAP@0.5 "
        "| test mAP@[.5:.95] |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ROWS:
        path = runs_dir / name / "bench.json"
        if not path.is_file():
            lines.append(f"| {name} | (not run) | | | | | |")
            continue
        r = json.loads(path.read_text())
        minutes = f"{r['train_seconds'] / 60:.1f} min ({r['seconds'] / 60:.1f} in all)"
        lines.append(
            f"| {name} | {r['what']} | {r['epochs']} | {r['train_images']} | {minutes} | "
            f"{r['map_50']:.3f} | {r['map']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs/detection-table")
    parser.add_argument("--data", default="pasted")
    parser.add_argument("--row", action="append", choices=list(ROWS), help="default: all")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=192, help="pixels a side")
    parser.add_argument("--limit", type=int, default=None, help="training images at most")
    parser.add_argument("--augment", default="light")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--table", action="store_true", help="only print the table")
    args = parser.parse_args()
    if not args.table:
        for name in args.row or list(ROWS):
            print(json.dumps(run_row(name, args)), flush=True)
    print(table(Path(args.runs_dir)))


if __name__ == "__main__":
    main()
