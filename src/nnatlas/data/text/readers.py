"""Readers for the standard on-disk text formats, returning plain Python strings and ints.

Every reader validates as it reads and raises :class:`~nnatlas.data.catalog.DatasetError` naming
the file and the line, so a wrong encoding, a stray label or an empty download fails at load time
with a message that says what to do, not deep inside training.

Formats:
    aclImdb (IMDB reviews): ``{train,test}/{pos,neg}/<id>_<stars>.txt``, one review per file.
    GLUE TSV (SST-2): a header (``sentence\\tlabel``; some copies say ``text\\tlabel``), then
        ``sentence<TAB>label`` rows; columns are read by position.
    rt-polarity (MR, Pang & Lee 2005): ``rt-polarity.pos`` / ``rt-polarity.neg``, one sentence
        per line, latin-1.
    CSV/TSV with a header: text and label columns named by the caller.
    Parallel files (Multi30k): ``<split>.<lang>`` or ``<split>.<lang>.gz``, line i of one
        language translates line i of the other.
    Sentence pairs (Tatoeba / manythings.org Anki): ``source<TAB>target[<TAB>attribution]``.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

from nnatlas.data.catalog import DatasetError

Pair = tuple[str, str]


@dataclass
class LabeledTexts:
    """Texts with integer labels (one split of a classification dataset)."""

    texts: list[str]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"LabeledTexts: {len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> LabeledTexts:
        return LabeledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@dataclass
class RawTextClassification:
    """A text classification dataset as read from disk: what the catalog's loaders return.

    Attributes:
        name: catalog name.
        classes: class names, ``classes[label]``.
        train: the training texts.
        val, test: the given held-out splits, or ``None`` when the dataset has none
            (:func:`nnatlas.data.text.pipeline.load_text_classification` carves them from train).
        source: where the files were read from.
        phrases: train holds the phrases of its sentences (SST): a validation split carved
            from it holds out whole sentences (:mod:`nnatlas.data.text.phrases`).
    """

    name: str
    classes: list[str]
    train: LabeledTexts
    val: LabeledTexts | None = None
    test: LabeledTexts | None = None
    source: str = ""
    phrases: bool = False


@dataclass
class PairSplits:
    """Sentence pairs (source, target) for translation-style tasks.

    Attributes:
        train, val, test: lists of ``(source, target)`` string pairs.
        src_lang, tgt_lang: language codes (``"en"``, ``"de"``) or task sides (``"date"``).
    """

    name: str
    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    src_lang: str = "src"
    tgt_lang: str = "tgt"
    source: str = ""

    def reversed(self) -> PairSplits:
        """The same pairs the other way round: ``(target, source)``, to translate backwards."""
        flip = [[(tgt, src) for src, tgt in part] for part in (self.train, self.val, self.test)]
        return PairSplits(self.name, *flip, self.tgt_lang, self.src_lang, self.source)

    def __repr__(self) -> str:
        return (
            f"PairSplits({self.name!r}, {self.src_lang}->{self.tgt_lang}, train={len(self.train)}, "
            f"val={len(self.val)}, test={len(self.test)})"
        )


# ------------------------------------------------------------------------ bytes and decoding


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise DatasetError(
            f"{path}: cannot read it ({err}); the file is corrupt, re-download it"
        ) from None


def decode_text(
    data: bytes, path: str | Path, encoding: str = "utf-8", errors: str = "strict"
) -> str:
    """Decode bytes; on failure name the file, line and column of the first bad byte.

    Args:
        data: the raw bytes.
        path: the file they came from (for the message).
        encoding: e.g. ``"utf-8"`` or ``"latin-1"``.
        errors: ``"strict"`` raises; ``"replace"`` puts U+FFFD for undecodable bytes.

    Raises:
        DatasetError: ``"<file>, line L, column C: not valid utf-8 ..."``.
    """
    try:
        text = data.decode(encoding, errors)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        byte = f"byte 0x{data[err.start]:02x}" if err.start < len(data) else "end of file"
        raise DatasetError(
            f"{path}, line {line}, column {column}: not valid {encoding} ({byte}: {err.reason}). "
            "Give the file's encoding (--encoding latin-1, or encoding='latin-1' in Python), "
            "convert the file to UTF-8, or pass errors='replace' to replace bad bytes"
        ) from None
    except LookupError:  # an unknown codec or error handler name
        raise DatasetError(
            f"{path}: unknown encoding {encoding!r} or error handler {errors!r}; use a Python "
            "codec name such as utf-8, latin-1 or cp1252, and errors 'strict' or 'replace'"
        ) from None
    except UnicodeError as err:  # a codec that fails otherwise (e.g. "idna" on a long line)
        raise DatasetError(f"{path}: cannot decode it as {encoding} ({err})") from None
    return text[1:] if text.startswith("\ufeff") else text  # a BOM is not text


def read_text(path: str | Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """The whole file (``.gz`` transparently) as a string; errors name file and line."""
    return decode_text(read_bytes(path), path, encoding, errors)


def read_lines(path: str | Path, encoding: str = "utf-8", errors: str = "strict") -> list[str]:
    """Lines without their ``\\n`` / ``\\r\\n``; a final newline does not make an empty line.

    Splits on ``\\n`` only (``str.splitlines`` also splits on rarer separators such as U+2028,
    which would shift the line numbers that error messages report).
    """
    text = read_text(path, encoding, errors)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _refuse_empty(n: int, where: str | Path, expected: str) -> None:
    if n == 0:
        raise DatasetError(f"{where}: no examples found; expected {expected}")


def _check_label(label: int, num_classes: int, path: Path, lineno: int, raw: str) -> int:
    if not 0 <= label < num_classes:
        raise DatasetError(
            f"{path}, line {lineno}: label {raw!r} out of range; expected an integer in "
            f"0..{num_classes - 1} ({num_classes} classes). Fix or remove the line, or pass "
            "num_classes if the dataset really has more classes"
        )
    return label


# ------------------------------------------------------------------------ classification formats


def read_aclimdb_split(folder: str | Path, errors: str = "strict") -> LabeledTexts:
    """One aclImdb split folder (``.../train`` or ``.../test``): ``neg`` -> 0, ``pos`` -> 1.

    Files are read in sorted name order, so the result is the same on every machine.
    The ``unsup`` folder (unlabeled reviews) is ignored.
    """
    folder = Path(folder)
    texts: list[str] = []
    labels: list[int] = []
    for label, cls in enumerate(("neg", "pos")):
        for path in sorted((folder / cls).glob("*.txt")):
            texts.append(read_text(path, errors=errors).strip())
            labels.append(label)
    _refuse_empty(len(texts), folder, "review files neg/*.txt and pos/*.txt (the aclImdb layout)")
    return LabeledTexts(texts, labels)


_TEXT_HEADERS = {"sentence", "text"}


def read_glue_tsv(
    path: str | Path, num_classes: int = 2, encoding: str = "utf-8", errors: str = "strict"
) -> LabeledTexts:
    """A GLUE single-sentence TSV (SST-2 ``train.tsv`` / ``dev.tsv``): text, label by position.

    The header may say ``sentence\\tlabel`` (GLUE) or ``text\\tlabel`` (some redistributed
    copies) or be absent; columns are read by position either way. Labels must be integers in
    ``0 .. num_classes - 1``.
    """
    path = Path(path)
    lines = read_lines(path, encoding, errors)
    start = 0
    if lines:
        head = [h.strip().lower() for h in lines[0].split("\t")]
        if head[:2] == ["index", "sentence"]:
            raise DatasetError(
                f"{path}: this is a GLUE test file (columns index, sentence): it has no labels. "
                "Use train.tsv and dev.tsv"
            )
        if head[0] in _TEXT_HEADERS or not _is_int(head[-1]):
            start = 1
    texts: list[str] = []
    labels: list[int] = []
    for lineno, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DatasetError(
                f"{path}, line {lineno}: expected 2 tab-separated columns (sentence, label), "
                f"got {len(fields)}"
            )
        raw = fields[1].strip()
        if not _is_int(raw):
            raise DatasetError(f"{path}, line {lineno}: label {raw!r} is not an integer")
        texts.append(fields[0].strip())
        labels.append(_check_label(int(raw), num_classes, path, lineno, raw))
    _refuse_empty(len(texts), path, "rows 'sentence<TAB>label' after the header")
    return LabeledTexts(texts, labels)


def read_rt_polarity(
    folder: str | Path, encoding: str = "latin-1", errors: str = "strict"
) -> LabeledTexts:
    """Pang & Lee's sentence polarity data (MR): ``rt-polarity.neg`` -> 0, ``.pos`` -> 1.

    The files are latin-1 (not UTF-8), one lower-cased, tokenized sentence per line.
    """
    folder = Path(folder)
    texts: list[str] = []
    labels: list[int] = []
    for label, suffix in enumerate(("neg", "pos")):
        path = folder / f"rt-polarity.{suffix}"
        for line in read_lines(path, encoding, errors):
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    _refuse_empty(len(texts), folder, "sentences in rt-polarity.neg and rt-polarity.pos")
    return LabeledTexts(texts, labels)


def read_labeled_csv(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    classes: list[str] | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> tuple[LabeledTexts, list[str]]:
    """A CSV (or TSV) file with a header row; text and label columns chosen by name.

    Args:
        path: the file (``.tsv`` means tab-separated unless ``delimiter`` says otherwise).
        text_column, label_column: header names of the two columns.
        classes: the allowed labels in index order; a row with another label is refused.
            ``None``: the sorted distinct labels (numerically when they are all integers).
        delimiter: the field separator; default ``","`` (``"\\t"`` for ``.tsv``).

    Returns:
        ``(texts, classes)`` with labels as indices into ``classes``.
    """
    path = Path(path)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text = read_text(path, encoding, errors)
    # The csv module refuses fields over 128 KiB (csv.field_size_limit(), a process-wide
    # setting), but a long review is legitimate. No field can be longer than the file, so the
    # limit is raised to the file's length while this file is parsed, then put back.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        header, rows = _csv_rows(path, text, delimiter, text_column, label_column)
    finally:
        csv.field_size_limit(limit)
    _refuse_empty(len(rows), path, f"data rows with columns {text_column!r} and {label_column!r}")
    if classes is None:
        found = {label for _, label, _ in rows}
        numbers = {label: _as_number(label) for label in found}
        if all(v is not None for v in numbers.values()):  # a numeric label column
            for _, label, lineno in rows:
                _whole_label(numbers[label], label, path, lineno)
            classes = sorted({str(int(v)) for v in numbers.values()}, key=int)
        else:
            classes = sorted(found)
    index = {c: i for i, c in enumerate(classes)}
    labels = []
    for _, label, lineno in rows:
        if label not in index:
            number = _as_number(label)
            if number is not None and str(_whole_label(number, label, path, lineno)) in index:
                label = str(int(number))  # "1.0" for class "1"
            else:
                raise DatasetError(
                    f"{path}, line {lineno}: label {label!r} is not one of the classes {classes}"
                )
        labels.append(index[label])
    return LabeledTexts([t for t, _, _ in rows], labels), list(classes)


def _csv_rows(
    path: Path, text: str, delimiter: str, text_column: str, label_column: str
) -> tuple[list[str], list[tuple[str, str, int]]]:
    """The header and the ``(text, label, line number)`` rows of a CSV file's text."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except TypeError as err:  # e.g. a delimiter of two characters
        raise DatasetError(f"{path}: bad delimiter {delimiter!r} ({err})") from None
    try:
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: the file is empty; expected a header row then data rows")
        header = [h.strip() for h in header]
        missing = [c for c in (text_column, label_column) if c not in header]
        if missing:
            raise DatasetError(
                f"{path}: no column named {', '.join(map(repr, missing))}; the header has "
                f"{header}. Name the columns with --text-column and --label-column "
                "(text_column=, label_column= in Python)"
            )
        ti, li = header.index(text_column), header.index(label_column)
        rows: list[tuple[str, str, int]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(ti, li):
                raise DatasetError(
                    f"{path}, line {reader.line_num}: {len(row)} fields, expected {len(header)} "
                    f"as in the header"
                )
            rows.append((row[ti].strip(), row[li].strip(), reader.line_num))
    except csv.Error as err:
        raise DatasetError(
            f"{path}, line {reader.line_num}: not valid CSV ({err}); check the quoting"
        ) from None
    return header, rows


def _as_number(label: str) -> float | None:
    """``float(label)`` for a label written as a number (``"1"``, ``"1.0"``), else ``None``."""
    try:
        return float(label)
    except ValueError:
        return None


def _whole_label(number: float, raw: str, path: Path, lineno: int) -> int:
    """A numeric label as an int; 1.5 (or nan) is refused, since truncating it invents a class."""
    if not (math.isfinite(number) and number == int(number)):
        raise DatasetError(
            f"{path}, line {lineno}: label {raw!r} is not a whole number; class labels must be "
            "integers or names (a column of such values is a regression target). Fix the "
            "label, or give the class names (classes=[...] in Python) if these are names"
        )
    return int(number)


def _is_int(s: str) -> bool:
    return s.strip().lstrip("+-").isdigit()


# ------------------------------------------------------------------------ pairs


def read_parallel(src_path: str | Path, tgt_path: str | Path, errors: str = "strict") -> list[Pair]:
    """Two aligned files (Multi30k ``train.en.gz`` + ``train.de.gz``) -> ``[(src, tgt), ...]``."""
    src, tgt = read_lines(src_path, errors=errors), read_lines(tgt_path, errors=errors)
    if len(src) != len(tgt):
        raise DatasetError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; parallel files must "
            "be aligned line by line (a truncated download?)"
        )
    _refuse_empty(len(src), src_path, "one sentence per line")
    return [(s.strip(), t.strip()) for s, t in zip(src, tgt, strict=True)]


def read_pairs(
    path: str | Path,
    src_column: int = 0,
    tgt_column: int = 1,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> list[Pair]:
    """Tab-separated sentence pairs (Tatoeba / Anki ``fra.txt``); extra columns are ignored.

    Blank lines are skipped; a line with fewer columns than needed is refused by number.
    """
    path = Path(path)
    pairs: list[Pair] = []
    need = max(src_column, tgt_column) + 1
    for lineno, line in enumerate(read_lines(path, encoding, errors), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < need:
            raise DatasetError(
                f"{path}, line {lineno}: expected at least {need} tab-separated columns "
                f"(source, target[, attribution]), got {len(fields)}"
            )
        pairs.append((fields[src_column].strip(), fields[tgt_column].strip()))
    _refuse_empty(len(pairs), path, "lines 'source<TAB>target'")
    return pairs
