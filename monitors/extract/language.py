"""The language of an article, told from its words, the page's declared language a hint.

1. Text with fewer than `MIN_LETTERS` letters, or garbled (no script holding
   `MAIN_SCRIPT` of its letters, or more than `MIXED_WORDS` of its words mixing Latin and
   Cyrillic letters, as spam that dodges filters does) is `UNKNOWN`.
2. Plain English is English without the model: at least `PLAIN_WORDS` words, at most
   `BEYOND_ASCII` of its letters beyond ASCII, of which `PLAIN_SHARE` are English's own
   function words ("the", "which", "were": other languages written in Latin letters
   have few of them) and `THE_SHARE` are "the". A desk whose articles are plain
   English thus never loads the model (59 MB; 0.05 s of CPU from its cache, 0.7 s the
   first time, monitors.extract.langmodel), which is loaded in the background once a
   feed brings a headline in letters beyond ASCII (`needs_model`), else on first use.
3. py3langid (a naive Bayes model of byte n-grams over 97 languages, shipped inside its
   wheel; its automaton held in 16 bits, monitors.extract.langmodel) ranks the languages
   of the first `SAMPLE_CHARS` characters.
4. Ukrainian and Russian are told apart by their own letters when the model hesitates:
   і, ї, є, ґ are Ukrainian, ы, э, ъ, ё Russian.
5. The model's choice stands when it is `CONFIDENT` or agrees with the declared language
   (`<html lang>`); else the declared language, if the model finds it `PLAUSIBLE`; else
   the model's choice if `SURE`, else `UNKNOWN`. A page that declares the wrong language
   is thus read as what it is, and a short headline the model doubts keeps its page's.
6. A short text (under `PLAIN_WORDS` words) is ranked in lower case: Title Case and
   capitals mislead the model (UCI's English headlines: 85 % told English as written,
   95 % in lower case). Short, in ASCII letters and doubted, it is English if English
   is `PLAUSIBLE` (a few words of English score low; the model gave "Ukraine and nato."
   to Estonian at 0.18, English at 0.02 as written), else the model's choice only when
   `SURE` and a clear lead over the next (`LEAD`), else `UNKNOWN`.

bench/languages.py measures accuracy and cost on headlines and texts in six languages.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

from monitors.text import ascii_words, words

UNKNOWN = "unknown"
SAMPLE_CHARS = 1000  # the model reads the start of a text: the cost does not grow with it
MIN_LETTERS = 3
MAIN_SCRIPT = 0.6  # share of letters the main script must hold
MIXED_WORDS = 0.2  # share of words mixing Latin and Cyrillic that marks garbled text
CONFIDENT = 0.6
PLAUSIBLE = 0.05
SURE = 0.15
LEAD = 1.5  # a short text's best language must score this many times the next
PLAIN_WORDS = 40
PLAIN_SHARE = 0.15
THE_SHARE = 0.02
BEYOND_ASCII = 0.01  # share of letters beyond ASCII plain English may have (café, Weizsäcker)
ENGLISH_WORDS = frozenset(  # words of English no other Latin-script language uses much
    " ".join(
        (
            "the of and to is that for with was by from his said are has have this were",
            "which will had been who would their they after not but at its you your we our",
            "it he she her him be can more what there when about how all out just also than",
            "if them these those into over only other some such may could should being",
        )
    ).split()
)
UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")
RUSSIAN_LETTERS = frozenset("ыэъёЫЭЪЁ")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_CYRILLIC = re.compile("[\u0400-\u052f]")
_OTHER = re.compile("[^\\W\\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff\u0400-\u052f]")
_WORD = re.compile(r"[^\W\d_]+")
_MIXED = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")


def detect_language(text: str, declared: str | None = None) -> str:
    """The ISO 639-1 code of the language of `text` (e.g. "uk"), or `UNKNOWN`; `declared`
    is what the page says it is (a language tag, as in `<html lang="uk-UA">`)."""
    sample = text[:SAMPLE_CHARS]
    if _garbled(sample):
        return UNKNOWN
    found = words(sample)
    if plainly_english(sample, found):
        return "en"
    short = len(found) < PLAIN_WORDS
    ranked = dict(_identifier().rank(sample.lower() if short else sample))
    best = max(ranked, key=ranked.__getitem__)
    best = _by_letters(sample, best, ranked)
    hint = primary_tag(declared)
    if best == hint or ranked[best] >= CONFIDENT:
        return best
    if hint is not None and ranked.get(hint, 0.0) >= PLAUSIBLE:
        return hint
    if short and ascii_words(sample):
        return _short_latin(ranked, best)
    return best if ranked[best] >= SURE else UNKNOWN


def _short_latin(ranked: dict[str, float], best: str) -> str:
    """A short text in ASCII letters the model doubts: English if plausible, else the
    model's choice if `SURE` and `LEAD` times the next (see the module's doc, step 6)."""
    if ranked.get("en", 0.0) >= PLAUSIBLE:
        return "en"
    second = max((p for language, p in ranked.items() if language != best), default=0.0)
    return best if ranked[best] >= max(SURE, LEAD * second) else UNKNOWN


def plainly_english(sample: str, found: list[str] | None = None) -> bool:
    """Whether `sample` is English beyond doubt (see the module's doc, step 2); `found`,
    its words, when already found."""
    if not ascii_words(sample):
        letters = sum(c.isalpha() for c in sample)
        if sum(c.isalpha() and not c.isascii() for c in sample) > BEYOND_ASCII * letters:
            return False
    found = words(sample) if found is None else found
    if len(found) < PLAIN_WORDS:
        return False
    own = sum(word in ENGLISH_WORDS for word in found)
    return own >= PLAIN_SHARE * len(found) and found.count("the") >= THE_SHARE * len(found)


def needs_model(headlines: Iterable[str]) -> bool:
    """Whether some of these headlines has letters beyond ASCII: text plain English
    rules out is coming."""
    return not all(ascii_words(headline) for headline in headlines)


def primary_tag(tag: str | None) -> str | None:
    """The primary subtag of a language tag, lower case ("uk-UA" gives "uk"), if any."""
    primary = re.split(r"[-_]", tag.strip())[0].lower() if tag else ""
    return primary if primary.isalpha() and len(primary) <= 8 else None


def _garbled(sample: str) -> bool:
    """Whether `sample` has too few letters, or letters of no main script, or many words
    mixing Latin and Cyrillic letters."""
    latin, cyrillic = len(_LATIN.findall(sample)), len(_CYRILLIC.findall(sample))
    others = Counter(ord(letter) >> 8 for letter in _OTHER.findall(sample))  # by block
    letters = latin + cyrillic + sum(others.values())
    if letters < MIN_LETTERS:
        return True
    if max(latin, cyrillic, *others.values()) < MAIN_SCRIPT * letters:
        return True
    if not (latin and cyrillic):
        return False
    words = _WORD.findall(sample)
    mixed = sum(1 for word in words if _MIXED.search(word))
    return mixed > MIXED_WORDS * len(words)


def _by_letters(sample: str, best: str, ranked: dict[str, float]) -> str:
    """Ukrainian or Russian, when the model's choice is one of them and only one
    language's own letters occur; that choice then holds the other's likelihood too."""
    if best not in ("uk", "ru"):
        return best
    letters = set(sample)
    ukrainian, russian = bool(letters & UKRAINIAN_LETTERS), bool(letters & RUSSIAN_LETTERS)
    if ukrainian == russian:
        return best
    told = "uk" if ukrainian else "ru"
    ranked[told] = ranked.get("uk", 0.0) + ranked.get("ru", 0.0)
    return told


def load_model_in_background() -> None:
    """Start loading the model (0.05 s of CPU from its cache, 0.7 s building it) in a
    thread, unless it is loaded or loading: the first article told then need not wait
    for all of it."""
    global _warming
    with _LOADING:
        if _warming:
            return
        _warming = True
    threading.Thread(target=_identifier, name="language model", daemon=True).start()


_LOADING = threading.Lock()
_warming = False


def _identifier() -> Any:
    """py3langid's identifier with normalized probabilities, loaded once, on first use
    (from the cache `langmodel.load` keeps)."""
    with _LOADING:
        return _load_identifier()


@cache
def _load_identifier() -> Any:
    from monitors.extract import langmodel

    return langmodel.load(norm_probs=True)
