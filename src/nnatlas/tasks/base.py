"""What every task shares: the data options of a run, prepared splits, and the Task interface.

A task (one module of this package per kind) owns what is specific to it:

- :meth:`Task.load`: load the dataset from the catalog, split it, preprocess it once in memory
  (normalization, vocabularies, fixed lengths) and say in a **record** (plain JSON values) what
  a run must keep to redo that preprocessing on new inputs, with no access to the data;
- :attr:`Prepared.facts`: what a zoo model's constructor is fitted with (``num_classes``,
  ``in_chans``, ``vocab_size`` ...; each registry entry says which it takes);
- :meth:`Task.step`: the loss and metrics of a batch, which the task-agnostic Trainer calls;
- :meth:`Task.load_split`: one split again, prepared as in training, for ``evaluate``;
- :meth:`Task.predict`: a structured prediction for one input given as text (a file path, a
  sentence, a prompt, or ``SPLIT:INDEX`` for an example of the run's own data).

Tasks register themselves by name (:func:`register_task`); a dataset's catalog entry names the
task that trains on it (``DatasetSpec.task``). This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from nnatlas.errors import NnatlasError

if TYPE_CHECKING:  # only for annotations: importing these pulls in torch
    from nnatlas.models.registry import ModelEntry
    from nnatlas.train.config import TrainConfig
    from nnatlas.train.steps import Step


class TaskError(NnatlasError, ValueError):
    """A model, dataset, option or input that a task cannot take; the message says what to do."""


# The data options a user can set, with the command-line flag that sets each.
OPTION_FLAGS = {
    "image_size": "--image-size",
    "channels": "--channels",
    "augment": "--augment",
    "text_column": "--text-column",
    "label_column": "--label-column",
    "encoding": "--encoding",
    "limit": "--limit",
    "limit_per_class": "--limit-per-class",
    "folds": "--folds",
    "fold": "--fold",
    "normalize": "--normalize",
    "word_vectors": "--word-vectors",
    "vectors_vocab": "--vectors-vocab",
    "punctuation": "--punctuation",
    "val_split": "--val-split",
    "tokenizer": "--tokenizer",
    "bptt": "--bptt",
    "seq_len": "--seq-len",
    "min_freq": "--min-freq",
    "max_size": "--max-size",
    "max_len": "--max-len",
    "truncate_side": "--truncate-side",
    "reverse_pairs": "--reverse-pairs",
}
TOKENIZERS = ("char", "word")
# WordTokenizer's PUNCTUATION_MODES, repeated so that validating options imports no data code
PUNCTUATIONS = ("split", "strip", "keep", "ptb")
TRUNCATE_SIDES = ("post", "pre")  # post keeps the beginning of a text, pre its end
VAL_SPLITS = ("random", "sentences")  # the pipeline's VAL_SPLITS but "auto" (None here)


@dataclass
class DataOptions:
    """How a run's dataset is loaded and prepared. Saved in every checkpoint, so ``evaluate``,
    ``predict`` and ``--resume`` read the same data the same way.

    Attributes:
        name: the catalog name (``"fashion-mnist"``, ``"csv:/data/reviews.csv"``); a run
            stores file and folder arguments as absolute paths.
        root: a local copy of the dataset to use instead of the catalog's sources (absolute).
        val_fraction: share of the training data held out for validation (where the dataset
            has no validation split of its own).
        seed: seed of the held-out splits and of ``limit``'s subset (the run's seed).
        augment: image augmentation preset (``"none"``, ``"light"``, ``"standard"``,
            ``"strong"``).
        image_size: images: resize to this many pixels a side (default: the dataset's own
            size when the model takes it, else the model's input size).
        channels: images: 1 (grayscale) or 3 (RGB); default the dataset's own.
        text_column, label_column: a CSV's column names (default ``text`` and ``label``).
        encoding: a text file's encoding (default UTF-8), e.g. ``"latin-1"``.
        limit: train on at most this many training examples (a stratified seeded subset for
            classifiers; the first windows of a corpus or the first sentence pairs).
        limit_per_class: classifiers: train on at most this many examples of each class
            (seeded), the labelled-data budget of a transfer-learning sweep.
        folds, fold: images: k-fold cross-validation; the training and validation examples
            pooled and dealt into ``folds`` stratified folds (seeded by ``seed``), fold
            ``fold`` (0-based) validating and the others training; the test split as it was.
        normalize: images: ``[mean, std]`` per channel to normalize with (a pretrained
            backbone's), instead of the training split's own statistics.
        word_vectors: texts: pretrained word vectors that start the embedding
            (``"glove-6b-50d"``, or ``"glove:FOLDER"``).
        vectors_vocab: texts: also give the ``vectors_vocab`` most frequent words of
            ``word_vectors`` a row of the vocabulary, so held-out words the training texts
            never show read as their pretrained vector instead of ``<unk>``.
        punctuation: text classification: how words are split from punctuation
            (:class:`~nnatlas.data.text.tokenize.WordTokenizer`): ``"split"`` (default),
            ``"strip"``, ``"keep"`` (whitespace only) or ``"ptb"`` (the Penn Treebank's way, as
            SST and GloVe's training text are tokenized: "don't" -> "do", "n't").
        val_split: text classification: how validation is carved from train: ``"random"``
            examples, or whole ``"sentences"`` with only the other sentences' phrases left to
            train on (:mod:`nnatlas.data.text.phrases`); default: sentences for SST-2 (whose
            train holds the phrases of its sentences), random for the others.
        tokenizer: language models: ``"char"`` (default) or ``"word"`` (lower-cased words,
            punctuation split off).
        bptt: language models: train by truncated backpropagation through time on consecutive
            chunks of this many tokens, the hidden state carried (detached) from one chunk to
            the next; ``None`` trains on shuffled independent windows.
        seq_len: language models: tokens per window, the context a held-out window gives
            (default 128 characters or 35 words; nanoGPT's shakespeare_char uses 256).
        min_freq, max_size: word vocabularies: tokens seen fewer times in training become
            ``<unk>``; keep at most ``max_size`` entries (the 4 reserved tokens included).
        max_len: text classification: tokens kept per text (default: the dataset's).
        truncate_side: text classification: which end of a longer text is cut: ``"post"``
            (the default) keeps the beginning, ``"pre"`` the end.
        reverse_pairs: sentence pairs: translate the other way (target -> source).
    """

    name: str
    root: str | None = None
    val_fraction: float = 0.1
    seed: int = 0
    augment: str = "none"
    image_size: int | None = None
    channels: int | None = None
    text_column: str | None = None
    label_column: str | None = None
    encoding: str | None = None
    limit: int | None = None
    limit_per_class: int | None = None
    folds: int | None = None
    fold: int | None = None
    normalize: list[list[float]] | None = None
    word_vectors: str | None = None
    vectors_vocab: int | None = None
    punctuation: str | None = None
    val_split: str | None = None
    tokenizer: str | None = None
    bptt: int | None = None
    seq_len: int | None = None
    min_freq: int | None = None
    max_size: int | None = None
    max_len: int | None = None
    truncate_side: str | None = None
    reverse_pairs: bool = False

    def __post_init__(self) -> None:
        import codecs

        whole = ("image_size", "channels", "limit", "limit_per_class", "vectors_vocab", "folds")
        whole += ("fold",)
        for name in (*whole, "bptt", "seq_len", "min_freq", "max_size", "max_len"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TaskError(f"{OPTION_FLAGS[name]} must be a whole number, got {value!r}")
        for name in ("text_column", "label_column", "encoding", "word_vectors"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TaskError(f"{OPTION_FLAGS[name]} must be text, got {value!r}")
        for name, choices in (
            ("tokenizer", TOKENIZERS),
            ("truncate_side", TRUNCATE_SIDES),
            ("punctuation", PUNCTUATIONS),
            ("val_split", VAL_SPLITS),
        ):
            if getattr(self, name) not in (None, *choices):
                raise TaskError(
                    f"{OPTION_FLAGS[name]} must be {' or '.join(choices)}, "
                    f"got {getattr(self, name)!r}"
                )
        if not isinstance(self.reverse_pairs, bool):
            raise TaskError(f"--reverse-pairs must be true or false, got {self.reverse_pairs!r}")
        for name, low in (
            ("bptt", 1),
            ("seq_len", 1),
            ("min_freq", 1),
            ("max_size", 5),
            ("max_len", 1),
            ("vectors_vocab", 1),
        ):
            value = getattr(self, name)
            if value is not None and not low <= value <= 10**7:
                raise TaskError(
                    f"{OPTION_FLAGS[name]} must be between {low} and 10,000,000, got {value}"
                )
        if self.vectors_vocab is not None and self.word_vectors is None:
            raise TaskError(
                "--vectors-vocab adds words of the pretrained word vectors to the vocabulary; "
                "give them with --word-vectors (e.g. --word-vectors glove-6b-50d)"
            )
        if isinstance(self.val_fraction, bool) or not isinstance(self.val_fraction, (int, float)):
            raise TaskError(f"--val-fraction must be a number, got {self.val_fraction!r}")
        if self.normalize is not None:
            try:
                mean, std = ([float(v) for v in part] for part in self.normalize)
                ok = len(mean) == len(std) and all(s > 0 for s in std)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise TaskError(
                    f"--normalize: expected [mean, std] with one positive std per channel, "
                    f"got {self.normalize!r}"
                )
            self.normalize = [mean, std]
        if not 0.0 <= self.val_fraction < 1.0:
            raise TaskError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.image_size is not None and not 4 <= self.image_size <= 4096:
            raise TaskError(
                f"--image-size must be between 4 and 4096 pixels, got {self.image_size}"
            )
        if self.channels not in (None, 1, 3):
            raise TaskError(f"--channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        for name in ("limit", "limit_per_class"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise TaskError(
                    f"{OPTION_FLAGS[name]} must be at least 1, got {getattr(self, name)}"
                )
        self._check_folds()
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise TaskError(
                    f"--encoding {self.encoding!r}: not an encoding Python knows; e.g. utf-8, "
                    "latin-1, cp1252, utf-16"
                ) from None

    def _check_folds(self) -> None:
        if self.folds is None:
            if self.fold is not None:
                raise TaskError(f"--fold {self.fold}: say how many folds with --folds K")
            return
        if not 2 <= self.folds <= 100:
            raise TaskError(f"--folds must be between 2 and 100, got {self.folds}")
        if self.fold is None or not 0 <= self.fold < self.folds:
            raise TaskError(
                f"--fold {self.fold}: a run trains one fold of {self.folds}, from 0 to "
                f"{self.folds - 1} (give --folds alone to the command to run them all)"
            )

    def given(self) -> dict[str, Any]:
        """The user-settable options that differ from their defaults (augment "none" is one)."""
        defaults = DataOptions(self.name)
        return {
            k: getattr(self, k) for k in OPTION_FLAGS if getattr(self, k) != getattr(defaults, k)
        }

    def reader_options(self, spec: Any, names: tuple[str, ...]) -> dict[str, Any]:
        """The options among ``names`` that are set, checked to be ones the dataset's loader
        takes (``--encoding`` means nothing to a dataset read from IDX files)."""
        out = {}
        for name in names:
            value = getattr(self, name)
            if value is None:
                continue
            if not spec.takes(name):
                raise TaskError(
                    f"{OPTION_FLAGS[name]} does not apply to {spec.name!r}; it applies to "
                    "datasets read from your own files (csv:, text:, pairs:)"
                )
            out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataOptions:
        """Rebuild from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Prepared:
    """A dataset's splits, ready for the Trainer, and what the run keeps of its preprocessing.

    Attributes:
        train, val, test: tuples of tensors with one row per example (the TensorLoader cuts
            batches from them), e.g. ``(x, y)``; ``val`` is ``None`` when nothing is held out.
        record: plain values (JSON) that redo the preprocessing: class names, normalization,
            input shape, vocabularies ...
        facts: what models are fitted with (``num_classes``, ``in_chans``, ``vocab_size`` ...).
        augment: the training batch transform, or ``None``.
        sizes: examples per split (filled in from the tensors).
        notes: what the task changed to fit the data to the model (a resize ...), for the
            run's header.
        initial_weights: parameter name -> tensor to start the model with (pretrained word
            vectors for an embedding), copied in after the model is built.
        batches: ``batches(config) -> iterable of training batches``, when the training
            batches are not cut from ``train`` in a shuffled order (a language model's
            consecutive chunks for truncated BPTT); ``None`` for the usual shuffled batches.
    """

    train: tuple[Any, ...]
    val: tuple[Any, ...] | None
    test: tuple[Any, ...]
    record: dict[str, Any]
    facts: dict[str, Any]
    augment: Callable[..., Any] | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    initial_weights: dict[str, Any] = field(default_factory=dict)
    batches: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if not self.sizes:
            self.sizes = {
                name: (len(part[0]) if part is not None else 0)
                for name, part in (("train", self.train), ("val", self.val), ("test", self.test))
            }


class Task:
    """One kind of task. Subclasses set the class attributes and implement the methods.

    Attributes:
        name: the registry name (``"image_classification"``).
        title: a few words for messages (``"image classification"``).
        model_kinds: the registry kinds of the models it trains (``("image",)``).
        default_model: the model used when neither the user nor the dataset's preset names one.
        data_options: the :class:`DataOptions` fields it honours (others are refused).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    model_kinds: ClassVar[tuple[str, ...]] = ()
    default_model: ClassVar[str] = ""
    data_options: ClassVar[tuple[str, ...]] = ("limit",)  # the OPTION_FLAGS it honours

    def accepts(self, entry: ModelEntry) -> bool:
        """Whether the zoo model ``entry`` can be trained by this task."""
        return entry.kind in self.model_kinds

    def check_options(self, options: DataOptions) -> None:
        """Refuse data options this task does not honour (``--image-size`` for a text)."""
        stray = [OPTION_FLAGS[k] for k in options.given() if k not in self.data_options]
        if stray:
            raise TaskError(
                f"{', '.join(stray)} does not apply to {self.title} ({options.name}); it "
                f"takes {', '.join(OPTION_FLAGS[k] for k in self.data_options)}"
            )

    def load(self, options: DataOptions, entry: ModelEntry | None = None) -> Prepared:
        """Load and prepare the dataset for training the model ``entry`` (an image task
        resizes images to a size the model takes; most tasks need only the options)."""
        raise NotImplementedError

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[Any, ...]:
        """One split (``"train"``, ``"val"``, ``"test"``) prepared as the run's training data
        was (the run's vocabulary, normalization ...), as tensors for ``Trainer.evaluate``."""
        raise NotImplementedError

    def step(self, config: TrainConfig) -> Step:
        """The batch step the Trainer calls: cross-entropy classification unless overridden."""
        from nnatlas.train.steps import ClassificationStep

        return ClassificationStep(config.label_smoothing)

    def output_metrics(self, run: Any, options: DataOptions, split: str) -> dict[str, Any]:
        """Metrics that need the model's decoded outputs, not its logits (a translation's
        BLEU): numbers, plus any details to keep (``signature``, ``samples``). None here."""
        return {}

    def describe(self, record: dict[str, Any], x: Any) -> str | None:
        """A human reading of one example's input (a text's tokens), or ``None``."""
        return None

    def predict(self, run: Any, input: str, **options: Any) -> Any:
        """A structured prediction (see :mod:`nnatlas.tasks.results`) for one input of the
        :class:`~nnatlas.tasks.run.Run` ``run``; options are keyword-only arguments."""
        raise NotImplementedError


_TASKS: dict[str, Task] = {}
# Modules whose import registers their task; imported the first time a task is looked up, so
# that `import nnatlas.tasks` stays light (no torch).
_PROVIDERS = (
    "nnatlas.tasks.image",
    "nnatlas.tasks.tabular",
    "nnatlas.tasks.text",
    "nnatlas.tasks.language",
    "nnatlas.tasks.seq2seq",
    "nnatlas.tasks.detection",
)


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register one instance of ``cls`` under ``cls.name`` (refuses twins)."""
    if cls.name in _TASKS and type(_TASKS[cls.name]) is not cls:
        raise ValueError(f"task {cls.name!r} is already registered by {type(_TASKS[cls.name])}")
    _TASKS[cls.name] = cls()
    return cls


def _ensure_registered() -> None:
    import importlib

    for module in _PROVIDERS:
        importlib.import_module(module)


def list_tasks() -> list[str]:
    """The registered task names."""
    _ensure_registered()
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    """The task registered as ``name``.

    Raises:
        TaskError: for an unknown name, listing the known ones.
    """
    _ensure_registered()
    try:
        return _TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; tasks: {', '.join(sorted(_TASKS))}") from None


def limit_rows(
    tensors: tuple[Any, ...],
    limit: int | None,
    seed: int,
    stratify: bool = True,
    per_class: int | None = None,
) -> tuple[Any, ...]:
    """At most ``limit`` rows of a split's tensors: a stratified seeded subset by the labels
    (the last tensor) when ``stratify``, else the first ``limit`` rows; with ``per_class``, at
    most that many rows of each label first (seeded), in the split's order."""
    import numpy as np
    import torch

    if per_class is not None:
        labels = tensors[-1].numpy()
        rng = np.random.default_rng(seed)
        keep = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
        index = torch.from_numpy(np.sort(np.concatenate(keep)))
        tensors = tuple(t[index] for t in tensors)
    n = len(tensors[0])
    if limit is None or limit >= n:
        return tensors
    if not stratify:
        return tuple(t[:limit] for t in tensors)
    from nnatlas.data import stratified_split

    # round(limit / n * n) == limit rows, spread over the classes as in the whole split, in
    # the split's own order.
    _, rows = stratified_split(tensors[-1].numpy(), limit / n, seed)
    index = torch.from_numpy(rows)
    return tuple(t[index] for t in tensors)


def split_index(input: str) -> tuple[str, int] | None:
    """``"test:3"`` -> ``("test", 3)``; anything else -> None (it is an input, not an index).

    Raises:
        TaskError: for ``SPLIT:`` followed by something that is not a whole number.
    """
    split, sep, index = input.partition(":")
    if not sep or split not in ("train", "val", "test"):
        return None
    if not index.isdigit():
        raise TaskError(f"{input}: after {split}: give an example number, e.g. {split}:0")
    return split, int(index)


def pick_example(part: tuple[Any, ...], input: str, split: str, index: int) -> int:
    """Check ``index`` against the split's size and return it."""
    size = len(part[0])
    if size == 0:
        raise TaskError(f"{input}: the {split} split of this run's dataset is empty")
    if index >= size:
        raise TaskError(f"{input}: the {split} split has {size} examples; use 0 to {size - 1}")
    return index
