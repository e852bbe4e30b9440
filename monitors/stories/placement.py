"""Story placement: where a new article belongs, and why. Every decision is kept.

1. An exact copy (same canonical URL or same text fingerprint) joins its original's story.
2. A near-duplicate (MinHash LSH, estimated Jaccard at least `near_duplicate`) joins the
   story of the article it copies, silently unless its rule-matching sentences bring what
   the story's alerts lacked (an updated wire version with a new toll): its features are
   computed for that check, but it does not become one of the story's articles.
3. Another write-up is compared with the stories of the window whose articles share its
   rare terms (monitors.stories.index), on its full text (monitors.stories.similarity),
   and joins the best-scoring one that `decide` lets it join. A story all of whose
   articles are in languages apart from the article's (one of the two written in
   Cyrillic: Ukrainian or Russian and English, or Ukrainian and Russian) is found and
   compared by their marks instead (names, places and numbers keyed alike across
   scripts: monitors.extract.marks), when the languages are known.
4. Anything else starts a new story; the reason names the closest story it was compared
   with and why it did not join, or says that no story of the window shared a rare term.

A placed original's terms are stored with it (`article_terms`); a story's stored
features are its span (first and latest publication). The thresholds and windows are the
`stories:` section of the config (StoriesConfig).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from monitors.config import StoriesConfig
from monitors.extract.analysis import features_of
from monitors.extract.language import UNKNOWN
from monitors.extract.marks import NUMBER, apart
from monitors.models import Article, StoryFeatures
from monitors.store import Tx
from monitors.stories import minhash, similarity
from monitors.stories.index import RecentArticles, dump
from monitors.stories.similarity import CENTROID_MEMBERS, Candidate, Decision

COPY_KINDS = frozenset({"exact copy", "near duplicate"})
MAX_STORIES = 6  # candidate stories scored, by their closest article


@dataclass(frozen=True)
class Placement:
    """The story an article joined, how (`kind`), the article it copies, score and reason."""

    story_id: int
    kind: str
    score: float | None
    reason: str
    other_article_id: int | None = None

    @property
    def is_copy(self) -> bool:
        return self.kind in COPY_KINDS


class StoryDesk:
    """Places articles into stories inside the caller's transaction.

    Work is done only as far as needed: an exact copy costs a lookup, a near-duplicate
    a MinHash signature and its features; only an article that is neither is compared
    with stories. The window's articles are kept in memory between articles (see
    monitors.stories.index).
    """

    def __init__(self, settings: StoriesConfig) -> None:
        self.settings = settings
        self.lsh = minhash.lsh_params(settings.near_duplicate)
        self.recent = RecentArticles()

    def place(
        self,
        tx: Tx,
        article_id: int,
        article: Article,
        duplicate_of: int | None,
        now: datetime,
    ) -> tuple[Placement, StoryFeatures | None]:
        """Record the article's story and the decision; return them, with the article's
        features unless it is an exact copy."""
        feats: StoryFeatures | None = None
        placement = self._exact_copy(tx, duplicate_of)
        if placement is None:
            sig = minhash.signature(article.text)
            placement = self._near_duplicate(tx, sig)
            feats = features_of(article, article.published or now)
            if placement is None:
                placement = self._same_or_new(tx, article, feats, now)
                tx.add_article_terms(article_id, dump(feats, _known(article.language)))
                if keys := sig.bands(self.lsh):  # an empty signature is not indexed
                    tx.add_signature(article_id, sig.to_bytes(), keys)
        if placement.is_copy:
            tx.count_copy(placement.story_id, now)
        tx.set_story(article_id, placement.story_id)
        record(tx, article_id, placement, now)
        return placement, feats

    def _exact_copy(self, tx: Tx, duplicate_of: int | None) -> Placement | None:
        story = tx.story_of(duplicate_of) if duplicate_of is not None else None
        if story is None:
            return None
        reason = f"same URL or same text as article {duplicate_of}"
        return Placement(story, "exact copy", 1.0, reason, duplicate_of)

    def _near_duplicate(self, tx: Tx, sig: minhash.Signature) -> Placement | None:
        threshold = self.settings.near_duplicate
        keys = sig.bands(self.lsh)
        candidates = tx.signature_candidates(keys) if keys else []
        for near in minhash.near_duplicates(candidates, sig, threshold):
            story = tx.story_of(near.article_id)
            if story is not None:
                reason = (
                    f"near duplicate of article {near.article_id}: "
                    f"Jaccard ~{near.jaccard:.2f} >= {threshold:.2f}"
                )
                return Placement(story, "near duplicate", near.jaccard, reason, near.article_id)
        return None

    def _same_or_new(
        self, tx: Tx, article: Article, feats: StoryFeatures, now: datetime
    ) -> Placement:
        """Join the best-scoring story `decide` allows (on a tie, the one compared first),
        else start a story saying why the closest one was not joined."""
        decided = [
            (similarity.decide(c, self.settings), c)
            for c in self.candidates(tx, feats, now, _known(article.language))
        ]
        joinable = [(d, c) for d, c in decided if d.join]
        if joinable:
            decision, chosen = max(joinable, key=lambda pair: pair[0].score)
            self._grow(tx, chosen.story_id, feats, now)
            return Placement(chosen.story_id, "same story", decision.score, decision.reason)
        closest = max(decided, key=lambda pair: pair[0].score, default=None)
        span = json.dumps({"started": _iso(feats.published), "latest": _iso(feats.published)})
        story_id = tx.new_story(article.title, now, feats.published, span)
        return Placement(story_id, "new story", None, _new_reason(closest, len(decided)))

    def candidates(
        self, tx: Tx, feats: StoryFeatures, now: datetime, language: str | None = None
    ) -> list[Candidate]:
        """The stories of the window whose articles share the most of the article's rare
        terms (at most MAX_STORIES, by their closest article), with the evidence; for an
        article in a known `language`, the stories in languages apart from it are found
        and compared by their marks instead (`_across`)."""
        recent = self.recent
        recent.sync(tx, now - self.settings.window)
        vector = recent.weigh(feats.body)
        rare = recent.rare(chain(feats.body, feats.keys))
        closest: dict[int, float] = {}
        for slot in recent.candidates(rare, recent.idf_of(rare)):
            story = recent.story_of(slot)
            if language and self._foreign(story, language):
                continue
            closest[story] = max(closest.get(story, 0.0), vector.cosine(recent.member(slot)))
        ranked = sorted(closest.items(), key=lambda pair: -pair[1])[:MAX_STORIES]
        rare_keys = {recent.word(t) for t in rare if recent.word(t) in feats.keys}
        found = []
        for story, member in ranked:
            slots = recent.members(story)
            centroid = member
            if len(slots) > 1:
                centroid = vector.cosine(recent.centroid(story, CENTROID_MEMBERS))
            held = set().union(*(recent.keys(s) for s in slots))
            shared = sorted(k for k in rare_keys if recent.term_id(k) in held)
            gap, span = _gap_and_span(recent.spans[story], feats.published)
            found.append(
                Candidate(story, member, centroid, len(slots), tuple(shared), gap, span)
            )
        return found + (self._across(feats, language) if language else [])

    def _foreign(self, story: int, language: str) -> bool:
        """Whether the story's held articles are all in known languages that an article
        in `language` is compared with by their marks (`apart`)."""
        held = {self.recent.language(s) for s in self.recent.members(story)}
        return all(other is not None and apart(other, language) for other in held)

    def _across(self, feats: StoryFeatures, language: str) -> list[Candidate]:
        """The stories in languages apart from the article's whose articles share the
        most of its rare marks, with the evidence of the marks (at most MAX_STORIES)."""
        recent = self.recent
        marks = recent.weigh(dict.fromkeys(feats.marks, 1.0))
        rare = recent.rare(feats.marks)
        closest: dict[int, float] = {}
        for slot in recent.candidates(rare, recent.idf_of(rare)):
            story = recent.story_of(slot)
            if self._foreign(story, language):
                closest[story] = max(closest.get(story, 0.0), marks.cosine(recent.marked(slot)))
        ranked = sorted(closest.items(), key=lambda pair: -pair[1])[:MAX_STORIES]
        found = []
        for story, cosine in ranked:
            slots = recent.members(story)
            held = set().union(*(recent.marks(s) for s in slots))
            shared = [recent.word(t) for t in rare if t in held]
            languages = {other for s in slots if (other := recent.language(s))} | {language}
            gap, span = _gap_and_span(recent.spans[story], feats.published)
            found.append(
                Candidate(
                    story,
                    cosine,
                    cosine,
                    len(slots),
                    tuple(feats.marks[m] for m in shared),
                    gap,
                    span,
                    tuple(sorted(languages)),
                    sum(m.startswith(NUMBER) for m in shared),
                )
            )
        return found

    def _grow(self, tx: Tx, story_id: int, feats: StoryFeatures, now: datetime) -> None:
        """Add a write-up to the story it joined: its span stretched."""
        started, latest = self.recent.spans[story_id]
        started, latest = _earliest(started, feats.published), _latest(latest, feats.published)
        span = json.dumps({"started": _iso(started), "latest": _iso(latest)})
        tx.grow_story(story_id, span, now, latest)


def _known(language: str | None) -> str | None:
    """The language, unless it is not known."""
    return None if language in (None, UNKNOWN) else language


def _new_reason(closest: tuple[Decision, Candidate] | None, compared: int) -> str:
    """Why an article starts a story: the closest story compared and why it was not
    joined, or that no story of the window shared a rare term with it."""
    if closest is None:
        return "no story of the window shares a rare term with it"
    decision, candidate = closest
    others = f" (of {compared} compared)" if compared > 1 else ""
    return f"closest story #{candidate.story_id}{others} not joined: {decision.reason}"


def _gap_and_span(
    span: tuple[datetime | None, datetime | None], when: datetime | None
) -> tuple[timedelta | None, timedelta | None]:
    """How far `when` is from a story's span (0 inside it), and how long the story
    would last with it; None when a time is unknown."""
    started, latest = span
    if when is None or started is None or latest is None:
        return None, None
    gap = max(started - when, when - latest, timedelta(0))
    return gap, max(latest, when) - min(started, when)


def record(tx: Tx, article_id: int, placement: Placement, now: datetime) -> None:
    """Keep a placement decision with its reason and score."""
    tx.add_decision(
        article_id,
        placement.story_id,
        placement.kind,
        placement.reason,
        now,
        score=placement.score,
        other_article_id=placement.other_article_id,
    )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
