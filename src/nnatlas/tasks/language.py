"""Language modelling: a corpus cut into windows, next-token targets, sampling.

The corpus is read as characters (the default) or words (``tokenizer="word"``). Its contiguous
tail (``val_fraction``, at least 2%) is held out and halved into validation and test, so no
test token was seen in training. Each split becomes non-overlapping windows of
:data:`SEQ_LEN` characters (:data:`WORD_SEQ_LEN` words; ``seq_len`` tokens when given), ``x``
and ``y = x`` shifted by one; a language model then "classifies" the next token, so accuracy
and perplexity apply unchanged.

Training takes the windows in a shuffled order, each from a zero state (the nanoGPT way), or,
with ``bptt=T``, by truncated backpropagation through time (Williams & Peng 1990; Zaremba et
al. 2014): the training text is cut into ``batch_size`` contiguous streams, batch k holds the
k-th chunk of T tokens of every stream, and :class:`LanguageModelStep` carries the hidden state
from one chunk to the next, detached, so the model sees context beyond its window while the
gradient stops at the chunk boundary. Validation and test are the same windows either way, so
the held-out losses of the two compare. The run keeps the vocabulary, so sampling needs no data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnatlas.tasks.base import DataOptions, Prepared, Task, TaskError, limit_rows, register_task
from nnatlas.tasks.results import Generation
from nnatlas.tasks.text import vocab_record
from nnatlas.train.steps import ClassificationStep, StepOutput

SEQ_LEN = 128  # characters per window (char-rnn's default is 50, nanoGPT's shakespeare_char 256)
WORD_SEQ_LEN = 35  # words per window (Zaremba et al. 2014; PyTorch's word_language_model)
WORD_MIN_FREQ = 2  # words seen once in training become <unk>, so the model learns <unk> too
MIN_HELD_OUT = 0.02  # at least this share of the corpus is held out (validation + test)
# Held-out text read as running text, in this many parallel streams (each starts from a zero
# state once; the windows beyond a multiple of it, fewer than this many, are left out).
EVAL_STREAMS = 8


def _detached(state: Any) -> Any:
    """A recurrent state cut from its graph (a NumPy twin's arrays have none)."""
    if isinstance(state, tuple):
        return tuple(_detached(part) for part in state)
    return state.detach() if isinstance(state, torch.Tensor) else state


class LanguageModelStep(ClassificationStep):
    """Next-token cross-entropy; carries the hidden state between consecutive chunks.

    A batch ``(x, y)`` is independent windows, each from a zero state. A batch ``(x, first,
    y)`` (from :class:`StreamBatches`) continues the previous one row by row: the state the
    model ended the last chunk with starts this one, detached (truncated BPTT), unless
    ``first`` says the streams start here (a new epoch). Evaluation never carries a state.

    Shape:
        x, y: (B, T) int64; first: (B,) bool -> model(x, state) -> logits (B, T, V), state
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__(label_smoothing)
        self.state: Any = None

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        if len(batch) == 2:
            return super().loss(model, batch, losses, training)
        x, first, y = batch
        carried = None if bool(first[0]) or not training else self.state
        logits, state = model(x, carried)  # (B, T, V)
        if training:
            self.state = _detached(state)
        loss = losses.cross_entropy(
            logits, y, label_smoothing=self.label_smoothing if training else 0.0
        )
        return StepOutput(loss, logits, y)


class StreamBatches:
    """Training batches for truncated BPTT, cut from consecutive windows of one text.

    The M windows (in the order of the text) are dealt into ``batch_size`` streams of K = M //
    batch_size consecutive windows each; batch k holds window k of every stream, so row r of
    batch k + 1 continues row r of batch k. Windows beyond ``batch_size * K`` are left out.

    Shape:
        x, y: (M, T) -> yields (x (B, T), first (B,) bool, y (B, T)), K batches an epoch
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.streams = max(1, min(batch_size, len(x)))
        self.chunks = len(x) // self.streams  # K
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.chunks

    def __iter__(self) -> Any:
        starts = torch.arange(self.streams) * self.chunks  # (B,): each stream's first window
        for k in range(self.chunks):
            rows = starts + k
            first = torch.full((self.streams,), k == 0)
            yield self.x[rows], first, self.y[rows]


@register_task
class LanguageModeling(Task):
    """Predict the next character (or word) of a corpus (Tiny Shakespeare, any text file)."""

    name = "language_modeling"
    title = "language modelling"
    model_kinds = ("lm",)
    default_model = "lstm_lm"
    data_options = ("encoding", "limit", "tokenizer", "bptt", "seq_len", "min_freq", "max_size")

    def _corpus(self, options: DataOptions, record: dict[str, Any] | None = None) -> Any:
        from nnatlas.data import Vocab, get_spec, load_lm_corpus, tokenizer_from_dict

        reader = options.reader_options(get_spec(options.name), ("encoding",))
        held_out = max(options.val_fraction, MIN_HELD_OUT)
        if record is not None:  # the run's own vocabulary and tokenizer
            return load_lm_corpus(
                options.name,
                root=options.root,
                tokenizer=tokenizer_from_dict(record["tokenizer"]),
                val_fraction=held_out,
                vocab=Vocab.from_dict(record["vocab"]),
                **reader,
            )
        tokenizer = options.tokenizer or "char"
        min_freq = options.min_freq or (WORD_MIN_FREQ if tokenizer == "word" else 1)
        return load_lm_corpus(
            options.name,
            root=options.root,
            tokenizer=tokenizer,
            val_fraction=held_out,
            min_freq=min_freq,
            max_size=options.max_size,
            **reader,
        )

    @staticmethod
    def _windows(
        corpus: Any, seq_len: int, limit: int | None = None, train_len: int | None = None
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Windows of ``seq_len`` tokens per split (``train_len`` for training, when given)."""
        from nnatlas.data import lm_windows

        half = corpus.val.numel() // 2
        streams = {"train": corpus.train, "val": corpus.val[:half], "test": corpus.val[half:]}
        windows = {}
        for split, ids in streams.items():
            length = train_len if split == "train" and train_len else seq_len
            try:
                windows[split] = lm_windows(ids, length)
            except ValueError as err:
                raise TaskError(
                    f"{corpus.name}: the {split} part of the corpus has {ids.numel()} tokens, "
                    f"fewer than one window of {length} plus a target; use a longer text or a "
                    "larger --val-fraction"
                ) from err
        windows["train"] = limit_rows(windows["train"], limit, 0, stratify=False)
        return windows

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import tokenizer_to_dict

        corpus = self._corpus(options)
        seq_len = options.seq_len or (WORD_SEQ_LEN if options.tokenizer == "word" else SEQ_LEN)
        windows = self._windows(corpus, seq_len, options.limit, options.bptt)
        record = {
            "classes": list(corpus.vocab.itos),  # what each logit predicts
            "vocab": vocab_record(corpus.vocab),
            "tokenizer": tokenizer_to_dict(corpus.tokenizer),
            "seq_len": seq_len,
            "bptt": options.bptt,  # None: shuffled windows, each from a zero state
            "input_shape": [seq_len],
        }
        facts = {"vocab_size": len(corpus.vocab)}
        prepared = Prepared(windows["train"], windows["val"], windows["test"], record, facts)
        words = "words" if options.tokenizer == "word" else "characters"
        if options.tokenizer == "word":
            unk = float((corpus.train == corpus.vocab.unk_id).double().mean())
            prepared.notes.append(
                f"a vocabulary of {len(corpus.vocab):,} words; {unk:.1%} of the training "
                "words are <unk>"
            )
        if options.bptt:
            x, y = windows["train"]
            prepared.batches = lambda config: StreamBatches(x, y, config.batch_size)
            prepared.notes.append(
                f"truncated BPTT: consecutive chunks of {options.bptt} {words}, the hidden "
                "state carried between them (detached)"
            )
        return prepared

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        corpus = self._corpus(options, record)
        return self._windows(corpus, record["seq_len"], options.limit, record.get("bptt"))[split]

    def step(self, config: Any) -> Any:
        return LanguageModelStep(config.label_smoothing)

    def output_metrics(self, run: Any, options: DataOptions, split: str) -> dict[str, Any]:
        """The split read as running text: the windows in the order of the text, the state
        carried from one to the next (as char-rnn and Zaremba et al. evaluate), so only the
        first characters of each of :data:`EVAL_STREAMS` streams are predicted without context.
        The ``loss`` of the windows, each from a zero state, is the nanoGPT measure; this one,
        ``stream_loss`` (nats per token) and ``stream_bits``, is the recurrent-model measure.
        """
        x, y = self.load_split(options, run.record, split)
        trainer = run.trainer
        batches = StreamBatches(x, y, min(EVAL_STREAMS, len(x)))
        total, tokens, state = 0.0, 0, None
        trainer.model.eval()
        with trainer.no_grad():
            for xb, _, yb in batches:
                xb, yb = trainer.to_device((xb, yb))
                logits, state = trainer.model(xb, state)  # (B, T, V), carried to the next
                count = int(yb.numel() if isinstance(yb, torch.Tensor) else yb.size)
                total += float(trainer.losses.cross_entropy(logits, yb)) * count
                tokens += count
        loss = total / max(tokens, 1)
        return {"stream_loss": loss, "stream_bits": loss / float(np.log(2))}

    def predict(
        self,
        run: Any,
        input: str,
        *,
        length: int = 300,
        temperature: float = 0.8,
        seed: int = 0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> Generation:
        """Sample ``length`` tokens after the prompt ``input``.

        Args:
            length: how many tokens (characters or words) to sample.
            temperature: divides the logits before sampling (< 1 is more conservative; 0
                always takes the most likely token).
            seed: seed of the sampling, so the same call gives the same text.
            top_k: sample among the k most likely tokens only (1 is greedy).
            top_p: sample among the most likely tokens holding this much probability only
                (nucleus sampling).
        """
        from nnatlas.data import Vocab, tokenizer_from_dict

        if not input:
            raise TaskError("the prompt is empty: give at least one character, e.g. 'ROMEO:'")
        if length < 1:
            raise TaskError(f"--length must be at least 1, got {length}")
        if not temperature >= 0:
            raise TaskError(f"--temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise TaskError(f"--top-k must be at least 1, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise TaskError(f"--top-p must be in (0, 1], got {top_p}")
        sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        vocab = Vocab.from_dict(run.record["vocab"])
        tokenizer = tokenizer_from_dict(run.record["tokenizer"])
        ids = vocab.encode(tokenizer(input))  # characters the model never saw -> <unk>
        model = run.trainer.model
        if isinstance(model, torch.nn.Module):
            generator = torch.Generator().manual_seed(seed)
            model.eval()
            out = model.generate(torch.tensor(ids), length, generator=generator, **sampling)
            out = out.tolist()
        else:  # a NumPy twin
            rng = np.random.default_rng(seed)
            out = model.generate(ids, length, rng=rng, **sampling).tolist()
        sep = "" if run.record["tokenizer"]["type"] == "char" else " "
        text = sep.join(vocab.decode(out[len(ids) :], skip_specials=True))  # after the prompt
        if sep and text:
            text = sep + text  # words: a space between the prompt and what follows
        settings = {"length": length, "seed": seed, **sampling}
        return Generation(input, text, settings)
