"""Normalization, tokenization and sentence splitting shared by queries and documents.

Queries and documents go through the same functions, so they agree on what a word is:
a run of Unicode letters, digits and combining marks. Invisible characters (soft hyphens,
zero-width spaces and joiners, word joiners, byte-order marks) inside a word are dropped,
and single letters joined by dots ("U.S.", "U.K", "e.g.") are one word ("us"). An
apostrophe (' ’ ʼ) between two Cyrillic letters is part of the word and dropped, as in
Ukrainian ("обов’язкові" is "обовязкові"). Everything else (spaces, hyphens, other
apostrophes, punctuation) separates words. A word mixing Latin and Cyrillic letters has its
look-alike letters read in the script of most of its letters ("Kиїв" with a Latin K is
"київ").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "gen",
        "gov",
        "sen",
        "rep",
        "lt",
        "col",
        "sgt",
        "capt",
        "maj",
        "adm",
        "pres",
        "rev",
        "hon",
        "vs",
        "inc",
        "corp",
        "ltd",
        "co",
        "dept",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "sens",
        "reps",
        "govs",
        "gens",
        "messrs",
        "brig",
        "cmdr",
        "ген",
        "проф",
        "акад",
        "им",
        "тов",
        "ул",
    }
)
# abbreviations of a number's name ("No. 10", "Art. 5", "ст. 5", "п. 2"): no sentence ends
# after them before a digit
NUMBER_ABBREVIATIONS = frozenset(
    {"no", "nos", "art", "arts", "para", "paras", "pp", "vol", "ch", "sec", "fig", "ст", "пп"}
)
SENTENCE_OPENERS = "\"'\u201c\u2018\u00ab(["


def _mark_class() -> str:
    """A regex character class body holding every combining mark of the BMP."""
    marks = [cp for cp in range(0x10000) if unicodedata.category(chr(cp)).startswith("M")]
    return "".join(f"\\u{cp:04x}" for cp in marks)


_LETTER = "[^\\W_\u02bc]"  # a letter or digit; the modifier apostrophe separates, like "'"
_ALPHA = "[^\\W\\d_\u02bc]"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_JOINERS = f"[{_mark_class()}{_INVISIBLE}]"
_CYRILLIC = "[\u0400-\u04ff]"
_APOSTROPHE = "['\u2019\u02bc]"
_INNER_APOSTROPHE = f"(?<={_CYRILLIC}){_APOSTROPHE}(?={_CYRILLIC})"
_PLAIN_WORD = f"{_LETTER}+(?:(?:{_JOINERS}+|{_INNER_APOSTROPHE}){_LETTER}*)*"
# no part of a word just before (a Cyrillic letter after "’" and a Cyrillic letter is
# inside a word: "в’я.з" is "в’я" and "з", however it is read)
_ALONE = f"(?<!{_LETTER})(?<!{_JOINERS})(?!(?<={_CYRILLIC}{_APOSTROPHE}){_CYRILLIC})"
# no part of a word just after (nor an initialism's last letter before "’" and a Cyrillic
# letter: "Z.Ж’Ж" is "Z" and "Ж’Ж")
_END = f"(?!{_LETTER})(?!{_JOINERS})(?!{_INNER_APOSTROPHE})"
_FAST_WORD = re.compile(_PLAIN_WORD)
_WORD = re.compile(f"{_ALONE}{_ALPHA}(?:\\.{_ALPHA})+{_END}|{_PLAIN_WORD}")
_DOT = re.compile(f"\\.(?={_ALPHA}{_END})(?<={_ALONE}{_ALPHA}\\.)")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_ASCII_DOT = re.compile(r"\.(?=[a-z](?![a-z0-9]))(?<=(?<![a-z0-9])[a-z]\.)")
_ASCII_SPAN = re.compile(r"[A-Za-z](?:\.[A-Za-z])+(?![A-Za-z0-9])|[A-Za-z0-9]+")
_LOWER_SPAN = re.compile(r"[a-z](?:\.[a-z])+(?![a-z0-9])|[a-z0-9]+")  # _ASCII_SPAN, lower case
_NOT_WORD = re.compile("[\\W_\u02bc]+")
_BEYOND_ASCII = re.compile(f"(?![\\x00-\\x7f])\\w|{_JOINERS}")  # a word's part, not ASCII
_LINE = re.compile(r"[^\r\n]+")
_STOP = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*\s+")
_LAST_WORD = re.compile(r"[^\W_]+$")
_LATIN_LOOKALIKES = "AaBCcEeHIiKMOoPpTXxYy"
_CYRILLIC_LOOKALIKES = "АаВСсЕеНІіКМОоРрТХхУу"
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_LOOKALIKES)
_TO_LATIN = str.maketrans(_CYRILLIC_LOOKALIKES, _LATIN_LOOKALIKES)
# control characters but tab and line breaks, lone surrogates, and the bidirectional
# controls (Unicode's Bidi_Control: ALM, LRM, RLM, embeddings, overrides, isolates)
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff"
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def safe_text(value: str) -> str:
    """`value` without control characters (tab and line breaks kept), lone surrogates or
    bidirectional controls (U+202E would show "gnp.exe" as "exe.png", and reorder a table
    or a message around it)."""
    return _UNSAFE.sub("", value)


class Token(NamedTuple):
    """A word: its normalized form and its character span in the original text."""

    norm: str
    start: int
    end: int


_token = tuple.__new__  # a Token from its fields, without the keywords' handling


@lru_cache(maxsize=65536)
def normalize(word: str) -> str:
    """`word` (a token of `tokenize`) case-folded and without accents.

    What decomposition adds besides letters and digits is dropped, so one word stays one
    word ("½" gives "12"), as are the dots of an acronym and invisible characters.
    """
    if word.isascii():
        return word.lower().replace(".", "")
    folded = unicodedata.normalize("NFKD", one_script(word).casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOT_WORD.sub("", unicodedata.normalize("NFC", bare))


def one_script(word: str) -> str:
    """`word` with its Latin and Cyrillic look-alike letters (a/а, c/с, i/і, K/К…) in the
    script of most of its letters, when it mixes the two (Cyrillic on a tie)."""
    latin = cyrillic = 0
    for char in word:
        if "a" <= char.lower() <= "z":
            latin += 1
        elif "\u0400" <= char <= "\u04ff":
            cyrillic += 1
    if not (latin and cyrillic):
        return word
    return word.translate(_TO_CYRILLIC if cyrillic >= latin else _TO_LATIN)


def words(text: str) -> list[str]:
    """The normalized words of `text`: the `norm` of each of its tokens, found faster."""
    if ascii_words(text):
        return _ASCII_WORD.findall(_ASCII_DOT.sub("", text.lower()))
    return list(map(normalize, _FAST_WORD.findall(_DOT.sub("", text))))


def word_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the words of `text`: the spans of its tokens, found faster."""
    pattern = _ASCII_SPAN if ascii_words(text) else _WORD
    return [found.span() for found in pattern.finditer(text)]


def tokenize(text: str) -> list[Token]:
    """The words of `text`, normalized, with their offsets into `text` (an ASCII text's
    found in its lower case, which keeps its offsets)."""
    if not ascii_words(text):
        return any_tokens(text)
    lower = text.lower()
    tokens = []
    end = 0
    for norm in _LOWER_SPAN.findall(lower):  # each word found again from the last one's end
        start = lower.find(norm, end)
        end = start + len(norm)
        tokens.append(_token(Token, (norm.replace(".", "") if "." in norm else norm, start, end)))
    return tokens


def any_tokens(text: str) -> list[Token]:
    """`tokenize` for any text: the general patterns, whatever its characters. A word
    starts with a letter and none lies between two words: each is found again by `find`
    from the last one's end."""
    tokens = []
    end = 0
    for word in _WORD.findall(text):
        start = text.find(word, end)
        end = start + len(word)
        tokens.append(_token(Token, (normalize(word), start, end)))
    return tokens


def ascii_words(text: str) -> bool:
    """Whether every part of a word in `text` is ASCII (its quotes, dashes and spaces
    need not be): the ASCII patterns, several times faster, then find its words."""
    return text.isascii() or _BEYOND_ASCII.search(text) is None


def sentences(text: str, pos: int = 0, endpos: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) spans of the sentences of `text` (of its lines between `pos` and
    `endpos`), without surrounding spaces.

    Lines are split after `.`, `!`, `?` or `…` (and closing quotes) followed by a space and
    an upper-case letter, a digit or an opening quote, except after a lone "." that ends an
    abbreviation ("Mr.") or a single letter ("U.S.", "J. Smith"), or a number's name
    before a digit ("No. 10", "Art. 5").
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text, pos, len(text) if endpos is None else endpos):
        start = line.start()
        for stop in _STOP.finditer(text, line.start(), line.end()):
            if _is_boundary(text, stop.start(), stop.end()):
                spans.append((start, stop.end()))
                start = stop.end()
        spans.append((start, line.end()))
    stripped = [_strip(text, span) for span in spans]
    return [(start, end) for start, end in stripped if start < end]


def _is_boundary(text: str, stop: int, after: int) -> bool:
    """Whether the punctuation at `stop` ends a sentence, the next one starting at `after`."""
    if after >= len(text):
        return False
    following = text[after]
    if not (following.isupper() or following.isdigit() or following in SENTENCE_OPENERS):
        return False
    if text[stop:after].rstrip() != ".":
        return True
    found = _LAST_WORD.search(text, max(0, stop - 20), stop)
    if found is None:
        return True
    word = found.group().lower()
    if word in NUMBER_ABBREVIATIONS and following.isdigit():
        return False
    return not (word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()))


def _strip(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """`span` without the white space at either end."""
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
