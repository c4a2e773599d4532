"""Machine translation: a GRU encoder-decoder with and without attention, BLEU, greedy vs beam.

The quick run translates dates written every which way into ISO 8601 (``friday, january 12,
1934`` -> ``1934-01-12``, digits written apart), a synthetic task from the catalog's generator
(:func:`nnatlas.data.date_pairs`), written as a ``pairs:`` file so the splits stay small
enough to decode in seconds; the full run translates Multi30k's English captions into German
when a copy is present (``../shared/data`` or ``nnatlas data get multi30k``; a 2-core CPU
needs minutes per epoch there, too slow for the quick path). The same seq2seq trains with
Bahdanau attention and without it; the attention model's test translations are scored with
corpus BLEU (sacrebleu) decoded greedily and with a beam, and one attention matrix is drawn.
"""

from __future__ import annotations

import re
from typing import Any

import nnatlas.data as data
import nnatlas.inspect as inspect
import nnatlas.tasks as tasks
from nnatlas.files import write_text_atomic
from nnatlas.lessons import needs, plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    LessonError,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)

MULTI30K = "multi30k"


def digits_apart(text: str) -> str:
    """``'May 23, 1978'`` -> ``'May 2 3, 1 9 7 8'``: a ``pairs:`` file is read word by word,
    and a whole number as one word would make every year a rare word; digit by digit, as
    subword tokenizers split numbers, the vocabulary is the 10 digits."""
    return " ".join(re.sub(r"(\d)", r" \1 ", text).split())


def dates_file(ctx: Context, n: int) -> str:
    """``n`` generated date pairs (seeded by the run) as a tab-separated ``pairs:`` file."""
    pairs = data.date_pairs(n, seed=ctx.seed)
    path = ctx.path("data/dates.tsv")
    lines = (f"{digits_apart(src)}\t{digits_apart(tgt)}\n" for src, tgt in pairs)
    write_text_atomic(path, "".join(lines))
    return f"pairs:{path}"


def _data(ctx: Context) -> tuple[str, str]:
    cfg = ctx.config
    if cfg["data"] == "dates":
        return dates_file(ctx, cfg["pairs"]), "dates"
    if cfg["data"] != MULTI30K:
        raise LessonError(f"translation: -o data={cfg['data']!r}: choose dates or multi30k")
    if MULTI30K in ctx.missing:  # the runner's note says how to get it
        ctx.note("The fallback: the run translated the generated dates instead of Multi30k.")
        return dates_file(ctx, cfg["pairs"]), "dates"
    return MULTI30K, "Multi30k en-de"


def _train(ctx: Context, name: str, attention: str | None) -> Any:
    cfg = ctx.config
    return tasks.train(
        "seq2seq",
        name,
        limit=cfg["limit"],
        epochs=cfg["epochs"],
        batch_size=64,
        lr=cfg["lr"],
        grad_clip=1.0,
        metrics="accuracy",
        model_options={"attention": attention, "hidden_size": cfg["hidden"]},
        seed=ctx.seed,
        run_dir=ctx.path(f"runs/{attention or 'no-attention'}"),
        overwrite=True,
        quiet=True,
        tensorboard=False,
    )


def run(ctx: Context) -> Result:
    cfg = ctx.config
    name, label = _data(ctx)
    runs = {}
    for attention in ("bahdanau", None):
        ctx.log(f"  seq2seq on {label}, attention {attention or 'none'}, {cfg['epochs']} epochs")
        runs[attention] = _train(ctx, name, attention)
    best = runs["bahdanau"]
    ctx.log(f"  beam search, width {cfg['beam']}")
    beam = best.task.output_metrics(best, best.options, "test", beam=cfg["beam"])
    scores = Table(
        f"{label}: test translations, corpus BLEU (sacrebleu) and exact matches",
        ["model", "decoding", "BLEU", "exact match", "token accuracy", "seconds"],
    )
    for attention, run in runs.items():
        scores.add(
            model=f"GRU seq2seq, {'Bahdanau attention' if attention else 'no attention'}",
            decoding="greedy",
            BLEU=run.test_metrics["bleu"],
            **{
                "exact match": run.test_metrics["exact_match"],
                "token accuracy": run.test_metrics["accuracy"],
                "seconds": run.seconds,
            },
        )
    scores.add(
        model="GRU seq2seq, Bahdanau attention",
        decoding=f"beam {cfg['beam']}",
        BLEU=beam["bleu"],
        **{"exact match": beam["exact_match"], "token accuracy": None, "seconds": None},
    )
    samples = Table(
        "Test sentences, the attention model decoding greedily",
        ["source", "output", "reference"],
    )
    greedy = best.task.output_metrics(best, best.options, "test")
    for sample in greedy["samples"][: cfg["samples"]]:
        samples.add(**sample)
    plots.bars(
        ctx.path("bleu.png"),
        {
            "no attention": runs[None].test_metrics["bleu"],
            "attention, greedy": best.test_metrics["bleu"],
            f"attention, beam {cfg['beam']}": beam["bleu"],
        },
        ylabel="test BLEU",
    )
    _attention_plot(ctx, best, greedy["samples"][0]["source"])
    return Result(
        numbers={
            "bleu_greedy": best.test_metrics["bleu"],
            "attention_gain": best.test_metrics["bleu"] - runs[None].test_metrics["bleu"],
            "beam_gain": beam["bleu"] - best.test_metrics["bleu"],
        },
        tables=[scores, samples],
        plots=[
            Plot(
                "bleu.png",
                "Test BLEU: the encoder squeezed into one vector loses the details the "
                "attention model looks up; the beam adds a little on top.",
            ),
            Plot(
                "attention.png",
                "Which source token each output token read (rows sum to 1): the year is "
                "copied from where the year is, whatever the input format.",
            ),
        ],
        notes=[f"BLEU signature: {beam['signature']}"],
    )


def _attention_plot(ctx: Context, run: Any, source: str) -> None:
    record = run.record
    tokenizer = data.tokenizer_from_dict(record["tokenizer"])
    src_vocab, tgt_vocab = (data.Vocab.from_dict(record[k]) for k in ("src_vocab", "tgt_vocab"))
    ids = data.encode_text(source, src_vocab, tokenizer, record["max_len"]).unsqueeze(0)
    words = [src_vocab.itos[i] for i in ids[0].tolist()]
    inspect.plot_attention(
        run.trainer.model, ids.numpy(), words, list(tgt_vocab.itos), ctx.path("attention.png")
    )


TEACHES = paragraphs(
    """
    A sequence-to-sequence model translates in two halves. The encoder, a GRU, reads the
    source sentence token by token; the decoder, another GRU, writes the translation one
    token at a time, each step fed the token before it (during training the true one:
    teacher forcing) and ending with `<eos>`. Without attention the encoder must squeeze the
    whole sentence into its last hidden state. With Bahdanau attention the decoder, at every
    step, scores each encoder state against its own, turns the scores into weights with a
    softmax and reads their weighted sum: it looks back at the source instead of
    remembering it.

    Decoding greedily takes the most likely token at each step; a beam search keeps the
    `beam` most likely partial translations and picks the best complete one, which can
    recover from a locally likely but globally wrong choice. BLEU scores the translations of
    a whole test set against references by their shared n-grams (1 to 4 words, with a brevity
    penalty); sacrebleu fixes the tokenization so that scores compare, and prints a
    signature saying how it scored.
    """
)

LESSON = Lesson(
    id="translation",
    title="Machine translation: seq2seq with attention, BLEU, greedy and beam search",
    stage=4,
    teaches=TEACHES,
    run=run,
    quick={
        "data": "dates",  # or multi30k (the full run, when present)
        "pairs": 4000,  # generated date pairs: 80 % train, 10 % validation, 10 % test
        "limit": None,  # training pairs (None: all)
        "epochs": 3,
        "lr": 5e-3,
        "hidden": 128,
        "beam": 4,
        "samples": 6,
    },
    full={"data": MULTI30K, "epochs": 10, "lr": 1e-3, "hidden": 256},
    key_numbers=[
        KeyNumber(
            "bleu_greedy",
            "test BLEU of the attention model, greedy decoding",
            quick=(60.0, 100.0),
            full=(25.0, 40.0),
            fmt=".1f",
            reference=Reference(
                "Multi30k en-de test 2016: about 35 BLEU for attentive GRU/LSTM baselines of the "
                "shared task (the quick run's dates are far easier)",
                "Elliott, Frank, Barrault, Bougares, Specia (2017), Findings of the Second "
                "Shared Task on Multimodal Machine Translation, WMT; Bahdanau, Cho, Bengio "
                "(2015), Neural Machine Translation by Jointly Learning to Align and "
                "Translate, ICLR",
            ),
        ),
        KeyNumber(
            "attention_gain",
            "test BLEU, attention minus no attention (same data, budget, seed)",
            quick=(20.0, 90.0),
            full=(2.0, 20.0),
            fmt=".1f",
            reference=Reference(
                "attention keeps BLEU up on long sentences, where a fixed-length encoding "
                "collapses",
                "Bahdanau, Cho, Bengio (2015), Neural Machine Translation by Jointly Learning "
                "to Align and Translate, ICLR",
            ),
        ),
        KeyNumber(
            "beam_gain",
            "test BLEU, beam search minus greedy (the attention model)",
            quick=(-2.0, 5.0),
            full=(-0.5, 3.0),
            fmt=".2f",
            reference=Reference(
                "beam search adds about 1 BLEU over greedy decoding; larger beams can hurt",
                "Koehn, Knowles (2017), Six Challenges for Neural Machine Translation, "
                "Workshop on Neural Machine Translation",
            ),
        ),
    ],
    needs=[
        needs.dataset(
            MULTI30K,
            "nnatlas data get multi30k (or a copy in ../shared/data/multi30k)",
            required=False,
            used=lambda config: config["data"] == MULTI30K,  # the quick run's dates need none
        )
    ],
    commands=[
        "nnatlas train seq2seq --data dates",
        "nnatlas train seq2seq --data multi30k",
        "nnatlas eval runs/seq2seq-multi30k-torch-s0 --beam 4",
    ],
)
