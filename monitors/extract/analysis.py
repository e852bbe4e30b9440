"""The analysis of an article's text: what story placement and novelty checks need,
computed once (in an extraction worker when the page comes from one).

1. `features(title, text, published)`: the article's most telling terms, its `body`:
   the content terms of its headline and full text (words stemmed lightly, numbers as
   their value), each with its term weight 1 + ln(count), a headline word counting
   HEADLINE_WEIGHT times; the BODY_TERMS of highest weight x IDF are kept (the IDF of
   the shipped table: placement weighs them again by the store's recent window). An
   article with nothing beyond its headline (`headline_only`) also counts the `pairs` of
   its neighbouring terms, since a few words alone say little. Its
   `keys`: the terms naming its names (runs of capitalised words) and numbers, the
   KEY_TERMS rarest; and its `marks`, the names, places and numbers as keys shared
   across languages (monitors.extract.marks).
2. `analyse(title, text)`: those features, without a time, as an `Analysis`;
   `features_of(article, published)` uses the article's analysis when it has one.
3. `facts_of(text)`: the salient facts of a short text (a sentence): names, numbers
   with their unit or the word next to them, quoted phrases.

The IDF table ships as `monitors/extract/data/idf.json.gz` (built by `bench/build_idf.py`
from ~1,300 news and web page texts): document frequencies of `terms`; a term it lacks
counts as seen in one document.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from monitors.extract.marks import marks
from monitors.models import Analysis, Article, Fact, StoryFeatures
from monitors.text import Token, sentences, tokenize

HEADLINE_WEIGHT = 2
BODY_TERMS = 40
KEY_TERMS = 20
RARE_IDF = 6.0
NAME_IDF = 4.0
TITLE_CASE_SHARE = 0.6
QUOTE_WORDS = 3
WORD_REACH = 48  # characters searched before a number for its word

_STOPWORD_LIST = """
    a about above after again against ago all also am an and another any are as at be
    because been before being below between both but by can could did do does doing down
    during each few for from further get gets had has have having he her here hers him his
    how i if in into is it its just like may me might more most much must my no nor not now
    of off on once one only or other our out over own per same say said says she should
    since so some such than that the their them then there these they this those though
    through to too under until up upon very via was we were what when where which while who
    whom whose why will with within without would yet you your
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
_CALENDAR_LIST = (
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december monday tuesday wednesday thursday "
    "friday saturday sunday christmas easter"
)
_CALENDAR = frozenset(_CALENDAR_LIST.split())
_CONNECTOR_LIST = "of de del da di du la le van von der al bin"
_CONNECTORS = frozenset(_CONNECTOR_LIST.split())
_AGENCY_LIST = "reuters ap afp dpa ansa efe upi xinhua tass pti ani"
_AGENCIES = frozenset(_AGENCY_LIST.split())
_NUMBER = re.compile(
    r"(?<![\w.,:])(?P<cur>[$€£¥])?\s?(?P<num>\d+(?:[.,]\d+)*)"
    r"(?:\s?(?P<unit>%|per ?cent|pct|bn|bln|billion|mn|mln|million|tn|trillion|thousand|[bmk])"
    r"(?!\w))?(?![\w%])",
    re.IGNORECASE,
)
_QUOTE = re.compile(
    r"[\"\u201c\u201e\u00ab](?P<a>[^\"\u201c\u201d\u201e\u00ab\u00bb\n]{2,200})[\"\u201d\u00bb]"
    r"|(?<!\w)[\u2018'](?P<b>[^\u2018\u2019'\n]{2,120})[\u2019'](?!\w)"
)
_TIME = re.compile(r"\d{1,2}:\d{2}")
_WORD_AFTER = re.compile(r" ([a-z][a-z-]*[a-z])\b")
_WORD_BEFORE = re.compile(r"\b([a-z][a-z-]*[a-z]) $")


@dataclass(frozen=True)
class IdfTable:
    """Document frequencies of stemmed terms over `docs` documents."""

    docs: int
    df: Mapping[str, int]
    _by_df: dict[int, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = {*self.df.values(), 1}  # the IDF of each document frequency, computed once
        by_df = {n: math.log((1 + self.docs) / (1 + n)) + 1.0 for n in counts}
        object.__setattr__(self, "_by_df", by_df)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; an unknown term counts as seen once."""
        return self._by_df[self.df.get(term, 1)]

    @classmethod
    def load(cls, path: Path | None = None) -> IdfTable:
        """The table at `path`, else the one shipped with newsmon."""
        source = path or resources.files("monitors.extract") / "data" / "idf.json.gz"
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
            data = json.load(f)
        return cls(docs=int(data["docs"]), df=dict(data["df"]))


@cache
def default_idf() -> IdfTable:
    """The shipped IDF table, read once."""
    return IdfTable.load()


def features(
    title: str, text: str, published: datetime | None = None, idf: IdfTable | None = None
) -> StoryFeatures:
    """An article's features: its body terms, keys, marks and time."""
    idf = idf or default_idf()
    tokens, spans, title_tokens = tokenize(text), sentences(text), tokenize(title)
    numbers = list(_NUMBER.finditer(text))
    title_terms, text_terms = terms(title, title_tokens), terms(text, tokens, numbers)
    counted = (title_terms, text_terms)
    if headline_only(title, text):
        counted = (title_terms + pairs(title_terms), text_terms + pairs(text_terms))
    counts = Counter(counted[1])
    for term in counted[0]:
        counts[term] += HEADLINE_WEIGHT
    weights = {t: 1.0 + math.log(n) for t, n in counts.items()}
    ranked = heapq.nsmallest(BODY_TERMS, [(-w * idf.idf(t), t) for t, w in weights.items()])
    named = _named(title, idf, True, title_tokens, sentences(title))
    named |= _named(text, idf, False, tokens, spans, numbers)
    return StoryFeatures(
        body={t: weights[t] for _, t in ranked},
        keys=frozenset(sorted(named, key=lambda t: (-idf.idf(t), t))[:KEY_TERMS]),
        published=published,
        marks=marks(title, text, tokens, spans, title_tokens),
    )


def headline_only(title: str, text: str) -> bool:
    """Whether an article has nothing beyond its headline: no text, or the headline
    again (an aggregator's item, a feed entry without a summary)."""
    return not text.strip() or text.split() == title.split()


def pairs(found: list[str]) -> list[str]:
    """The pairs of neighbouring terms, as terms of their own ("richard sherman")."""
    return [f"{a} {b}" for a, b in zip(found, found[1:], strict=False)]


def analyse(title: str, text: str) -> Analysis:
    """The analysis of an article's headline and text."""
    return Analysis(title=title, text=text, features=features(title, text))


def features_of(article: Article, published: datetime | None) -> StoryFeatures:
    """The article's story features, published at `published`: from its analysis when
    it has one, else computed now."""
    if article.analysis is not None:
        return article.analysis.features_at(published)
    return features(article.title, article.text, published)


def facts_of(text: str) -> tuple[Fact, ...]:
    """The names, numbers and quoted phrases of a short text (a sentence), in order."""
    return _facts(text, default_idf())


def terms(
    text: str, tokens: list[Token] | None = None, numbers: list[re.Match[str]] | None = None
) -> list[str]:
    """The content terms of `text` (its `tokens` and `numbers`, when already found) in
    order: words stemmed, a number as "#value"."""
    tokens = tokenize(text) if tokens is None else tokens
    starts = [t.start for t in tokens]
    out: list[str] = []
    done = 0  # the tokens before are in `out`
    for m in _NUMBER.finditer(text) if numbers is None else numbers:  # one term, its value
        first = bisect_left(starts, m.start(), done)
        last = bisect_left(starts, m.end(), first)
        if first < last:
            out += _word_terms(tokens[done:first])
            out.append(_number_key(m))
            done = last
    out += _word_terms(tokens[done:])
    return out


def _word_terms(tokens: list[Token]) -> list[str]:
    """The stemmed content words among `tokens`."""
    return [
        stem(norm)
        for norm, _, _ in tokens
        if norm not in STOPWORDS and len(norm) > 1 and not norm.isdigit()
    ]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: plural -s/-ies, -ing, -ed and a final -e go."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _facts(
    text: str,
    idf: IdfTable,
    headline: bool = False,
    tokens: list[Token] | None = None,
    spans: list[tuple[int, int]] | None = None,
) -> tuple[Fact, ...]:
    """The names, numbers and quoted phrases of `text` (its `tokens` and sentence `spans`,
    when already found), in order of appearance."""
    tokens = tokenize(text) if tokens is None else tokens
    spans = sentences(text) if spans is None else spans
    found = [*_names(text, idf, headline, tokens, spans), *_numbers(text), *_quotes(text)]
    return tuple(fact for _, fact in sorted(found, key=lambda pair: pair[0]))


def _named(
    text: str,
    idf: IdfTable,
    headline: bool,
    tokens: list[Token],
    spans: list[tuple[int, int]],
    numbers: list[re.Match[str]] | None = None,
) -> set[str]:
    """The keys of the names and numbers among the facts of `text` (`_facts`; `numbers`:
    its `_NUMBER` matches, when already found)."""
    found = {fact.key for _, fact in _names(text, idf, headline, tokens, spans)}
    return found | {_number_key(m) for m in _amounts(text, numbers)}


def _names(
    text: str, idf: IdfTable, headline: bool, tokens: list[Token], spans: list[tuple[int, int]]
) -> list[tuple[int, Fact]]:
    """Runs of capitalised words; a lone word only if an acronym or not common (NAME_IDF);
    in a Title Case headline, acronyms only. A sentence's capitalised first word is only
    part of a name when rare (RARE_IDF) and followed by another name word, or when the
    text also writes it capitalised inside a sentence."""
    starts = {start for start, _ in spans}
    title_case = headline and _is_title_case(text, tokens)
    capitalised = [i for i, t in enumerate(tokens) if text[t.start].isupper()]
    inner = {tokens[i].norm for i in capitalised if tokens[i].start not in starts}
    runs: list[list[Token]] = []
    for i in capitalised:  # a name word is capitalised (`_name_word`)
        token = tokens[i]
        surface = text[token.start : token.end]
        if title_case and not _is_acronym(surface):
            continue
        if not _name_word(surface, token):
            continue
        if runs and _continues(text, tokens, i, runs[-1][-1]):
            runs[-1].append(token)
        else:
            runs.append([token])
    found = []
    for run in runs:
        if _weak_opener(text, run, starts, inner, idf):
            run = run[1:]
        if not run:
            continue
        key = max((stem(t.norm) for t in reversed(run)), key=idf.idf)
        surface = text[run[0].start : run[-1].end]
        if len(run) > 1 or _is_acronym(surface) or idf.idf(key) >= NAME_IDF:
            found.append((run[0].start, Fact("name", key, surface)))
    return found


def _weak_opener(
    text: str, run: list[Token], starts: set[int], inner: set[str], idf: IdfTable
) -> bool:
    """Whether the run's first word is capitalised only for opening a sentence."""
    first = run[0]
    if first.start not in starts or first.norm in inner:
        return False
    if _is_acronym(text[first.start : first.end]):
        return False
    return len(run) == 1 or idf.idf(stem(first.norm)) < RARE_IDF


def _continues(text: str, tokens: list[Token], i: int, last: Token) -> bool:
    """Whether token `i` extends the name ending at `last`: right after it, or after a
    lower-case connector ("Secretary of State", "Charles de Gaulle")."""
    previous = tokens[i - 1]
    if previous is last:
        return text[last.end : tokens[i].start] in (" ", "-")
    connector = text[previous.start : previous.end]
    return (
        i >= 2
        and tokens[i - 2] is last
        and connector in _CONNECTORS
        and text[last.end : previous.start] == " "
        and text[previous.end : tokens[i].start] == " "
    )


def _name_word(surface: str, token: Token) -> bool:
    """Whether a word can be part of a name: capitalised, not a stop word, a month, a day,
    a news agency or a number."""
    if not surface[0].isupper() or token.norm in STOPWORDS:
        return False
    if token.norm in _CALENDAR or token.norm in _AGENCIES:
        return False
    return len(token.norm) >= 2 and not token.norm.isdigit()


def _is_acronym(surface: str) -> bool:
    return surface.isupper() and 2 <= len(surface) <= 5


def _is_title_case(text: str, tokens: list[Token]) -> bool:
    words = [t for t in tokens if t.norm not in STOPWORDS and t.norm.isalpha()]
    capitalised = sum(text[t.start].isupper() for t in words)
    return len(words) >= 3 and capitalised >= TITLE_CASE_SHARE * len(words)


def _numbers(text: str) -> list[tuple[int, Fact]]:
    """Amounts, counts and percentages, each written with its unit or the word next to it
    ("12 people", "killed 12", "$50 billion"); not bare years, dates or clock times."""
    found = []
    for m in _amounts(text):
        start, end = _context(text, m)
        found.append((start, Fact("number", _number_key(m), text[start:end].strip())))
    return found


def _amounts(text: str, numbers: list[re.Match[str]] | None = None) -> list[re.Match[str]]:
    """The numbers of `text` (its `_NUMBER` matches, when already found) that are not bare
    years, dates or clock times."""
    found = _NUMBER.finditer(text) if numbers is None else numbers
    return [m for m in found if not _is_date_or_year(text, m)]


def _context(text: str, m: re.Match[str]) -> tuple[int, int]:
    """The span of a number with the content word after it, else the one before it; a
    number with a currency or a unit stands alone."""
    if m.group("cur") or m.group("unit"):
        return m.start(), m.end()
    after = _WORD_AFTER.match(text, m.end())
    if after and after.group(1).lower() not in STOPWORDS:
        return m.start(), after.end()
    before = _WORD_BEFORE.search(text, max(0, m.start() - WORD_REACH), m.start())
    if before and before.group(1).lower() not in STOPWORDS:
        return before.start(1), m.end()
    return m.start(), m.end()


def _is_date_or_year(text: str, m: re.Match[str]) -> bool:
    num = m.group("num")
    if m.group("cur") or m.group("unit"):
        return False
    if _TIME.match(text, m.start()) or (
        len(num) == 4 and num.isdigit() and 1900 <= int(num) <= 2100
    ):
        return True
    before = text[max(0, m.start() - 12) : m.start()].split()
    after = text[m.end() : m.end() + 12].split()
    near = [w.strip(".,").lower() for w in before[-1:] + after[:1]]
    return any(w in _CALENDAR for w in near)


def _number_key(m: re.Match[str]) -> str:
    """The value after a "#", without thousands separators: "8,500" is "#8500", "6,2" "#6.2"."""
    parts = re.split(r"([.,])", m.group("num"))
    value = parts[0]
    for sep, digits in zip(parts[1::2], parts[2::2], strict=True):
        value += digits if sep == "," and len(digits) == 3 else "." + digits
    return f"#{value}"


def _quotes(text: str) -> list[tuple[int, Fact]]:
    """Phrases in quotation marks of QUOTE_WORDS words or more, two of them not stop
    words: not a scare-quoted "takes note"."""
    found = []
    for m in _QUOTE.finditer(text):
        quoted = (m.group("a") or m.group("b") or "").strip(" ,.")
        norms = [t.norm for t in tokenize(quoted)]
        content = [n for n in norms if n not in STOPWORDS]
        if len(norms) >= QUOTE_WORDS and len(content) >= 2:
            found.append((m.start(), Fact("quote", " ".join(norms), quoted)))
    return found
