"""End to end: files -> catalog -> tokens -> vocab -> ids -> padded batches an RNN can pack."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnatlas.data.text.batching import lm_stream_batches, lm_windows
from nnatlas.data.text.pipeline import (
    load_lm_corpus,
    load_text_classification,
    load_text_corpus,
    split_corpus,
)
from nnatlas.data.text.translation import encode_pairs, load_translation_pairs
from nnatlas.data.text.vocab import BOS_ID, EOS_ID, UNK_ID, Vocab

POS = ["a wonderful , moving film", "great acting and a great story", "wonderful !", "loved it"]
NEG = ["a dull , boring film", "terrible acting", "boring !", "hated it , truly awful"]


@pytest.fixture
def csv_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    rows = [f'"{t}",pos' for t in POS * 5] + [f'"{t}",neg' for t in NEG * 5]
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_classification_splits_vocab_and_batches(csv_path: Path) -> None:
    splits = load_text_classification(
        f"csv:{csv_path}", max_len=4, val_fraction=0.25, test_fraction=0.2, seed=0
    )
    assert splits.classes == ["neg", "pos"] and splits.num_classes == 2
    assert (len(splits.train), len(splits.val), len(splits.test)) == (24, 8, 8)
    assert splits.train.labels.sum() == 12  # stratified: balanced
    assert max(splits.train.lengths.tolist()) == 4  # truncated to max_len
    assert splits.truncation.max_len == 4 and splits.truncation.tokens_lost > 0
    assert splits.vocab_size == len(splits.vocab) and "wonderful" in splits.vocab
    ids, lengths, labels = next(iter(splits.train.loader(batch_size=5, seed=1)))
    assert 1 <= ids.shape[0] <= 5 and ids.shape[0] == lengths.shape[0] == labels.shape[0]
    assert ids.shape[1] == int(lengths.max()) and ids.dtype == torch.int64
    for row, n in zip(ids, lengths, strict=True):
        assert bool((row[n:] == 0).all()) and bool((row[:n] != 0).all())
    # one epoch sees every training example exactly once
    seen = sum(len(b[2]) for b in splits.train.loader(batch_size=7, bucket=True))
    assert seen == len(splits.train)
    plain = list(splits.train.loader(batch_size=7, bucket=False, shuffle=False))
    assert torch.equal(torch.cat([b[2] for b in plain]), splits.train.labels)


def test_encode_new_text_like_training_and_truncate_side(csv_path: Path) -> None:
    post = load_text_classification(f"csv:{csv_path}", max_len=3)
    pre = load_text_classification(f"csv:{csv_path}", max_len=3, truncate_side="pre")
    text = "great acting and a great story"
    assert post.vocab.decode(post.encode(text)) == ["great", "acting", "and"]
    assert pre.vocab.decode(pre.encode(text)) == ["a", "great", "story"]
    assert post.encode("zzz unseen").tolist() == [UNK_ID, UNK_ID]
    assert post.encode("!!!").tolist() == [post.vocab["!"]] * 3
    x, lengths = pre.train.padded(length=5, side="pre")
    assert x.shape == (len(pre.train), 5) and bool((x[:, -1] != 0).all())
    x, lengths = post.train.padded()
    assert x.shape == (len(post.train), 3) and torch.equal(lengths, post.train.lengths)


def test_vocab_is_built_on_train_only_and_can_be_reused(csv_path: Path) -> None:
    splits = load_text_classification(f"csv:{csv_path}", min_freq=1, seed=0)
    train_tokens = {t for text in splits.train.texts for t in splits.tokenizer(text)}
    assert set(splits.vocab.itos[4:]) == train_tokens
    fixed = Vocab.build([["great", "boring"]])
    again = load_text_classification(f"csv:{csv_path}", vocab=fixed)
    assert again.vocab is fixed and int(again.train.ids[0].max()) < len(fixed)
    capped = load_text_classification(f"csv:{csv_path}", max_size=8, punctuation="strip")
    assert len(capped.vocab) == 8 and "," not in capped.vocab


def test_char_tokenizer_for_classification(csv_path: Path) -> None:
    splits = load_text_classification(f"csv:{csv_path}", tokenizer="char", max_len=10)
    assert all(len(t) == 1 for t in splits.vocab.itos[4:])


def test_corpus_to_lm_batches(tmp_path: Path) -> None:
    path = tmp_path / "poem.txt"
    text = "To be, or not to be, that is the question.\n" * 20
    path.write_text(text, encoding="utf-8")
    corpus = load_text_corpus(f"text:{path}")
    assert corpus == text
    train, val = split_corpus(corpus, val_fraction=0.1)
    assert train + val == corpus and len(val) == round(0.1 * len(corpus))
    vocab = Vocab.build([train], order="alphabetical")
    ids = vocab.encode(train)
    for x, y in lm_stream_batches(ids, batch_size=4, bptt=16):
        assert torch.equal(x[:, 1:], y[:, :-1])
    x, y = lm_windows(ids, 16)
    assert x.shape == y.shape and x.shape[1] == 16
    assert torch.equal(y.reshape(-1)[:-1], x.reshape(-1)[1:])
    assert "".join(vocab.decode(x.reshape(-1))) == train[: x.numel()]


def test_translation_pairs_to_teacher_forcing_batches() -> None:
    pairs = load_translation_pairs("dates", n_train=200, n_val=20, n_test=20, seed=0)
    data = encode_pairs(pairs, tokenizer="char", max_len=40)
    assert set(data.tgt_vocab.itos[4:]) == set("0123456789-")
    assert data.truncated == {"train": 0, "val": 0, "test": 0}
    src, src_lengths, tgt_in, tgt_out = next(iter(data.train.loader(batch_size=16, seed=0)))
    n = src.shape[0]
    assert tgt_in.shape == tgt_out.shape == (n, 11)  # 10 ISO characters + <bos> / <eos>
    assert bool((tgt_in[:, 0] == BOS_ID).all()) and bool((tgt_out[:, -1] == EOS_ID).all())
    assert torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])  # teacher forcing: shifted by one
    assert src.shape[1] == int(src_lengths.max())
    iso = {t for _, t in data.train.pairs}
    assert {data.decode_target(row) for row in tgt_out} <= iso
    first_src, _ = data.train.pairs[0]
    assert "".join(data.src_vocab.decode(data.encode_source(first_src))) == first_src


def test_word_pairs_truncation_counts(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    lines = [
        "Go .\tVa !",
        "I am very very tired now .\tJe suis très très fatigué maintenant .",
    ] * 10
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs = load_translation_pairs(f"pairs:{path}", val_fraction=0.0, test_fraction=0.0)
    data = encode_pairs(pairs, max_len=4)
    assert len(data.train) == 20 and data.truncated["train"] == 10
    assert max(len(s) for s in data.train.src) == 4
    # Decoded as running text (punctuation against its word; French's space before "!" is not
    # restored, which BLEU's 13a tokenizer does not see).
    assert data.decode_target(data.tgt_vocab.encode(["va", "!"])) == "va!"


def test_lm_corpus_char_and_word(tmp_path: Path) -> None:
    path = tmp_path / "poem.txt"
    text = "Shall I compare thee to a summer's day?\nThou art more lovely.\n" * 10
    path.write_text(text, encoding="utf-8")
    corpus = load_lm_corpus(f"text:{path}", val_fraction=0.2)
    assert corpus.vocab.itos[4:] == sorted(set(text))  # alphabetical, the char-rnn convention
    assert corpus.decode(corpus.train) + corpus.decode(corpus.val) == text
    assert len(corpus.val) == round(0.2 * len(text))
    assert torch.equal(corpus.encode("Thou"), corpus.train[40:44])
    words = load_lm_corpus(f"text:{path}", tokenizer="word", val_fraction=0.0)
    assert words.decode(words.encode("thou art")) == "thou art" and "lovely" in words.vocab
