"""justext's all-language stop words, held compactly for trafilatura's fallback."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

import justext.core
import pytest
import trafilatura.external
from hypothesis import given
from hypothesis import strategies as st
from justext.utils import get_stoplist, get_stoplists

from monitors.extract import stopwords
from monitors.extract.page import _trafilatura
from monitors.extract.stopwords import BUCKETS, Stopwords, all_languages
from tests.conftest import ROOT

JUSTEXT = frozenset(word.lower() for lang in get_stoplists() for word in get_stoplist(lang))
STOPWORDS = Stopwords(JUSTEXT)  # as all_languages builds it (which writes to the cache)


def test_every_justext_stop_word_is_one_and_near_misses_are_not() -> None:
    assert all(word in STOPWORDS for word in JUSTEXT)
    near = {word + suffix for word in JUSTEXT for suffix in ("x", "\u0438")}
    near |= {word[:-1] for word in JUSTEXT} | {word.upper() for word in JUSTEXT}
    assert {word for word in near if word in STOPWORDS} == near & JUSTEXT


@given(st.text(max_size=12))
def test_membership_is_justexts(word: str) -> None:
    assert (word in STOPWORDS) == (word in JUSTEXT)


def test_words_joined_across_the_separator_are_not_members() -> None:
    first, second = sorted(JUSTEXT)[:2]
    assert f"{first}\n{second}" not in STOPWORDS
    assert "" not in STOPWORDS and 3 not in STOPWORDS  # type: ignore[operator]
    assert "a" in Stopwords(["a", "b"]) and "a\nb" not in Stopwords(["a", "b"])


def test_trafilatura_classifies_paragraphs_with_it() -> None:
    _trafilatura()  # as extraction does first: imports trafilatura, installs the stop words
    stoplist = trafilatura.external.JT_STOPLIST or trafilatura.external.jt_stoplist_init()
    assert isinstance(stoplist, Stopwords)
    assert justext.core.define_stoplist(stoplist) is stoplist
    assert justext.core.define_stoplist(("The", "of")) == frozenset({"the", "of"})


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory of this test's own."""
    monkeypatch.setenv("NEWSMON_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def same_as_justext(words: Stopwords) -> bool:
    return all(word in words for word in JUSTEXT) and "ukraine" not in words


def test_built_once_then_read_from_the_cache(cache: Path) -> None:
    path = stopwords.cache_path()
    assert path is not None and path.parent == cache and not path.exists()
    assert same_as_justext(all_languages()) and path.is_file()
    written = path.stat().st_mtime_ns
    assert stopwords._read_cache(path) is not None
    assert same_as_justext(all_languages()) and path.stat().st_mtime_ns == written


def test_a_cache_written_by_another_process_reads_alike(cache: Path) -> None:
    """Buckets do not depend on the process's string hash (randomised per process)."""
    code = "from monitors.extract.stopwords import all_languages; all_languages()"
    env = {**os.environ, "PYTHONHASHSEED": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    path = stopwords.cache_path()
    assert path is not None and path.is_file()
    cached = stopwords._read_cache(path)
    assert cached is not None and same_as_justext(cached)


@pytest.mark.parametrize(
    "damage",
    [b"", b"not marshal", marshal.dumps(("\nthe\n",)), marshal.dumps(tuple(["x"] * BUCKETS))],
)
def test_an_unsound_cache_is_built_again(cache: Path, damage: bytes) -> None:
    path = stopwords.cache_path()
    assert path is not None
    cache.mkdir()
    path.write_bytes(damage)
    assert same_as_justext(all_languages())
    assert stopwords._read_cache(path) is not None  # replaced by a sound one


def test_a_cache_that_cannot_be_written_is_built_around(cache: Path) -> None:
    cache.write_text("a file where the directory would be")
    assert same_as_justext(all_languages())
    assert list(cache.parent.iterdir()) == [cache]  # no temporary file left
