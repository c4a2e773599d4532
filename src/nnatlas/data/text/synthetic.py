"""Synthetic sequence tasks that probe long-range memory, and a date translation task.

* ``adding``: the adding problem of Hochreiter & Schmidhuber (1997), in the form of Le, Jaitly &
  Hinton (2015, arXiv 1504.00941): sum the two marked numbers of a length-T sequence. Predicting
  the constant 1 scores MSE ~0.167, the bar a model must beat to show it remembers anything.
* ``copy``: the copy-memory task of Arjovsky, Shah & Bengio (2016, arXiv 1511.06464): read
  ``copy_len`` symbols, wait T steps, then reproduce them. The memoryless baseline (blanks, then
  uniform guesses) has cross-entropy ``copy_len * log(n_symbols) / (T + 2 * copy_len)``.
* ``dates``: human-written dates to ISO 8601 ("september 27, 1994" -> "1994-09-27"), the
  character-level seq2seq warm-up of Géron's and Ng's courses, generated here from a seed.

Everything is generated from a seed (``torch.Generator`` / ``random.Random``), so the same
arguments always give the same data.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from nnatlas.data.images.splits import Split

MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class SequenceSplits:
    """Synthetic sequence task splits (``adding``, ``copy``).

    Attributes:
        name: catalog name.
        train, val, test: :class:`~nnatlas.data.images.splits.Split` with tensors ``x`` and ``y``.
        task: the generator's arguments (``length``, ...), and ``baseline``: the loss of the best
            memoryless predictor (MSE for adding, cross-entropy per step for copy).
    """

    name: str
    train: Split
    val: Split
    test: Split
    task: dict[str, Any] = field(default_factory=dict)


def adding_problem(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem.

    Each step carries a value ``U(0, 1)`` and a marker; exactly two markers are 1, one in each
    half of the sequence (Le et al. 2015), and the target is the sum of the two marked values.

    Args:
        n: number of sequences.
        length: sequence length T (>= 2); the task gets harder as T grows.
        seed: random seed.

    Returns:
        ``(x, y)``.

    Shape:
        x: (n, T, 2) float32, channel 0 the values, channel 1 the markers; y: (n,) float32.
    """
    if length < 2:
        raise ValueError(f"adding_problem: length must be >= 2 (two marked steps), got {length}")
    gen = torch.Generator().manual_seed(seed)
    values = torch.rand(n, length, generator=gen)  # (n, T)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=gen)  # (n,) marker in the first half
    second = torch.randint(half, length, (n,), generator=gen)  # (n,) and one in the second
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=2)  # (n, T, 2)
    y = values[rows, first] + values[rows, second]  # (n,)
    return x, y


def copy_task(
    n: int, length: int, copy_len: int = 10, n_symbols: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The copy-memory task.

    Input: ``copy_len`` symbols from ``1..n_symbols``, then ``length - 1`` blanks (0), then the
    delimiter ``n_symbols + 1`` ("now recall"), then ``copy_len`` blanks. Target: blanks
    (0) everywhere except the last ``copy_len`` steps, which repeat the symbols.

    Args:
        n: number of sequences.
        length: the delay T between the symbols and the recall signal (>= 1).
        copy_len: how many symbols to remember.
        n_symbols: alphabet size; the vocabulary is ``n_symbols + 2`` (blank, symbols, delimiter).
        seed: random seed.

    Returns:
        ``(x, y)``.

    Shape:
        x, y: (n, length + 2 * copy_len) int64.
    """
    if length < 1 or copy_len < 1 or n_symbols < 1:
        raise ValueError(
            f"copy_task: length, copy_len and n_symbols must be >= 1, got {length}, {copy_len}, "
            f"{n_symbols}"
        )
    gen = torch.Generator().manual_seed(seed)
    total = length + 2 * copy_len
    symbols = torch.randint(1, n_symbols + 1, (n, copy_len), generator=gen)  # (n, S)
    x = torch.zeros(n, total, dtype=torch.int64)  # (n, T + 2S)
    x[:, :copy_len] = symbols
    x[:, copy_len + length - 1] = n_symbols + 1
    y = torch.zeros(n, total, dtype=torch.int64)  # (n, T + 2S)
    y[:, -copy_len:] = symbols
    return x, y


# ------------------------------------------------------------------------ dates


def _two(value: int) -> str:
    return f"{value:02d}"


# Each format maps a date to one human-written string. Numeric day/month orders that are
# ambiguous in general ("03/04/1994") are fine here because each format fixes its order and the
# model must learn it from the other characters (a "/" means US order, a "." European).
DATE_FORMATS = {
    "long": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",  # september 27, 1994
    "long_day_first": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 27 september 1994
    "short": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",  # sep 27, 1994
    "short_day_first": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # 27 sep 1994
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    "us_numeric": lambda d: f"{d.month}/{d.day}/{d.year}",  # 9/27/1994
    "european_numeric": lambda d: f"{_two(d.day)}.{_two(d.month)}.{d.year}",  # 27.09.1994
    "year_first": lambda d: f"{d.year} {MONTHS[d.month - 1]} {d.day}",  # 1994 september 27
}


def date_pairs(
    n: int,
    seed: int = 0,
    formats: tuple[str, ...] | None = None,
    start: dt.date = dt.date(1900, 1, 1),
    end: dt.date = dt.date(2099, 12, 31),
    capitalize: float = 0.3,
) -> list[tuple[str, str]]:
    """Pairs (human-written date, ISO date) for a character-level translation model.

    Args:
        n: number of pairs.
        seed: random seed.
        formats: names from :data:`DATE_FORMATS` to draw from (default: all, uniformly).
        start, end: the date range, inclusive, drawn uniformly.
        capitalize: probability of capitalizing month/day names ("September 27, 1994"), so
            the model also meets the case variation people write.

    Returns:
        ``[("september 27, 1994", "1994-09-27"), ...]``.
    """
    names = tuple(DATE_FORMATS) if formats is None else tuple(formats)
    unknown = [f for f in names if f not in DATE_FORMATS]
    if unknown or not names:
        raise ValueError(f"date_pairs: unknown formats {unknown}; choose from {list(DATE_FORMATS)}")
    if end < start:
        raise ValueError(f"date_pairs: end {end} is before start {start}")
    rng = random.Random(seed)
    span = (end - start).days
    pairs = []
    for _ in range(n):
        day = start + dt.timedelta(days=rng.randint(0, span))
        text = DATE_FORMATS[rng.choice(names)](day)
        if rng.random() < capitalize:
            text = " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
        pairs.append((text, day.isoformat()))
    return pairs
