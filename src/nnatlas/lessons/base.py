"""What a lesson declares and what it hands back: the contract every lesson module follows.

A lesson is data (:class:`Lesson`) plus one function, ``run(ctx) -> Result``. The declaration
says what the lesson teaches, what it needs (:class:`Need`: a dataset, an optional extra), its
quick and full configurations, and its key numbers (:class:`KeyNumber`), each with the range a
correct run lands in and the literature value it stands beside (:class:`Reference`). The runner
(:mod:`nnatlas.lessons.runner`) times the run, records its provenance, checks each key number
against its range and renders the report; docs/LESSONS.md walks through writing one.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError

# The seed's learning guide, in its order; a lesson's ``stage`` is one of these keys.
STAGES = {
    1: "Understand ANN principles (forward and backward propagation, gradient descent)",
    2: "Learn CNNs, implement the classic models, get familiar with PyTorch",
    3: "Transfer learning: image classification and detection projects",
    4: "Sequence models (RNN -> LSTM -> GRU): text generation and sentiment",
    5: "Practice: hyper-parameters, overfitting and regularization, model-data matching",
}


def paragraphs(text: str) -> list[str]:
    """A triple-quoted block as paragraphs (split at blank lines, each joined into one line):
    how a lesson writes its ``teaches`` without 300-character string literals."""
    blocks = textwrap.dedent(text).strip().split("\n\n")
    return [" ".join(line.strip() for line in block.splitlines()) for block in blocks]


class LessonError(NnatlasError):
    """A lesson that cannot run as asked (unknown id, bad configuration, a broken declaration)."""


@dataclass(frozen=True)
class Reference:
    """A value from the literature that a key number stands beside.

    Attributes:
        value: the reported value in words (``"0.95 % test error on MNIST"``).
        source: who reported it and where (authors, year, title, venue or URL).
    """

    value: str
    source: str


@dataclass(frozen=True)
class KeyNumber:
    """One number a lesson measures, with the range a correct run of each mode lands in.

    Attributes:
        name: the key in :attr:`Result.numbers` (``"test_accuracy"``).
        label: how the report names it (``"test accuracy of the NumPy MLP"``).
        quick: ``(low, high)``, inclusive, for the quick configuration, from measured runs.
        full: the same for the full configuration (``None``: the quick range applies).
        reference: the literature value it stands beside.
        unit: printed after the value (``"s"``, ``"%"``); empty for plain numbers.
        fmt: how the report writes it (a format spec: ``".4f"``, ``".1e"`` for tiny errors).
        optional: measured only on some runs (the accuracy on a dataset that may be absent,
            with another key number for the fallback): a run without it shows it as
            ``"not measured"`` and is judged by the others. A required one missing is outside.
    """

    name: str
    label: str
    quick: tuple[float, float]
    reference: Reference
    full: tuple[float, float] | None = None
    unit: str = ""
    fmt: str = ".4f"
    optional: bool = False

    def expected(self, quick: bool) -> tuple[float, float]:
        return self.quick if quick or self.full is None else self.full

    def verdict(self, value: float | None, quick: bool) -> str:
        """``"within"`` or ``"outside"`` the mode's range (a missing or NaN value is outside;
        an optional one missing is ``"not measured"``)."""
        low, high = self.expected(quick)
        if value is None and self.optional:
            return "not measured"
        if value is None or not math.isfinite(value):
            return "outside"
        return "within" if low <= value <= high else "outside"

    def format(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "n/a"
        return f"{value:{self.fmt}}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class Need:
    """Something a lesson needs that a fresh install may lack, and how to get it.

    Attributes:
        name: what it is (``"CIFAR-10"``, ``"the pretrained extra"``).
        how: the command or steps that provide it (``"make pretrained"``).
        present: answers whether it is there now (a real look: a module spec, a folder).
        required: when missing, ``True`` skips the lesson (the tour goes on); ``False`` lets
            the lesson run on its fallback, and the report says what was used instead.
        used: whether a configuration uses it (``None``: every configuration does). A need
            the run's configuration does not use is not looked for, so a quick run on data
            that is always there does not report a fallback for the full run's dataset.
    """

    name: str
    how: str
    present: Callable[[], bool]
    required: bool = True
    used: Callable[[dict[str, Any]], bool] | None = None

    def applies(self, config: dict[str, Any]) -> bool:
        """Whether the configuration ``config`` uses it (see ``used``)."""
        return self.used is None or bool(self.used(config))


@dataclass
class Table:
    """A results table: ``rows`` are dicts keyed by ``columns`` (floats shown to 4 digits)."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **row: Any) -> None:
        unknown = set(row) - set(self.columns)
        if unknown:
            raise LessonError(f"table {self.title!r}: no column {sorted(unknown)}")
        self.rows.append(row)


@dataclass(frozen=True)
class Plot:
    """A PNG the lesson wrote into its report folder, and what a reader should see in it."""

    file: str  # a name inside the report folder
    caption: str


@dataclass
class Result:
    """What a lesson's ``run`` returns: every key number, its tables, plots and notes."""

    numbers: dict[str, float]
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What the runner hands a lesson's ``run``.

    Attributes:
        folder: the lesson's report folder; write plots here (:meth:`path`).
        config: the resolved configuration (quick or full, with any overrides).
        quick: whether the quick configuration runs.
        seed: the seed every random choice of the run starts from.
        engine: ``"torch"`` or ``"scratch"`` where the lesson trains with one.
        missing: the names of optional needs (``required=False``) that are absent.
        log: prints a progress line.
    """

    folder: Path
    config: dict[str, Any]
    quick: bool
    seed: int
    engine: str
    missing: set[str] = field(default_factory=set)
    log: Callable[[str], None] = print
    notes: list[str] = field(default_factory=list)

    def path(self, name: str) -> Path:
        """``folder / name``: where a lesson writes a plot the report shows."""
        return self.folder / name

    def note(self, text: str) -> None:
        """A sentence the report shows under the results (a fallback used, a caveat)."""
        self.notes.append(text)


@dataclass(frozen=True)
class Lesson:
    """A lesson of the path.

    Attributes:
        id: the command's name for it (``"ann-basics"``).
        title: the report's heading.
        stage: its stage of the seed's guide (a key of :data:`STAGES`).
        teaches: what it teaches, in the project's words: paragraphs, ```code``` in backticks.
        run: ``run(ctx: Context) -> Result``.
        quick: the configuration ``--quick`` runs (seconds on a laptop CPU).
        full: the configuration a plain run uses (minutes); keys the quick one lacks keep
            the quick value.
        key_numbers: what the report checks against expected ranges.
        needs: data and extras it needs (see :class:`Need`).
        engines: engines ``--engine`` may choose, the default first.
        commands: ``nnatlas`` commands that redo a part of it by hand, for the report.
    """

    id: str
    title: str
    stage: int
    teaches: Sequence[str]
    run: Callable[[Context], Result]
    quick: dict[str, Any]
    full: dict[str, Any]
    key_numbers: Sequence[KeyNumber]
    needs: Sequence[Need] = ()
    engines: Sequence[str] = ("torch",)
    commands: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise LessonError(f"lesson {self.id!r}: stage {self.stage} is not one of {[*STAGES]}")
        if not self.key_numbers:
            raise LessonError(f"lesson {self.id!r}: declare at least one key number")
        for key in self.key_numbers:
            for low, high in filter(None, (key.quick, key.full)):
                if not low <= high:
                    raise LessonError(f"lesson {self.id!r}: {key.name} range {low} > {high}")

    def config(self, quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The configuration a run uses: quick, or full over quick, then ``overrides``."""
        config = dict(self.quick) if quick else {**self.quick, **self.full}
        unknown = set(overrides or {}) - set(config)
        if unknown:
            raise LessonError(
                f"lesson {self.id!r} has no option {sorted(unknown)}; its options: "
                f"{', '.join(sorted(config))}"
            )
        return {**config, **(overrides or {})}
