"""Same-story decisions: an article's features, a score against a story, and what is new.

1. `features(title, text, published)`: the content terms of the headline and of the lead
   (the first two sentences): words stemmed lightly, numbers as their value, each weighted
   by its IDF (headline terms HEADLINE_WEIGHT times), so rare words, names and figures
   weigh most; its salient terms (headline and lead words written capitalised or rare, and
   numbers); and the salient facts of the whole text: names (runs of capitalised words),
   numbers with their unit or the word next to them, quoted phrases.
2. `Story`: a story keeps the features of its first MAX_MEMBERS articles (its founding
   write-ups) and the facts and terms of all of them. A newcomer is compared with each
   member, never with a sum that grows with every article: a long story does not gather
   generic words ("Russia", "Ukraine", "talks") until it swallows the next story on the
   topic.
3. `same_story_score(a, b)`: the cosine of two articles' term vectors, damped unless the
   shared terms carry EVIDENCE of IDF between them; in [0, 1]. `story_score` is the best
   score over the story's members that share an anchor with the article: a salient term
   that is not `topical` (held by many of the stories in the window).
4. `decide(story, article)`: join when the score reaches THRESHOLD and the article is
   within WINDOW of the story's articles and at most MAX_SPAN from its first one (so a
   story cannot roll on for ever); the reason says why in words.
5. `new_facts(seen, article)`: the names, numbers and quoted phrases of an article that the
   earlier ones did not have (a demonym or inflection of a word seen is not new): the
   basis of "New in this story: ...".

THRESHOLD and EVIDENCE were tuned on the UCI News Aggregator sample and the STS news
headlines (bench/stories.py, bench/RESULTS.md), for precision. The IDF table ships as
`monitors/data/idf.json.gz` (built by `bench/build_idf.py` from ~1,300 news and web page
texts): document frequencies of `terms`; a term it lacks counts as seen in one document.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from monitors.text import Token, sentences, tokenize

THRESHOLD = 0.4
WINDOW = timedelta(hours=72)
MAX_SPAN = timedelta(days=7)
MAX_MEMBERS = 20
TOPICAL_STORIES = 3
TOPICAL_SHARE = 0.02
HEADLINE_WEIGHT = 2.0
EVIDENCE = 20.0
LEAD_SENTENCES = 2
RARE_IDF = 6.0
NAME_IDF = 4.0
TITLE_CASE_SHARE = 0.6
QUOTE_WORDS = 3
SAME_ROOT = 5
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


class Fact(NamedTuple):
    """A salient fact: its kind ("name", "number", "quote"), its key, and how it was written."""

    kind: str
    key: str
    text: str


@dataclass(frozen=True)
class IdfTable:
    """Document frequencies of stemmed terms over `docs` documents."""

    docs: int
    df: Mapping[str, int]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; an unknown term counts as seen once."""
        return math.log((1 + self.docs) / (1 + self.df.get(term, 1))) + 1.0

    @classmethod
    def load(cls, path: Path | None = None) -> IdfTable:
        """The table at `path`, else the one shipped with newsmon."""
        source = path or resources.files("monitors") / "data" / "idf.json.gz"
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
            data = json.load(f)
        return cls(docs=int(data["docs"]), df=dict(data["df"]))


@cache
def default_idf() -> IdfTable:
    """The shipped IDF table, read once."""
    return IdfTable.load()


@dataclass(frozen=True)
class StoryFeatures:
    """What same-story decisions and novelty checks need from an article.

    `weights` is its unit term vector and `headline` its headline's; `idf` has each term's
    IDF, `salient` the terms that can anchor a join (see `salient`), `facts` and `terms`
    (every term of the full text) what was said, `published` when.
    """

    weights: Mapping[str, float]
    idf: Mapping[str, float]
    headline: Mapping[str, float]
    facts: tuple[Fact, ...] = ()
    terms: frozenset[str] = frozenset()
    published: datetime | None = None
    salient: frozenset[str] = frozenset()

    @cached_property
    def norm(self) -> float:
        return math.sqrt(sum(w * w for w in self.weights.values()))


@dataclass(frozen=True)
class Story:
    """A story: its first MAX_MEMBERS articles' features (without their facts and terms),
    the facts and terms of all its articles, its first and latest times, its size."""

    members: tuple[StoryFeatures, ...]
    facts: tuple[Fact, ...] = ()
    terms: frozenset[str] = frozenset()
    started: datetime | None = None
    latest: datetime | None = None
    articles: int = 1

    @classmethod
    def of(cls, article: StoryFeatures) -> Story:
        """A story of one article."""
        return cls(
            (_member(article),),
            article.facts,
            article.terms,
            article.published,
            article.published,
            1,
        )

    @cached_property
    def index_terms(self) -> frozenset[str]:
        """The weighted terms of its members."""
        return frozenset(t for m in self.members for t in m.weights)

    @cached_property
    def anchor_terms(self) -> frozenset[str]:
        """The salient terms of its members: a story sharing none with an article scores 0."""
        return frozenset(t for m in self.members for t in m.salient)


@dataclass(frozen=True)
class Decision:
    """Whether an article joins a story, its score, and why, in words."""

    join: bool
    score: float
    reason: str


def features(
    title: str, text: str, published: datetime | None = None, idf: IdfTable | None = None
) -> StoryFeatures:
    """An article's features: IDF-weighted headline and lead terms, salient facts, time."""
    idf = idf or default_idf()
    tokens, spans = tokenize(text), sentences(text)
    head_terms = dict.fromkeys(terms(title))
    opening = _lead(text, spans)
    weights = {t: HEADLINE_WEIGHT * idf.idf(t) for t in head_terms}
    for term in dict.fromkeys(terms(opening)):
        weights[term] = weights.get(term, 0.0) + idf.idf(term)
    return StoryFeatures(
        weights=_unit(weights),
        idf={t: idf.idf(t) for t in weights},
        headline=_unit({t: idf.idf(t) for t in head_terms}),
        facts=_unique(_facts(title, idf, headline=True) + _facts(text, idf, False, tokens, spans)),
        terms=frozenset(head_terms) | frozenset(terms(text, tokens)),
        published=published,
        salient=salient(title, idf) | salient(opening, idf),
    )


def salient(text: str, idf: IdfTable) -> frozenset[str]:
    """The terms of `text` that can anchor a join: numbers, rare words (RARE_IDF), and words
    written capitalised that are not common (NAME_IDF)."""
    found = {t for t in terms(text) if t.startswith("#") or idf.idf(t) >= RARE_IDF}
    for token in tokenize(text):
        if text[token.start].isupper() and token.norm not in STOPWORDS:
            term = stem(token.norm)
            if idf.idf(term) >= NAME_IDF and token.norm not in _CALENDAR:
                found.add(term)
    return frozenset(found)


def merge(story: Story, article: StoryFeatures) -> Story:
    """The story with one more article: a member while it has fewer than MAX_MEMBERS; facts
    and terms united; its span stretched."""
    members = story.members
    if len(members) < MAX_MEMBERS:
        members = (*members, _member(article))
    return Story(
        members=members,
        facts=_unique(story.facts + article.facts),
        terms=story.terms | article.terms,
        started=_earliest(story.started, article.published),
        latest=_latest(story.latest, article.published),
        articles=story.articles + 1,
    )


def same_story_score(a: StoryFeatures, b: StoryFeatures) -> float:
    """The cosine of the two weighted term vectors, damped when the shared terms are few.

    The damping factor is the IDF sum of the shared terms over EVIDENCE, capped at 1: two
    headlines sharing only common words ("stocks", "Wall Street") do not make a story.
    """
    small, large = (a, b) if len(a.weights) <= len(b.weights) else (b, a)
    dot = evidence = 0.0
    for term, weight in small.weights.items():
        if term in large.weights:
            dot += weight * large.weights[term]
            evidence += small.idf[term]
    if not dot:
        return 0.0
    return min(1.0, dot / (a.norm * b.norm)) * min(1.0, evidence / EVIDENCE)


def topical(held: Mapping[str, int], stories: int) -> frozenset[str]:
    """The terms held by at least TOPICAL_STORIES stories and TOPICAL_SHARE of the `stories`
    in the window: the day's topic ("Russia", "Ukraine" on a desk watching the war), which
    cannot anchor a join."""
    least = max(TOPICAL_STORIES, TOPICAL_SHARE * stories)
    return frozenset(term for term, count in held.items() if count >= least)


def anchors(
    member: StoryFeatures, article: StoryFeatures, topical: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The salient terms both have that are not topical."""
    return (member.salient & article.salient) - topical


def best_member(
    story: Story, article: StoryFeatures, topical: frozenset[str] = frozenset()
) -> tuple[float, StoryFeatures | None]:
    """The best score of `article` against a member it shares an anchor with, and that member."""
    best: tuple[float, StoryFeatures | None] = (0.0, None)
    for member in story.members:
        if anchors(member, article, topical):
            score = same_story_score(member, article)
            if score > best[0]:
                best = (score, member)
    return best


def story_score(
    story: Story, article: StoryFeatures, topical: frozenset[str] = frozenset()
) -> float:
    """The best score of `article` against the story's anchored members; 0 without one."""
    return best_member(story, article, topical)[0]


def decide(
    story: Story | StoryFeatures,
    article: StoryFeatures,
    threshold: float = THRESHOLD,
    window: timedelta = WINDOW,
    span: timedelta = MAX_SPAN,
    topical: frozenset[str] = frozenset(),
) -> Decision:
    """Whether `article` joins `story` (a story's or an article's features), and why."""
    story = story if isinstance(story, Story) else Story.of(story)
    score, member = best_member(story, article, topical)
    gap = _gap(story, article)
    when = "time unknown" if gap is None else f"{_hours(gap)} apart"
    if not within(story, article, window):
        return Decision(False, score, f"{when}, beyond the {_h(window)} h window")
    if not within_span(story, article, span):
        return Decision(False, score, f"the story began over {_h(span)} h before it")
    if member is None:
        plain = max((same_story_score(m, article) for m in story.members), default=0.0)
        reason = "shares no name, place, number or rare word with the story but topic words"
        return Decision(False, plain, f"score {plain:.2f}: {reason}; {when}")
    evidence = ", ".join(
        [
            f"headline cosine {_cosine(member.headline, article.headline):.2f}",
            f"best of {len(story.members)} articles",
        ]
        + _shared_facts(story, article)
    )
    verdict = ">=" if score >= threshold else "<"
    return Decision(
        score >= threshold,
        score,
        f"score {score:.2f} {verdict} {threshold:.2f}: {evidence}; {when}",
    )


def within(story: Story, article: StoryFeatures, window: timedelta = WINDOW) -> bool:
    """Whether the article is at most `window` from the story's articles (true when a time
    is unknown)."""
    gap = _gap(story, article)
    return gap is None or gap <= window


def within_span(story: Story, article: StoryFeatures, span: timedelta = MAX_SPAN) -> bool:
    """Whether the story, with the article, lasts at most `span` (true when a time is unknown)."""
    when = article.published
    if when is None or story.started is None or story.latest is None:
        return True
    return max(story.latest, when) - min(story.started, when) <= span


def new_facts(seen: Iterable[StoryFeatures], article: StoryFeatures) -> list[Fact]:
    """The names, numbers and quoted phrases of `article` that none of `seen` had.

    A name is old when its rarest word, or a word with the same root ("Russian" after
    "Russia"), was written before; a number when its value was; a quotation when it is
    part of an earlier one. A new name that is part of another new name is left out.
    """
    words: set[str] = set()
    quotes: list[str] = []
    for earlier in seen:
        words.update(earlier.terms)
        quotes.extend(f.key for f in earlier.facts if f.kind == "quote")
    roots = Roots(words)
    fresh = [
        fact
        for fact in article.facts
        if not (
            fact.key in words
            or (fact.kind == "name" and roots.seen(fact.key))
            or any(fact.key in quote for quote in quotes)
        )
    ]
    names = [f.text for f in fresh if f.kind == "name"]
    return [
        f for f in fresh if f.kind != "name" or not any(f.text != n and f.text in n for n in names)
    ]


class Roots:
    """Words indexed by their first SAME_ROOT letters, to find another form of a word."""

    def __init__(self, words: Iterable[str]) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        self._words = set(words)
        for word in self._words:
            if len(word) >= SAME_ROOT and word.isalpha():
                self._by_prefix.setdefault(word[:SAME_ROOT], []).append(word)

    def seen(self, word: str) -> bool:
        """Whether the word, or one with the same root, was seen: the two agree up to
        their last two letters, and on SAME_ROOT letters at least ("russian"/"russia",
        "ukrainian"/"ukrain", "israeli"/"israel")."""
        if word in self._words:
            return True
        for other in self._by_prefix.get(word[:SAME_ROOT], ()):
            common = len(_common_prefix(word, other))
            if common >= max(SAME_ROOT, min(len(word), len(other)) - 2):
                return True
        return False


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def lead(text: str, count: int = LEAD_SENTENCES) -> str:
    """The first `count` sentences of `text`."""
    return _lead(text, sentences(text), count)


def _lead(text: str, spans: list[tuple[int, int]], count: int = LEAD_SENTENCES) -> str:
    first = spans[:count]
    return text[first[0][0] : first[-1][1]] if first else ""


def terms(text: str, tokens: list[Token] | None = None) -> list[str]:
    """The content terms of `text` (its `tokens`, when already found) in order: words
    stemmed, a number as "#value"."""
    numbers = [(m.start(), m.end(), _number_key(m)) for m in _NUMBER.finditer(text)]
    out: list[str] = []
    current, emitted = 0, -1
    for token in tokenize(text) if tokens is None else tokens:
        while current < len(numbers) and numbers[current][1] <= token.start:
            current += 1
        if current < len(numbers) and numbers[current][0] <= token.start:
            if emitted != current:
                out.append(numbers[current][2])
                emitted = current
        elif token.norm not in STOPWORDS and len(token.norm) > 1 and not token.norm.isdigit():
            out.append(stem(token.norm))
    return out


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


def _names(
    text: str, idf: IdfTable, headline: bool, tokens: list[Token], spans: list[tuple[int, int]]
) -> list[tuple[int, Fact]]:
    """Runs of capitalised words; a lone word only if an acronym or not common (NAME_IDF);
    in a Title Case headline, acronyms only. A sentence's capitalised first word is only
    part of a name when rare (RARE_IDF) and followed by another name word, or when the
    text also writes it capitalised inside a sentence."""
    starts = {start for start, _ in spans}
    title_case = headline and _is_title_case(text, tokens)
    inner = {t.norm for t in tokens if t.start not in starts and text[t.start].isupper()}
    runs: list[list[Token]] = []
    for i, token in enumerate(tokens):
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
    for m in _NUMBER.finditer(text):
        if _is_date_or_year(text, m):
            continue
        start, end = _context(text, m)
        found.append((start, Fact("number", _number_key(m), text[start:end].strip())))
    return found


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


def _shared_facts(a: Story, b: StoryFeatures) -> list[str]:
    """Phrases like "shared names: X, Y" for the facts both have, five of each kind."""
    theirs = {(f.kind, f.key) for f in a.facts}
    parts = []
    for kind in ("name", "number", "quote"):
        shared = [f.text for f in b.facts if f.kind == kind and (kind, f.key) in theirs]
        if shared:
            parts.append(f"shared {kind}s: " + ", ".join(shared[:5]))
    return parts


def _unique(facts: Iterable[Fact]) -> tuple[Fact, ...]:
    """One fact per (kind, key), where it first appears, written the longest way seen."""
    seen: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        known = seen.setdefault((fact.kind, fact.key), fact)
        if len(fact.text) > len(known.text):
            seen[fact.kind, fact.key] = fact
    return tuple(seen.values())


def _unit(vector: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    norms = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    return min(1.0, dot / norms) if norms else 0.0


def _gap(story: Story, article: StoryFeatures) -> timedelta | None:
    """How far the article is from the story's articles (0 inside their span)."""
    when = article.published
    if when is None or story.started is None or story.latest is None:
        return None
    return max(story.started - when, when - story.latest, timedelta(0))


def _member(article: StoryFeatures) -> StoryFeatures:
    """An article's features as a story member: what scoring needs, not its facts and terms."""
    return StoryFeatures(
        article.weights,
        article.idf,
        article.headline,
        published=article.published,
        salient=article.salient,
    )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


def _h(span: timedelta) -> str:
    return f"{span / timedelta(hours=1):g}"


def _hours(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"
