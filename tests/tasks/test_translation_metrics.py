"""A translation run is scored on its decoded outputs: corpus BLEU (sacrebleu) and exact match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

import nnatlas.tasks as tasks


def write_pairs(path: Path) -> str:
    """A word-for-word code: three numbers in English and in French (long enough for BLEU's
    4-grams)."""
    numbers = ["one", "two", "three", "four", "five"]
    french = ["un", "deux", "trois", "quatre", "cinq"]
    lines = [f"{numbers[i]} {numbers[j]} {numbers[k]}\t{french[i]} {french[j]} {french[k]}."
             for i in range(5) for j in range(5) for k in range(5)]  # fmt: skip
    path.write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    return f"pairs:{path}"


def test_bleu_of_the_references_against_themselves_is_100() -> None:
    references = ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee."]
    assert sacrebleu.corpus_bleu(references, [references]).score == pytest.approx(100.0)


def test_a_translation_run_reports_bleu_with_its_signature(tmp_path: Path) -> None:
    data = write_pairs(tmp_path / "pairs.txt")
    run = tasks.train(None, data, epochs=4, batch_size=16, lr=5e-3, run_dir=tmp_path / "run",
                      quiet=True, tensorboard=False, threads=1)  # fmt: skip
    test = run.test_metrics
    assert test["exact_match"] > 0.9 and test["bleu"] > 80  # a code the model learns exactly
    outputs = json.loads((tmp_path / "run" / "test_outputs.json").read_text())
    assert outputs["signature"].startswith("nrefs:1|case:lc|eff:no|tok:13a")
    assert outputs["samples"][0]["reference"].endswith(".")  # scored against the raw text
    # The outputs are detokenized ("un deux trois." not "un deux trois ."), as written.
    samples = outputs["samples"]
    assert sum(s["output"] == s["reference"].lower() for s in samples) >= 0.8 * len(samples)
    evaluated = tasks.evaluate(run.dir)
    assert evaluated["bleu"] == pytest.approx(test["bleu"])
    assert "signature" in evaluated.details
