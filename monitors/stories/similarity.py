"""Same-story decisions: an article's score against a story, and what is new.

1. `Story`: a story keeps the features of its first MAX_MEMBERS articles (its founding
   write-ups) and the facts and terms of all of them. A newcomer is compared with each
   member, never with a sum that grows with every article: a long story does not gather
   generic words ("Russia", "Ukraine", "talks") until it swallows the next story on the
   topic.
2. `same_story_score(a, b)`: the cosine of two articles' term vectors (see
   monitors.extract.analysis), damped unless the shared terms carry EVIDENCE of IDF
   between them; in [0, 1]. `story_score` is the best score over the story's members that
   share an anchor with the article: a salient term that is not `topical` (held by many
   of the stories in the window).
3. `decide(story, article, ...)`: join when the score reaches the threshold and the
   article is within the window of the story's articles and at most the span from its
   first one (so a story cannot roll on for ever); the reason says why in words.
4. `new_facts(seen, article)`: the names, numbers and quoted phrases of an article that the
   earlier ones did not have (a demonym or inflection of a word seen is not new): the
   basis of "New in this story: ...".

The thresholds (the `stories:` section of the config) and EVIDENCE were tuned on the UCI
News Aggregator sample and the STS news headlines (bench/stories.py, bench/RESULTS.md),
for precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from monitors.config import StoriesConfig
from monitors.extract.analysis import unique_facts
from monitors.models import Fact, StoryFeatures

MAX_MEMBERS = 20
TOPICAL_STORIES = 3
TOPICAL_SHARE = 0.02
EVIDENCE = 20.0
SAME_ROOT = 5


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


def merge(story: Story, article: StoryFeatures) -> Story:
    """The story with one more article: a member while it has fewer than MAX_MEMBERS; facts
    and terms united; its span stretched."""
    members = story.members
    if len(members) < MAX_MEMBERS:
        members = (*members, _member(article))
    return Story(
        members=members,
        facts=unique_facts(story.facts + article.facts),
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
    settings: StoriesConfig,
    topical: frozenset[str] = frozenset(),
) -> Decision:
    """Whether `article` joins `story` (a story's or an article's features) under the
    settings' threshold, window and span, and why."""
    threshold, window, span = settings.same_story, settings.window, settings.max_span
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


def within(story: Story, article: StoryFeatures, window: timedelta) -> bool:
    """Whether the article is at most `window` from the story's articles (true when a time
    is unknown)."""
    gap = _gap(story, article)
    return gap is None or gap <= window


def within_span(story: Story, article: StoryFeatures, span: timedelta) -> bool:
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


def _shared_facts(a: Story, b: StoryFeatures) -> list[str]:
    """Phrases like "shared names: X, Y" for the facts both have, five of each kind."""
    theirs = {(f.kind, f.key) for f in a.facts}
    parts = []
    for kind in ("name", "number", "quote"):
        shared = [f.text for f in b.facts if f.kind == kind and (kind, f.key) in theirs]
        if shared:
            parts.append(f"shared {kind}s: " + ", ".join(shared[:5]))
    return parts


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
