"""SST-2's dev words that its training phrases never show, and how many GloVe knows.

Prints the share of dev tokens outside the training vocabulary, the share of dev sentences
with at least one, the share of those words GloVe 6B 50d has a vector for, and how many
training phrases the Penn Treebank split (``--punctuation ptb``) changes against a split on
spaces. The README's SST-2 section quotes them. Needs ../shared/data/sst2 and `make glove`.

Run: ``python benchmarks/sst2_unseen_words.py [--root ../shared/data/sst2]``
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from nnatlas.data import load_word_vectors
from nnatlas.data.text.tokenize import WordTokenizer


def read(path: Path) -> list[str]:
    """The text column of a GLUE SST-2 .tsv (header row skipped)."""
    with path.open(encoding="utf-8") as f:
        return [row[0] for row in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/data/sst2"))
    args = parser.parse_args()
    train, dev = read(args.root / "train.tsv"), read(args.root / "dev.tsv")
    ptb = WordTokenizer(punctuation="ptb")
    seen = Counter(w for text in train for w in ptb(text))
    dev_tokens = [ptb(text) for text in dev]
    unseen = [w for tokens in dev_tokens for w in tokens if w not in seen]
    total = sum(len(tokens) for tokens in dev_tokens)
    with_unseen = sum(any(w not in seen for w in tokens) for tokens in dev_tokens)
    glove = load_word_vectors("glove-6b-50d")
    known = sum(w in glove.index for w in unseen)
    changed = sum(ptb(text) != text.lower().split() for text in train)
    print(
        f"dev tokens the training phrases never show: {len(unseen):,} of {total:,} "
        f"({len(unseen) / total:.1%}), in {with_unseen / len(dev):.0%} of the dev sentences"
    )
    print(f"of those, GloVe 6B 50d has a vector for {known / len(unseen):.0%}")
    print(
        f"training phrases the ptb split changes against a split on spaces: {changed:,} of "
        f"{len(train):,}"
    )
    print("command: python benchmarks/sst2_unseen_words.py")


if __name__ == "__main__":
    main()
