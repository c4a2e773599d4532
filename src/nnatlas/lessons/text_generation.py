"""Text generation: a character-level LSTM language model, its nats per character, and samples.

The model reads a corpus one character at a time and learns to predict the next one
(``lstm_lm``: embedding, LSTM, a linear head over the characters). Its test cross-entropy, in
nats per character, stands beside two baselines measured on the same text: guessing uniformly
among the characters (log V) and knowing only how often each character occurs (the unigram
cross-entropy). Samples at three temperatures show what the number means.

The corpus is Tiny Shakespeare when a copy is present (``../shared/data`` or ``nnatlas data
get tinyshakespeare``). Offline without it, the lesson falls back on the Python Language
Reference as ``help()`` shows it: the ``pydoc_data.topics`` module of CPython's standard
library, about 465,000 characters of English prose with code, on every Python install.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import nnatlas.data as data
import nnatlas.tasks as tasks
from nnatlas.files import write_text_atomic
from nnatlas.lessons import needs, plots
from nnatlas.lessons.base import (
    Context,
    KeyNumber,
    Lesson,
    Plot,
    Reference,
    Result,
    Table,
    paragraphs,
)

SHAKESPEARE = "tinyshakespeare"


def fallback_corpus(path: Path) -> str:
    """Write the Python Language Reference's topics (CPython's ``pydoc_data``, what ``help()``
    prints) into ``path`` as one text, topics in sorted order; returns ``text:PATH``."""
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    write_text_atomic(path, "\n\n".join(topics[key] for key in sorted(topics)))
    return f"text:{path}"


def baselines(text: str, held_out: float) -> dict[str, float]:
    """Nats per character of two models that know no context, on the text's held-out tail.

    ``uniform``: log V over the training part's V distinct characters. ``unigram``: the
    cross-entropy of the tail under the training part's character frequencies (add-one
    smoothed, so a character new in the tail costs a finite amount).
    """
    cut = int(len(text) * (1 - held_out))
    counts, tail = Counter(text[:cut]), text[cut:]
    vocab = set(counts) | set(tail)
    total = cut + len(vocab)
    nats = -sum(math.log((counts[c] + 1) / total) for c in tail) / len(tail)
    return {"uniform": math.log(len(counts)), "unigram": nats, "characters": len(counts)}


def run(ctx: Context) -> Result:
    cfg = ctx.config
    if SHAKESPEARE in ctx.missing:
        name = fallback_corpus(ctx.path("data/python-reference.txt"))
        corpus, label, prompt = (
            ctx.path("data/python-reference.txt"),
            "the Python reference",
            "The ",
        )
        ctx.note(
            "Tiny Shakespeare is not here (`nnatlas data get tinyshakespeare`, or "
            "../shared/data/tinyshakespeare): the corpus is the Python Language Reference "
            "from CPython's pydoc_data module (what help() prints), which every Python "
            "install ships, so the lesson runs offline."
        )
    else:
        name, label, prompt = SHAKESPEARE, "Tiny Shakespeare", "ROMEO:"
        corpus = data.fetch(SHAKESPEARE) / "input.txt"
    text = Path(corpus).read_text(encoding="utf-8")
    ctx.log(
        f"  lstm_lm on {label}: {cfg['limit']} windows of 128 characters, {cfg['epochs']} epochs"
    )
    run = tasks.train(
        "lstm_lm",
        name,
        limit=cfg["limit"],
        val_fraction=cfg["held_out"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        grad_clip=1.0,  # LSTMs on characters: clipping keeps the rare large step in check
        metrics="accuracy,perplexity",
        model_options={
            "embed_dim": cfg["embed_dim"],
            "hidden_size": cfg["hidden"],
            "num_layers": 1,
        },
        seed=ctx.seed,
        run_dir=ctx.path("runs/lstm_lm"),
        overwrite=True,
        quiet=True,
        tensorboard=False,
    )
    test = run.test_metrics
    base = baselines(text, cfg["held_out"] / 2)  # the test split is the last half of the tail
    measures = Table(
        f"Nats per character on the test text of {label}",
        ["model", "nats per character", "bits per character", "perplexity"],
    )
    for model, nats in (
        (f"uniform over the {base['characters']:.0f} characters", base["uniform"]),
        ("character frequencies (unigram)", base["unigram"]),
        (f"LSTM, {cfg['hidden']} units", test["loss"]),
    ):
        measures.add(
            model=model,
            **{
                "nats per character": nats,
                "bits per character": nats / math.log(2),
                "perplexity": math.exp(nats),
            },
        )
    samples = Table(f"Samples after {prompt!r} (seed {ctx.seed})", ["temperature", "continuation"])
    for temperature in cfg["temperatures"]:
        out = tasks.predict(
            run.dir, prompt, length=cfg["sample_length"], temperature=temperature, seed=ctx.seed
        )
        samples.add(temperature=f"{temperature:g}", continuation=out.text)
    history = run.history
    plots.curves(
        ctx.path("loss.png"),
        {
            "training": ([h["epoch"] for h in history], [h["train_loss"] for h in history]),
            "validation": ([h["epoch"] for h in history], [h["val_loss"] for h in history]),
            "unigram baseline": ([h["epoch"] for h in history], [base["unigram"]] * len(history)),
        },
        xlabel="epoch",
        ylabel="nats per character",
    )
    return Result(
        numbers={
            "test_nats": test["loss"],
            "below_unigram": base["unigram"] - test["loss"],
        },
        tables=[measures, samples],
        plots=[
            Plot(
                "loss.png",
                "Cross-entropy per epoch against the unigram baseline: everything below the "
                "unigram line is context the LSTM has learned to use.",
            )
        ],
        notes=[
            f"A quick budget: {run.trainer.extra['sizes']['train']} training windows "
            f"({run.trainer.extra['sizes']['train'] * 128:,} characters), {len(history)} "
            "epochs on a CPU. Karpathy's char-rnn trains for hours to reach about 1.5 "
            "nats per character on Shakespeare-scale text; the samples here have learned "
            "spelling of common words and the layout of the text, not yet sense.",
        ],
    )


TEACHES = paragraphs(
    """
    A language model assigns a probability to the next token given the ones before it. At the
    level of characters, `lstm_lm` embeds each character, runs an LSTM over the sequence and
    turns each hidden state into a distribution over the V characters of the vocabulary.
    Training minimises the cross-entropy of the true next character: its average, in nats per
    character (natural logarithm; divide by ln 2 for bits), is the key measure, and its
    exponential is the perplexity, the number of equally likely characters the model is as
    unsure as.

    Two baselines make the number readable: log V, a model that guesses uniformly, and the
    unigram cross-entropy, a model that knows only how often each character occurs. The gap
    between the unigram figure and the LSTM's is what context buys: spelling, common words,
    the shape of a line.

    Generation samples one character at a time from the model's distribution and feeds it
    back. The temperature divides the logits first: below 1 the samples become conservative
    and repetitive (0 always takes the most likely character), above 1 they become more
    varied and make more mistakes.
    """
)

LESSON = Lesson(
    id="text-generation",
    title="Text generation: a character LSTM language model, nats per character, temperature",
    stage=4,
    teaches=TEACHES,
    run=run,
    quick={
        "limit": 1000,  # training windows of 128 characters
        "held_out": 0.02,  # the corpus tail held out, halved into validation and test
        "epochs": 3,
        "batch_size": 32,
        "lr": 3e-3,
        "embed_dim": 64,
        "hidden": 256,
        "temperatures": [0.5, 1.0, 1.5],
        "sample_length": 200,
    },
    full={"limit": None, "epochs": 5, "batch_size": 64, "hidden": 512},
    key_numbers=[
        KeyNumber(
            "test_nats",
            "test cross-entropy of the character LSTM, nats per character (one range for "
            "Tiny Shakespeare and the Python-reference fallback)",
            quick=(1.85, 2.45),
            full=(1.3, 1.7),
            reference=Reference(
                "about 1.1 nats per character (1.6 bits) on Wikipedia with an LSTM, after "
                "days of training",
                "Graves (2013), Generating Sequences With Recurrent Neural Networks, "
                "arXiv:1308.0850",
            ),
        ),
        KeyNumber(
            "below_unigram",
            "unigram cross-entropy minus the LSTM's, nats per character (what context buys)",
            quick=(0.95, 1.4),
            full=(1.2, 2.2),
            reference=Reference(
                "English has about 4.1 bits per character with letter frequencies alone and "
                "about 1 bit per character with long context",
                "Shannon (1951), Prediction and Entropy of Printed English, Bell System "
                "Technical Journal 30(1):50-64",
            ),
        ),
    ],
    needs=[needs.dataset(SHAKESPEARE, "nnatlas data get tinyshakespeare", required=False)],
    commands=[
        "nnatlas train lstm_lm --data tinyshakespeare",
        "nnatlas predict runs/lstm_lm-tinyshakespeare-torch-s0 'ROMEO:' --temperature 0.8",
    ],
)
