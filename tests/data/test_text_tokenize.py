"""Tokenizers: lower-casing and the three punctuation modes."""

from __future__ import annotations

import pickle

import pytest

from nnatlas.data.text.tokenize import CharTokenizer, WordTokenizer, detokenize, get_tokenizer

TEXT = "Don't panic, it's FINE!  State-of-the-art<br />results."


def test_word_split_punctuation_is_the_default() -> None:
    assert WordTokenizer()(TEXT) == [
        "don't", "panic", ",", "it's", "fine", "!", "state-of-the-art", "results", ".",
    ]  # fmt: skip


def test_word_strip_and_keep() -> None:
    assert WordTokenizer(punctuation="strip")(TEXT) == [
        "don't", "panic", "it's", "fine", "state-of-the-art", "results",
    ]  # fmt: skip
    kept = WordTokenizer(punctuation="keep", lower=False)("Great! Great movie.")
    assert kept == ["Great!", "Great", "movie."]  # punctuation glued: "Great!" != "Great"


def test_lowercase_is_an_option() -> None:
    assert WordTokenizer(lower=False)("Hello World")[0] == "Hello"
    assert WordTokenizer(lower=True)("Hello World")[0] == "hello"


def test_html_breaks_are_layout() -> None:
    assert "br" not in WordTokenizer()("a<br /><br />b")
    assert "br" in WordTokenizer(strip_html=False)("a<br />b")


def test_unicode_words_and_nfkc() -> None:
    assert WordTokenizer()("Café naïve ｆｕｌｌ") == ["café", "naïve", "full"]
    assert WordTokenizer(normalize=None)("ｆｕｌｌ") == ["ｆｕｌｌ"]


def test_char_tokenizer_keeps_everything_by_default() -> None:
    assert CharTokenizer()("Hi,\nyo") == ["H", "i", ",", "\n", "y", "o"]
    assert CharTokenizer(lower=True, punctuation="strip")("Hi, yo!") == ["h", "i", " ", "y", "o"]
    assert "".join(CharTokenizer()(TEXT)) == TEXT


def test_get_tokenizer_and_bad_options() -> None:
    assert get_tokenizer("word", punctuation="strip")("a, b") == ["a", "b"]
    assert get_tokenizer("char")("ab") == ["a", "b"]
    assert get_tokenizer(str.split)("a b") == ["a", "b"]
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        get_tokenizer("bpe")
    with pytest.raises(ValueError, match="punctuation must be one of"):
        WordTokenizer(punctuation="remove")
    with pytest.raises(ValueError, match="only apply to 'word' or 'char'"):
        get_tokenizer(str.split, lower=True)


def test_tokenizers_pickle_for_dataloader_workers() -> None:
    tok = WordTokenizer(punctuation="strip")
    assert pickle.loads(pickle.dumps(tok))(TEXT) == tok(TEXT)


@pytest.mark.parametrize(
    "text",
    [
        "A man, in (blue) jeans, rides a bike.",
        'Er sagt "hallo" und geht!',
        "Is it 100%? Yes: [twice]...",
        "Zwei Hunde spielen im Schnee.",
    ],
)
def test_detokenize_undoes_the_split_of_punctuation(text: str) -> None:
    assert detokenize(WordTokenizer(lower=False)(text)) == text


def test_detokenize_keeps_spaces_around_unlisted_marks() -> None:
    assert detokenize(["a", "-", "b", "&", "c"]) == "a - b & c"
    assert detokenize([]) == ""


def test_ptb_mode_splits_clitics_and_leaves_treebank_text_as_it_is() -> None:
    ptb = WordTokenizer(punctuation="ptb")
    assert ptb("Don't panic, it's fine...") == ["do", "n't", "panic", ",", "it", "'s", "fine",
                                                "..."]  # fmt: skip
    treebank = "it 's not bad -lrb- ex-wife -rrb- -- we 'll see , ca n't wait"
    assert ptb(treebank) == treebank.split()
    assert ptb("o'clock rock'n'roll") == ["o'clock", "rock'n'roll"]  # not clitics: one word


def test_the_task_options_offer_every_punctuation_mode() -> None:
    from nnatlas.data.text.tokenize import PUNCTUATION_MODES
    from nnatlas.tasks.base import PUNCTUATIONS

    assert PUNCTUATIONS == PUNCTUATION_MODES  # kept twice on purpose: see base.py
