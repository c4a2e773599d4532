"""Sequence to sequence (translation): sentence pairs, two vocabularies, teacher forcing.

Each split is four tensors: the source ids (N, S) padded with <pad>, the source lengths (N,),
the decoder inputs ``[<bos>, y1 .. yn]`` (N, T) and the targets ``[y1 .. yn, <eos>]`` (N, T)
whose padding is :data:`~nnatlas.train.metrics.IGNORE_INDEX`, so it counts in neither the loss
nor the metrics. :class:`Seq2SeqStep` feeds them to the encoder-decoder as separate tensors,
trimmed per batch to its longest source and target. The run keeps both vocabularies and the
tokenizer, so ``predict`` translates a new sentence with no access to the dataset.
"""

from __future__ import annotations

from typing import Any

import torch

from nnatlas.tasks.base import (
    DataOptions,
    Prepared,
    Task,
    TaskError,
    limit_rows,
    pick_example,
    register_task,
    split_index,
)
from nnatlas.tasks.results import Translation
from nnatlas.tasks.text import vocab_record
from nnatlas.train.metrics import IGNORE_INDEX
from nnatlas.train.steps import Step, StepOutput

TOKENIZER = {"dates": "char"}  # others (multi30k, pairs:PATH) are word-tokenized
MAX_LEN = 50  # tokens kept per side
WORD_MIN_FREQ = 2  # words seen once in training become <unk> (halves Multi30k's vocabularies)
EXTRA_DECODE_STEPS = 10  # a translation may run this much longer than the longest target


def _decode(
    model: Any, src: torch.Tensor, beam: int, max_len: int, lengths: torch.Tensor | None = None
) -> Any:
    """Greedy (``beam`` 1) or beam-search decoding of ``src`` (N, S) by either engine's model:
    the zoo's ``Seq2Seq`` or its NumPy twin, which has the same two methods on arrays.

    Returns:
        (N, L) ids, a tensor or an array, each row ending with eos (see ``Seq2Seq``).
    """
    model.eval()
    if not isinstance(model, torch.nn.Module):  # a NumPy twin
        src = src.numpy()  # type: ignore[assignment]
        lengths = None if lengths is None else lengths.numpy()  # type: ignore[assignment]
    with torch.inference_mode():
        if beam == 1:
            return model.greedy_decode(src, max_len, lengths)
        return model.beam_search(src, beam, max_len, src_lengths=lengths)


class Seq2SeqStep(Step):
    """Teacher forcing: the decoder reads the true previous token; cross-entropy per target token.

    Args:
        label_smoothing: applied in training steps only.

    Shape:
        batch: src (B, S) int64, src_lengths (B,), tgt_in (B, T), tgt_out (B, T) with
        IGNORE_INDEX padding; ``model(src, tgt_in, src_lengths=...)`` -> logits (B, T', V).
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = label_smoothing

    def loss(self, model: Any, batch: Any, losses: Any, training: bool) -> StepOutput:
        src, src_lengths, tgt_in, tgt_out = batch
        # Decode only up to the batch's longest target and read only its longest source: the
        # later columns are padding in every row.
        steps = int((tgt_out != IGNORE_INDEX).sum(1).max())
        src = src[:, : int(src_lengths.max())]  # (B, S')
        targets = tgt_out[:, :steps]  # (B, T')
        logits = model(src, tgt_in[:, :steps], src_lengths=src_lengths)  # (B, T', V)
        loss = losses.cross_entropy(
            logits, targets, label_smoothing=self.label_smoothing if training else 0.0
        )
        return StepOutput(loss, logits, targets)


def pair_tensors(part: Any) -> tuple[torch.Tensor, ...]:
    """An encoded split as (src, src_lengths, tgt_in, tgt_out), targets padded with
    IGNORE_INDEX. Shape: (N, S), (N,), (N, T), (N, T)."""
    from nnatlas.data import PAD_ID, collate_pairs

    src, src_lengths, tgt_in, tgt_out = collate_pairs(list(zip(part.src, part.tgt, strict=True)))
    return src, src_lengths, tgt_in, tgt_out.masked_fill(tgt_out == PAD_ID, IGNORE_INDEX)


@register_task
class Seq2Seq(Task):
    """Translate sentences (dates to ISO 8601, Multi30k English to German, a pairs file), in
    either direction (``reverse_pairs``)."""

    name = "seq2seq"
    title = "sequence to sequence"
    model_kinds = ("seq2seq",)
    default_model = "seq2seq"
    data_options = ("encoding", "limit", "reverse_pairs", "min_freq", "max_size")

    def _encode(self, options: DataOptions, record: dict[str, Any] | None = None) -> Any:
        from nnatlas.data import (
            Vocab,
            encode_pairs,
            get_spec,
            load_translation_pairs,
            tokenizer_from_dict,
        )

        reader = options.reader_options(get_spec(options.name), ("encoding",))
        if options.name == "dates":
            reader["seed"] = options.seed
        elif options.name.startswith("pairs:"):
            reader.update(seed=options.seed, val_fraction=options.val_fraction)
        raw = load_translation_pairs(options.name, root=options.root, **reader)
        if options.reverse_pairs:
            raw = raw.reversed()
        if record is not None:  # the run's own vocabularies and tokenizer
            return encode_pairs(
                raw,
                tokenizer=tokenizer_from_dict(record["tokenizer"]),
                max_len=record["max_len"],
                src_vocab=Vocab.from_dict(record["src_vocab"]),
                tgt_vocab=Vocab.from_dict(record["tgt_vocab"]),
            )
        tokenizer = TOKENIZER.get(options.name, "word")
        min_freq = options.min_freq or (WORD_MIN_FREQ if tokenizer == "word" else 1)
        return encode_pairs(
            raw, tokenizer=tokenizer, min_freq=min_freq, max_size=options.max_size, max_len=MAX_LEN
        )

    def load(self, options: DataOptions, entry: Any = None) -> Prepared:
        from nnatlas.data import tokenizer_to_dict

        encoded = self._encode(options)
        parts = {name: getattr(encoded, name) for name in ("train", "val", "test")}
        for name in ("train", "test"):
            if not len(parts[name]):
                raise TaskError(f"{options.name}: the {name} split holds no sentence pairs")
        target_len = max(max(len(t) for t in p.tgt) for p in parts.values() if len(p)) + 1
        record = {
            "classes": list(encoded.tgt_vocab.itos),  # what each logit predicts
            "src_vocab": vocab_record(encoded.src_vocab),
            "tgt_vocab": vocab_record(encoded.tgt_vocab),
            "tokenizer": tokenizer_to_dict(encoded.tokenizer),
            "max_len": encoded.max_len,
            "target_len": target_len,  # the longest target + <eos>
            # e.g. "en -> de"; reverse_pairs turns it round
            "direction": f"{encoded.src_lang} -> {encoded.tgt_lang}",
        }
        facts = {"src_vocab_size": len(encoded.src_vocab), "tgt_vocab_size": len(encoded.tgt_vocab)}
        val = pair_tensors(parts["val"]) if len(parts["val"]) else None
        train = limit_rows(pair_tensors(parts["train"]), options.limit, 0, stratify=False)
        notes = [f"translating {record['direction']}, the pairs reversed"] * options.reverse_pairs
        return Prepared(train, val, pair_tensors(parts["test"]), record, facts, notes=notes)

    def load_split(
        self, options: DataOptions, record: dict[str, Any], split: str
    ) -> tuple[torch.Tensor, ...]:
        part = getattr(self._encode(options, record), split)
        if not len(part):
            raise TaskError(f"{options.name}: the {split} split holds no sentence pairs")
        tensors = pair_tensors(part)
        return (
            limit_rows(tensors, options.limit, 0, stratify=False) if split == "train" else tensors
        )

    def step(self, config: Any) -> Step:
        return Seq2SeqStep(config.label_smoothing)

    def output_metrics(
        self, run: Any, options: DataOptions, split: str, beam: int = 1, batch: int = 64
    ) -> dict[str, Any]:
        """Decode every source of a split and score the translations as a whole: corpus BLEU
        (sacrebleu, 13a tokenization, its signature kept) of the detokenized outputs against the
        raw reference sentences, and the share of exact matches.

        Returns:
            ``{"bleu": float, "exact_match": float, "signature": str, "samples": [...],
            "decoding": "greedy" | "beam N"}``
        """
        import sacrebleu

        from nnatlas.data import Vocab, decode_until_eos, tokenizer_from_dict

        record, model = run.record, run.trainer.model
        part = getattr(self._encode(options, record), split)
        tokenizer = tokenizer_from_dict(record["tokenizer"])
        tgt_vocab = Vocab.from_dict(record["tgt_vocab"])
        src, src_lengths, _, _ = pair_tensors(part)
        max_len = record["target_len"] + EXTRA_DECODE_STEPS
        hypotheses = []
        for i in range(0, len(src), batch):
            rows = slice(i, i + batch)
            width = int(src_lengths[rows].max())
            out = _decode(model, src[rows, :width], beam, max_len, src_lengths[rows])
            hypotheses += [decode_until_eos(row, tgt_vocab, tokenizer) for row in out]
        truths = [decode_until_eos(t, tgt_vocab, tokenizer) for t in part.tgt]
        references = [target for _, target in part.pairs]
        # The outputs are lower-cased when the tokenizer lower-cases: score case-insensitively.
        metric = sacrebleu.BLEU(lowercase=bool(record["tokenizer"].get("lower", False)))
        score = metric.corpus_score(hypotheses, [references])
        exact = sum(h == t for h, t in zip(hypotheses, truths, strict=True)) / max(len(truths), 1)
        samples = [
            {"source": source, "output": output, "reference": reference}
            for (source, reference), output in list(zip(part.pairs, hypotheses, strict=True))[:10]
        ]
        return {"bleu": float(score.score), "exact_match": exact,
                "signature": str(metric.get_signature()), "samples": samples,
                "decoding": "greedy" if beam == 1 else f"beam {beam}"}  # fmt: skip

    def predict(self, run: Any, input: str, *, beam: int = 1) -> Translation:
        """Translate a sentence (or the source of ``SPLIT:INDEX``, compared with its reference).

        Args:
            beam: beam width; 1 decodes greedily.
        """
        from nnatlas.data import Vocab, decode_until_eos, encode_text, tokenizer_from_dict

        if beam < 1:
            raise TaskError(f"--beam must be at least 1, got {beam}")
        record = run.record
        tokenizer = tokenizer_from_dict(record["tokenizer"])
        src_vocab, tgt_vocab = (Vocab.from_dict(record[k]) for k in ("src_vocab", "tgt_vocab"))
        source, reference, target = input, None, None
        example = split_index(input)
        if example is not None:
            split, index = example
            part = getattr(self._encode(run.options, record), split)
            index = pick_example((part.src,), input, split, index)
            (source, reference), target = part.pairs[index], part.tgt[index]
        src = encode_text(source, src_vocab, tokenizer, record["max_len"]).unsqueeze(0)  # (1, S)
        max_len = record["target_len"] + EXTRA_DECODE_STEPS
        out = _decode(run.trainer.model, src, beam, max_len)[0]
        output = decode_until_eos(out, tgt_vocab, tokenizer)
        if target is None:
            return Translation(source, output)
        # Compared as tokenized (word-level runs lower-case and split off punctuation).
        correct = output == decode_until_eos(target, tgt_vocab, tokenizer)
        return Translation(source, output, reference, correct)
