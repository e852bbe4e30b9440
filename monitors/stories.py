"""Stories: where a new article belongs, and why. Every decision is kept.

1. An exact copy (same canonical URL or same text fingerprint) joins its original's story.
2. A near-duplicate (MinHash LSH, estimated Jaccard at least `near_duplicate`) joins the
   story of the article it copies, silently unless its rule-matching sentences bring what
   the story's alerts lacked (an updated wire version with a new toll): its features are
   computed for that check, but it does not become one of the story's members.
3. Another write-up joins the best story within the window whose members' headline, lead
   and salient terms score at least `same_story` (see monitors.similarity).
4. Anything else starts a new story.

`StorySettings` holds the thresholds and windows (the `stories:` section of the config).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors import alerts, minhash, similarity
from monitors.analysis import features_of, signature_of
from monitors.models import Article
from monitors.schema import articles, decisions, stories
from monitors.similarity import Fact, Story, StoryFeatures

COPY_KINDS = frozenset({"exact copy", "near duplicate"})
MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class StorySettings:
    """A story lasts while articles come within `window` of its articles, at most
    `max_span` from its first; `near_duplicate` and `same_story` are the join thresholds;
    `update_gap` the least time between two updates of a rule in a story."""

    window: timedelta = similarity.WINDOW
    max_span: timedelta = similarity.MAX_SPAN
    near_duplicate: float = minhash.THRESHOLD
    same_story: float = similarity.THRESHOLD
    update_gap: timedelta = alerts.UPDATE_GAP


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

    def __init__(self, settings: StorySettings | None = None) -> None:
        self.settings = settings or StorySettings()
        self.lsh = minhash.lsh_params(self.settings.near_duplicate)
        self.recent = RecentStories()

    def place(
        self,
        conn: Connection,
        article_id: int,
        article: Article,
        duplicate_of: int | None,
        now: datetime,
    ) -> tuple[Placement, StoryFeatures | None]:
        """Record the article's story and the decision; return them, with the article's
        features unless it is an exact copy."""
        feats: StoryFeatures | None = None
        placement = self._exact_copy(conn, duplicate_of)
        if placement is None:
            sig = signature_of(article)
            placement = self._near_duplicate(conn, sig)
            feats = features_of(article, article.published or now)
            if placement is None:
                placement = self._best_story(conn, feats, now) or _new_story(
                    conn, article, feats, now
                )
                self._grow(conn, placement, feats, now)
                minhash.add(conn, article_id, sig, self.lsh)
        if placement.is_copy:
            _count(conn, placement.story_id, now)
        conn.execute(
            articles.update().where(articles.c.id == article_id).values(story_id=placement.story_id)
        )
        record(conn, article_id, placement, now)
        return placement, feats

    def _exact_copy(self, conn: Connection, duplicate_of: int | None) -> Placement | None:
        story = _story_of(conn, duplicate_of) if duplicate_of is not None else None
        if story is None:
            return None
        reason = f"same URL or same text as article {duplicate_of}"
        return Placement(story, "exact copy", 1.0, reason, duplicate_of)

    def _near_duplicate(self, conn: Connection, sig: minhash.Signature) -> Placement | None:
        threshold = self.settings.near_duplicate
        for near in minhash.near_duplicates(conn, sig, threshold, self.lsh):
            story = _story_of(conn, near.article_id)
            if story is not None:
                reason = (
                    f"near duplicate of article {near.article_id}: "
                    f"Jaccard ~{near.jaccard:.2f} >= {threshold:.2f}"
                )
                return Placement(story, "near duplicate", near.jaccard, reason, near.article_id)
        return None

    def _best_story(
        self, conn: Connection, feats: StoryFeatures, now: datetime
    ) -> Placement | None:
        """The best-scoring recent story the article joins, if any; on a tie, the
        story seen last."""
        settings = self.settings
        candidates = self.recent.sharing_terms(conn, feats, now - settings.window)
        topical = self.recent.topical(feats.salient)
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
        decision = similarity.decide(
            story, feats, settings.same_story, settings.window, settings.max_span, topical
        )
        return Placement(story_id, "same story", decision.score, decision.reason)

    def _grow(
        self, conn: Connection, placement: Placement, feats: StoryFeatures, now: datetime
    ) -> None:
        """Add a write-up to the story it joined."""
        if placement.kind != "same story":
            return
        story_id = placement.story_id
        blob = conn.scalar(sa.select(stories.c.features).where(stories.c.id == story_id))
        merged = similarity.merge(load(str(blob)), feats)
        conn.execute(
            stories.update()
            .where(stories.c.id == story_id)
            .values(
                features=dump(merged),
                last_seen_at=now,
                published_at=merged.latest,
                articles=stories.c.articles + 1,
            )
        )


def record(conn: Connection, article_id: int, placement: Placement, now: datetime) -> None:
    """Keep a placement decision with its reason and score."""
    conn.execute(
        decisions.insert().values(
            article_id=article_id,
            story_id=placement.story_id,
            kind=placement.kind,
            other_article_id=placement.other_article_id,
            score=placement.score,
            reason=placement.reason,
            created_at=now,
        )
    )


class RecentStories:
    """The stories seen within the window, parsed once per version.

    A story's row changes `articles` whenever its features change, so (id, articles)
    names one version: each lookup reads those two columns for the window, parses only
    the stories new or changed since, and forgets the rest. An index from each weighted
    term to its stories gives the candidates (a story sharing no term scores 0) and the
    topical terms (held by many of the window's stories).
    """

    def __init__(self) -> None:
        self._stories: dict[int, tuple[int, Story]] = {}
        self._by_term: dict[str, set[int]] = {}

    def sharing_terms(
        self, conn: Connection, feats: StoryFeatures, since: datetime
    ) -> Iterator[tuple[int, Story]]:
        """The window's stories sharing a weighted term with `feats`, seen last first."""
        recent = conn.execute(
            sa.select(stories.c.id, stories.c.articles)
            .where(stories.c.last_seen_at >= since)
            .order_by(stories.c.last_seen_at.desc(), stories.c.id.desc())
            .limit(MAX_CANDIDATES)
        ).all()
        self._sync(conn, {story_id: count for story_id, count in recent})
        shared = set().union(*(self._by_term.get(term, ()) for term in feats.weights))
        for story_id, _ in recent:
            if story_id in shared:
                yield story_id, self._stories[story_id][1]

    def topical(self, terms: frozenset[str]) -> frozenset[str]:
        """Those of `terms` that the stories last synced hold often enough to be the topic
        of the day rather than a story's own (see similarity.topical)."""
        held = {term: len(self._by_term.get(term, ())) for term in terms}
        return similarity.topical(held, len(self._stories))

    def _sync(self, conn: Connection, versions: dict[int, int]) -> None:
        for story_id in self._stories.keys() - versions.keys():
            self._drop(story_id)
        stale = [i for i, n in versions.items() if self._stories.get(i, (None,))[0] != n]
        for start in range(0, len(stale), 500):
            rows = conn.execute(
                sa.select(stories.c.id, stories.c.articles, stories.c.features).where(
                    stories.c.id.in_(stale[start : start + 500])
                )
            )
            for story_id, count, blob in rows:
                self._drop(story_id)
                self._put(story_id, count, load(blob))

    def _put(self, story_id: int, count: int, story: Story) -> None:
        self._stories[story_id] = (count, story)
        for term in story.index_terms:
            self._by_term.setdefault(term, set()).add(story_id)

    def _drop(self, story_id: int) -> None:
        _, story = self._stories.pop(story_id, (0, None))
        for term in story.index_terms if story else ():
            holders = self._by_term.get(term)
            if holders is not None:
                holders.discard(story_id)
                if not holders:
                    del self._by_term[term]


def _new_story(
    conn: Connection, article: Article, feats: StoryFeatures, now: datetime
) -> Placement:
    story_id = conn.scalar(
        stories.insert()
        .values(
            headline=article.title,
            first_seen_at=now,
            last_seen_at=now,
            published_at=feats.published,
            features=dump(Story.of(feats)),
        )
        .returning(stories.c.id)
    )
    return Placement(int(story_id), "new story", None, "no earlier story within the window")


def _count(conn: Connection, story_id: int, now: datetime) -> None:
    conn.execute(
        stories.update()
        .where(stories.c.id == story_id)
        .values(last_seen_at=now, articles=stories.c.articles + 1)
    )


def _story_of(conn: Connection, article_id: int) -> int | None:
    story = conn.scalar(sa.select(articles.c.story_id).where(articles.c.id == article_id))
    return int(story) if story is not None else None


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
