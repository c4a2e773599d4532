"""Data and models for a run of ``nnatlas train``, rebuilt the same way by ``eval``/``predict``.

- :func:`load_data` loads a catalog dataset's splits (images, tabular points, texts or sentence
  pairs as fixed-length token tensors); :func:`prepare` normalizes them once in memory and
  records in ``info`` what a checkpoint needs to redo the preprocessing (classes, mean, std ...).
- :func:`model_kwargs_for` fits a model's constructor arguments to the data, and
  :func:`build_model` creates the zoo model (torch) or its NumPy twin (scratch), seeded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnatlas.cli.errors import UsageError
from nnatlas.cli.presets import LM_SEQ_LEN, TEXT_MAX_LEN


# -- data ------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """Splits ready for the trainer, and what a checkpoint needs to redo the preprocessing."""

    train: tuple[Any, Any]
    val: tuple[Any, Any] | None
    test: tuple[Any, Any]
    info: dict[str, Any]  # dataset, classes, mean, std, input_shape, augment (+ vocab for text)
    augment: Any = None  # the training batch transform, when --augment is not "none"


def load_data(data: str, seed: int = 0, val_fraction: float = 0.1, root: str | None = None) -> Any:
    """The named dataset's splits (images, tabular or text); unknown names list the valid ones."""
    from nnatlas.data import (
        DataNotFoundError,
        DatasetError,
        get_spec,
        list_datasets,
        load_image_dataset,
    )

    try:
        spec = get_spec(data)
    except (KeyError, DatasetError) as err:
        message = str(err).strip("'\"")
        if "Valid names" not in message:
            message += f"\nvalid datasets: {', '.join(list_datasets())}"
        raise UsageError(message) from err
    try:
        if spec.kind == "image":
            return load_image_dataset(data, root=root, val_fraction=val_fraction, seed=seed)
        if spec.kind == "tabular":
            from nnatlas.data.synthetic import load_tabular_dataset

            return load_tabular_dataset(data, seed=seed)
        if spec.kind == "text" and (data in TEXT_MAX_LEN or data.startswith("csv:")):
            return load_text_splits(data, root, val_fraction, seed)
        if spec.kind == "text" and (data == "tinyshakespeare" or data.startswith("text:")):
            return load_corpus_splits(data, root, val_fraction)
        if spec.kind == "pairs":  # dates, multi30k, pairs:PATH: a seq2seq model translates
            from nnatlas.cli.pairs import load_pair_splits

            return load_pair_splits(data, root, val_fraction, seed)
    except (DatasetError, DataNotFoundError) as err:  # the message lists the sources tried
        raise UsageError(str(err)) from err
    trainable = list_datasets("image") + list_datasets("tabular") + [*TEXT_MAX_LEN, "csv:PATH"]
    trainable += ["tinyshakespeare", "text:PATH", "dates", "multi30k", "pairs:PATH"]
    raise UsageError(
        f"dataset {data!r} is a {spec.kind} dataset; `nnatlas train` handles image, tabular, "
        "text classification, character language modelling and sentence pairs: "
        f"{', '.join(trainable)}"
    )


@dataclass
class TextSplits:
    """Text classification as fixed-length token tensors (the fast path needs equal lengths)."""

    train: Any
    val: Any
    test: Any
    classes: list[str]
    encoded: Any  # nnatlas.data TextClassificationSplits: vocabulary and tokenizer


def load_text_splits(data: str, root: str | None, val_fraction: float, seed: int) -> TextSplits:
    """Token ids padded at the *front* to a fixed length, so an RNN's last step is a real token."""
    from nnatlas.data.images import Split
    from nnatlas.data.text_pipeline import load_text_classification

    max_len = TEXT_MAX_LEN.get(data, 64)
    encoded = load_text_classification(
        data, root=root, max_len=max_len, val_fraction=val_fraction, seed=seed
    )
    pad = encoded.vocab.pad_id or 0

    def split(part: Any) -> Split:
        return Split(part.padded(length=max_len, side="pre", pad_id=pad)[0], part.labels)

    parts = (split(encoded.train), split(encoded.val), split(encoded.test))
    return TextSplits(*parts, list(encoded.classes), encoded)


def load_corpus_splits(data: str, root: str | None, val_fraction: float) -> TextSplits:
    """A character corpus as next-character windows: x, y (M, LM_SEQ_LEN) with y = x shifted.

    The corpus's contiguous tail (``val_fraction``, at least 2%) is held out and halved into
    validation and test, so no test character was seen in training. The "classes" are the
    vocabulary's tokens: a language model classifies the next character.
    """
    from nnatlas.data import lm_windows, load_lm_corpus
    from nnatlas.data.images import Split

    corpus = load_lm_corpus(data, root=root, val_fraction=max(val_fraction, 0.02))
    half = corpus.val.numel() // 2
    parts = [
        lm_windows(ids, LM_SEQ_LEN) for ids in (corpus.train, corpus.val[:half], corpus.val[half:])
    ]
    splits = [Split(x, y) for x, y in parts]
    return TextSplits(*splits, list(corpus.vocab.itos), corpus)


def normalizer(mean: list[float] | None, std: list[float] | None) -> Callable[[Any], Any]:
    """``x -> (x - mean) / std`` per channel (identity without statistics)."""
    import torch

    if not mean:
        return lambda x: x
    m, s = torch.tensor(mean), torch.tensor(std)

    def normalize(x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # (1, C, 1, 1) for images
        return (x - m.to(x.device).view(shape)) / s.to(x.device).view(shape)

    return normalize


class AugmentThenNormalize:
    """The training batch transform: augment in [0, 1] pixel space, then normalize."""

    def __init__(self, augment: Any, normalize: Any) -> None:
        self.augment, self.normalize = augment, normalize

    def __call__(self, x: Any, generator: Any = None) -> Any:
        return self.normalize(self.augment(x, generator))


def prepare(splits: Any, data: str, augment: str) -> Prepared:
    """Normalize every split once in memory (the fast path); augmentation stays per batch."""
    is_image = splits.train.x.dim() == 4 and splits.train.x.is_floating_point()
    mean = list(getattr(splits, "mean", ())) if is_image else None
    std = list(getattr(splits, "std", ())) if is_image else None
    normalize = normalizer(mean, std)
    info = {
        "dataset": data,
        "classes": list(splits.classes),
        "mean": mean,
        "std": std,
        "input_shape": list(splits.train.x.shape[1:]),
        "augment": augment,
    }
    if isinstance(splits, TextSplits):
        info["vocab_size"] = len(splits.encoded.vocab)
        info["pad_id"] = splits.encoded.vocab.pad_id
        info["language_model"] = splits.train.y.dim() == 2  # next-token targets (N, T)
    if hasattr(splits, "src_len"):  # sentence pairs: x = [src | tgt_in], see cli/pairs.py
        info["seq2seq"] = True
        info["src_len"] = splits.src_len
        info["src_vocab_size"] = len(splits.encoded.src_vocab)
    val = (normalize(splits.val.x), splits.val.y) if len(splits.val) else None
    test = (normalize(splits.test.x), splits.test.y)
    if augment == "none":
        return Prepared((normalize(splits.train.x), splits.train.y), val, test, info)
    if not is_image:
        raise UsageError(f"--augment {augment}: augmentation applies to image datasets only")
    from nnatlas.data.image_pipeline import PRESETS as AUGMENTS
    from nnatlas.data.image_pipeline import BatchAugment

    if augment not in AUGMENTS:
        raise UsageError(f"--augment {augment!r}: choose from {', '.join(AUGMENTS)}")
    batch_augment = AugmentThenNormalize(BatchAugment(augment), normalize)
    return Prepared((splits.train.x, splits.train.y), val, test, info, batch_augment)


# -- models ----------------------------------------------------------------------------------
def model_kwargs_for(name: str, info: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments that fit the model to the data: classes, channels, image size."""
    shape = info["input_shape"]
    if info.get("seq2seq"):  # sentence pairs: an encoder-decoder, wrapped by build_model
        if _model_kind(name) != "seq2seq":
            raise UsageError(
                f"{info['dataset']} holds sentence pairs for encoder-decoder models (seq2seq); "
                f"{name!r} is not one"
            )
        vocab = {"src_vocab_size": info["src_vocab_size"], "tgt_vocab_size": len(info["classes"])}
        return {**vocab, "src_len": info["src_len"]}
    if info.get("language_model"):  # predicts the next token: vocabulary in, vocabulary out
        if not name.endswith("_lm"):
            raise UsageError(
                f"{info['dataset']} is a corpus for language models (lstm_lm, gru_lm, rnn_lm); "
                f"{name!r} is not one"
            )
        return {"vocab_size": info["vocab_size"]}
    kwargs: dict[str, Any] = {"num_classes": len(info["classes"])}
    if len(shape) == 3:
        kwargs["in_chans"] = shape[0]
        if name.startswith(("mlp", "lenet")):
            kwargs["input_size"] = shape[1]
    elif "vocab_size" in info:  # token ids: an embedding model
        kwargs["vocab_size"] = info["vocab_size"]
        if info.get("pad_id") is not None:
            kwargs["padding_idx"] = info["pad_id"]
    elif len(shape) == 1 and name.startswith("mlp"):
        kwargs["in_features"] = shape[0]
    return kwargs


def _model_kind(name: str) -> str:
    """The zoo's ``kind`` of a model (``"image"``, ``"tokens"``, ``"seq2seq"``); "" if unknown."""
    import nnatlas.models as zoo

    return zoo.get_model_entry(name).kind if name in zoo.list_models() else ""


SCRATCH_MODELS = {
    "mlp": "nnatlas.scratch.models.mlp:MLP",
    "lenet5": "nnatlas.scratch.models.lenet:LeNet5",
    "lstm_lm": "nnatlas.scratch.models.char_lstm:CharLSTM",
}


def build_model(name: str, engine: str, kwargs: dict[str, Any], seed: int = 0) -> Any:
    """A zoo model (torch) or its NumPy twin (scratch), seeded, with the given arguments."""
    from nnatlas.train.checkpoint import seed_everything

    seed_everything(seed)
    if engine == "torch":
        import nnatlas.models as zoo

        if name not in zoo.list_models():
            raise UsageError(
                f"unknown model {name!r}; valid models: {', '.join(zoo.list_models())}"
            )
        try:
            if _model_kind(name) == "seq2seq" and "src_len" in kwargs:  # trained on pairs
                from nnatlas.cli.pairs import TeacherForced

                kwargs = dict(kwargs)
                src_len = kwargs.pop("src_len")
                return TeacherForced(zoo.create_model(name, **kwargs), src_len)
            return zoo.create_model(name, **kwargs)
        except (TypeError, ValueError) as err:
            raise UsageError(f"model {name!r} does not fit this data: {err}") from err
    if name not in SCRATCH_MODELS:
        raise UsageError(
            f"model {name!r} has no NumPy twin; --engine scratch trains: "
            f"{', '.join(SCRATCH_MODELS)}"
        )
    import numpy as np

    module_name, cls_name = SCRATCH_MODELS[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    kwargs = dict(kwargs)
    if name == "mlp":  # the scratch MLP takes in_features, as nn.Linear does
        shape_features = kwargs.pop("in_features", None)
        in_chans, size = kwargs.pop("in_chans", 1), kwargs.pop("input_size", None)
        kwargs["in_features"] = shape_features or in_chans * size * size
    if name == "lstm_lm":  # the zoo's defaults, which the scratch CharLSTM does not assume
        kwargs = {"embed_dim": 128, "hidden_size": 256, "num_layers": 2, **kwargs}
    try:
        return cls(**kwargs, rng=np.random.default_rng(seed))
    except (TypeError, ValueError) as err:
        raise UsageError(f"model {name!r} (scratch) does not fit this data: {err}") from err
