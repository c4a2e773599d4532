"""Synthetic sequence tasks: adding, copy, dates; seeded, right shapes, right targets."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
import torch

from nnatlas.data.catalog import load
from nnatlas.data.text.synthetic import DATE_FORMATS, adding_problem, copy_task, date_pairs
from nnatlas.data.text.translation import load_translation_pairs


def test_adding_problem_targets_are_the_marked_sums() -> None:
    x, y = adding_problem(64, length=30, seed=3)
    assert x.shape == (64, 30, 2) and y.shape == (64,) and x.dtype == torch.float32
    markers = x[:, :, 1]
    assert torch.equal(markers.sum(1), torch.full((64,), 2.0))
    assert bool((markers[:, :15].sum(1) == 1).all()) and bool((markers[:, 15:].sum(1) == 1).all())
    assert torch.allclose((x[:, :, 0] * markers).sum(1), y)
    assert bool(((x[:, :, 0] >= 0) & (x[:, :, 0] < 1)).all())
    x2, y2 = adding_problem(64, length=30, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(adding_problem(64, length=30, seed=4)[1], y)
    with pytest.raises(ValueError, match="length must be >= 2"):
        adding_problem(4, length=1)


def test_adding_constant_baseline_is_one_sixth() -> None:
    _, y = adding_problem(20_000, length=10, seed=0)
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(1 / 6, abs=0.01)


def test_copy_task_layout() -> None:
    x, y = copy_task(16, length=12, copy_len=4, n_symbols=6, seed=1)
    assert x.shape == y.shape == (16, 12 + 8) and x.dtype == torch.int64
    symbols = x[:, :4]
    assert bool(((symbols >= 1) & (symbols <= 6)).all())
    assert bool((x[:, 4 : 4 + 11] == 0).all())  # length - 1 blanks
    assert bool((x[:, 15] == 7).all())  # the delimiter n_symbols + 1 says "recall now"
    assert bool((x[:, 16:] == 0).all())
    assert bool((y[:, :16] == 0).all()) and torch.equal(y[:, 16:], symbols)
    assert torch.equal(copy_task(16, 12, 4, 6, seed=1)[0], x)


def test_date_pairs_are_correct_iso_dates_in_several_formats() -> None:
    pairs = date_pairs(400, seed=5)
    assert pairs == date_pairs(400, seed=5) and pairs != date_pairs(400, seed=6)
    used = set()
    for text, iso in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso)
        day = dt.date.fromisoformat(iso)
        # the source text is one of the formats applied to the target's date (case aside)
        matches = [name for name, fmt in DATE_FORMATS.items() if fmt(day) == text.lower()]
        assert matches, (text, iso)
        used.update(matches)
    assert used == set(DATE_FORMATS)  # every input format occurs
    assert any(t[0].isupper() for t, _ in pairs) and any(t[0].islower() for t, _ in pairs)


def test_date_formats_on_a_known_date() -> None:
    day = dt.date(1994, 9, 27)
    rendered = {name: fmt(day) for name, fmt in DATE_FORMATS.items()}
    assert rendered["long"] == "september 27, 1994"
    assert rendered["us_numeric"] == "9/27/1994"
    assert rendered["european_numeric"] == "27.09.1994"
    assert rendered["weekday"] == "tuesday, september 27, 1994"  # 27 Sep 1994 was a Tuesday
    only = date_pairs(20, seed=0, formats=("long",), capitalize=0.0)
    assert all(re.fullmatch(r"[a-z]+ \d{1,2}, \d{4}", t) for t, _ in only)
    with pytest.raises(ValueError, match="unknown formats"):
        date_pairs(3, formats=("roman",))


def test_sequence_tasks_through_the_catalog() -> None:
    adding = load("adding", length=20, n_train=50, n_val=10, n_test=10, seed=2)
    assert adding.train.x.shape == (50, 20, 2) and adding.val.y.shape == (10,)
    assert adding.task["length"] == 20 and adding.task["baseline"] == pytest.approx(1 / 6)
    same = load("adding", length=20, n_train=50, n_val=99, n_test=1, seed=2)
    assert torch.equal(same.train.x, adding.train.x)  # split sizes do not change train
    copy = load("copy", length=30, n_train=8, n_val=2, n_test=2, copy_len=5)
    assert copy.train.x.shape == (8, 40)
    assert copy.task["baseline"] == pytest.approx(5 * math.log(8) / 40)
    dates = load_translation_pairs("dates", n_train=30, n_val=5, n_test=5, seed=1)
    assert (len(dates.train), len(dates.val), len(dates.test)) == (30, 5, 5)
    assert dates.src_lang == "date" and dates.train == date_pairs(40, seed=1)[:30]
