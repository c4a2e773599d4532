"""Character and word tokenizers: text -> list of string tokens.

Both are small dataclasses (so they pickle into DataLoader workers and print their options) with
``__call__(text) -> list[str]``. Their options are the choices a learner should see and vary:
lower-casing and what happens to punctuation.

    >>> WordTokenizer()("Don't panic, it's fine!")
    ["don't", 'panic', ',', "it's", 'fine', '!']
    >>> WordTokenizer(punctuation="strip")("Don't panic, it's fine!")
    ["don't", 'panic', "it's", 'fine']
    >>> CharTokenizer()("Hi!")
    ['H', 'i', '!']
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

Tokenizer = Callable[[str], list[str]]

PUNCTUATION_MODES = ("split", "strip", "keep", "ptb")

# A word is a run of letters/digits, optionally joined by apostrophes or hyphens inside it
# ("don't", "state-of-the-art", "1,000" is split at the comma on purpose: numbers vary too much to
# be worth a vocabulary entry each). Everything else that is not a space is one punctuation token.
_WORD = r"[^\W_]+(?:['’\-][^\W_]+)*"
_WORD_OR_PUNCT = re.compile(rf"{_WORD}|[^\w\s]|_")
_WORD_ONLY = re.compile(_WORD)
# The Penn Treebank's way (SST's text, and GloVe's training text, are tokenized so): English
# clitics are tokens of their own ("don't" -> "do", "n't"; "it's" -> "it", "'s"), and "...",
# "--" and the bracket words "-lrb-" / "-rrb-" stay whole. Text that is tokenized so already
# comes out as it went in.
_CLITIC = r"(?:s|re|ve|ll|d|m)\b"
_PTB = re.compile(
    r"(?i:-[lr][rcs]b-)"  # -lrb- ( -rrb- ) -lcb- { -lsb- [ ...
    rf"|[^\W_]+?(?=n['’]t\b)"  # "do" of "don't"
    rf"|n['’]t\b|['’]{_CLITIC}"  # the clitics
    rf"|[^\W_]+(?:(?:-|['’](?!{_CLITIC}))[^\W_]+)*"  # words, "o'clock" and "ex-wife" whole
    r"|\.\.\.|--|``|''|[^\w\s]|_"
)
# IMDB reviews carry raw HTML line breaks; they are layout, not words.
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass(frozen=True)
class WordTokenizer:
    """Split text into words.

    Args:
        lower: lower-case first (a smaller vocabulary; loses "US" vs "us").
        punctuation: ``"split"``: every punctuation mark is its own token ("great!" -> "great",
            "!"), the usual choice for sentiment, where "!" carries signal; ``"strip"``: drop
            punctuation; ``"keep"``: split on whitespace only, so punctuation stays glued to words
            ("great!" and "great" become different tokens: watch the vocabulary grow);
            ``"ptb"``: split as the Penn Treebank does, which SST and GloVe's training text
            follow: "split", but clitics are tokens ("don't" -> "do", "n't"; "it's" -> "it",
            "'s") and "..." stays whole.
        strip_html: replace ``<br />`` line breaks (IMDB) with a space before splitting.
        normalize: Unicode normalization form applied first (``"NFKC"`` folds full-width
            characters and ligatures); ``None`` to leave the text as it is.
    """

    lower: bool = True
    punctuation: str = "split"
    strip_html: bool = True
    normalize: str | None = "NFKC"

    def __post_init__(self) -> None:
        if self.punctuation not in PUNCTUATION_MODES:
            raise ValueError(
                f"WordTokenizer: punctuation must be one of {PUNCTUATION_MODES}, "
                f"got {self.punctuation!r}"
            )

    def __call__(self, text: str) -> list[str]:
        text = _prepare(text, self.lower, self.strip_html, self.normalize)
        if self.punctuation == "keep":
            return text.split()
        if self.punctuation == "strip":
            return _WORD_ONLY.findall(text)
        if self.punctuation == "ptb":
            return _PTB.findall(text)
        return _WORD_OR_PUNCT.findall(text)


@dataclass(frozen=True)
class CharTokenizer:
    """Split text into characters (the char-RNN / Tiny Shakespeare view).

    Args:
        lower: lower-case first.
        punctuation: ``"keep"`` (default: every character is a token, newlines and spaces
            included, which a text generator needs) or ``"strip"`` (drop punctuation
            characters). ``"split"`` is accepted and means the same as ``"keep"``.
        strip_html: replace ``<br />`` with a space first.
        normalize: Unicode normalization form applied first, or ``None`` (the default here, so
            a character model sees exactly the bytes of the corpus).
    """

    lower: bool = False
    punctuation: str = "keep"
    strip_html: bool = False
    normalize: str | None = None

    def __post_init__(self) -> None:
        if self.punctuation not in PUNCTUATION_MODES:
            raise ValueError(
                f"CharTokenizer: punctuation must be one of {PUNCTUATION_MODES}, "
                f"got {self.punctuation!r}"
            )

    def __call__(self, text: str) -> list[str]:
        text = _prepare(text, self.lower, self.strip_html, self.normalize)
        if self.punctuation == "strip":
            return [c for c in text if not _is_punctuation(c)]
        return list(text)


def _prepare(text: str, lower: bool, strip_html: bool, normalize: str | None) -> str:
    if normalize:
        text = unicodedata.normalize(normalize, text)
    if strip_html:
        text = _HTML_BREAK.sub(" ", text)
    return text.lower() if lower else text


def _is_punctuation(char: str) -> bool:
    # Unicode categories P* (punctuation) and S* (symbols: $, +, <): what readers call punctuation
    return unicodedata.category(char)[0] in "PS"


# Marks written against the word before them ("fahrrad ." -> "fahrrad.") or after them.
_NO_SPACE_BEFORE = set(".,;:!?%)]}»…")
_NO_SPACE_AFTER = set("([{«¿¡")
_QUOTES = set('"„“”')


def detokenize(words: list[str]) -> str:
    """Words split by :class:`WordTokenizer` (``punctuation="split"``) -> running text, the
    form a reference translation is written in, so that BLEU's own tokenizer sees both alike.

        >>> detokenize(["ein", "mann", ",", "der", '"', "hallo", '"', "sagt", "."])
        'ein mann, der "hallo" sagt.'

    Straight double quotes alternate between opening and closing; everything the tables above
    do not name keeps a space on both sides. The rules are English and German ones: French's
    space before ``!``, ``?``, ``:`` and ``;`` is not restored (BLEU's 13a tokenizer splits those
    marks off either way).
    """
    text, glue_next, quote_open = "", True, False
    for word in words:
        closing = word in _NO_SPACE_BEFORE or (word in _QUOTES and quote_open)
        if not (glue_next or closing):
            text += " "
        text += word
        glue_next = word in _NO_SPACE_AFTER
        if word in _QUOTES:
            glue_next, quote_open = not quote_open, not quote_open
    return text


def tokenizer_to_dict(tokenizer: Tokenizer) -> dict[str, object]:
    """A named tokenizer as plain values (``{"type": "word", "lower": True, ...}``), so a run
    can save it and :func:`tokenizer_from_dict` rebuild it.

    Raises:
        ValueError: for a custom callable, which cannot be saved as values.
    """
    for name, cls in (("word", WordTokenizer), ("char", CharTokenizer)):
        if type(tokenizer) is cls:
            return {"type": name, **dataclasses.asdict(tokenizer)}
    raise ValueError(
        f"tokenizer_to_dict: a custom tokenizer ({type(tokenizer).__name__}) cannot be saved "
        "with a run; use 'word' or 'char' with options"
    )


def tokenizer_from_dict(values: dict[str, object]) -> Tokenizer:
    """The inverse of :func:`tokenizer_to_dict`."""
    options = dict(values)
    return get_tokenizer(str(options.pop("type")), **options)


def get_tokenizer(tokenizer: str | Tokenizer = "word", **options: object) -> Tokenizer:
    """Return a tokenizer from a name (``"word"``, ``"char"``) or pass a callable through.

    Args:
        tokenizer: ``"word"``, ``"char"`` or any ``callable(str) -> list[str]``.
        **options: options of :class:`WordTokenizer` / :class:`CharTokenizer`
            (``lower``, ``punctuation``, ``strip_html``, ``normalize``).
    """
    if callable(tokenizer):
        if options:
            raise ValueError(
                f"get_tokenizer: options {sorted(options)} only apply to 'word' or 'char', "
                "not to a callable tokenizer; configure your callable instead"
            )
        return tokenizer
    if tokenizer == "word":
        return WordTokenizer(**options)  # type: ignore[arg-type]
    if tokenizer == "char":
        return CharTokenizer(**options)  # type: ignore[arg-type]
    raise ValueError(
        f"get_tokenizer: unknown tokenizer {tokenizer!r}; use 'word', 'char' or a callable "
        "taking a string and returning a list of tokens"
    )
