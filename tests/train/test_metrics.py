import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from nnatlas.train.metrics import (
    MetricAccumulator,
    accuracy,
    average_precision,
    confusion_matrix,
    macro_f1,
    roc_auc,
    topk_correct,
)


def test_accuracy_and_topk_on_known_logits():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [2.0, 3.0, 1.0], [1.0, 0.0, 3.0]])
    y = np.array([0, 2, 0, 1])
    assert accuracy(logits, y) == pytest.approx(0.5)
    assert topk_correct(logits, y, 2) == 3  # row 3's target (class 1) is its smallest logit
    assert topk_correct(logits, y, 3) == 4


def test_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 400)
    preds = np.where(rng.random(400) < 0.7, y, rng.integers(0, 5, 400))
    cm = confusion_matrix(preds, y, 5)
    assert cm.sum() == 400 and np.trace(cm) == int((preds == y).sum())
    assert macro_f1(cm) == pytest.approx(f1_score(y, preds, average="macro"), abs=1e-12)


def test_accumulator_equals_whole_set_and_round_trips():
    rng = np.random.default_rng(1)
    logits, y = rng.normal(size=(100, 4)), rng.integers(0, 4, 100)
    per_row = -np.log(np.exp(logits[np.arange(100), y]) / np.exp(logits).sum(1))
    acc = MetricAccumulator(["accuracy", "top5", "f1", "perplexity"], k=2)
    for start in range(0, 100, 32):  # unequal last batch: the mean must weight by rows
        s = slice(start, start + 32)
        acc.update(per_row[s].mean(), torch.from_numpy(logits[s]), torch.from_numpy(y[s]))
    out = acc.compute()
    assert out["loss"] == pytest.approx(per_row.mean())
    assert out["perplexity"] == pytest.approx(math.exp(per_row.mean()))
    assert out["accuracy"] == pytest.approx(accuracy(logits, y))
    assert out["top2"] == pytest.approx(topk_correct(logits, y, 2) / 100)
    assert out["f1"] == pytest.approx(f1_score(y, logits.argmax(1), average="macro"))
    copy = MetricAccumulator(["accuracy", "top5", "f1", "perplexity"], k=2)
    copy.load_state_dict(acc.state_dict())
    assert copy.compute() == out


def test_sequence_logits_are_flattened():
    logits = torch.zeros(2, 3, 5)
    logits[..., 1] = 1.0  # always predicts class 1
    y = torch.tensor([[1, 1, 0], [1, 2, 1]])
    assert accuracy(logits, y) == pytest.approx(4 / 6)


def test_topk_is_left_out_when_there_are_not_more_classes_than_k():
    acc = MetricAccumulator(["top5"], k=5)
    acc.update(0.5, np.eye(5), np.arange(5))
    assert "top5" not in acc.compute()  # top-5 of 5 classes would always be 1.0


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_and_average_precision_equal_scikit_learns(seed: int) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) * 0.6 + 0.4 * targets, 1)  # rounded: many ties
    assert roc_auc(scores, targets) == pytest.approx(roc_auc_score(targets, scores), abs=1e-12)
    assert average_precision(scores, targets) == pytest.approx(
        average_precision_score(targets, scores), abs=1e-12
    )


def test_auc_is_nan_without_both_classes_and_only_for_two_classes() -> None:
    assert np.isnan(roc_auc([0.2, 0.9], [1, 1]))
    acc = MetricAccumulator(["auc", "pr_auc"])
    acc.update(0.5, np.array([[0.0, 2.0], [1.0, 0.0], [0.0, 0.5]]), np.array([1, 0, 0]))
    out = acc.compute()
    assert out["auc"] == pytest.approx(1.0) and out["pr_auc"] == pytest.approx(1.0)
    three = MetricAccumulator(["auc"])
    three.update(0.5, np.zeros((2, 3)), np.array([0, 2]))
    assert "auc" not in three.compute()
