"""justext's stop words of every language, held compactly for trafilatura's justext fallback.

trafilatura's fallback classifies a page's paragraphs with justext and, not told the
page's language, by the stop words of all of justext's languages together: 154,484
words, held as a tuple and again as justext's frozenset, 33 MB in each extraction
worker. `Stopwords` answers the same membership from 16,384 strings, each the
words of one bucket (by the CRC-32 of the word) between newlines (3.7 MB); `install`
makes trafilatura and justext use it, on the fallback's first use as before. Which
words are stop words is unchanged, so the extracted text is too.

Building the buckets from justext's files takes 0.17 s of CPU, which every extraction
worker would pay as it starts: they are built once and cached (monitors.extract.cache,
2.4 MB, under a name holding `FORMAT` and justext's version), and each later worker
reads them in a few milliseconds; a cache missing or unsound is built again.
"""

from __future__ import annotations

import logging
import marshal
import zlib
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

import justext.core
import trafilatura.external
from justext.utils import get_stoplist, get_stoplists

from monitors.extract import cache

BUCKETS = 1 << 14  # ~9 words a bucket: a lookup searches ~80 characters
FORMAT = 1  # the cached buckets' layout: a change of `Stopwords` bumps it
_SEP = "\n"  # never in a word justext looks up: its words come from str.split()
log = logging.getLogger(__name__)


class Stopwords:
    """A set of words (membership only), `_SEP`-joined in buckets by CRC-32."""

    __slots__ = ("_buckets",)

    def __init__(self, words: Iterable[str]) -> None:
        groups: list[list[str]] = [[] for _ in range(BUCKETS)]
        for word in words:
            groups[_bucket(word)].append(word)
        self._buckets = tuple(_SEP + _SEP.join(group) + _SEP for group in groups)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or _SEP in word:
            return False
        return f"{_SEP}{word}{_SEP}" in self._buckets[_bucket(word)]

    @classmethod
    def from_buckets(cls, buckets: object) -> Stopwords:
        """The set whose buckets are `buckets` (as `buckets()` gives them); ValueError
        unless they are `BUCKETS` strings each starting and ending with `_SEP`."""
        if not (
            isinstance(buckets, tuple)
            and len(buckets) == BUCKETS
            and all(isinstance(b, str) and b.startswith(_SEP) and b.endswith(_SEP) for b in buckets)
        ):
            raise ValueError("not the buckets of a stop word set")
        words = cls.__new__(cls)
        words._buckets = buckets
        return words

    def buckets(self) -> tuple[str, ...]:
        return self._buckets


def _bucket(word: str) -> int:
    """The bucket of `word`, the same in every process (`hash` is not)."""
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) % BUCKETS


def all_languages() -> Stopwords:
    """The stop words of every language justext ships, lower case (as its own are): from
    the cache when it holds them, else built and cached."""
    path = cache_path()
    words = _read_cache(path) if path is not None else None
    if words is None:
        words = Stopwords(
            word.lower() for language in sorted(get_stoplists()) for word in get_stoplist(language)
        )
        if path is not None:
            cache.write(path, lambda stream: marshal.dump(words.buckets(), stream))
    return words


def cache_path() -> Path | None:
    """Where the stop words are cached (monitors.extract.cache), or None."""
    folder = cache.directory()
    try:
        name = f"stopwords-{FORMAT}-{version('justext')}.marshal"
    except PackageNotFoundError:  # justext without its metadata: no version to key on
        return None
    return None if folder is None else folder / name


def _read_cache(path: Path) -> Stopwords | None:
    """The stop words cached at `path`, or None when they are missing or not sound."""
    try:
        with open(path, "rb") as cached:
            return Stopwords.from_buckets(_load(cached))
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 (any fault: built again, the file replaced)
        log.debug("stop words: cache %s unsound (%r)", path, exc)
        return None


def _load(stream: IO[bytes]) -> object:
    value = marshal.load(stream)
    if stream.read(1):
        raise ValueError("more than the buckets")
    return value


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
