"""Validation for a phrase-level training set: whole sentences held out (SST)."""

from __future__ import annotations

import pytest

from nnatlas.data.text.phrases import carve_sentences, sentence_roots
from nnatlas.data.text.readers import LabeledTexts

# Three "sentences" and their phrases, SST-style (tokens split by spaces); "the film" is a
# phrase of two sentences.
SENTENCES = ["the film is n't funny", "a lovely , moving film", "i liked the film a lot"]
PHRASES = ["the film", "is n't funny", "funny", "lovely , moving", "moving film", "liked",
           "the film a lot", "a lot"]  # fmt: skip


def corpus() -> LabeledTexts:
    texts = PHRASES[:4] + SENTENCES + PHRASES[4:]
    labels = [1 if "lov" in t or "lik" in t or "lot" in t else 0 for t in texts]
    return LabeledTexts(texts, labels)


def test_the_roots_are_the_texts_no_longer_text_contains():
    texts = corpus().texts
    roots = sentence_roots([tuple(t.split()) for t in texts])
    assert sorted(texts[i] for i in roots) == sorted(SENTENCES)
    # A repeated sentence is one root; a span of tokens, not of characters, counts.
    assert len(sentence_roots([("a", "b"), ("a", "b"), ("ab",)])) == 2


@pytest.mark.parametrize("seed", range(4))
def test_validation_holds_whole_sentences_and_training_only_phrases_of_the_others(seed):
    split = corpus()
    train, val, report = carve_sentences(split, fraction=0.34, seed=seed)
    assert len(val) == report.held_out == 1 and val.texts[0] in SENTENCES
    kept = [s for s in SENTENCES if s != val.texts[0]]
    for text in train.texts:  # every training text is a span of a kept sentence
        assert any(f" {text} " in f" {s} " for s in kept), text
    # Phrases of the held-out sentence that the kept ones also contain stay ("the film").
    assert "the film" in train.texts
    assert len(train) + len(val) + report.dropped == len(split)
    assert report.dropped >= 1 and report.sentences == 3
    assert "1 of the 3 training sentences" in report.describe()


def test_no_fraction_keeps_everything_for_training():
    train, val, report = carve_sentences(corpus(), fraction=0.0, seed=0)
    assert len(train) == len(corpus()) and len(val) == 0 and report.dropped == 0


def test_no_validation_note_when_nothing_is_held_out():
    from nnatlas.data.text.pipeline import _carve_validation
    from nnatlas.data.text.readers import RawTextClassification

    raw = RawTextClassification("sst2", ["negative", "positive"], corpus(), phrases=True)
    train, val, how, note = _carve_validation(raw, raw.train, 0.0, 1, "auto")
    assert how == "sentences" and len(val) == 0 and note == ""
    train, val, how, note = _carve_validation(raw, raw.train, 0.34, 1, "auto")
    assert len(val) == 1 and "1 of the 3 training sentences" in note


def test_the_task_options_offer_every_validation_split() -> None:
    from nnatlas.data.text.pipeline import VAL_SPLITS as PIPELINE_SPLITS
    from nnatlas.tasks.base import VAL_SPLITS

    # kept twice on purpose (see base.py): the options name every split but "auto", the default
    assert ("auto", *VAL_SPLITS) == PIPELINE_SPLITS
