"""justext's all-language stop words, held compactly for trafilatura's fallback."""

from __future__ import annotations

import justext.core
import trafilatura.external
from hypothesis import given
from hypothesis import strategies as st
from justext.utils import get_stoplist, get_stoplists

from monitors.extract.page import _trafilatura
from monitors.extract.stopwords import Stopwords, all_languages

JUSTEXT = frozenset(word.lower() for lang in get_stoplists() for word in get_stoplist(lang))
STOPWORDS = all_languages()


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
