"""Text classifier training throughput on SST-2: shuffled batches (packed) against batches
bucketed by length (no padding, PyTorch's fused LSTM kernel), in one process.

Until 2026-12-02 the text task cut its training batches from a shuffled order: texts of every
length in one batch, which the model packs (``pack_padded_sequence``). On the CPU a packed
sequence runs step by step through small autograd operations; the profiler shows the time in
``aten::mm`` / ``add_`` / ``fill_`` and a third of it in the backward of the per-step slices
of the packed input. A batch of texts of one length is not packed and takes the fused oneDNN
kernel (``aten::mkldnn_rnn_layer``). "shuffled" here is the old batching (the model code packs
it exactly as before), "bucketed" the new one (:class:`nnatlas.train.TensorLoader`
``bucket_by``). Since 2026-12-03 the bucketed rounds also take the optimizer as the Trainer
builds it (:func:`nnatlas.train.optimizers.build_optimizer`: PyTorch's fused Adam, one pass over
the 1.47M embedding weights instead of six), the shuffled rounds the default ``torch.optim.Adam``
the Trainer used before; ``--same-optimizer`` gives both the default one, to see the batching's
share alone.

Each round runs ``--steps`` optimizer steps (Adam, clipping at 1, the batch cut to its longest
text as :class:`nnatlas.tasks.text.TextStep` cuts it) of each batching in turn, so a change in
the shared machine's load hits both; samples/s = samples / seconds of the round (batches differ
in size and length, so steps are not comparable one by one), median over the rounds.

Run: ``python benchmarks/text_throughput.py [--threads 1] [--old-threads 2] [--rounds 5]
[--steps 100] [--models lstm,bilstm] [--same-optimizer]``; needs ../shared/data/sst2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import nnatlas.models.rnn_classifier  # noqa: F401  (register the zoo entries used here)
from nnatlas.models.registry import create_model
from nnatlas.tasks.base import DataOptions
from nnatlas.tasks.text import TextClassification
from nnatlas.threads import configure_threads
from nnatlas.train import TensorLoader
from nnatlas.train.optimizers import build_optimizer

MODELS = {"lstm": {}, "bilstm": {"bidirectional": True}}


def round_samples_per_second(model, loader: TensorLoader, steps: int, fused: bool) -> float:
    """Samples per second over ``steps`` training steps from a fresh epoch of ``loader``
    (``fused``: Adam as the Trainer builds it now, else the default ``torch.optim.Adam``)."""
    if fused:
        optimizer = build_optimizer("adam", model.parameters(), lr=2e-3)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    batches = iter(loader)
    samples, start = 0, time.perf_counter()
    for _ in range(steps):
        x, lengths, y = next(batches)
        x = x[:, : int(lengths.max())]  # (B, longest)
        loss = torch.nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        samples += len(y)
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = automatic)")
    parser.add_argument(
        "--old-threads",
        type=int,
        default=None,
        help="threads for the shuffled rounds (default: --threads); 2 is what the automatic "
        "choice gave these classifiers on 2 cores before 2026-12-02",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per round")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--data-root", default=None, help="folder of sst2 (default: found)")
    parser.add_argument(
        "--same-optimizer",
        action="store_true",
        help="the default torch.optim.Adam in both batchings (the batching's share alone)",
    )
    args = parser.parse_args()

    threads = configure_threads(args.threads, engine="torch")
    old_threads = args.old_threads or threads
    kind_threads = {"shuffled": old_threads, "bucketed": threads}
    prepared = TextClassification().load(DataOptions(name="sst2", root=args.data_root))
    x, lengths, y = prepared.train
    facts = prepared.facts
    loaders = {
        "shuffled": TensorLoader(x, lengths, y, batch_size=args.batch_size, shuffle=True),
        "bucketed": TensorLoader(
            x, lengths, y, batch_size=args.batch_size, shuffle=True, bucket_by=lengths
        ),
    }
    print(
        f"torch {torch.__version__}, {old_threads} thread(s) shuffled, {threads} bucketed; "
        f"SST-2 train {len(y):,} texts "
        f"(mean length {lengths.float().mean():.1f}), batch {args.batch_size}; Adam "
        f"{'default in both' if args.same_optimizer else 'default shuffled, fused bucketed'}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for name in args.models.split(","):
        results: dict[str, list[float]] = {kind: [] for kind in loaders}
        for _ in range(args.rounds):
            for kind, loader in loaders.items():
                torch.set_num_threads(kind_threads[kind])
                torch.manual_seed(0)
                model = create_model(
                    "lstm_classifier",
                    vocab_size=facts["vocab_size"],
                    num_classes=facts["num_classes"],
                    padding_idx=facts["padding_idx"],
                    **MODELS[name],
                )
                fused = kind == "bucketed" and not args.same_optimizer
                results[kind].append(round_samples_per_second(model, loader, args.steps, fused))
        old, new = (statistics.median(results[kind]) for kind in ("shuffled", "bucketed"))
        spread = {k: f"{min(v):.0f}-{max(v):.0f}" for k, v in results.items()}
        print(
            f"  {name}: shuffled (packed) {old:.0f} samples/s [{spread['shuffled']}], "
            f"bucketed {new:.0f} samples/s [{spread['bucketed']}], {new / old:.2f}x",
            flush=True,
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
