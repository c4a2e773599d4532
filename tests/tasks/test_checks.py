"""The model-data checks fire on data built to trip them, and stay quiet otherwise."""

from __future__ import annotations

import torch

from nnatlas.tasks.base import Prepared
from nnatlas.tasks.checks import class_imbalance, duplicates_across_splits, model_size


def prepared(train_y: list[int], x_train=None, x_test=None) -> Prepared:
    g = torch.Generator().manual_seed(0)
    x_train = torch.rand(len(train_y), 1, 4, 4, generator=g) if x_train is None else x_train
    x_test = torch.rand(4, 1, 4, 4, generator=g) if x_test is None else x_test
    test = (x_test, torch.tensor([0, 0, 1, 1]))
    return Prepared((x_train, torch.tensor(train_y)), None, test, {"classes": ["a", "b"]}, {})


def test_duplicates_across_splits_are_counted() -> None:
    clean = prepared([0, 1] * 4)
    assert duplicates_across_splits(clean) == []
    x_train = clean.train[0].clone()
    x_test = clean.test[0].clone()
    x_test[1] = x_train[3]  # one test image is a training image
    leaky = prepared([0, 1] * 4, x_train, x_test)
    (note,) = duplicates_across_splits(leaky)
    assert note.startswith("warning: 1 example(s) of the test split also appear in train")


def test_strong_imbalance_names_the_majority_baseline() -> None:
    assert class_imbalance(prepared([0, 1] * 5)) == []
    (note,) = class_imbalance(prepared([0] * 9 + [1]))
    assert "90% of the training examples are 'a'" in note
    assert "scores 0.5000 on the test split" in note  # two of the four test labels are 0


def test_a_model_far_larger_than_its_data() -> None:
    data = prepared([0, 1] * 5)
    assert model_size(data, trainable=5_000) == []
    (note,) = model_size(data, trainable=1_000_000)
    assert "100,000 per example" in note and "transfer learning" in note
    (tuned,) = model_size(data, trainable=1_000_000, pretrained=True)
    assert "small backbone rate" in tuned and "transfer learning" not in tuned
