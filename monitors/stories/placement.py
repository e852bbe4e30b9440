"""Story placement: where a new article belongs, and why. Every decision is kept.

1. An exact copy (same canonical URL or same text fingerprint) joins its original's story.
2. A near-duplicate (MinHash LSH, estimated Jaccard at least `near_duplicate`) joins the
   story of the article it copies, silently unless its rule-matching sentences bring what
   the story's alerts lacked (an updated wire version with a new toll): its features are
   computed for that check, but it does not become one of the story's members.
3. Another write-up joins the best story within the window whose members' headline, lead
   and salient terms score at least `same_story` (see monitors.similarity).
4. Anything else starts a new story.

The thresholds and windows are the `stories:` section of the config (StoriesConfig).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.config import StoriesConfig
from monitors.extract.analysis import features_of
from monitors.models import Article, Fact, StoryFeatures
from monitors.store import StoryRow, Tx
from monitors.stories import minhash, similarity
from monitors.stories.similarity import Story

COPY_KINDS = frozenset({"exact copy", "near duplicate"})
MAX_STORIES = 5000  # held in memory: those seen last
MAX_WRITTEN = 1000  # stories written and not yet read back


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
    with stories. Recent stories are kept parsed between articles (see RecentStories).
    """

    def __init__(self, settings: StoriesConfig) -> None:
        self.settings = settings
        self.lsh = minhash.lsh_params(settings.near_duplicate)
        self.recent = RecentStories()

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
                placement = self._best_story(tx, feats, now) or self._new_story(
                    tx, article, feats, now
                )
                self._grow(tx, placement, feats, now)
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

    def _best_story(self, tx: Tx, feats: StoryFeatures, now: datetime) -> Placement | None:
        """The best-scoring recent story the article joins, if any; on a tie, the
        story seen last."""
        settings = self.settings
        self.recent.sync(tx, now - settings.window)
        topical = self.recent.topical(feats.salient)
        candidates = self.recent.candidates(feats.salient - topical)
        best: tuple[float, int, Story] | None = None
        for story_id, story in candidates:
            if not (
                similarity.within(story, feats, settings.window)
                and similarity.within_span(story, feats, settings.max_span)
            ):
                continue
            score = similarity.story_score(story, feats, topical)
            if score >= settings.same_story and (best is None or score > best[0]):
                best = (score, story_id, story)
        if best is None:
            return None
        _, story_id, story = best
        decision = similarity.decide(story, feats, settings, topical)
        return Placement(story_id, "same story", decision.score, decision.reason)

    def _new_story(
        self, tx: Tx, article: Article, feats: StoryFeatures, now: datetime
    ) -> Placement:
        blob = self.recent.written(Story.of(feats))
        story_id = tx.new_story(article.title, now, feats.published, blob)
        return Placement(story_id, "new story", None, "no earlier story within the window")

    def _grow(self, tx: Tx, placement: Placement, feats: StoryFeatures, now: datetime) -> None:
        """Add a write-up to the story it joined."""
        if placement.kind != "same story":
            return
        story = self.recent.story(placement.story_id)
        assert story is not None, "a story joined is one of the stories just synced"
        merged = similarity.merge(story, feats)
        tx.grow_story(placement.story_id, self.recent.written(merged), now, merged.latest)


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


class RecentStories:
    """The stories seen within the window, parsed once per change.

    Every write to a story gives it the next `revision` (under the story lock, so
    revisions grow in commit order across workers). Each lookup reads only the stories
    whose revision is above the last one read, parses those whose features changed, and
    forgets the stories that left the window or fell past the MAX_STORIES seen last.
    Two indexes give, from an article's terms, the candidates (stories a member of which
    shares a salient term: any other scores 0) and the topical terms (weighted terms
    held by many of the window's stories).
    """

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        self._by_term: dict[str, set[int]] = {}
        self._by_anchor: dict[str, set[int]] = {}
        self._oldest: list[tuple[datetime, int]] = []  # a heap, with stale entries
        self._revision: int | None = None
        self._written: dict[int, Story] = {}  # by hash of the blob: this worker's writes

    def candidates(self, anchors: Iterable[str]) -> list[tuple[int, Story]]:
        """The stories last synced a member of which has one of the salient terms
        `anchors`, seen last first."""
        found = set().union(*(self._by_anchor.get(term, ()) for term in anchors))
        ordered = sorted(found, key=lambda i: (self._held[i].seen, i), reverse=True)
        return [(story_id, self._held[story_id].story) for story_id in ordered]

    def story(self, story_id: int) -> Story | None:
        """The story as last synced, if held."""
        held = self._held.get(story_id)
        return held.story if held is not None else None

    def written(self, story: Story) -> str:
        """The stored form of a story this worker writes, remembered so that reading it
        back (if its transaction commits) does not parse it again."""
        blob = dump(story)
        if len(self._written) >= MAX_WRITTEN:  # writes rolled back are never read back
            self._written.clear()
        self._written[hash(blob)] = story
        return blob

    def topical(self, terms: frozenset[str]) -> frozenset[str]:
        """Those of `terms` that the stories last synced hold often enough to be the topic
        of the day rather than a story's own (see similarity.topical)."""
        held = {term: len(self._by_term.get(term, ())) for term in terms}
        return similarity.topical(held, len(self._held))

    def sync(self, tx: Tx, since: datetime) -> None:
        """Catch up with the stories changed since the last sync (the window's, the first
        time), and forget those last seen before `since`."""
        rows: list[StoryRow]
        if self._revision is None:
            self._revision = tx.story_revision()
            rows = tx.stories_seen_since(since, MAX_STORIES)
        else:
            rows = tx.stories_after(self._revision)
        for row in rows:
            self._revision = max(self._revision, row.revision)
            self._update(row.id, row.last_seen_at, row.features)
        self._forget(since)

    def _update(self, story_id: int, seen: datetime, blob: str) -> None:
        held, blob_hash = self._held.get(story_id), hash(blob)
        if held is not None and held.blob_hash == blob_hash:
            held.seen = seen  # counted a copy: same features
        else:
            story = self._written.pop(blob_hash, None) or load(blob)
            self._drop(story_id)
            self._put(story_id, _Held(blob_hash, seen, story))
        heapq.heappush(self._oldest, (seen, story_id))

    def _forget(self, since: datetime) -> None:
        """Drop the stories last seen before `since`, and the oldest past MAX_STORIES."""
        while self._oldest:
            seen, story_id = self._oldest[0]
            held = self._held.get(story_id)
            if held is not None and held.seen == seen:
                if seen >= since and len(self._held) <= MAX_STORIES:
                    return
                self._drop(story_id)
            heapq.heappop(self._oldest)

    def _put(self, story_id: int, held: _Held) -> None:
        self._held[story_id] = held
        for term in held.story.index_terms:
            self._by_term.setdefault(term, set()).add(story_id)
        for term in held.story.anchor_terms:
            self._by_anchor.setdefault(term, set()).add(story_id)

    def _drop(self, story_id: int) -> None:
        held = self._held.pop(story_id, None)
        if held is not None:
            _unindex(self._by_term, story_id, held.story.index_terms)
            _unindex(self._by_anchor, story_id, held.story.anchor_terms)


@dataclass
class _Held:
    """A story held in memory: a hash of its stored features, when it was last seen."""

    blob_hash: int
    seen: datetime
    story: Story


def _unindex(index: dict[str, set[int]], story_id: int, terms: Iterable[str]) -> None:
    for term in terms:
        holders = index.get(term)
        if holders is not None:
            holders.discard(story_id)
            if not holders:
                del index[term]


def dump(story: Story) -> str:
    """A story's features as JSON, for the stories table."""
    return json.dumps(
        {
            "members": [_dump_member(m) for m in story.members],
            "facts": [list(f) for f in story.facts],
            "terms": sorted(story.terms),
            "started": _iso(story.started),
            "latest": _iso(story.latest),
            "articles": story.articles,
        },
        ensure_ascii=False,
    )


def load(blob: str) -> Story:
    """A story's features from their JSON; a story stored before members were kept (its
    summed vectors) reads as a story of one member."""
    data: dict[str, Any] = json.loads(blob)
    facts = tuple(Fact(*f) for f in data["facts"])
    if "members" not in data:
        member = _load_member({**data, "salient": [f[1] for f in data["facts"]]})
        return Story(
            (member,),
            facts,
            frozenset(data["terms"]),
            member.published,
            member.published,
            int(data["articles"]),
        )
    return Story(
        members=tuple(_load_member(m) for m in data["members"]),
        facts=facts,
        terms=frozenset(data["terms"]),
        started=_time(data["started"]),
        latest=_time(data["latest"]),
        articles=int(data["articles"]),
    )


def _dump_member(member: StoryFeatures) -> dict[str, Any]:
    return {
        "weights": member.weights,
        "idf": member.idf,
        "headline": member.headline,
        "salient": sorted(member.salient),
        "published": _iso(member.published),
    }


def _load_member(data: dict[str, Any]) -> StoryFeatures:
    return StoryFeatures(
        weights=data["weights"],
        idf=data["idf"],
        headline=data["headline"],
        published=_time(data.get("published")),
        salient=frozenset(data["salient"]),
    )


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
