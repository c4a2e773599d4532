"""A classifier's report on one split: per-class precision, recall and F1, the confusion matrix,
and the examples it got wrong most confidently.

    report = classification_report("runs/lstm_classifier-sst2-torch-s0", split="test")
    report.per_class[0]   # {"class": "negative", "precision": 0.81, "recall": 0.78, ...}
    report.save("runs/.../eval-test")   # report.json, confusion_matrix.json and .png

The examples are named ``SPLIT:INDEX`` so ``nnatlas predict RUN test:17`` shows one again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.tasks.base import TaskError

CLASSIFIER_TASKS = ("image_classification", "tabular_classification", "text_classification")


@dataclass
class ClassificationReport:
    """What a classifier did on one split.

    Attributes:
        dataset, split: what was evaluated.
        classes: the class names, in the order of the matrix's rows and columns.
        confusion: ``confusion[t][p]`` counts examples of true class ``t`` predicted ``p``.
        per_class: one dict per class: ``class``, ``precision``, ``recall``, ``f1``,
            ``support`` (precision is NaN for a class never predicted).
        metrics: the split's loss and metrics, as ``nnatlas eval`` prints them.
        wrong: the most confidently wrong examples: ``example`` (``SPLIT:INDEX``), ``true``,
            ``predicted``, ``confidence`` (the predicted class's probability) and, for texts,
            ``text`` (the tokens the model read).
    """

    dataset: str
    split: str
    classes: list[str]
    confusion: list[list[int]]
    per_class: list[dict[str, Any]]
    metrics: dict[str, float]
    wrong: list[dict[str, Any]] = field(default_factory=list)

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``report.json``, ``confusion_matrix.json`` and ``confusion_matrix.png``."""
        from nnatlas.files import write_json

        folder = Path(folder)
        written = [
            write_json(folder / "report.json", _plain(asdict(self))),
            write_json(
                folder / "confusion_matrix.json",
                {
                    "classes": self.classes,
                    "rows": "true class",
                    "columns": "predicted class",
                    "counts": self.confusion,
                },
            ),  # fmt: skip
        ]
        written.append(plot_confusion(self, folder / "confusion_matrix.png"))
        return written


def _plain(value: Any) -> Any:
    """NaN -> None so the JSON is standard (json.dumps would write NaN)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def per_class_scores(confusion: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class from a confusion matrix (C, C)."""
    rows = []
    for i, name in enumerate(classes):
        true_pos = float(confusion[i, i])
        predicted, actual = float(confusion[:, i].sum()), float(confusion[i].sum())
        precision = true_pos / predicted if predicted else float("nan")
        recall = true_pos / actual if actual else float("nan")
        denominator = predicted + actual
        f1 = 2 * true_pos / denominator if denominator else float("nan")
        rows.append(
            {"class": str(name), "precision": precision, "recall": recall, "f1": f1,
             "support": int(actual)}
        )  # fmt: skip
    return rows


def plot_confusion(report: ClassificationReport, path: Path) -> Path:
    """The confusion matrix as a heatmap (rows normalized to recall) with the counts written in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(report.confusion, dtype=np.float64)
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(3.0, 0.45 * len(report.classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(report.classes))
    ax.set_xticks(ticks, report.classes, rotation=45, ha="right")
    ax.set_yticks(ticks, report.classes)
    if len(report.classes) <= 20:
        for t in ticks:
            for p in ticks:
                colour = "white" if recall[t, p] > 0.5 else "black"
                ax.text(p, t, f"{int(counts[t, p])}", ha="center", va="center", color=colour)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{report.dataset}, {report.split} split")
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    from nnatlas.files import atomic_target

    try:
        with atomic_target(path, suffix=".tmp.png") as tmp:  # never a half-written picture
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def split_probabilities(run: Any, tensors: tuple[Any, ...]) -> np.ndarray:
    """A classifier run's class probabilities for every example of a split (eval mode, and the
    run's test-time flips when it was trained with ``--flip-tta``), in eval-sized batches.

    Shape: tensors (inputs..., targets (N,)) -> (N, C), float64
    """
    import torch

    *inputs, targets = tensors
    batch = run.config.eval_batch_size or 4 * run.config.batch_size
    parts = [
        torch.softmax(run.trainer.infer(*(x[i : i + batch] for x in inputs)), dim=-1)
        for i in range(0, len(targets), batch)
    ]
    return torch.cat(parts).double().numpy()


def classification_report(
    run: Any,
    split: str = "test",
    *,
    data: str | None = None,
    root: str | None = None,
    top_wrong: int = 5,
    device: str = "auto",
) -> ClassificationReport:
    """Predict every example of a split with a classifier run and report per class.

    Args:
        run: a :class:`~nnatlas.tasks.run.Run`, a run folder or a checkpoint.
        split, data, root: what to evaluate, as :func:`~nnatlas.tasks.run.evaluate` takes.
        top_wrong: how many confidently wrong examples to keep.

    Raises:
        TaskError: for a run that is not a classifier (a language model, seq2seq).
    """
    from nnatlas.tasks.run import _as_run, split_tensors

    run = _as_run(run, device)
    if run.task.name not in CLASSIFIER_TASKS:
        raise TaskError(
            f"--report is for classifiers; this run does {run.task.title} (its metrics are "
            "in `nnatlas eval`)"
        )
    options, tensors = split_tensors(run, split, data, root)
    *inputs, targets = tensors
    probs = split_probabilities(run, tensors)  # (N, C)
    classes = [str(c) for c in run.record["classes"]]
    predicted = probs.argmax(axis=1)
    truth = targets.numpy()
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    confidence = probs.max(axis=1)
    wrong_rows = np.flatnonzero(predicted != truth)
    wrong_rows = wrong_rows[np.argsort(-confidence[wrong_rows], kind="stable")][:top_wrong]
    wrong = []
    for row in wrong_rows.tolist():
        example = {
            "example": f"{split}:{row}",
            "true": classes[truth[row]],
            "predicted": classes[predicted[row]],
            "confidence": float(confidence[row]),
        }
        text = run.task.describe(run.record, inputs[0][row])
        if text is not None:
            example["text"] = text
        wrong.append(example)
    metrics = run.trainer.evaluate(tensors)
    return ClassificationReport(
        options.name, split, classes, confusion.tolist(), per_class_scores(confusion, classes),
        metrics, wrong,
    )  # fmt: skip
