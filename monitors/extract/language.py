"""The language of an article, told from its words, the page's declared language a hint.

1. Text with fewer than `MIN_LETTERS` letters, or garbled (no script holding
   `MAIN_SCRIPT` of its letters, or more than `MIXED_WORDS` of its words mixing Latin and
   Cyrillic letters, as spam that dodges filters does) is `UNKNOWN`.
2. py3langid (a naive Bayes model of byte n-grams over 97 languages, shipped inside its
   wheel) ranks the languages of the first `SAMPLE_CHARS` characters.
3. Ukrainian and Russian are told apart by their own letters when the model hesitates:
   і, ї, є, ґ are Ukrainian, ы, э, ъ, ё Russian.
4. The model's choice stands when it is `CONFIDENT` or agrees with the declared language
   (`<html lang>`); else the declared language, if the model finds it `PLAUSIBLE`; else
   the model's choice if `SURE`, else `UNKNOWN`. A page that declares the wrong language
   is thus read as what it is, and a short headline the model doubts keeps its page's.

bench/languages.py measures accuracy and cost on headlines and texts in six languages.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from functools import cache
from typing import Any

UNKNOWN = "unknown"
SAMPLE_CHARS = 1000  # the model reads the start of a text: the cost does not grow with it
MIN_LETTERS = 3
MAIN_SCRIPT = 0.6  # share of letters the main script must hold
MIXED_WORDS = 0.2  # share of words mixing Latin and Cyrillic that marks garbled text
CONFIDENT = 0.6
PLAUSIBLE = 0.05
SURE = 0.15
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
    ranked = dict(_identifier().rank(sample))
    best = max(ranked, key=ranked.__getitem__)
    best = _by_letters(sample, best, ranked)
    hint = primary_tag(declared)
    if best == hint or ranked[best] >= CONFIDENT:
        return best
    if hint is not None and ranked.get(hint, 0.0) >= PLAUSIBLE:
        return hint
    return best if ranked[best] >= SURE else UNKNOWN


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
    """Start loading the model (0.5 s of CPU) in a thread, unless it is loaded or
    loading: the first article told then need not wait for all of it."""
    global _warming
    with _LOADING:
        if _warming:
            return
        _warming = True
    threading.Thread(target=_identifier, name="language model", daemon=True).start()


_LOADING = threading.Lock()
_warming = False


def _identifier() -> Any:
    """py3langid's identifier with normalized probabilities, loaded once, on first use."""
    with _LOADING:
        return _load_identifier()


@cache
def _load_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
