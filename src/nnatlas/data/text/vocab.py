"""Vocabulary: the bijection between tokens and the integer ids an ``Embedding`` looks up.

Reserved ids come first and never move, so models, checkpoints and padding code can rely on them:
``<pad>=0`` (what :func:`nnatlas.data.text.batching.truncate_pad` fills with, and the
``padding_idx`` of ``torch.nn.Embedding``), ``<unk>=1`` (every token not in the vocabulary),
``<bos>=2`` and ``<eos>=3`` (sequence start/end for language models and seq2seq).

    >>> v = Vocab.build([["a", "b", "a"], ["c"]], min_freq=2)
    >>> v.encode(["a", "b", "zzz"])
    [4, 1, 1]
    >>> v.decode([4, 1])
    ['a', '<unk>']
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

_FORMAT = "nnatlas.vocab"
_VERSION = 1


class Vocab:
    """Token <-> id mapping with reserved special tokens first.

    Build one with :meth:`build` (counts tokens, applies ``min_freq`` / ``max_size``); the
    constructor takes a ready ordered token list.

    Args:
        tokens: the ordinary tokens in id order (ids start after the specials).
        specials: reserved tokens, given ids ``0 .. len(specials) - 1``. If ``"<unk>"`` is among
            them, unknown tokens encode to it; otherwise encoding an unknown token raises.
        counts: optional token frequencies (kept for diagnostics and saved with the vocab).
    """

    def __init__(
        self,
        tokens: Iterable[str],
        specials: Sequence[str] = SPECIALS,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self.specials: tuple[str, ...] = tuple(specials)
        if len(set(self.specials)) != len(self.specials):
            raise ValueError(f"Vocab: specials {list(self.specials)} contain a duplicate")
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.specials)}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(token).__name__} {token!r}")
            if token in self.stoi:
                if token in self.specials:
                    continue  # a reserved token met again among the ordinary ones keeps its id
                raise ValueError(f"Vocab: token {token!r} appears twice in the token list")
            self.stoi[token] = len(self.stoi)
        self.itos: list[str] = list(self.stoi)
        self.counts: dict[str, int] = dict(counts) if counts is not None else {}
        self.unk_id: int | None = self.stoi.get(UNK)
        self.pad_id: int | None = self.stoi.get(PAD)

    @classmethod
    def build(
        cls,
        data: Iterable[Iterable[str]] | Mapping[str, int],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
        order: str = "frequency",
    ) -> Vocab:
        """Count tokens and keep the frequent ones.

        Args:
            data: an iterable of token lists (one per document; a plain string counts as a list
                of characters), or a ready ``Counter`` / mapping token -> count.
            min_freq: keep tokens seen at least this many times (rarer ones become ``<unk>``).
            max_size: at most this many entries IN TOTAL, specials included, so it is exactly the
                ``num_embeddings`` of the embedding table; the most frequent tokens win.
                ``None``: no limit.
            specials: reserved tokens placed first (default ``<pad> <unk> <bos> <eos>``).
            order: ``"frequency"`` (most frequent first, ties alphabetical, so the result does
                not depend on the order documents were read) or ``"alphabetical"`` (the
                char-RNN habit of ``sorted(set(text))``; ``max_size`` still keeps the most
                frequent tokens).

        Returns:
            The vocabulary.
        """
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(specials):
            raise ValueError(
                f"Vocab.build: max_size={max_size} leaves no room for the {len(specials)} "
                f"reserved tokens {list(specials)}; max_size counts them, so use at least "
                f"{len(specials)}"
            )
        if order not in ("frequency", "alphabetical"):
            raise ValueError(
                f"Vocab.build: order must be 'frequency' or 'alphabetical', got {order!r}"
            )
        counter = Counter(data) if isinstance(data, Mapping) else count_tokens(data)
        reserved = set(specials)
        kept = [(t, c) for t, c in counter.items() if c >= min_freq and t not in reserved]
        kept.sort(key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        tokens = [t for t, _ in kept]
        if order == "alphabetical":
            tokens.sort()
        return cls(tokens, specials=specials, counts=dict(counter))

    def extended(self, words: Iterable[str]) -> Vocab:
        """A copy with ``words`` it lacks appended, in their order (ids after the current
        ones, so every id of this vocabulary keeps its token). The counts stay those of
        training: an added word counts 0.

        Used to give the words of pretrained vectors a row even where the training texts never
        show them (``--vectors-vocab``).
        """
        ordinary = self.itos[len(self.specials) :]
        added = [w for w in dict.fromkeys(words) if w not in self.stoi]
        return type(self)([*ordinary, *added], specials=self.specials, counts=self.counts)

    # --- lookups -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Id of ``token``; ``<unk>``'s id for unknown tokens (KeyError when there is no <unk>)."""
        index = self.stoi.get(token, self.unk_id)
        if index is None:
            raise KeyError(
                f"Vocab: token {token!r} is not in the vocabulary and it has no '<unk>' token; "
                "build it with '<unk>' among the specials to map unknown tokens"
            )
        return index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.itos, self.specials) == (
            other.itos,
            other.specials,
        )

    def __repr__(self) -> str:
        preview = ", ".join(repr(t) for t in self.itos[len(self.specials) : len(self.specials) + 8])
        return f"Vocab(size={len(self)}, specials={list(self.specials)}, tokens=[{preview}, ...])"

    def encode(
        self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Map tokens to ids (unknown -> ``<unk>``), optionally framed by ``<bos>`` / ``<eos>``."""
        ids = [self[t] for t in tokens]
        if add_bos:
            ids.insert(0, self._special_id(BOS))
        if add_eos:
            ids.append(self._special_id(EOS))
        return ids

    def decode(self, ids: Iterable[int], skip_specials: bool = False) -> list[str]:
        """Map ids back to tokens. ``skip_specials`` drops reserved tokens (padding, <bos>...).

        ``decode(encode(tokens)) == tokens`` for tokens in the vocabulary. Accepts a list or a
        1-D tensor / array of ids.
        """
        n_special = len(self.specials)
        out = []
        for raw in ids:
            i = int(raw)
            if not 0 <= i < len(self.itos):
                raise IndexError(
                    f"Vocab.decode: id {i} out of range for a vocabulary of size {len(self)}"
                )
            if skip_specials and i < n_special:
                continue
            out.append(self.itos[i])
        return out

    def _special_id(self, token: str) -> int:
        if token not in self.stoi:
            raise KeyError(
                f"Vocab: this vocabulary has no {token!r} token (specials: {list(self.specials)})"
            )
        return self.stoi[token]

    # --- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "specials": list(self.specials),
            "itos": self.itos,
            "counts": self.counts,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (a crash never leaves a half-written file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, indent=0)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"Vocab.load: {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"Vocab.load: {path} is not a JSON vocabulary file ({err})") from err
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "the vocabulary") -> Vocab:
        """Rebuild a vocabulary from :meth:`to_dict`'s output (``source`` names it in errors)."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(
                f"Vocab.load: {source} is not an nnatlas vocabulary (expected a JSON object "
                f'with "format": "{_FORMAT}"); write one with Vocab.save'
            )
        if data.get("version") != _VERSION:
            raise ValueError(
                f"Vocab.load: {source} has version {data.get('version')}, expected {_VERSION}"
            )
        specials = data.get("specials")
        itos = data.get("itos")
        if not isinstance(specials, list) or not isinstance(itos, list):
            raise ValueError(
                f"Vocab.load: {source} is corrupt: 'specials' and 'itos' must be lists"
            )
        if itos[: len(specials)] != specials:
            raise ValueError(
                f"Vocab.load: {source} is corrupt: 'itos' does not start with the specials"
            )
        return cls(itos[len(specials) :], specials=specials, counts=data.get("counts") or {})


def count_tokens(token_lists: Iterable[Iterable[str]]) -> Counter[str]:
    """Count tokens over documents; a plain string is counted character by character."""
    counter: Counter[str] = Counter()
    for tokens in token_lists:
        counter.update(tokens)
    return counter


# --- diagnostics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """One vocabulary setting and what it keeps.

    Attributes:
        min_freq, max_size: the :meth:`Vocab.build` arguments.
        vocab_size: entries, specials included (the embedding table's rows).
        types_kept: share of distinct training tokens that made it in.
        coverage: share of training token occurrences that are in the vocabulary.
        oov_rate: share of evaluation token occurrences that become ``<unk>`` (measured on the
            training tokens themselves, i.e. ``1 - coverage``, when no evaluation set is given).
    """

    min_freq: int
    max_size: int | None
    vocab_size: int
    types_kept: float
    coverage: float
    oov_rate: float


@dataclass(frozen=True)
class CoverageTable:
    """Rows of :func:`vocab_coverage_table`; ``print(table)`` shows them aligned."""

    rows: tuple[CoverageRow, ...]
    num_tokens: int
    num_types: int
    measured_on: str

    def __str__(self) -> str:
        lines = [
            f"{self.num_tokens:,} training tokens, {self.num_types:,} distinct; "
            f"OOV rate measured on {self.measured_on}",
            f"{'min_freq':>8} {'max_size':>9} {'vocab':>8} {'types kept':>11} "
            f"{'coverage':>9} {'OOV rate':>9}",
        ]
        for r in self.rows:
            size = "-" if r.max_size is None else f"{r.max_size:,}"
            lines.append(
                f"{r.min_freq:>8} {size:>9} {r.vocab_size:>8,} {r.types_kept:>11.1%} "
                f"{r.coverage:>9.2%} {r.oov_rate:>9.2%}"
            )
        return "\n".join(lines)


def vocab_coverage_table(
    token_lists: Iterable[Iterable[str]],
    min_freqs: Sequence[int] = (1, 2, 5, 10),
    max_sizes: Sequence[int | None] = (None,),
    eval_token_lists: Iterable[Iterable[str]] | None = None,
    specials: Sequence[str] = SPECIALS,
) -> CoverageTable:
    """How much text each ``min_freq`` x ``max_size`` setting covers, and the OOV rate it causes.

    The numbers are exactly what :meth:`Vocab.build` with the same arguments would give (tokens
    kept by frequency, ties alphabetical), computed from one count, not by building each vocab.

    Args:
        token_lists: the training documents, tokenized.
        min_freqs, max_sizes: the grid of settings (``None`` in ``max_sizes``: no limit).
        eval_token_lists: held-out documents to measure the OOV rate on (the honest number:
            on the training set itself every token was seen at least once).
        specials: the reserved tokens (count toward ``max_size``).

    Returns:
        A :class:`CoverageTable`; ``print`` it.
    """
    counter = count_tokens(token_lists)
    reserved = set(specials)
    ranked = sorted(
        ((t, c) for t, c in counter.items() if t not in reserved), key=lambda tc: (-tc[1], tc[0])
    )
    total = sum(counter.values())
    train_in_specials = sum(counter.get(t, 0) for t in reserved)
    # Frequency-sorted, so the tokens kept by any (min_freq, max_size) are a prefix of `ranked`:
    # cumulative sums give each setting's coverage in O(1).
    cum_train = [0]
    for _, c in ranked:
        cum_train.append(cum_train[-1] + c)
    if eval_token_lists is not None:
        eval_counter = count_tokens(eval_token_lists)
        eval_total = sum(eval_counter.values())
        cum_eval = [0]
        for t, _ in ranked:
            cum_eval.append(cum_eval[-1] + eval_counter.get(t, 0))
        eval_in_specials = sum(eval_counter.get(t, 0) for t in reserved)
    rows = []
    for max_size in max_sizes:
        for min_freq in min_freqs:
            k = sum(1 for _, c in ranked if c >= min_freq)
            if max_size is not None:
                k = min(k, max(0, max_size - len(specials)))
            coverage = (cum_train[k] + train_in_specials) / total if total else 0.0
            if eval_token_lists is not None:
                known = cum_eval[k] + eval_in_specials
                oov = 1.0 - known / eval_total if eval_total else 0.0
            else:
                oov = 1.0 - coverage
            rows.append(
                CoverageRow(
                    min_freq=min_freq,
                    max_size=max_size,
                    vocab_size=k + len(specials),
                    types_kept=k / len(ranked) if ranked else 0.0,
                    coverage=coverage,
                    oov_rate=oov,
                )
            )
    where = "the held-out documents" if eval_token_lists is not None else "the training tokens"
    return CoverageTable(tuple(rows), total, len(ranked), where)
