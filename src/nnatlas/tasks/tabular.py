"""Tabular classification: rows of numbers (the 2-D moons, circles, spirals, xor) and an MLP."""

from __future__ import annotations

from typing import Any

import torch

from nnatlas.tasks.base import (
    DataOptions,
    Prepared,
    Task,
    TaskError,
    limit_rows,
    pick_example,
    register_task,
    split_index,
)
from nnatlas.tasks.image import top_classes
from nnatlas.tasks.results import ClassPrediction


@register_task
class TabularClassification(Task):
    """Classify feature vectors (N, D) with a model that takes ``in_features`` (the MLP)."""

    name = "tabular_classification"
    title = "tabular classification"
    model_kinds = ("image",)
    default_model = "mlp"
    data_options = ("limit", "limit_per_class")

    def accepts(self, entry: Any) -> bool:
        return "in_features" in entry.fits  # a model that takes flat feature vectors

    def _splits(self, options: DataOptions) -> Any:
        from nnatlas.data import load_tabular_dataset

        # The generated sets hold out their own seeded validation and test splits.
        return load_tabular_dataset(options.name, seed=options.seed)

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        splits = self._splits(options)
        features = int(splits.train.x.shape[1])
        record = {"classes": list(splits.classes), "input_shape": [features]}
        val = tuple(splits.val) if len(splits.val) else None
        facts = {"num_classes": len(splits.classes), "in_features": features}
        train = limit_rows(
            tuple(splits.train), options.limit, options.seed, per_class=options.limit_per_class
        )
        return Prepared(train, val, tuple(splits.test), record, facts)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        part = getattr(self._splits(options), split)
        if list(part.x.shape[1:]) != list(record["input_shape"]):
            raise TaskError(
                f"dataset {options.name!r} has {part.x.shape[1]} features per row; the model "
                f"was trained on {record['input_shape'][0]}"
            )
        tensors = (part.x, part.y)
        return (
            limit_rows(tensors, options.limit, options.seed, per_class=options.limit_per_class)
            if split == "train"
            else tensors
        )

    def predict(self, run: Any, input: str, *, top: int = 3) -> ClassPrediction:
        """The ``top`` classes of one row given as comma-separated numbers (``"0.5,-1.2"``) or
        as ``SPLIT:INDEX`` of the run's dataset."""
        record, label = run.record, None
        example = split_index(input)
        if example is not None:
            split, index = example
            x_all, y_all = self.load_split(run.options, record, split)
            index = pick_example((x_all,), input, split, index)
            x, label = x_all[index : index + 1], int(y_all[index])
        else:
            features = record["input_shape"][0]
            try:
                values = [float(v) for v in input.split(",")]
            except ValueError:
                values = []
            if len(values) != features:
                raise TaskError(
                    f"{input!r}: give {features} comma-separated numbers (one row of features), "
                    "or SPLIT:INDEX such as test:0"
                )
            x = torch.tensor([values], dtype=torch.float32)  # (1, D)
        probs = run.trainer.predict(x)[0]
        classes = record["classes"]
        true_class = None if label is None else str(classes[label])
        return ClassPrediction(input, top_classes(probs, classes, top), true_class)
