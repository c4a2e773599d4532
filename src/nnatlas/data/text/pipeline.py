"""From raw text to model-ready tensors: tokenize, build the vocabulary, encode, truncate, batch.

The functions the trainer and the lessons use:

    >>> splits = load_text_classification("sst2", max_len=64, min_freq=2)
    >>> x, lengths, y = next(iter(splits.train.loader(batch_size=32)))  # x: (32, T) int64
    >>> text = load_text_corpus("tinyshakespeare")                       # 1,115,394 characters

Sentence pairs (translation) have their own module, :mod:`nnatlas.data.text.translation`. The
datasets themselves (names, files, sources) are in :mod:`nnatlas.data.text.datasets`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnatlas.data.catalog import DatasetError, get_spec
from nnatlas.data.images.splits import stratified_split
from nnatlas.data.text.batching import (
    BucketBatchSampler,
    TruncationReport,
    collate_padded,
    pad_batch,
    truncate_pad,
    truncation_report,
)
from nnatlas.data.text.readers import LabeledTexts, PairSplits, RawTextClassification
from nnatlas.data.text.tokenize import CharTokenizer, Tokenizer, get_tokenizer
from nnatlas.data.text.vocab import UNK_ID, Vocab

# What ``nnatlas.data.load`` returns for each kind of text dataset, and who turns it into tensors.
_RAW_KINDS: dict[type, tuple[str, str]] = {
    RawTextClassification: ("a text classification dataset", "load_text_classification"),
    str: ("a text corpus", "load_text_corpus"),
    PairSplits: ("a sentence-pair dataset", "load_translation_pairs"),
}

# ======================================================================== encoded splits


def _make_loader(
    dataset: torch.utils.data.Dataset,
    lengths: torch.Tensor,
    collate: Callable[[list], tuple[torch.Tensor, ...]],
    batch_size: int,
    shuffle: bool,
    bucket: bool,
    seed: int,
    drop_last: bool,
) -> torch.utils.data.DataLoader:
    """Batches of similar ``lengths`` (:class:`BucketBatchSampler`) or plain seeded batches."""
    if bucket:
        sampler = BucketBatchSampler(
            lengths, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed
        )
        return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(seed),
    )


def _load_raw(name: str, root: str | Path | None, options: dict[str, Any], want: type) -> Any:
    """``get_spec(name).load(root, **options)``, refusing data of another kind than ``want``."""
    raw = get_spec(name).load(root, **options)
    if not isinstance(raw, want):
        what, caller = _RAW_KINDS[want]
        right = [f for kind, (_, f) in _RAW_KINDS.items() if isinstance(raw, kind)]
        hint = f"use {right[0]}" if right else "load it with nnatlas.data.load(name)"
        raise DatasetError(
            f"{caller}: {name!r} is not {what} (its loader returns {type(raw).__name__}); {hint}"
        )
    return raw


class EncodedTexts(torch.utils.data.Dataset):
    """One split of an encoded classification dataset: ``ds[i] -> (ids (L_i,), label)``.

    Sequences are stored truncated to ``max_len`` but NOT padded: :meth:`loader` pads each
    batch to its own longest sequence (with bucketing, little padding is left).

    Attributes:
        ids: one int64 tensor (L_i,) per example, L_i <= max_len.
        labels: (N,) int64.
        texts: the raw texts, for error analysis.
        lengths: (N,) int64 lengths after truncation (the ``lengths`` of a packed RNN).
        raw_lengths: (N,) int64 token counts before truncation.
    """

    def __init__(
        self,
        ids: list[torch.Tensor],
        labels: torch.Tensor,
        texts: list[str],
        raw_lengths: list[int],
    ) -> None:
        self.ids = ids
        self.labels = labels
        self.texts = texts
        self.lengths = torch.tensor([len(s) for s in ids], dtype=torch.int64)
        self.raw_lengths = torch.tensor(raw_lengths, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[index], self.labels[index]

    def padded(
        self, length: int | None = None, side: str = "post", pad_id: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All examples in one tensor, for models (or a ``TensorLoader``) that want one.

        Args:
            length: pad to this length (cutting longer ones from the end given by ``side``
                of :func:`~nnatlas.data.text.batching.truncate_pad`); default the longest example.
            side: ``"post"`` (pad at the end; use the lengths to pack or mask) or ``"pre"``
                (pad at the front, so an unpacked RNN's last step is a real token).
            pad_id: the padding id.

        Shape:
            ``(x (N, T) int64, lengths (N,) int64)``
        """
        if length is None and side == "post":
            return pad_batch(self.ids, pad_id)
        length = int(self.lengths.max()) if length is None else length
        rows = [truncate_pad(ids, length, side=side, pad_id=pad_id) for ids in self.ids]
        x = torch.tensor([r for r, _ in rows], dtype=torch.int64)  # (N, T)
        return x, torch.tensor([n for _, n in rows], dtype=torch.int64)

    def loader(
        self,
        batch_size: int = 32,
        shuffle: bool = True,
        bucket: bool = True,
        seed: int = 0,
        pad_id: int = 0,
        drop_last: bool = False,
        sort_by_length: bool = False,
    ) -> torch.utils.data.DataLoader:
        """A ``DataLoader`` yielding ``(ids (N, T), lengths (N,), labels (N,))``.

        Args:
            batch_size: examples per batch.
            shuffle: reshuffle every epoch (seeded: ``seed``, ``seed + 1``, ...).
            bucket: group similar lengths (:class:`BucketBatchSampler`); otherwise plain batches.
            seed: shuffling seed.
            pad_id: the padding id (``vocab.pad_id``).
            drop_last: drop the last incomplete batch (of each bucket pool when bucketing).
            sort_by_length: sort each batch longest first (``enforce_sorted=True`` packing).
        """
        collate = functools.partial(collate_padded, pad_id=pad_id, sort_by_length=sort_by_length)
        return _make_loader(
            self, self.lengths, collate, batch_size, shuffle, bucket, seed, drop_last
        )

    def __repr__(self) -> str:
        return f"EncodedTexts(n={len(self)}, mean length {self.lengths.double().mean():.1f})"


@dataclass
class TextClassificationSplits:
    """Encoded train/val/test splits of a text classification dataset, with their vocabulary.

    Attributes:
        name: catalog name.
        train, val, test: :class:`EncodedTexts`.
        vocab: built on the training split only (held-out words must count as unseen).
        classes: class names, ``classes[label]``.
        tokenizer: the tokenizer used (apply it to new text, then ``vocab.encode``).
        max_len: the truncation length; ``truncate_side`` which end was cut.
        truncation: :class:`TruncationReport` of the training split at ``max_len``.
        source: where the files came from.
        val_split: how validation was made: ``"given"`` (the dataset's own), ``"random"``
            (a stratified share of train) or ``"sentences"`` (whole sentences of a phrase-level
            train, :mod:`nnatlas.data.text.phrases`); ``val_note`` says what that did.
    """

    name: str
    train: EncodedTexts
    val: EncodedTexts
    test: EncodedTexts
    vocab: Vocab
    classes: list[str]
    tokenizer: Tokenizer
    max_len: int
    truncate_side: str
    truncation: TruncationReport
    source: str = ""
    val_split: str = "given"
    val_note: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        """Tokenize, encode and truncate new text exactly like the training data. Shape: (L,)."""
        return encode_text(text, self.vocab, self.tokenizer, self.max_len, self.truncate_side)

    def __repr__(self) -> str:
        return (
            f"TextClassificationSplits({self.name!r}, train={len(self.train)}, "
            f"val={len(self.val)}, test={len(self.test)}, vocab={len(self.vocab)}, "
            f"classes={self.classes}, max_len={self.max_len})"
        )


def encode_text(
    text: str, vocab: Vocab, tokenizer: Tokenizer, max_len: int, side: str = "post"
) -> torch.Tensor:
    """Tokenize, encode and truncate one new text as a dataset's texts were.

    ``side="post"`` keeps the first ``max_len`` tokens, ``"pre"`` the last; an empty text
    becomes one ``<unk>``. Shape: -> (L,) int64 with 1 <= L <= max_len.
    """
    return _truncate(vocab.encode(tokenizer(text)), max_len, side)


def _truncate(ids: list[int], max_len: int, side: str) -> torch.Tensor:
    if not ids:
        # An empty document (e.g. only punctuation, stripped) becomes one <unk>:
        # pack_padded_sequence refuses zero lengths, and the model still has to answer.
        ids = [UNK_ID]
    ids = ids[:max_len] if side == "post" else ids[-max_len:]
    return torch.tensor(ids, dtype=torch.int64)


def _carve(split: LabeledTexts, fraction: float, seed: int) -> tuple[LabeledTexts, LabeledTexts]:
    """Stratified ``(rest, held_out)`` split of ``fraction`` of the examples."""
    keep, held = stratified_split(np.asarray(split.labels), fraction, seed)
    return split.subset(keep.tolist()), split.subset(held.tolist())


VAL_SPLITS = ("auto", "random", "sentences")


def _carve_validation(
    raw: RawTextClassification, train: LabeledTexts, fraction: float, seed: int, how: str
) -> tuple[LabeledTexts, LabeledTexts, str, str]:
    """``(train, validation, how, note)``: validation carved from train as ``how`` says."""
    from nnatlas.data.text.phrases import carve_sentences

    if how not in VAL_SPLITS:
        raise ValueError(f"val_split must be one of {', '.join(VAL_SPLITS)}, got {how!r}")
    if how == "auto":
        how = "sentences" if raw.phrases else "random"
    if how == "random":
        return *_carve(train, fraction, seed), "random", ""
    kept, held, report = carve_sentences(train, fraction, seed)
    return kept, held, "sentences", report.describe() if report.held_out else ""


def load_text_classification(
    name: str,
    root: str | Path | None = None,
    *,
    max_len: int = 256,
    min_freq: int = 1,
    max_size: int | None = None,
    tokenizer: str | Tokenizer = "word",
    lower: bool = True,
    punctuation: str = "split",
    truncate_side: str = "post",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    vocab: Vocab | None = None,
    extra_words: Sequence[str] = (),
    val_split: str = "auto",
    **reader_options: Any,
) -> TextClassificationSplits:
    """Load, tokenize, build the vocabulary and encode a text classification dataset.

    Args:
        name: ``"imdb"``, ``"sst2"``, ``"mr"`` or ``"csv:PATH"``.
        root: a local folder holding the files (otherwise the catalog's sources are searched).
        max_len: keep at most this many tokens per text (see ``truncation`` in the result).
        min_freq, max_size: vocabulary limits (:meth:`Vocab.build`; ``max_size`` counts the
            4 reserved tokens).
        tokenizer: ``"word"``, ``"char"`` or a callable; ``lower`` and ``punctuation`` configure
            the named ones (:mod:`nnatlas.data.text.tokenize`).
        truncate_side: ``"post"`` keeps the beginning, ``"pre"`` the end (reviews often end
            with the verdict).
        val_fraction: share of train held out for validation when the dataset has no
            validation split (stratified, seeded). SST-2's GLUE test labels are hidden, so its
            dev set serves as the test split and validation comes from train.
        test_fraction: share held out for testing when the dataset has no test split
            (``mr``, ``csv:``).
        seed: seed of the held-out splits.
        vocab: reuse a vocabulary (e.g. the one saved with a checkpoint) instead of building one.
        extra_words: words to add to a built vocabulary after the training ones (the words of
            pretrained vectors, so that held-out words training never shows keep a vector
            instead of becoming ``<unk>``); ignored when ``vocab`` is given.
        val_split: how to carve validation from train when the dataset has none: ``"auto"``
            (whole sentences for a phrase-level train such as SST-2's, else ``"random"``),
            ``"random"`` (a stratified share of the examples) or ``"sentences"``.
        **reader_options: passed to the raw loader: ``errors="replace"`` for undecodable bytes;
            for ``csv:``, ``text_column``, ``label_column``, ``classes``, ``delimiter``.

    Returns:
        :class:`TextClassificationSplits`.
    """
    raw = _load_raw(name, root, reader_options, RawTextClassification)
    if truncate_side not in ("pre", "post"):
        raise ValueError(f"truncate_side must be 'pre' or 'post', got {truncate_side!r}")
    train, val, test = raw.train, raw.val, raw.test
    if test is None:
        train, test = _carve(train, test_fraction, seed)
    how, note = "given", ""
    if val is None:
        train, val, how, note = _carve_validation(raw, train, val_fraction, seed + 1, val_split)
    options = {"lower": lower, "punctuation": punctuation} if isinstance(tokenizer, str) else {}
    tok = get_tokenizer(tokenizer, **options)
    tokens = {
        s: [tok(t) for t in split.texts]
        for s, split in (("train", train), ("val", val), ("test", test))
    }
    if vocab is None:
        vocab = Vocab.build(tokens["train"], min_freq=min_freq, max_size=max_size)
        if extra_words:
            vocab = vocab.extended(extra_words)

    def encode(split: LabeledTexts, token_lists: list[list[str]]) -> EncodedTexts:
        ids = [_truncate(vocab.encode(t), max_len, truncate_side) for t in token_lists]
        labels = torch.tensor(split.labels, dtype=torch.int64)
        return EncodedTexts(ids, labels, split.texts, [len(t) for t in token_lists])

    enc_train = encode(train, tokens["train"])
    return TextClassificationSplits(
        name=name,
        train=enc_train,
        val=encode(val, tokens["val"]),
        test=encode(test, tokens["test"]),
        vocab=vocab,
        classes=raw.classes,
        tokenizer=tok,
        max_len=max_len,
        truncate_side=truncate_side,
        truncation=truncation_report(enc_train.raw_lengths, max_len),
        source=raw.source,
        val_split=how,
        val_note=note,
    )


def load_text_corpus(name: str, root: str | Path | None = None, **options: Any) -> str:
    """The full text of a corpus (``"tinyshakespeare"``, ``"text:PATH"``) as one string.

    Args:
        name: catalog name.
        root: a local folder holding the file.
        **options: ``errors="replace"`` to replace undecodable bytes instead of failing.
    """
    return _load_raw(name, root, options, str)


def split_corpus(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """``(train, val)``: the last ``val_fraction`` of the text is validation (contiguous, as a
    language model must be evaluated on text it continues, not on shuffled fragments)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split_corpus: val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(text) - int(round(len(text) * val_fraction))
    return text[:cut], text[cut:]


@dataclass
class LMCorpus:
    """An encoded corpus for language modelling: one id stream per split.

    Attributes:
        name: catalog name.
        train, val: (L,) int64 id streams (validation is the contiguous tail of the text).
        vocab: built on the training text (``order="alphabetical"`` for characters, the
            char-rnn convention); tokenizer: the tokenizer used.

    Feed ``train`` to :func:`~nnatlas.data.text.batching.lm_stream_batches` (stateful TBPTT) or
    :func:`~nnatlas.data.text.batching.lm_windows` (independent windows).
    """

    name: str
    train: torch.Tensor
    val: torch.Tensor
    vocab: Vocab
    tokenizer: Tokenizer

    def encode(self, text: str) -> torch.Tensor:
        """Text -> ids (unknown tokens -> <unk>). Shape: (L,)."""
        return torch.tensor(self.vocab.encode(self.tokenizer(text)), dtype=torch.int64)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """Ids -> text (characters joined as they are, words with spaces)."""
        sep = "" if isinstance(self.tokenizer, CharTokenizer) else " "
        return sep.join(self.vocab.decode(ids, skip_specials=True))


def load_lm_corpus(
    name: str,
    root: str | Path | None = None,
    *,
    tokenizer: str | Tokenizer = "char",
    val_fraction: float = 0.1,
    min_freq: int = 1,
    max_size: int | None = None,
    vocab: Vocab | None = None,
    **options: Any,
) -> LMCorpus:
    """Load a corpus (``"tinyshakespeare"``, ``"text:PATH"``), split it and encode it.

    Args:
        name: catalog name.
        root: a local folder holding the file.
        tokenizer: ``"char"`` (default; case and punctuation kept) or ``"word"`` (lower-cased,
            punctuation split) or a callable.
        val_fraction: the contiguous tail held out for validation.
        min_freq, max_size: vocabulary limits (rarer tokens become ``<unk>``).
        vocab: reuse a vocabulary (e.g. a trained run's) instead of building one.
        **options: for the raw loader, e.g. ``errors="replace"``.

    Returns:
        :class:`LMCorpus`.
    """
    train_text, val_text = split_corpus(load_text_corpus(name, root, **options), val_fraction)
    tok = get_tokenizer(tokenizer)
    train_tokens = tok(train_text)
    if vocab is None:
        order = "alphabetical" if isinstance(tok, CharTokenizer) else "frequency"
        vocab = Vocab.build([train_tokens], min_freq=min_freq, max_size=max_size, order=order)
    train = torch.tensor(vocab.encode(train_tokens), dtype=torch.int64)  # (L_train,)
    val = torch.tensor(vocab.encode(tok(val_text)), dtype=torch.int64)  # (L_val,)
    return LMCorpus(name, train, val, vocab, tok)
