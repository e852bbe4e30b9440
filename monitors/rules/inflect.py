"""The inflected forms a query word also matches, normalized as the words of articles are.

- A Cyrillic word matches every form of its lemma in the Ukrainian and Russian dictionaries
  of pymorphy3 (OpenCorpora and VESUM, shipped in their wheels): "Донбас" matches Донбасу,
  Донбасі, Донбасом; "Сенат" matches Сенату, Сената, Сенате; "ратифікувати" matches
  ратифікує, ратифікували. Written as an inflected form ("війська"), it matches the forms
  of the lemmas that form belongs to. A word neither dictionary knows (a name such as
  "Віткофф") gets the forms of the paradigm pymorphy3 predicts from its ending; a
  capitalized word (a name) keeps its gender (Зеленський: Зеленського, not Зеленська). Forms are
  those of one lemma, never of words that merely share a beginning ("Сенат" does not
  match "сенатор", "Рада" not "радар").
- An English word (Latin letters only, four or more) also matches its regular -s form:
  the plural of a noun, the third person of a verb ("guarantee": guarantees, "treaty":
  treaties, "approach": approaches). Past tenses and -ing forms are left out: they change
  what a rule means ("retreat" against "retreated") or are other words ("accord",
  "according").

Query words and article words go through the same `monitors.text.normalize`, so a form
is found whatever its case, accents or apostrophes.
"""

from __future__ import annotations

import gc
import re
from functools import cache, lru_cache
from typing import Any

from monitors.text import normalize, one_script

MIN_ENGLISH = 4  # letters an English word needs for its -s form
UKRAINIAN_ONLY = frozenset("іїєґ")
RUSSIAN_ONLY = frozenset("ыэъё")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff'\u2019\u02bc-]+")
_ENGLISH_WORD = re.compile(r"[a-z]+")
_SIBILANT = ("s", "x", "z", "ch", "sh")


@lru_cache(maxsize=8192)
def forms(word: str) -> frozenset[str]:
    """The normalized forms `word` (a word as written in a query) matches besides its own."""
    own = normalize(word)
    raw = one_script(word).casefold()
    if _CYRILLIC_WORD.fullmatch(raw):
        apostrophes = raw.replace("\u2019", "'").replace("\u02bc", "'")
        found = _cyrillic_forms(apostrophes, name=word[:1].isupper())
    elif _ENGLISH_WORD.fullmatch(own) and len(own) >= MIN_ENGLISH:
        found = {_english_s(own)}
    else:
        return frozenset()
    return frozenset(normalize(form) for form in found) - {own}


def _english_s(word: str) -> str:
    """The regular -s form of an English noun or verb."""
    if word.endswith(_SIBILANT):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _cyrillic_forms(word: str, name: bool) -> set[str]:
    """Every form of the lemmas `word` can be a form of, in the dictionaries that may hold
    it (Ukrainian or Russian when it has a letter of only one; a lemma the word itself is
    preferred to others its form could belong to; the dictionaries' own lemmas to those
    predicted). A `name` (a capitalized word) keeps its gender: "Зеленський" matches
    Зеленського, not Зеленська."""
    letters = set(word)
    languages = [
        lang
        for lang, other in (("uk", RUSSIAN_ONLY), ("ru", UKRAINIAN_ONLY))
        if not letters & other
    ]
    parses = [parse for lang in languages for parse in _analyzer(lang).parse(word)]
    known = [parse for parse in parses if _from_dictionary(parse)]
    chosen = known or parses[:1]
    lemma = word.replace("ё", "е")
    own = [parse for parse in chosen if parse.normal_form.replace("ё", "е") == lemma]
    return {
        form.word
        for parse in (own or chosen)
        for form in parse.lexeme
        if not name or form.tag.gender in (None, parse.tag.gender)
    }


def _from_dictionary(parse: Any) -> bool:
    """Whether pymorphy3 found the word in its dictionary rather than guessed its paradigm."""
    return type(parse.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"


@cache
def _analyzer(lang: str) -> Any:
    """pymorphy3's analyzer for `lang` ("uk" or "ru"), loaded on first use."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


def release_dictionaries() -> None:
    """Let go of the loaded dictionaries (27 MB of a process's RSS, 20 MB more once the
    cycles among their objects are collected): a compiled rule set no longer needs them;
    the next word to inflect loads them again (about 0.5 s)."""
    if _analyzer.cache_info().currsize:
        _analyzer.cache_clear()
        gc.collect()
