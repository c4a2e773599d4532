"""Translation quality: the encoder-decoder with attention on dates (exact match) and Multi30k
en->de (corpus BLEU with sacrebleu on test_2016_flickr).

Prints the test BLEU and exact match, the sacrebleu signature, the wall time (data loading
included) and the command. Multi30k needs ../shared/data/multi30k.

Run: ``python benchmarks/translation.py [--data dates|multi30k] [--epochs N] [--lr R]
[--hidden H] [--reverse-pairs]`` (``--reverse-pairs``: the other way, e.g. Multi30k de->en).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import nnatlas.tasks as tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="dates")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--reverse-pairs", action="store_true", help="translate the other way")
    args = parser.parse_args()
    options = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr)) if v is not None}
    model_options = {"hidden_size": args.hidden} if args.hidden else {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run = tasks.train("seq2seq", args.data, run_dir=folder, model_options=model_options,
                          reverse_pairs=args.reverse_pairs, quiet=True, **options)  # fmt: skip
        details = run.task.output_metrics(run, run.options, "test")
    seconds = time.perf_counter() - start
    test = run.test_metrics
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
    flags += "".join(f" --model-option {k}={v}" for k, v in model_options.items())
    flags += " --reverse-pairs" if args.reverse_pairs else ""
    print(f"test BLEU {test['bleu']:.2f}, exact match {test['exact_match']:.4f}, token accuracy "
          f"{test['accuracy']:.4f} ({len(run.history)} epochs)")  # fmt: skip
    print(f"sacrebleu {details['signature']}")
    for sample in details["samples"][:3]:
        print(f"  {sample['source']!r} -> {sample['output']!r} (reference {sample['reference']!r})")
    print(f"wall time {seconds:.1f} s; command: nnatlas train seq2seq --data {args.data} {flags}")


if __name__ == "__main__":
    main()
