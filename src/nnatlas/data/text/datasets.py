"""The text and sequence datasets of the catalog: names, files, sources and raw loaders.

Named datasets (``nnatlas data list``):
    text (classification): ``imdb``, ``sst2``, ``mr``, ``csv:PATH``
    text (corpus):         ``tinyshakespeare``, ``text:PATH``
    pairs:                 ``multi30k``, ``pairs:PATH``, ``dates``
    sequence:              ``adding``, ``copy``

The raw loaders (``nnatlas.data.load(name)``) return a
:class:`~nnatlas.data.text.readers.RawTextClassification`, a ``str``, a
:class:`~nnatlas.data.text.readers.PairSplits` or a
:class:`~nnatlas.data.text.synthetic.SequenceSplits`.
:mod:`nnatlas.data.text.pipeline` (``load_text_classification``, ``load_text_corpus``) and
:mod:`nnatlas.data.text.translation` (``load_translation_pairs``, ``encode_pairs``) turn them into
tensors; all are exported by :mod:`nnatlas.data`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nnatlas.data.catalog import (
    DataNotFoundError,
    DatasetError,
    DatasetSpec,
    RemoteFile,
    cache_source,
    fetch,
    find_file,
    register_dataset,
    register_family,
    shared_source,
    system_source,
    url_source,
)
from nnatlas.data.images.splits import Split
from nnatlas.data.text.readers import (
    PairSplits,
    RawTextClassification,
    read_aclimdb_split,
    read_glue_tsv,
    read_labeled_csv,
    read_pairs,
    read_parallel,
    read_rt_polarity,
    read_text,
)
from nnatlas.data.text.synthetic import SequenceSplits, adding_problem, copy_task, date_pairs

# ======================================================================== catalog: corpora

_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
_SHAKESPEARE_SHA = "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def _load_tinyshakespeare(spec: DatasetSpec, root: Path | None, errors: str = "strict") -> str:
    return read_text(fetch(spec, root) / "input.txt", errors=errors)


register_dataset(
    DatasetSpec(
        name="tinyshakespeare",
        kind="text",
        task="language_modeling",
        description="Tiny Shakespeare: 1,115,394 characters (65 distinct) for character LMs",
        sources=[
            cache_source(),
            shared_source("tinyshakespeare"),
            url_source(RemoteFile("input.txt", _SHAKESPEARE_URL, _SHAKESPEARE_SHA)),
        ],
        files=("input.txt",),
        loader=_load_tinyshakespeare,
        citation="Karpathy, char-rnn (2015), data/tinyshakespeare/input.txt",
        license="public domain text (char-rnn repository: MIT)",
        sizes={"chars": 1_115_394, "distinct_chars": 65},
        manual=f"download {_SHAKESPEARE_URL} into $NNATLAS_DATA/tinyshakespeare/input.txt",
    )
)


def _user_file(spec: DatasetSpec, root: Path | None, file: Path) -> Path:
    """The file a ``prefix:PATH`` family member reads: ``PATH``, or ``root``'s copy when given.

    (Its spec lists ``PATH``'s folder as a system source too, so that ``nnatlas data info`` and
    ``get`` report the file; loading reads it directly, whatever NNATLAS_NO_SYSTEM_DATA says.)
    """
    target = root / file.name if root is not None and root.is_dir() else (root or file)
    if not target.is_file():
        raise DataNotFoundError(spec.name, [(str(target), "no such file")])
    return target


def _text_file_spec(path: str) -> DatasetSpec:
    file = Path(path).expanduser()

    def load(
        spec: DatasetSpec, root: Path | None, encoding: str = "utf-8", errors: str = "strict"
    ) -> str:
        target = _user_file(spec, root, file)
        text = read_text(target, encoding=encoding, errors=errors)
        if not text.strip():
            raise DatasetError(f"{target}: the file is empty; a corpus needs some text")
        return text

    return DatasetSpec(
        name=f"text:{path}", kind="text", argument=path,
        description="any text file (UTF-8 unless --encoding says otherwise)",
        task="language_modeling",
        sources=[system_source(file.absolute().parent)], files=(file.name,), loader=load,
    )  # fmt: skip


register_family(
    "text",
    _text_file_spec,
    kind="text",
    description="a UTF-8 text file as a corpus (LM training)",
    task="language_modeling",
)

# ======================================================================== catalog: classification

_IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


def _load_imdb(
    spec: DatasetSpec, root: Path | None, errors: str = "strict"
) -> RawTextClassification:
    folder = fetch(spec, root)
    base = folder / "aclImdb" if (folder / "aclImdb" / "train").is_dir() else folder
    return RawTextClassification(
        name=spec.name,
        classes=["neg", "pos"],
        train=read_aclimdb_split(base / "train", errors),
        test=read_aclimdb_split(base / "test", errors),
        source=str(base),
    )


register_dataset(
    DatasetSpec(
        name="imdb",
        kind="text",
        task="text_classification",
        description="IMDB movie reviews (Maas et al. 2011): 25,000 train / 25,000 test, pos/neg",
        sources=[
            cache_source(),
            # torchtext's and pooch's published checksum of the archive (md5 is all upstream gives)
            url_source(
                RemoteFile(
                    "aclImdb_v1.tar.gz", _IMDB_URL, "md5:7c2ac02c03563afcf9b574c7e56c153a", True
                )
            ),
        ],
        files=tuple(f"{s}/{c}|aclImdb/{s}/{c}" for s in ("train", "test") for c in ("pos", "neg")),
        loader=_load_imdb,
        citation="Maas et al., Learning Word Vectors for Sentiment Analysis, ACL 2011",
        license="research use (see the dataset README)",
        sizes={"train": 25_000, "test": 25_000},
        manual=f"download {_IMDB_URL} and extract it into $NNATLAS_DATA/imdb/",
    )
)

_SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
_SST2_FILES = ("train.tsv|SST-2/train.tsv", "dev.tsv|SST-2/dev.tsv")


def _load_sst2(
    spec: DatasetSpec, root: Path | None, errors: str = "strict"
) -> RawTextClassification:
    folder = fetch(spec, root)
    train, dev = (find_file(folder, entry) for entry in _SST2_FILES)
    return RawTextClassification(
        name=spec.name,
        classes=["negative", "positive"],
        train=read_glue_tsv(train, num_classes=2, errors=errors),
        test=read_glue_tsv(dev, num_classes=2, errors=errors),  # GLUE's test labels are hidden
        source=str(train.parent),
        phrases=True,  # train's examples are the phrases of its sentences, dev's whole ones
    )


register_dataset(
    DatasetSpec(
        name="sst2",
        kind="text",
        task="text_classification",
        description="SST-2 (GLUE) sentence sentiment: 67,349 train phrases of 6,885 sentences "
        "(validation holds out whole sentences), 872 dev sentences",
        sources=[
            cache_source(),
            shared_source("sst2"),
            # torchtext's published checksum of the GLUE archive
            url_source(
                RemoteFile("SST-2.zip", _SST2_URL, "md5:9f81648d4199384278b86e315dac217c", True)
            ),
        ],
        files=_SST2_FILES,
        loader=_load_sst2,
        citation="Socher et al., Recursive Deep Models for Semantic Compositionality, EMNLP 2013; "
        "Wang et al., GLUE, 2018",
        license="see the GLUE and SST websites; cite the papers",
        sizes={"train": 67_349, "dev": 872},
        manual=f"download {_SST2_URL} and unzip it into $NNATLAS_DATA/sst2/",
    )
)

_MR_URL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
_MR_FILES = (
    "rt-polarity.pos|rt-polaritydata/rt-polarity.pos",
    "rt-polarity.neg|rt-polaritydata/rt-polarity.neg",
)


def _load_mr(
    spec: DatasetSpec, root: Path | None, errors: str = "strict", encoding: str = "latin-1"
) -> RawTextClassification:
    folder = fetch(spec, root)
    base = find_file(folder, _MR_FILES[0]).parent
    train = read_rt_polarity(base, encoding=encoding, errors=errors)
    return RawTextClassification(spec.name, ["negative", "positive"], train, source=str(base))


register_dataset(
    DatasetSpec(
        name="mr",
        kind="text",
        task="text_classification",
        description="Movie Review sentence polarity v1.0 (Pang & Lee 2005): 5,331 pos + 5,331 neg",
        sources=[
            cache_source(),
            # No checksum is published for this archive; the download is reported unverified.
            url_source(RemoteFile("rt-polaritydata.tar.gz", _MR_URL, None, extract=True)),
        ],
        files=_MR_FILES,
        loader=_load_mr,
        citation="Pang & Lee, Seeing stars, ACL 2005",
        license="research use (see the dataset README)",
        sizes={"all": 10_662},
        manual=f"download {_MR_URL} and extract it into $NNATLAS_DATA/mr/",
    )
)


def _csv_spec(path: str) -> DatasetSpec:
    file = Path(path).expanduser()

    def load(
        spec: DatasetSpec,
        root: Path | None,
        text_column: str = "text",
        label_column: str = "label",
        classes: list[str] | None = None,
        delimiter: str | None = None,
        encoding: str = "utf-8",
        errors: str = "strict",
    ) -> RawTextClassification:
        target = _user_file(spec, root, file)
        texts, classes = read_labeled_csv(
            target, text_column, label_column, classes, delimiter, encoding, errors
        )
        return RawTextClassification(spec.name, classes, texts, source=str(target))

    return DatasetSpec(
        name=f"csv:{path}", kind="text", argument=path, loader=load, task="text_classification",
        sources=[system_source(file.absolute().parent)], files=(file.name,),
        description="a CSV/TSV with a header; --text-column, --label-column, --encoding",
    )  # fmt: skip


register_family(
    "csv",
    _csv_spec,
    kind="text",
    description="labeled texts in a CSV/TSV file (text, label columns)",
    task="text_classification",
)

# ======================================================================== catalog: pairs

# The official repository, pinned to the commit whose files ../shared/data/multi30k holds.
_M30K_BASE = (
    "https://raw.githubusercontent.com/multi30k/dataset/"
    "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
)
_M30K_SHA = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}
_M30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}
_M30K_LANGS = ("en", "de")


def _load_multi30k(
    spec: DatasetSpec, root: Path | None, src: str = "en", tgt: str = "de", errors: str = "strict"
) -> PairSplits:
    if src not in _M30K_LANGS or tgt not in _M30K_LANGS or src == tgt:
        raise DatasetError(
            f"multi30k: src and tgt must be two different languages of {_M30K_LANGS}, got "
            f"{src!r} -> {tgt!r}"
        )
    folder = fetch(spec, root)
    splits = {}
    for split, stem in _M30K_SPLITS.items():
        paths = [find_file(folder, f"{stem}.{lang}.gz|{stem}.{lang}") for lang in (src, tgt)]
        splits[split] = read_parallel(*paths, errors=errors)
    return PairSplits(spec.name, **splits, src_lang=src, tgt_lang=tgt, source=str(folder))


register_dataset(
    DatasetSpec(
        name="multi30k",
        kind="pairs",
        description="Multi30k task 1 en-de captions: 29,000 train / 1,014 val / 1,000 test",
        sources=[
            cache_source(),
            shared_source("multi30k"),
            url_source(
                *(RemoteFile(f, _M30K_BASE + f, f"sha256:{h}") for f, h in _M30K_SHA.items())
            ),
        ],
        files=tuple(f"{f}|{f[:-3]}" for f in _M30K_SHA),
        loader=_load_multi30k,
        citation="Elliott et al., Multi30K: Multilingual English-German Image Descriptions, 2016",
        license="research use (Flickr30k terms); cite the paper",
        sizes={"train": 29_000, "val": 1_014, "test": 1_000},
        manual=f"download {', '.join(_M30K_SHA)} from {_M30K_BASE} into $NNATLAS_DATA/multi30k/",
    )
)


def _split_pairs(
    pairs: list[tuple[str, str]], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[tuple[str, str]], ...]:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "and leave some training pairs"
        )
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = int(round(test_fraction * len(pairs)))
    n_val = int(round(val_fraction * len(pairs)))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return tuple([pairs[i] for i in sorted(idx)] for idx in (train, val, test))


def _pairs_spec(path: str) -> DatasetSpec:
    file = Path(path).expanduser()

    def load(
        spec: DatasetSpec,
        root: Path | None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        src_column: int = 0,
        tgt_column: int = 1,
        encoding: str = "utf-8",
        errors: str = "strict",
    ) -> PairSplits:
        target = _user_file(spec, root, file)
        pairs = read_pairs(target, src_column, tgt_column, encoding=encoding, errors=errors)
        train, val, test = _split_pairs(pairs, val_fraction, test_fraction, seed)
        return PairSplits(spec.name, train, val, test, "src", "tgt", source=str(target))

    return DatasetSpec(
        name=f"pairs:{path}", kind="pairs", argument=path, loader=load,
        sources=[system_source(file.absolute().parent)], files=(file.name,),
        description="tab-separated sentence pairs (Tatoeba / manythings.org Anki format)",
    )  # fmt: skip


register_family(
    "pairs", _pairs_spec, kind="pairs",
    description="tab-separated sentence pairs, e.g. manythings.org fra.txt (extra columns ignored)",
)  # fmt: skip


def _load_dates(
    spec: DatasetSpec,
    root: Path | None,
    n_train: int = 20_000,
    n_val: int = 2_000,
    n_test: int = 2_000,
    seed: int = 0,
    formats: tuple[str, ...] | None = None,
) -> PairSplits:
    pairs = date_pairs(n_train + n_val + n_test, seed=seed, formats=formats)
    return PairSplits(
        spec.name,
        pairs[:n_train],
        pairs[n_train : n_train + n_val],
        pairs[n_train + n_val :],
        "date",
        "iso",
        source=f"generated (seed {seed})",
    )


register_dataset(
    DatasetSpec(
        name="dates",
        kind="pairs",
        sources=[],
        license="generated",
        loader=_load_dates,
        description="generated dates to ISO 8601 ('september 27, 1994' -> '1994-09-27')",
    )  # fmt: skip
)

# ======================================================================== catalog: sequence tasks


def _sequence_loader(
    generate: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    baseline: Callable[..., float],
) -> Callable[..., SequenceSplits]:
    def load(
        spec: DatasetSpec,
        root: Path | None,
        length: int = 50,
        n_train: int = 10_000,
        n_val: int = 1_000,
        n_test: int = 1_000,
        seed: int = 0,
        **task: Any,
    ) -> SequenceSplits:
        # Each split has its own seed derived from `seed`, so changing n_val or n_test never
        # changes the training set, and the splits are independent draws.
        seeds = torch.randint(0, 2**62, (3,), generator=torch.Generator().manual_seed(seed))
        sizes = (n_train, n_val, n_test)
        parts = [
            Split(*generate(n, length, seed=int(s), **task))
            for n, s in zip(sizes, seeds, strict=True)
        ]
        info = {"length": length, "seed": seed, **task, "baseline": baseline(length, **task)}
        return SequenceSplits(spec.name, *parts, task=info)

    return load


def _copy_baseline(length: int, copy_len: int = 10, n_symbols: int = 8) -> float:
    return copy_len * math.log(n_symbols) / (length + 2 * copy_len)


register_dataset(
    DatasetSpec(
        name="adding",
        kind="sequence",
        sources=[],
        license="generated",
        loader=_sequence_loader(adding_problem, lambda length: 1 / 6),
        description="adding problem (Hochreiter 1997): sum two marked values of a length-T "
        "sequence; x (N, T, 2), y (N,)",
        citation="Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015 (arXiv 1504.00941)",
    )  # fmt: skip
)
register_dataset(
    DatasetSpec(
        name="copy",
        kind="sequence",
        sources=[],
        license="generated",
        loader=_sequence_loader(copy_task, _copy_baseline),
        description="copy-memory task (Arjovsky 2016): recall 10 symbols after T blanks; "
        "x, y (N, T + 20) int64",
        citation="Arjovsky, Shah & Bengio 2016 (arXiv 1511.06464)",
    )  # fmt: skip
)
