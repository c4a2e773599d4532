"""Language modelling: a character corpus cut into windows, next-character targets, sampling.

The corpus's contiguous tail (``val_fraction``, at least 2%) is held out and halved into
validation and test, so no test character was seen in training. Each split becomes
non-overlapping windows of :data:`SEQ_LEN` characters, ``x`` and ``y = x`` shifted by one; a
language model then "classifies" the next character, so the classification step, accuracy and
perplexity apply unchanged. The run keeps the vocabulary, so sampling needs no data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnatlas.tasks.base import DataOptions, Prepared, Task, TaskError, limit_rows, register_task
from nnatlas.tasks.results import Generation
from nnatlas.tasks.text import vocab_record

SEQ_LEN = 128  # characters per window (char-rnn's default is 50, nanoGPT's shakespeare_char 256)
MIN_HELD_OUT = 0.02  # at least this share of the corpus is held out (validation + test)


@register_task
class LanguageModeling(Task):
    """Predict the next character of a corpus (Tiny Shakespeare, any text file)."""

    name = "language_modeling"
    title = "language modelling"
    model_kinds = ("lm",)
    default_model = "lstm_lm"
    data_options = ("encoding", "limit")

    def _corpus(self, options: DataOptions, record: dict[str, Any] | None = None) -> Any:
        from nnatlas.data import Vocab, get_spec, load_lm_corpus

        vocab = None if record is None else Vocab.from_dict(record["vocab"])
        return load_lm_corpus(
            options.name,
            root=options.root,
            val_fraction=max(options.val_fraction, MIN_HELD_OUT),
            vocab=vocab,
            **options.reader_options(get_spec(options.name), ("encoding",)),
        )

    @staticmethod
    def _windows(
        corpus: Any, seq_len: int, limit: int | None = None
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        from nnatlas.data import lm_windows

        half = corpus.val.numel() // 2
        streams = {"train": corpus.train, "val": corpus.val[:half], "test": corpus.val[half:]}
        windows = {}
        for split, ids in streams.items():
            try:
                windows[split] = lm_windows(ids, seq_len)
            except ValueError as err:
                raise TaskError(
                    f"{corpus.name}: the {split} part of the corpus has {ids.numel()} tokens, "
                    f"fewer than one window of {seq_len} plus a target; use a longer text or a "
                    "larger --val-fraction"
                ) from err
        windows["train"] = limit_rows(windows["train"], limit, 0, stratify=False)
        return windows

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import tokenizer_to_dict

        corpus = self._corpus(options)
        windows = self._windows(corpus, SEQ_LEN, options.limit)
        record = {
            "classes": list(corpus.vocab.itos),  # what each logit predicts
            "vocab": vocab_record(corpus.vocab),
            "tokenizer": tokenizer_to_dict(corpus.tokenizer),
            "seq_len": SEQ_LEN,
            "input_shape": [SEQ_LEN],
        }
        facts = {"vocab_size": len(corpus.vocab)}
        return Prepared(windows["train"], windows["val"], windows["test"], record, facts)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        corpus = self._corpus(options, record)
        return self._windows(corpus, record["seq_len"], options.limit)[split]

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
            length: how many tokens (characters) to sample.
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
        settings = {"length": length, "seed": seed, **sampling}
        return Generation(input, text, settings)
