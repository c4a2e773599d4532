"""Sentence pairs for sequence-to-sequence models: load, tokenize, build two vocabularies, encode.

    >>> data = encode_pairs(load_translation_pairs("dates"), tokenizer="char")
    >>> src, src_lengths, tgt_in, tgt_out = next(iter(data.train.loader(64)))

The pair datasets themselves (``multi30k``, ``pairs:PATH``, ``dates``) are in
:mod:`nnatlas.data.text.datasets`; single texts (classification, corpora) in
:mod:`nnatlas.data.text.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnatlas.data.text.batching import collate_pairs
from nnatlas.data.text.pipeline import _load_raw, _make_loader, _truncate
from nnatlas.data.text.readers import PairSplits
from nnatlas.data.text.tokenize import (
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    detokenize,
    get_tokenizer,
)
from nnatlas.data.text.vocab import EOS_ID, Vocab


def load_translation_pairs(name: str, root: str | Path | None = None, **options: Any) -> PairSplits:
    """Sentence pairs of a translation task: ``"multi30k"``, ``"pairs:PATH"``, ``"dates"``.

    Args:
        name: catalog name.
        root: a local folder holding the files.
        **options: per dataset: ``multi30k``: ``src="en", tgt="de"``; ``pairs:``:
            ``val_fraction=0.1, test_fraction=0.1, seed=0, src_column=0, tgt_column=1``;
            ``dates``: ``n_train, n_val, n_test, seed, formats``.
    """
    return _load_raw(name, root, options, PairSplits)


class EncodedPairs(torch.utils.data.Dataset):
    """Encoded sentence pairs: ``ds[i] -> (src ids (S_i,), tgt ids (T_i,))``, no <bos>/<eos>
    (:func:`~nnatlas.data.text.batching.collate_pairs` adds them when batching).

    Attributes:
        src, tgt: one int64 tensor per pair, truncated to ``max_len``.
        pairs: the raw ``(source, target)`` strings (references for evaluation).
    """

    def __init__(self, src: list[torch.Tensor], tgt: list[torch.Tensor], pairs: list) -> None:
        self.src, self.tgt, self.pairs = src, tgt, pairs
        self.src_lengths = torch.tensor([len(s) for s in src], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.src[index], self.tgt[index]

    def loader(
        self, batch_size: int = 64, shuffle: bool = True, bucket: bool = True, seed: int = 0,
        drop_last: bool = False,
    ) -> torch.utils.data.DataLoader:  # fmt: skip
        """A ``DataLoader`` yielding ``(src (N, S), src_lengths (N,), tgt_in (N, T), tgt_out
        (N, T))``, bucketed by source length by default (see :func:`collate_pairs`)."""
        return _make_loader(
            self, self.src_lengths, collate_pairs, batch_size, shuffle, bucket, seed, drop_last
        )


@dataclass
class TranslationData:
    """Encoded translation splits with one vocabulary per side.

    Attributes:
        train, val, test: :class:`EncodedPairs`.
        src_vocab, tgt_vocab: built on the training pairs only.
        tokenizer: applied to both sides.
        max_len: tokens kept per side; ``truncated``: pairs cut per split.
        src_lang, tgt_lang: the sides' names (``"en"``, ``"de"``), from the pairs.
    """

    name: str
    train: EncodedPairs
    val: EncodedPairs
    test: EncodedPairs
    src_vocab: Vocab
    tgt_vocab: Vocab
    tokenizer: Tokenizer
    max_len: int
    truncated: dict[str, int]
    src_lang: str = "src"
    tgt_lang: str = "tgt"

    def encode_source(self, text: str) -> torch.Tensor:
        """Encode a new source sentence like the training data. Shape: (S,)."""
        return _truncate(self.src_vocab.encode(self.tokenizer(text)), self.max_len, "post")

    def decode_target(self, ids: torch.Tensor | list[int]) -> str:
        """Target ids -> text, stopping at <eos> and skipping reserved tokens."""
        return decode_until_eos(ids, self.tgt_vocab, self.tokenizer)


def decode_until_eos(ids: torch.Tensor | list[int], vocab: Vocab, tokenizer: Tokenizer) -> str:
    """Decoder output ids -> text: stop at <eos>, skip reserved tokens, join characters as they
    are and words as running text (punctuation against its word, :func:`detokenize`) where the
    tokenizer split punctuation off, else with spaces."""
    tokens = []
    for i in ids:
        if int(i) == EOS_ID:
            break
        tokens.append(int(i))
    words = vocab.decode(tokens, skip_specials=True)
    if isinstance(tokenizer, CharTokenizer):
        return "".join(words)
    if isinstance(tokenizer, WordTokenizer) and tokenizer.punctuation == "split":
        return detokenize(words)
    return " ".join(words)


def encode_pairs(
    pairs: PairSplits,
    tokenizer: str | Tokenizer = "word",
    lower: bool = True,
    punctuation: str = "split",
    min_freq: int = 1,
    max_size: int | None = None,
    max_len: int = 50,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
) -> TranslationData:
    """Tokenize sentence pairs and build source and target vocabularies (train split only).

    Args:
        pairs: from :func:`load_translation_pairs`.
        tokenizer: ``"word"`` (Multi30k, Tatoeba) or ``"char"`` (``dates``), or a callable;
            ``lower`` / ``punctuation`` configure ``"word"`` only; ``"char"`` keeps every
            character as written (dates keep their capitals, so the model learns both cases).
        min_freq, max_size: vocabulary limits, per side.
        max_len: keep at most this many tokens per side (longer pairs are cut at the end; how
            many were is in ``truncated``).
        src_vocab, tgt_vocab: reuse vocabularies (e.g. a trained run's) instead of building.

    Returns:
        :class:`TranslationData`.
    """
    options = {"lower": lower, "punctuation": punctuation} if tokenizer == "word" else {}
    tok = get_tokenizer(tokenizer, **options)
    sides = {name: getattr(pairs, name) for name in ("train", "val", "test")}
    tokens = {
        name: ([tok(s) for s, _ in split], [tok(t) for _, t in split])
        for name, split in sides.items()
    }
    if src_vocab is None:
        src_vocab = Vocab.build(tokens["train"][0], min_freq=min_freq, max_size=max_size)
    if tgt_vocab is None:
        tgt_vocab = Vocab.build(tokens["train"][1], min_freq=min_freq, max_size=max_size)
    encoded, truncated = {}, {}
    for name, (src_tokens, tgt_tokens) in tokens.items():
        src = [_truncate(src_vocab.encode(t), max_len, "post") for t in src_tokens]
        tgt = [_truncate(tgt_vocab.encode(t), max_len, "post") for t in tgt_tokens]
        encoded[name] = EncodedPairs(src, tgt, sides[name])
        truncated[name] = sum(
            len(s) > max_len or len(t) > max_len
            for s, t in zip(src_tokens, tgt_tokens, strict=True)
        )
    return TranslationData(
        pairs.name, encoded["train"], encoded["val"], encoded["test"], src_vocab, tgt_vocab, tok,
        max_len, truncated, pairs.src_lang, pairs.tgt_lang,
    )  # fmt: skip
