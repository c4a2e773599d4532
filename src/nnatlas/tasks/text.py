"""Text classification (sentiment): word vocabularies, truncation, recurrent classifiers.

Texts are tokenized into words, encoded with a vocabulary built on the training split only
(held-out words must count as unseen), truncated to a per-dataset length and padded at the
*front* to one fixed length, so an RNN's last step is a real token and every split is one
tensor (the Trainer's in-memory fast path). The run keeps the vocabulary and the tokenizer's
options, so ``predict`` encodes a new sentence with no access to the dataset.
"""

from __future__ import annotations

from pathlib import Path
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

# Tokens kept per text: most of each dataset's texts fit (the truncation report of
# nnatlas.data.load_text_classification says how many were cut), and a CPU epoch stays short.
MAX_LEN = {"sst2": 48, "mr": 64, "imdb": 256}
DEFAULT_MAX_LEN = 64
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def vocab_record(vocab: Any) -> dict[str, Any]:
    """A vocabulary as plain values for a run's record (without the token counts)."""
    return {**vocab.to_dict(), "counts": {}}


def front_padded(ids: torch.Tensor, length: int, pad_id: int) -> torch.Tensor:
    """One encoded text padded at the front to ``length``. Shape: (L,) -> (1, length)."""
    x = torch.full((1, length), pad_id, dtype=torch.int64)
    x[0, length - len(ids) :] = ids[-length:]
    return x


@register_task
class TextClassification(Task):
    """Classify texts (SST-2, IMDB, MR, a CSV) with an RNN, LSTM or GRU classifier."""

    name = "text_classification"
    title = "text classification"
    model_kinds = ("tokens",)
    default_model = "lstm_classifier"
    data_options = ("text_column", "label_column", "encoding", "limit", "limit_per_class")

    def _encode(self, options: DataOptions, record: dict[str, Any] | None = None) -> Any:
        from nnatlas.data import Vocab, get_spec, load_text_classification, tokenizer_from_dict

        max_len = MAX_LEN.get(options.name, DEFAULT_MAX_LEN) if record is None else None
        reuse: dict[str, Any] = {}
        if record is not None:  # the run's own vocabulary and tokenizer, not rebuilt ones
            max_len = record["max_len"]
            reuse = {
                "vocab": Vocab.from_dict(record["vocab"]),
                "tokenizer": tokenizer_from_dict(record["tokenizer"]),
            }
        names = ("text_column", "label_column", "encoding")
        reader = options.reader_options(get_spec(options.name), names)
        return load_text_classification(
            options.name,
            root=options.root,
            max_len=max_len,
            val_fraction=options.val_fraction,
            seed=options.seed,
            **reuse,
            **reader,
        )

    @staticmethod
    def _tensors(part: Any, max_len: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        return part.padded(length=max_len, side="pre", pad_id=pad_id)[0], part.labels

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import tokenizer_to_dict

        encoded = self._encode(options)
        pad = encoded.vocab.pad_id or 0
        record = {
            "classes": list(encoded.classes),
            "vocab": vocab_record(encoded.vocab),
            "tokenizer": tokenizer_to_dict(encoded.tokenizer),
            "max_len": encoded.max_len,
            "truncate_side": encoded.truncate_side,
            "pad_id": pad,
            "input_shape": [encoded.max_len],
        }
        train, val, test = (
            self._tensors(part, encoded.max_len, pad)
            for part in (encoded.train, encoded.val, encoded.test)
        )
        facts = {
            "num_classes": len(encoded.classes),
            "vocab_size": len(encoded.vocab),
            "padding_idx": encoded.vocab.pad_id,
        }
        train = limit_rows(train, options.limit, options.seed, per_class=options.limit_per_class)
        return Prepared(train, val if len(val[0]) else None, test, record, facts)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self._encode(options, record)
        tensors = self._tensors(getattr(encoded, split), record["max_len"], record["pad_id"])
        return (
            limit_rows(tensors, options.limit, options.seed, per_class=options.limit_per_class)
            if split == "train"
            else tensors
        )

    def describe(self, record: dict[str, Any], x: torch.Tensor) -> str:
        """The tokens the model read (padding and reserved tokens left out). Shape: x (T,)."""
        from nnatlas.data import Vocab

        tokens = Vocab.from_dict(record["vocab"]).decode(x.tolist(), skip_specials=True)
        return ("" if record["tokenizer"]["type"] == "char" else " ").join(tokens)

    def predict(self, run: Any, input: str, *, top: int = 3) -> ClassPrediction:
        """The ``top`` classes of a text (tokenized with the run's vocabulary), or of
        ``SPLIT:INDEX`` of the run's dataset."""
        from nnatlas.data import Vocab, encode_text, tokenizer_from_dict

        record, label = run.record, None
        example = split_index(input)
        if example is not None:
            split, index = example
            x_all, y_all = self.load_split(run.options, record, split)
            index = pick_example((x_all,), input, split, index)
            x, label = x_all[index : index + 1], int(y_all[index])
        else:
            if input.lower().endswith(IMAGE_SUFFIXES) and Path(input).is_file():
                raise TaskError(
                    f"{input} is an image file, but this run classifies texts; give a sentence"
                )
            vocab, tokenizer = (
                Vocab.from_dict(record["vocab"]),
                tokenizer_from_dict(record["tokenizer"]),
            )
            ids = encode_text(input, vocab, tokenizer, record["max_len"], record["truncate_side"])
            x = front_padded(ids, record["max_len"], record["pad_id"])  # as in training
        probs = run.trainer.predict(x)[0]
        classes = record["classes"]
        true_class = None if label is None else str(classes[label])
        return ClassPrediction(input, top_classes(probs, classes, top), true_class)
