"""justext's stop words of every language, held compactly for trafilatura's justext fallback.

trafilatura's fallback classifies a page's paragraphs with justext and, not told the
page's language, by the stop words of all of justext's languages together: 154,484
words, held as a tuple and again as justext's frozenset, 33 MB in each extraction
worker. `Stopwords` answers the same membership from 16,384 strings, each the
words of one hash bucket between newlines (3.7 MB); `install` makes trafilatura and
justext use it, built on the fallback's first use as before. Which words are stop words
is unchanged, so the extracted text is too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import justext.core
import trafilatura.external
from justext.utils import get_stoplist, get_stoplists

BUCKETS = 1 << 14  # ~9 words a bucket: a lookup searches ~80 characters
_SEP = "\n"  # never in a word justext looks up: its words come from str.split()


class Stopwords:
    """A set of words (membership only), `_SEP`-joined in buckets by hash."""

    __slots__ = ("_buckets",)

    def __init__(self, words: Iterable[str]) -> None:
        groups: list[list[str]] = [[] for _ in range(BUCKETS)]
        for word in words:
            groups[hash(word) % BUCKETS].append(word)
        self._buckets = tuple(_SEP + _SEP.join(group) + _SEP for group in groups)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or _SEP in word:
            return False
        return f"{_SEP}{word}{_SEP}" in self._buckets[hash(word) % BUCKETS]


def all_languages() -> Stopwords:
    """The stop words of every language justext ships, lower case (as its own are)."""
    return Stopwords(
        word.lower() for language in sorted(get_stoplists()) for word in get_stoplist(language)
    )


def install() -> None:
    """Make trafilatura's justext fallback use `all_languages`, built on first use."""
    trafilatura.external.jt_stoplist_init = _init  # type: ignore[assignment]
    justext.core.define_stoplist = _define(justext.core.define_stoplist)


def _init() -> Stopwords:
    """trafilatura's `jt_stoplist_init`, with `Stopwords` for its tuple."""
    words = all_languages()
    trafilatura.external.JT_STOPLIST = words  # type: ignore[assignment]
    return words


def _define(define: Any) -> Any:
    """justext's `define_stoplist` (a frozenset of the words, lower case), which passes
    `Stopwords`, lower case already, through."""
    if getattr(define, "passes_stopwords", False):
        return define

    def define_stoplist(stoplist: Any) -> Any:
        return stoplist if isinstance(stoplist, Stopwords) else define(stoplist)

    define_stoplist.passes_stopwords = True  # type: ignore[attr-defined]
    return define_stoplist
