"""Same-story decisions: the evidence an article has for a candidate story, and the
verdict in words.

A candidate is a story of the window one of whose articles shares rare terms with the
article (see monitors.stories.index). Its evidence (`Candidate`):

- `member`: the cosine of the two body vectors (TF x window IDF) with the story's
  closest article; `centroid`: with the sum of the story's last CENTROID_MEMBERS
  articles' unit vectors, so that a story is all of its write-ups, not only its first;
- `shared`: the names and numbers both have that few of the window's articles have;
- `gap`: how far the article is from the story's articles (0 within their span) and
  `span`: how long the story would last with it.

Its score is the better cosine, halved every DECAY_HALF_LIFE of gap. `decide` joins when
the article is within the window and the story's maximum span, the score reaches the
threshold (`stories.same_story`), and the join has an anchor: MIN_SHARED rare names or
numbers shared, or a cosine of STRONG at least (a topic's common words alone make no
story). Otherwise its reason says which of these failed, with the evidence.

A story all of whose articles are in languages apart from the article's (one of them
written in Cyrillic: monitors.extract.marks.apart) is compared `across` languages, on
the marks (names, places and numbers keyed alike in every script) instead of the
words: `member` and `centroid` are then the cosine of the marks (each weighed by its
window IDF) with the story's closest article, `shared` the rare marks both have, as the
article writes them (`figures` of them numbers). Such a join needs a score of
ACROSS_SAME and an anchor whatever the cosine: ACROSS_SHARED rare marks shared, a
number among them or ACROSS_NAMES names: the actors of a topic come back in its every
event, an event's figures seldom do.

A `headline` candidate (the article has nothing beyond its headline: an aggregator's
item, see monitors.extract.analysis.headline_only) has a few words and seldom three
names: its terms include its pairs of neighbouring words, its candidates were found by
terms held by up to HEADLINE_SHARE of the window, and its cosine is the centroid's
alone (a story is all of its headlines: one stray member does not draw the next
headlines of another story in). It joins on a score of HEADLINE_SAME with no further
anchor, the score halved every HEADLINE_HALF_LIFE of gap (an aggregator's stories last
hours). Every other candidate is judged as above.

The constants were measured on the WikiNews events and the UCI headlines
(bench/stories.py, bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from monitors.config import StoriesConfig

CENTROID_MEMBERS = 30
DECAY_HALF_LIFE = timedelta(hours=48)
MIN_SHARED = 3
STRONG = 0.5
ACROSS_SAME = 0.3
ACROSS_SHARED = 3
ACROSS_NAMES = 5
HEADLINE_SAME = 0.12
HEADLINE_SHARE = 0.2
HEADLINE_HALF_LIFE = timedelta(hours=6)
SAME_ROOT = 5
SHOWN = 5  # shared names listed in a reason


@dataclass(frozen=True)
class Candidate:
    """A story an article might join, and the evidence for it (see the module)."""

    story_id: int
    member: float
    centroid: float
    articles: int
    shared: tuple[str, ...] = ()
    gap: timedelta | None = None
    span: timedelta | None = None
    across: tuple[str, ...] = ()  # the story's languages and the article's, if compared across
    figures: int = 0  # how many of `shared` are numbers
    headline: bool = False  # the article has nothing beyond its headline

    @property
    def cosine(self) -> float:
        if self.headline:
            return self.centroid
        return max(self.member, self.centroid)

    @property
    def score(self) -> float:
        if self.gap is None:
            return self.cosine
        half_life = HEADLINE_HALF_LIFE if self.headline else DECAY_HALF_LIFE
        return float(self.cosine * 0.5 ** (self.gap / half_life))

    @property
    def anchored(self) -> bool:
        if self.headline:  # found by a shared term: a headline has no more to give
            return True
        if self.across:
            enough = self.figures > 0 or len(self.shared) >= ACROSS_NAMES
            return len(self.shared) >= ACROSS_SHARED and enough
        return len(self.shared) >= MIN_SHARED or self.cosine >= STRONG

    def threshold(self, settings: StoriesConfig) -> float:
        """The score this candidate needs to be joined."""
        if self.across:
            return ACROSS_SAME
        return HEADLINE_SAME if self.headline else settings.same_story


@dataclass(frozen=True)
class Decision:
    """Whether an article joins a candidate story, its score, and why: the first
    condition that failed (None for a join); `reason` words it with the evidence
    (written only when asked: a placement reads one decision's of the several made)."""

    score: float
    failed: str | None
    candidate: Candidate
    threshold: float

    @property
    def join(self) -> bool:
        return self.failed is None

    @property
    def reason(self) -> str:
        evidence = _evidence(self.candidate)
        if self.failed:
            return f"{self.failed} ({evidence})"
        return f"score {self.score:.2f} >= {self.threshold:.2f}: {evidence}"


def decide(candidate: Candidate, settings: StoriesConfig) -> Decision:
    """Whether the article joins the candidate story under the settings' threshold,
    window and span, and why: the first condition that fails, with the evidence."""
    threshold = candidate.threshold(settings)
    return Decision(candidate.score, _failure(candidate, settings), candidate, threshold)


def _failure(c: Candidate, settings: StoriesConfig) -> str | None:
    if c.gap is not None and c.gap > settings.window:
        window = _h(settings.window)
        return f"outside the window: {_hours(c.gap)} from its articles (window {window} h)"
    if c.span is not None and c.span > settings.max_span:
        return (
            f"the story would last {_hours(c.span)}, over its maximum span of "
            f"{_h(settings.max_span)} h"
        )
    if c.score < c.threshold(settings):
        return f"score {c.score:.2f} below the threshold {c.threshold(settings):.2f}"
    if not c.anchored and c.across:
        return (
            f"no anchor across languages: {len(c.shared)} rare names, places or numbers "
            f"shared, {c.figures} of them numbers (needs {ACROSS_SHARED} with a number, or "
            f"{ACROSS_NAMES})"
        )
    if not c.anchored:
        return (
            f"no anchor: {len(c.shared)} rare name or number shared (needs {MIN_SHARED}) "
            f"and cosine {c.cosine:.2f} < {STRONG:.2f}"
        )
    return None


def _evidence(c: Candidate) -> str:
    if c.across:
        return _across_evidence(c)
    cosines = (
        f"cosine {c.member:.2f} with its closest article, {c.centroid:.2f} with the "
        f"story's {c.articles} article{'s' if c.articles != 1 else ''}"
    )
    shown = tuple(word.removeprefix("#") for word in c.shared)  # a number's term is "#value"
    shared = _listed(shown, "shared rare names and numbers: ", "no rare name or number")
    return "; ".join([cosines, shared, _when(c)])


def _across_evidence(c: Candidate) -> str:
    cosine = (
        f"across languages ({', '.join(c.across)}): cosine of names, places and numbers "
        f"{c.cosine:.2f} with its closest article"
    )
    shared = _listed(c.shared, "shared: ", "no rare name, place or number")
    return "; ".join([cosine, shared, _when(c)])


def _listed(shared: tuple[str, ...], lead: str, none: str) -> str:
    """The first SHOWN of the shared evidence, and how many more."""
    if not shared:
        return f"{none} shared"
    more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
    return lead + ", ".join(shared[:SHOWN]) + more


def _when(c: Candidate) -> str:
    if c.gap is None:
        return "time unknown"
    return "within the story's span" if not c.gap else f"{_hours(c.gap)} apart"


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


def _h(span: timedelta) -> str:
    return f"{span / timedelta(hours=1):g}"


def _hours(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"
