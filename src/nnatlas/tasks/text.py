"""Text classification (sentiment): word vocabularies, truncation, recurrent classifiers.

Texts are tokenized into words, encoded with a vocabulary built on the training split only
(held-out words must count as unseen), truncated to a per-dataset length and padded at the end
to one fixed length, with each text's length beside it: every split is three tensors (the
Trainer's in-memory fast path), each batch is cut to its longest text and the recurrent model
packs the sequences, so padding costs little and changes nothing. Training batches are bucketed
by length (each holds texts of one length, in a shuffled order of batches), so they have no
padding at all and the model runs them through PyTorch's fused recurrent kernel instead of
packing them (``benchmarks/text_throughput.py``). Pretrained word vectors
(``word_vectors="glove-6b-50d"``) start the embedding. The run keeps the vocabulary and the
tokenizer's options, so ``predict`` encodes a new sentence with no access to the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from nnatlas.train.steps import ClassificationStep

# Tokens kept per text: most of each dataset's texts fit (the truncation report of
# nnatlas.data.load_text_classification says how many were cut), and a CPU epoch stays short.
MAX_LEN = {"sst2": 48, "mr": 64, "imdb": 256}
DEFAULT_MAX_LEN = 64
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def vocab_record(vocab: Any) -> dict[str, Any]:
    """A vocabulary as plain values for a run's record (without the token counts)."""
    return {**vocab.to_dict(), "counts": {}}


def unseen_words_note(encoded: Any, options: DataOptions) -> str:
    """What ``--vectors-vocab`` added: the words training never shows, and the share of the
    test split's tokens that read as their pretrained vector instead of ``<unk>``."""
    vocab = encoded.vocab
    specials = set(vocab.specials)
    unseen = torch.tensor([w not in specials and not vocab.counts.get(w) for w in vocab.itos])
    tokens = torch.cat(encoded.test.ids) if encoded.test.ids else torch.zeros(0, dtype=torch.long)
    share = float(unseen[tokens].double().mean()) if len(tokens) else 0.0
    added = int(unseen.sum())
    return (
        f"--vectors-vocab {options.vectors_vocab:,}: {added:,} word{'s' * (added != 1)} of "
        f"{options.word_vectors} that training never shows were added; {share:.1%} of the "
        "test tokens read as their vector instead of <unk>"
    )


class TextStep(ClassificationStep):
    """Cross-entropy over a batch of texts padded at the end, with their lengths: the batch
    is cut to its own longest text first (less padding to run through), and the recurrent
    model packs the sequences, so padded steps change nothing.

    Shape:
        batch: x (B, T) int64, lengths (B,), y (B,) -> model(x[:, :max(lengths)], lengths)
    """

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> Any:
        x, lengths, y = batch
        longest = int(lengths.max())
        return super().loss(model, (x[:, :longest], lengths, y), losses, training)


@register_task
class TextClassification(Task):
    """Classify texts (SST-2, IMDB, MR, a CSV) with an RNN, LSTM or GRU classifier; optionally
    starting from pretrained word vectors (GloVe)."""

    name = "text_classification"
    title = "text classification"
    model_kinds = ("tokens",)
    default_model = "lstm_classifier"
    data_options = (
        "text_column", "label_column", "encoding", "limit", "limit_per_class", "word_vectors",
        "vectors_vocab", "punctuation", "min_freq", "max_size", "max_len", "truncate_side",
        "val_split",
    )  # fmt: skip

    def _encode(
        self,
        options: DataOptions,
        record: dict[str, Any] | None = None,
        extra_words: Sequence[str] = (),
    ) -> Any:
        """Tokenize and encode the splits: with a new vocabulary (plus ``extra_words``, the
        ``--vectors-vocab`` words), or with the run's own when ``record`` is given."""
        from nnatlas.data import Vocab, get_spec, load_text_classification, tokenizer_from_dict

        max_len = options.max_len or MAX_LEN.get(options.name, DEFAULT_MAX_LEN)
        reuse: dict[str, Any] = {
            "truncate_side": options.truncate_side or "post",
            "min_freq": options.min_freq or 1,
            "max_size": options.max_size,
            "punctuation": options.punctuation or "split",
            "extra_words": extra_words,
            "val_split": options.val_split or "auto",
        }
        if record is not None:  # the run's own vocabulary, tokenizer and truncation
            max_len = record["max_len"]
            carved = record.get("val_split", "random")  # older runs held out random phrases
            reuse = {
                "vocab": Vocab.from_dict(record["vocab"]),
                "tokenizer": tokenizer_from_dict(record["tokenizer"]),
                "truncate_side": record.get("truncate_side", "post"),
                "val_split": "auto" if carved == "given" else carved,
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
    def _tensors(part: Any, record: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        """(x, lengths, y) with x padded at the end; runs before lengths were kept padded at the
        front, and read (x, y) as they were trained."""
        max_len, pad = record["max_len"], record["pad_id"]
        if record.get("padding", "pre") == "pre":
            return part.padded(length=max_len, side="pre", pad_id=pad)[0], part.labels
        x, lengths = part.padded(length=max_len, side="post", pad_id=pad)
        return x, lengths, part.labels

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import tokenizer_to_dict

        vectors = None
        if options.word_vectors:
            from nnatlas.data import load_word_vectors

            vectors = load_word_vectors(options.word_vectors)  # read once, for both uses
        extra = vectors.most_frequent(options.vectors_vocab or 0) if vectors else ()
        encoded = self._encode(options, extra_words=extra)
        pad = encoded.vocab.pad_id or 0
        record = {
            "classes": list(encoded.classes),
            "vocab": vocab_record(encoded.vocab),
            "tokenizer": tokenizer_to_dict(encoded.tokenizer),
            "max_len": encoded.max_len,
            "truncate_side": encoded.truncate_side,  # "post" keeps the beginning, "pre" the end
            "min_freq": options.min_freq or 1,
            "max_size": options.max_size,
            "pad_id": pad,
            "padding": "post",  # with lengths: the model packs the sequences
            "input_shape": [encoded.max_len],
            "val_split": encoded.val_split,  # how validation was carved, to carve it again
        }
        train, val, test = (
            self._tensors(part, record) for part in (encoded.train, encoded.val, encoded.test)
        )
        facts: dict[str, Any] = {
            "num_classes": len(encoded.classes),
            "vocab_size": len(encoded.vocab),
            "padding_idx": encoded.vocab.pad_id,
        }
        cut = encoded.truncation
        notes = [encoded.val_note] if encoded.val_note else []
        if options.min_freq or options.max_size:
            tokens = torch.cat(encoded.train.ids)
            unk = float((tokens == encoded.vocab.unk_id).double().mean())
            notes.append(
                f"a vocabulary of {len(encoded.vocab):,} words (min_freq {options.min_freq or 1}"
                f", max_size {options.max_size or 'none'}); {unk:.1%} of the training tokens "
                "are <unk>"
            )
        if cut.share_truncated:
            kept = "beginning" if encoded.truncate_side == "post" else "end"
            notes.append(
                f"{cut.share_truncated:.1%} of the training texts are longer than {cut.max_len} "
                f"tokens and were cut ({cut.share_tokens_lost:.1%} of the tokens; each keeps "
                f"its {kept})"
            )
        initial: dict[str, Any] = {}
        if vectors is not None:
            from nnatlas.data import embedding_matrix

            matrix, coverage = embedding_matrix(encoded.vocab, vectors, seed=options.seed)
            facts["embed_dim"] = vectors.dim
            initial["embedding.weight"] = torch.from_numpy(matrix)
            notes.append(f"{options.word_vectors}: {coverage}")
            if options.vectors_vocab:
                notes.append(unseen_words_note(encoded, options))
        train = limit_rows(train, options.limit, options.seed, per_class=options.limit_per_class)
        val = val if len(val[0]) else None
        prepared = Prepared(train, val, test, record, facts, notes=notes, initial_weights=initial)
        prepared.batches = lambda config: bucketed_batches(train, config)
        return prepared

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, ...]:
        encoded = self._encode(options, record)
        tensors = self._tensors(getattr(encoded, split), record)
        return (
            limit_rows(tensors, options.limit, options.seed, per_class=options.limit_per_class)
            if split == "train"
            else tensors
        )

    def step(self, config: Any) -> Any:
        return TextStep(config.label_smoothing)

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
            tensors = self.load_split(run.options, record, split)
            index = pick_example(tensors, input, split, index)
            *inputs, labels = (t[index : index + 1] for t in tensors)
            label = int(labels[0])
        else:
            if input.lower().endswith(IMAGE_SUFFIXES) and Path(input).is_file():
                raise TaskError(
                    f"{input} is an image file, but this run classifies texts; give a sentence"
                )
            vocab = Vocab.from_dict(record["vocab"])
            tokenizer = tokenizer_from_dict(record["tokenizer"])
            ids = encode_text(input, vocab, tokenizer, record["max_len"], record["truncate_side"])
            if record.get("padding", "pre") == "pre":  # a run from before lengths were kept
                inputs = [front_padded(ids, record["max_len"], record["pad_id"])]
            else:
                inputs = [ids.unsqueeze(0), torch.tensor([len(ids)])]  # (1, L), (1,)
        probs = torch.softmax(run.trainer.infer(*inputs), dim=-1)[0]  # (C,)
        classes = record["classes"]
        true_class = None if label is None else str(classes[label])
        return ClassPrediction(input, top_classes(probs, classes, top), true_class)


def bucketed_batches(train: tuple[torch.Tensor, ...], config: Any) -> Any:
    """Shuffled training batches of texts of one length each, from ``(x, lengths, y)``.

    Equal lengths mean no padding: the recurrent model skips packing and takes the fused kernel
    (a bidirectional LSTM step at N=64, T=64 took 91 instead of 172 ms at one thread). Each
    length's last batch is smaller, so an epoch makes a few more steps than ``N / batch_size``.
    """
    from nnatlas.train import TensorLoader

    x, lengths, y = train
    return TensorLoader(
        x, lengths, y, batch_size=config.batch_size, shuffle=True, seed=config.seed,
        bucket_by=lengths,
    )  # fmt: skip


def front_padded(ids: torch.Tensor, length: int, pad_id: int) -> torch.Tensor:
    """One encoded text padded at the front to ``length``. Shape: (L,) -> (1, length)."""
    x = torch.full((1, length), pad_id, dtype=torch.int64)
    x[0, length - len(ids) :] = ids[-length:]
    return x
