"""Vocab: reserved ids, min_freq / max_size, encode/decode, JSON round trip, coverage table."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnatlas.data.text.vocab import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    Vocab,
    vocab_coverage_table,
)

DOCS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "and", "a", "dog"],
]  # counts: the 3, cat 2, sat 2, dog 2, a 2, on 1, mat 1, and 1


def test_reserved_ids_come_first() -> None:
    v = Vocab.build(DOCS)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert v.itos[:4] == list(SPECIALS) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert v["<pad>"] == 0 and v["<unk>"] == 1 and v.pad_id == 0 and v.unk_id == 1


def test_frequency_order_with_alphabetical_ties() -> None:
    v = Vocab.build(DOCS)
    assert v.itos[4:] == ["the", "a", "cat", "dog", "sat", "and", "mat", "on"]
    assert len(v) == 12
    # the order does not depend on document order
    assert Vocab.build(DOCS[::-1]) == v


def test_min_freq_and_max_size() -> None:
    v2 = Vocab.build(DOCS, min_freq=2)
    assert v2.itos[4:] == ["the", "a", "cat", "dog", "sat"]
    assert "mat" not in v2 and "the" in v2
    v3 = Vocab.build(DOCS, min_freq=3)
    assert v3.itos[4:] == ["the"]
    small = Vocab.build(DOCS, max_size=6)  # max_size counts the 4 specials
    assert len(small) == 6 and small.itos[4:] == ["the", "a"]
    both = Vocab.build(DOCS, min_freq=2, max_size=100)
    assert both == v2
    with pytest.raises(ValueError, match="max_size=3 leaves no room"):
        Vocab.build(DOCS, max_size=3)
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        Vocab.build(DOCS, min_freq=0)


def test_build_from_counter_and_alphabetical_order() -> None:
    counter = Counter(t for doc in DOCS for t in doc)
    assert Vocab.build(counter) == Vocab.build(DOCS)
    chars = Vocab.build(["hello", "world"], order="alphabetical")  # strings count per character
    assert chars.itos[4:] == sorted(set("helloworld"))


def test_unknown_tokens_map_to_unk_and_bos_eos_frame() -> None:
    v = Vocab.build(DOCS, min_freq=2)
    assert v.encode(["the", "zebra", "cat"]) == [v["the"], UNK_ID, v["cat"]]
    assert "zebra" not in v
    ids = v.encode(["cat"], add_bos=True, add_eos=True)
    assert ids == [BOS_ID, v["cat"], EOS_ID]
    assert v.decode(ids, skip_specials=True) == ["cat"]
    assert v.decode(torch.tensor(ids)) == ["<bos>", "cat", "<eos>"]
    with pytest.raises(IndexError, match="out of range"):
        v.decode([len(v)])


def test_no_unk_means_unknown_raises() -> None:
    v = Vocab(["a", "b"], specials=("<pad>",))
    assert v.encode(["b", "a"]) == [2, 1]
    with pytest.raises(KeyError, match="no '<unk>' token"):
        v.encode(["c"])


@settings(deadline=None)  # shared CPUs: timing is noisy
@given(st.lists(st.lists(st.text(min_size=1, max_size=3), max_size=6), min_size=1, max_size=6))
def test_decode_encode_identity_on_in_vocab_tokens(docs: list[list[str]]) -> None:
    v = Vocab.build(docs)
    for doc in docs:
        in_vocab = [t for t in doc if t in v]
        assert v.decode(v.encode(in_vocab)) == in_vocab


def test_save_load_round_trip(tmp_path: Path) -> None:
    v = Vocab.build(DOCS + [["naïve", "日本"]], min_freq=1)
    path = v.save(tmp_path / "sub" / "vocab.json")
    loaded = Vocab.load(path)
    assert loaded == v and loaded.itos == v.itos and loaded.counts == v.counts
    assert loaded.encode(["naïve", "日本", "zzz"]) == v.encode(["naïve", "日本", "zzz"])
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp file left behind
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "nnatlas.vocab" and data["itos"][:4] == list(SPECIALS)


def test_load_refuses_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Vocab.load(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text('{"itos": ["a"]}')
    with pytest.raises(ValueError, match="not an nnatlas vocabulary"):
        Vocab.load(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("not json")
    with pytest.raises(ValueError, match="not a JSON vocabulary"):
        Vocab.load(tmp_path / "y.json")


def test_duplicate_tokens_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        Vocab(["a", "b", "a"])
    assert Vocab(["<unk>", "a"]).itos == [*SPECIALS, "a"]  # a special keeps its reserved id


def test_coverage_table_matches_built_vocabularies() -> None:
    held_out = [["the", "cat", "zebra"], ["on", "a", "mat", "mat"]]
    table = vocab_coverage_table(
        DOCS, min_freqs=[1, 2, 3], max_sizes=[None, 6], eval_token_lists=held_out
    )
    assert len(table.rows) == 6
    total = sum(len(d) for d in DOCS)
    eval_total = sum(len(d) for d in held_out)
    for row in table.rows:
        v = Vocab.build(DOCS, min_freq=row.min_freq, max_size=row.max_size)
        assert row.vocab_size == len(v)
        assert row.coverage == pytest.approx(sum(t in v for d in DOCS for t in d) / total)
        oov = sum(t not in v for d in held_out for t in d) / eval_total
        assert row.oov_rate == pytest.approx(oov)
    first = table.rows[0]
    assert first.coverage == 1.0 and first.oov_rate == pytest.approx(1 / 7)  # only "zebra"
    text = str(table)
    assert "min_freq" in text and "OOV rate" in text and "held-out" in text


def test_coverage_without_eval_uses_training_tokens() -> None:
    table = vocab_coverage_table(DOCS, min_freqs=[2])
    (row,) = table.rows
    assert row.oov_rate == pytest.approx(1 - row.coverage) and row.oov_rate == pytest.approx(3 / 14)
    assert row.types_kept == pytest.approx(5 / 8)


def test_extended_appends_missing_words_and_keeps_every_id() -> None:
    vocab = Vocab.build([["a", "b", "a"]])
    wider = vocab.extended(["b", "c", "d", "c"])
    assert wider.itos == vocab.itos + ["c", "d"]  # "b" is there already, "c" is listed twice
    assert all(wider[t] == vocab[t] for t in vocab.itos)
    assert wider.counts == vocab.counts  # an added word was never counted in training
    assert wider.encode(["d", "zzz"]) == [wider["d"], wider.unk_id]
