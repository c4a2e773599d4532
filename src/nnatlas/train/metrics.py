"""Classification metrics, shared by both engines: loss, accuracy, top-k, macro F1, ROC-AUC and
PR-AUC (two classes), perplexity.

The functions take NumPy arrays (PyTorch tensors are converted) so the NumPy engine and the
PyTorch engine report numbers computed by the same code. :class:`MetricAccumulator` sums over
the batches of an epoch: it keeps counts (correct predictions, a confusion matrix), never the
logits, so memory stays constant however long the epoch.

Sequence outputs are flattened: logits (N, T, V) with targets (N, T) count as N*T predictions,
which is how a language model's accuracy and perplexity are defined. Targets equal to
:data:`IGNORE_INDEX` (padding of variable-length targets) are skipped, as
``torch.nn.CrossEntropyLoss`` skips them by default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

IGNORE_INDEX = -100  # the default ignore_index of torch.nn.CrossEntropyLoss: not a prediction


def _as_numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch.Tensor; this module must not need torch
        array = array.detach()
        if str(array.dtype) in ("torch.bfloat16", "torch.float16"):
            array = array.float()  # autocast's bf16 has no NumPy twin; fp16 sums lose precision
        return array.cpu().numpy()
    return np.asarray(array)


def flatten_predictions(logits: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flatten to ``(M, C)`` logits and ``(M,)`` targets, leaving out :data:`IGNORE_INDEX` rows.

    Shape:
        logits: (N, C) or (N, T, C); targets: (N,) or (N, T) -> (M, C), (M,)
    """
    logits, targets = _as_numpy(logits), _as_numpy(targets)
    logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    keep = targets != IGNORE_INDEX
    return (logits, targets) if keep.all() else (logits[keep], targets[keep])


def accuracy(logits: Any, targets: Any) -> float:
    """Fraction of rows whose largest logit is the target class."""
    logits, targets = flatten_predictions(logits, targets)
    return float((logits.argmax(axis=1) == targets).mean())


def topk_correct(logits: np.ndarray, targets: np.ndarray, k: int) -> int:
    """Rows whose target is among the ``k`` largest logits (ties broken by position).

    Shape:
        logits: (M, C); targets: (M,)
    """
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]  # (M, k), unordered
    return int((top == targets[:, None]).any(axis=1).sum())


def confusion_matrix(preds: np.ndarray, targets: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[t, p]`` counts rows of true class ``t`` predicted as ``p``. Shape: (C, C), int64."""
    flat = targets.astype(np.int64) * num_classes + preds.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def macro_f1(cm: np.ndarray) -> float:
    """Mean over classes of ``2 * precision * recall / (precision + recall)``.

    Classes that never occur and are never predicted are left out of the mean (as
    scikit-learn does with ``labels`` restricted to the present ones); a class that occurs but is
    never predicted counts as F1 = 0.
    """
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    present = (predicted + actual) > 0
    denom = predicted + actual  # 2TP + FP + FN
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties sharing the mean of their ranks. Shape: (M,) -> (M,)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def roc_auc(scores: Any, targets: Any) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half), from the Mann-Whitney rank sum. NaN without both classes.

    Shape: scores (M,) float (higher = more positive); targets (M,) in {0, 1}
    """
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets)
    positives = int((targets == 1).sum())
    negatives = len(targets) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = _average_ranks(scores)[targets == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(scores: Any, targets: Any) -> float:
    """Area under the precision-recall curve as average precision: the precision at each
    distinct score threshold, weighted by the recall it adds (scikit-learn's definition).
    NaN without a positive.

    Shape: scores (M,) float; targets (M,) in {0, 1}
    """
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets)
    positives = int((targets == 1).sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    scores, hits = scores[order], (targets[order] == 1).astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each tie group
    true_pos = np.cumsum(hits)[last]
    precision = true_pos / (last + 1)
    recall = true_pos / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def perplexity(mean_cross_entropy: float) -> float:
    """``exp(loss)``: the effective number of equally likely choices per prediction (nats in)."""
    return math.exp(min(mean_cross_entropy, 700.0))  # exp(710) overflows float64


class MetricAccumulator:
    """Sums one phase's metrics over its batches.

    Args:
        names: extra metrics beyond ``loss``: any of accuracy, top5, f1, auc, pr_auc,
            perplexity. ``auc`` and ``pr_auc`` are reported for two classes only (class 1 is
            the positive one) and keep one score per example.
        k: the k of "top5" (reported as ``top{k}``, and only when there are more than k
            classes).
    """

    def __init__(self, names: list[str] | tuple[str, ...] = ("accuracy",), k: int = 5) -> None:
        self.names, self.k = list(names), k
        self.reset()

    def reset(self) -> None:
        self.loss_sum = 0.0  # sum over rows of the per-row loss
        self.rows = 0
        self.correct = 0
        self.topk = 0
        self.cm: np.ndarray | None = None
        self.num_classes = 0
        self.scores: list[np.ndarray] = []  # P(class 1) per row, for auc / pr_auc
        self.labels: list[np.ndarray] = []

    def add(self, out: Any, loss: float) -> None:
        """Add one :class:`~nnatlas.train.steps.StepOutput` whose loss value is ``loss``."""
        self.update(loss, out.outputs, out.targets)

    def update(self, loss: float, logits: Any, targets: Any) -> None:
        """Add one batch. ``loss`` is the batch's mean loss over its non-ignored targets (as
        returned by the criterion)."""
        logits, targets = flatten_predictions(logits, targets)
        m = targets.shape[0]
        self.loss_sum += float(loss) * m
        self.rows += m
        preds = logits.argmax(axis=1)
        self.num_classes = logits.shape[1]
        self.correct += int((preds == targets).sum())
        if "top5" in self.names:
            self.topk += topk_correct(logits, targets, self.k)
        if "f1" in self.names:
            num_classes = logits.shape[1]
            if self.cm is None:
                self.cm = np.zeros((num_classes, num_classes), dtype=np.int64)
            self.cm += confusion_matrix(preds, targets, num_classes)
        if ("auc" in self.names or "pr_auc" in self.names) and logits.shape[1] == 2:
            # P(class 1) = sigmoid(z1 - z0), the softmax of two logits, without overflow.
            margin = (logits[:, 1] - logits[:, 0]).astype(np.float64)
            self.scores.append(1.0 / (1.0 + np.exp(-np.clip(margin, -700, 700))))
            self.labels.append(targets.copy())

    def compute(self) -> dict[str, float]:
        """Metrics of the batches seen so far; ``loss`` always, the extras when asked for."""
        if not self.rows:  # no prediction seen: no number, rather than a made-up 0
            return {"loss": float("nan"), **{name: float("nan") for name in self.names}}
        rows = self.rows
        out = {"loss": self.loss_sum / rows}
        if "accuracy" in self.names:
            out["accuracy"] = self.correct / rows
        if "top5" in self.names and self.num_classes > self.k:  # top-5 of 5 classes is always 1
            out[f"top{self.k}"] = self.topk / rows
        if "f1" in self.names:
            out["f1"] = macro_f1(self.cm) if self.cm is not None else 0.0
        if self.scores:
            scores, labels = np.concatenate(self.scores), np.concatenate(self.labels)
            if "auc" in self.names:
                out["auc"] = roc_auc(scores, labels)
            if "pr_auc" in self.names:
                out["pr_auc"] = average_precision(scores, labels)
        if "perplexity" in self.names:
            out["perplexity"] = perplexity(out["loss"])
        if "bits" in self.names:  # a language model's loss in bits per token (per character)
            out["bits"] = out["loss"] / math.log(2)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and lists, so a mid-epoch checkpoint keeps the epoch's running sums."""
        return {
            "loss_sum": self.loss_sum,
            "rows": self.rows,
            "correct": self.correct,
            "topk": self.topk,
            "cm": None if self.cm is None else self.cm.tolist(),
            "num_classes": self.num_classes,
            "scores": np.concatenate(self.scores).tolist() if self.scores else [],
            "labels": np.concatenate(self.labels).tolist() if self.labels else [],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_sum, self.rows = float(state["loss_sum"]), int(state["rows"])
        self.correct, self.topk = int(state["correct"]), int(state["topk"])
        self.cm = None if state["cm"] is None else np.asarray(state["cm"], dtype=np.int64)
        self.num_classes = int(state.get("num_classes", 0))
        scores, labels = state.get("scores") or [], state.get("labels") or []
        self.scores = [np.asarray(scores, dtype=np.float64)] if scores else []
        self.labels = [np.asarray(labels, dtype=np.int64)] if labels else []
