"""An article's language-neutral evidence: its names, places and numbers as keys that a
Ukrainian, a Russian and an English write-up of one event share.

`marks(title, text)` maps each key to how the article first wrote it:

- A name: the last word of a run of capitalised words (the surname of "Volodymyr
  Zelensky": a first name is no evidence of its own) that does not open a sentence (or
  is written capitalised inside one too; none of a Title Case headline's), but for the
  titles, days and months English alone capitalises. A Cyrillic one loses its case
  ending (Зеленського, Донбасі, Вашингтоні, Трампом: Зеленськ-, Донбас, Вашингтон,
  Трамп) and is romanized (monitors.rules.translit); every name is then reduced to its
  `skeleton`: Zelensky, Zelenskyy, Зеленський, Зеленского are all "~zlnsk", Kyiv,
  Kiev, Київ, Києві "~kv".
- A number, with the word that multiplies it: "30 000", "30,000", "30 тисяч", "30 тыс."
  and "30 thousand" are all "~#30000"; a bare year is left out.

Keys start with "~", so that they never meet a body term. An article keeps the first
MAX_NAMES names and MAX_NUMBERS numbers it writes. A skeleton is lossy: unrelated names
may share one (placement weighs marks by how few articles have them, and wants several).
`apart` tells which languages are compared by their marks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from monitors.rules.translit import romanize
from monitors.text import Token, sentences, tokenize

PREFIX = "~"
CYRILLIC_LANGUAGES = frozenset({"uk", "ru", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg"})
NUMBER = PREFIX + "#"
MAX_NAMES = 40  # an article keeps at most, the first it writes
MAX_NUMBERS = 20
MAX_DIGITS = 15  # in a number taken for an amount
LEAST_SKELETON = 2  # letters of a name's skeleton kept as a key at least
LEAST_STEM = 3  # letters a Cyrillic name keeps when its ending is taken off
TITLE_CASE_SHARE = 0.6
# case endings of Ukrainian and Russian names, longest first; the ones that may also end
# a stem ("Харкові" is in Kharkiv, "Трампові" to Trump) give both keys
ENDINGS = ("ого", "ому", "его", "ему", "ами", "ями", "ою", "ею")
AMBIGUOUS = ("ові", "еві", "єві", "ом", "ем", "ём")
INSTRUMENTAL = re.compile("(?:(?<=[нв])|(?<=ськ)|(?<=цьк)|(?<=ск)|(?<=цк))(?:им|ым|ім)$")
MULTIPLIERS = {
    "thousand": 1e3, "тисяч": 1e3, "тисячі": 1e3, "тисяча": 1e3, "тис": 1e3, "тыс": 1e3,
    "тысяч": 1e3, "тысячи": 1e3, "тысяча": 1e3, "k": 1e3,
    "million": 1e6, "mn": 1e6, "mln": 1e6, "m": 1e6, "млн": 1e6, "мільйон": 1e6,
    "мільйонів": 1e6, "мільйона": 1e6, "миллион": 1e6, "миллионов": 1e6, "миллиона": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9, "млрд": 1e9, "мільярд": 1e9, "мільярдів": 1e9,
    "мільярда": 1e9, "миллиард": 1e9, "миллиардов": 1e9, "миллиарда": 1e9,
    "trillion": 1e12, "tn": 1e12, "трлн": 1e12,
}  # fmt: skip
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+(?:[.,]\d+)*)"
    r"(?:[ \u00a0]?(?P<word>[^\W\d_]+)\.?)?"
)
_SOUNDS = re.compile(r"shch|sch|dzh|zh|kh|ch|sh|ph|th|ck|gh|tz|.")
_SOFT_C = re.compile(r"c(?=[eiy])")
_SOUND = {
    "shch": "S", "sch": "S", "sh": "S", "ch": "C", "dzh": "J", "zh": "J", "j": "J",
    "kh": "h", "g": "h", "gh": "h", "ph": "f", "th": "t", "ck": "k", "c": "k", "q": "k",
    "x": "ks", "w": "v", "tz": "ts",
}  # fmt: skip
VOWELS = frozenset("aeiouy")
# capitalised in English only: titles and the calendar
_ENGLISH_ONLY = """
    president prime minister secretary state army air force chief general staff leader
    majority minority speaker governor mayor deputy foreign defence defense ministry
    head spokesman spokeswoman january february march april may june july august
    september october november december monday tuesday wednesday thursday friday
    saturday sunday the
"""
ENGLISH_ONLY = frozenset(_ENGLISH_ONLY.split())


def apart(one: str, other: str) -> bool:
    """Whether write-ups in these two languages are compared by their marks: the
    languages differ and one is written in Cyrillic (those written in one script share
    their names' spellings, and their words' when they are one language)."""
    return one != other and (one in CYRILLIC_LANGUAGES or other in CYRILLIC_LANGUAGES)


def marks(
    title: str,
    text: str,
    tokens: list[Token] | None = None,
    spans: list[tuple[int, int]] | None = None,
    title_tokens: list[Token] | None = None,
) -> dict[str, str]:
    """The article's keys (see the module), each with the words it was first written as
    (`tokens` and `spans`: the text's words and sentences, `title_tokens` the title's
    words, when already found)."""
    found: dict[str, str] = {}
    title_tokens = tokenize(title) if title_tokens is None else title_tokens
    named = (
        []
        if _title_case(title, title_tokens)
        else _name_marks(title, title_tokens, sentences(title))
    )
    named += _name_marks(text, tokenize(text) if tokens is None else tokens, spans)
    numbers = _number_marks(title) + _number_marks(text)
    for kept, most in ((named, MAX_NAMES), (numbers, MAX_NUMBERS)):
        own: dict[str, str] = {}
        for key, surface in kept:
            if len(own) == most:
                break
            own.setdefault(key, surface)
        found |= own
    return found


def _name_marks(
    text: str, tokens: list[Token], spans: list[tuple[int, int]] | None
) -> list[tuple[str, str]]:
    starts = {start for start, _ in (sentences(text) if spans is None else spans)}
    capitalised = [t for t in tokens if text[t.start].isupper()]  # as name words are
    inner = {t.norm for t in capitalised if t.start not in starts}
    named = [t for t in capitalised if _name_word(text, t, starts, inner)]
    last = [
        t
        for t, after in zip(named, [*named[1:], None], strict=False)
        if after is None or text[t.end : after.start] != " "
    ]
    return [(key, text[t.start : t.end]) for t in last for key in name_keys(t.norm)]


def _name_word(text: str, token: Token, starts: set[int], inner: set[str]) -> bool:
    if not text[token.start].isupper() or token.norm.isdigit() or token.norm in ENGLISH_ONLY:
        return False
    return token.start not in starts or token.norm in inner


@lru_cache(maxsize=65536)
def name_keys(word: str) -> tuple[str, ...]:
    """The keys of a normalized name word: one, or two for an ambiguous Cyrillic ending."""
    if not word.isalpha():
        return ()
    if word.isascii():
        spellings = [word]
    elif all("\u0400" <= c <= "\u04ff" for c in word):
        spellings = [romanize(stem) for stem in _stems(word)]
    else:
        return ()
    keys = (skeleton(s) for s in spellings)
    return tuple(dict.fromkeys(PREFIX + k for k in keys if len(k) >= LEAST_SKELETON))


def _stems(word: str) -> list[str]:
    """A Cyrillic name word without its case ending (both ways when ambiguous)."""
    for ending in AMBIGUOUS:
        if word.endswith(ending) and len(word) - len(ending) >= LEAST_STEM:
            return [word[: -len(ending)], word]
    bare = INSTRUMENTAL.sub("", word)
    if bare != word and len(bare) >= LEAST_STEM:
        return [bare]
    for ending in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= LEAST_STEM:
            return [word[: -len(ending)]]
    return [word]


@lru_cache(maxsize=65536)
def skeleton(latin: str) -> str:
    """A Latin spelling reduced to what its romanizations agree on: the sounds written
    one way (kh and g as h, w as v, zh and j as one, c as k or s), the vowels dropped but
    for an opening one (written "a"), a letter written twice once."""
    sounds = [_SOUND.get(s, s) for s in _SOUNDS.findall(_SOFT_C.sub("s", latin.lower()))]
    out = []
    for i, sound in enumerate(sounds):
        if sound in VOWELS:
            if i == 0:
                out.append("a")
            continue
        if not out or out[-1] != sound:
            out.append(sound)
    return "".join(out)


def _number_marks(text: str) -> list[tuple[str, str]]:
    found = []
    for m in _NUMBER.finditer(text):
        value = _value(m.group("num"))
        word = (m.group("word") or "").lower()
        multiplier = MULTIPLIERS.get(word)
        if value is None:
            continue
        if multiplier is None and m.group("num").isdigit() and 1900 <= value <= 2100:
            continue
        total = value * (multiplier or 1)
        key = f"{total:.0f}" if total == int(total) else f"{total:g}"
        found.append((NUMBER + key, m.group().strip()))
    return found


def _value(number: str) -> float | None:
    """The value of a written number: spaces and commas before three digits group
    thousands, a dot or another comma is the decimal point; None for a run of digits no
    amount is written as (more than MAX_DIGITS, several decimal points)."""
    parts = re.split(r"([.,])", re.sub(r"[ \u00a0\u202f]", "", number))
    value = parts[0]
    for sep, digits in zip(parts[1::2], parts[2::2], strict=True):
        value += digits if sep == "," and len(digits) == 3 else "." + digits
    if value.count(".") > 1 or len(value) > MAX_DIGITS:
        return None
    return float(value)


def _title_case(title: str, tokens: list[Token]) -> bool:
    words = [t for t in tokens if t.norm.isalpha() and len(t.norm) > 3]
    capitalised = sum(title[t.start].isupper() for t in words)
    return len(words) >= 3 and capitalised >= TITLE_CASE_SHARE * len(words)
