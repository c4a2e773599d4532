"""Text generation quality: a character language model on Tiny Shakespeare, held-out loss.

Prints the held-out loss in nats and bits per character on the last tenth of the text (as
nanoGPT holds out its last 10%; nnatlas halves it into validation and test, so both halves and
their window-weighted mean are printed), the same read as running text with the state carried,
the wall time (data loading and testing included) and the command that reproduces it. Needs
../shared/data/tinyshakespeare (or the file at --data text:PATH).

Run: ``python benchmarks/text_generation.py [--model lstm_lm] [--engine torch] [--epochs 3]
[--hidden 256] [--layers 2] [--lr 3e-3] [--batch-size 64] [--bptt 64] [--seq-len 256]
[--tokenizer word]``
(``--bptt T``: truncated BPTT, the hidden state carried between consecutive chunks of T tokens;
``--seq-len N``: windows of N tokens, for training and the held-out loss; ``--tokenizer word``:
a word-level model, its loss per word).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import nnatlas.tasks as tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="tinyshakespeare")
    parser.add_argument("--model", default="lstm_lm")
    parser.add_argument("--engine", default="torch")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--dropout", type=float, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--bptt", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None, help="window length (nanoGPT: 256)")
    parser.add_argument("--tokenizer", default=None, choices=["char", "word"])
    args = parser.parse_args()
    model_options = {k: v for k, v in (("hidden_size", args.hidden), ("num_layers", args.layers),
                                       ("dropout", args.dropout)) if v is not None}  # fmt: skip
    options = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr),
                                 ("batch_size", args.batch_size),
                                 ("scheduler", args.scheduler)) if v is not None}  # fmt: skip
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run = tasks.train(args.model, args.data, engine=args.engine, run_dir=folder,
                          model_options=model_options, quiet=True, bptt=args.bptt,
                          seq_len=args.seq_len, tokenizer=args.tokenizer, **options)  # fmt: skip
        seconds = time.perf_counter() - start
        val = tasks.evaluate(run, "val")
    test = run.test_metrics
    # The whole held-out tail (nanoGPT's "val"): both halves, weighted by their windows.
    windows = val.examples, len(run.task.load_split(run.options, run.record, "test")[0])
    loss = (val["loss"] * windows[0] + test["loss"] * windows[1]) / sum(windows)
    stream = (val["stream_loss"] * windows[0] + test["stream_loss"] * windows[1]) / sum(windows)
    reading = {"bptt": args.bptt, "seq_len": args.seq_len, "tokenizer": args.tokenizer}
    flags = " ".join(f"--{k.replace('_', '-')} {v}"
                     for k, v in {**options, **reading}.items() if v is not None)  # fmt: skip
    flags += "".join(f" --model-option {k}={v}" for k, v in model_options.items())
    unit = "word" if args.tokenizer == "word" else "char"
    print(f"held-out loss {loss:.4f} nats/{unit} = {loss / math.log(2):.4f} bits/{unit}, "
          f"perplexity {math.exp(loss):.3f} (the whole held-out tail; validation "
          f"{val['loss']:.4f}, test {test['loss']:.4f}, test next-{unit} accuracy "
          f"{test['accuracy']:.4f})")  # fmt: skip
    print(f"read as running text, the state carried: {stream:.4f} nats/{unit} (validation "
          f"{val['stream_loss']:.4f}, test {test['stream_loss']:.4f})")  # fmt: skip
    print(f"wall time {seconds:.1f} s ({len(run.history)} epochs, {run.config.engine} engine)")
    print(f"command: nnatlas train {args.model} --data {args.data} --engine {args.engine} {flags}")


if __name__ == "__main__":
    main()
