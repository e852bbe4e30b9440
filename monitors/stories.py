"""Stories: where a new article belongs, and why. Every decision is kept.

1. An exact copy (same canonical URL or same text fingerprint) joins its original's story.
2. A near-duplicate (MinHash LSH, estimated Jaccard at least `near_threshold`) joins the
   story of the article it copies. Copies alert nobody.
3. Another write-up joins the best story seen within the window whose headline, lead and
   salient terms score at least `story_threshold` (see monitors.similarity).
4. Anything else starts a new story.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors import minhash, similarity
from monitors.models import Article
from monitors.schema import articles, decisions, stories
from monitors.similarity import Fact, StoryFeatures

COPY_KINDS = frozenset({"exact copy", "near duplicate"})
MAX_CANDIDATES = 5000


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
    a MinHash signature; only an article that is neither gets its story features.
    Recent stories' features are kept parsed between articles (see RecentStories).
    """

    near_threshold: float = minhash.THRESHOLD
    story_threshold: float = similarity.THRESHOLD
    window: timedelta = similarity.WINDOW

    def __init__(self) -> None:
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
        features unless it is a copy."""
        feats: StoryFeatures | None = None
        placement = self._exact_copy(conn, duplicate_of)
        if placement is None:
            sig = minhash.signature(article.text)
            placement = self._near_duplicate(conn, sig)
            if placement is None:
                feats = similarity.features(article.title, article.text, article.published or now)
                placement = self._best_story(conn, feats, now) or _new_story(
                    conn, article, feats, now
                )
                self._grow(conn, placement, feats, now)
                minhash.add(conn, article_id, sig)
        if placement.is_copy:
            _count(conn, placement.story_id, now)
        conn.execute(
            articles.update().where(articles.c.id == article_id).values(story_id=placement.story_id)
        )
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
        return placement, feats

    def _exact_copy(self, conn: Connection, duplicate_of: int | None) -> Placement | None:
        story = _story_of(conn, duplicate_of) if duplicate_of is not None else None
        if story is None:
            return None
        reason = f"same URL or same text as article {duplicate_of}"
        return Placement(story, "exact copy", 1.0, reason, duplicate_of)

    def _near_duplicate(self, conn: Connection, sig: minhash.Signature) -> Placement | None:
        for near in minhash.near_duplicates(conn, sig, self.near_threshold):
            story = _story_of(conn, near.article_id)
            if story is not None:
                reason = f"near duplicate of article {near.article_id}: Jaccard ~{near.jaccard:.2f}"
                return Placement(story, "near duplicate", near.jaccard, reason, near.article_id)
        return None

    def _best_story(
        self, conn: Connection, feats: StoryFeatures, now: datetime
    ) -> Placement | None:
        """The best-scoring recent story the article joins, if any; on a tie, the
        story seen last."""
        best: tuple[float, int, StoryFeatures] | None = None
        for story_id, story in self.recent.sharing_terms(conn, feats, now - self.window):
            if not similarity.within(story, feats, self.window):
                continue
            score = similarity.same_story_score(story, feats)
            if score >= self.story_threshold and (best is None or score > best[0]):
                best = (score, story_id, story)
        if best is None:
            return None
        _, story_id, story = best
        decision = similarity.decide(story, feats, self.story_threshold, self.window)
        return Placement(story_id, "same story", decision.score, decision.reason)

    def _grow(
        self, conn: Connection, placement: Placement, feats: StoryFeatures, now: datetime
    ) -> None:
        """Add a write-up's features to the story it joined."""
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
                published_at=merged.published,
                articles=stories.c.articles + 1,
            )
        )


class RecentStories:
    """The features of the stories seen within the window, parsed once per version.

    A story's row changes `articles` whenever its features change, so (id, articles)
    names one version: each lookup reads those two columns for the window, parses only
    the stories new or changed since, and forgets the rest. An index from each weighted
    term to its stories gives the candidates: a story sharing no term scores 0.
    """

    def __init__(self) -> None:
        self._stories: dict[int, tuple[int, StoryFeatures]] = {}
        self._by_term: dict[str, set[int]] = {}

    def sharing_terms(
        self, conn: Connection, feats: StoryFeatures, since: datetime
    ) -> Iterator[tuple[int, StoryFeatures]]:
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

    def _put(self, story_id: int, count: int, feats: StoryFeatures) -> None:
        self._stories[story_id] = (count, feats)
        for term in feats.weights:
            self._by_term.setdefault(term, set()).add(story_id)

    def _drop(self, story_id: int) -> None:
        _, feats = self._stories.pop(story_id, (0, None))
        for term in feats.weights if feats else ():
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
            features=dump(feats),
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


def dump(feats: StoryFeatures) -> str:
    """Features as JSON, for the stories table."""
    return json.dumps(
        {
            "weights": feats.weights,
            "idf": feats.idf,
            "headline": feats.headline,
            "facts": [list(f) for f in feats.facts],
            "terms": sorted(feats.terms),
            "published": feats.published.isoformat() if feats.published else None,
            "articles": feats.articles,
        },
        ensure_ascii=False,
    )


def load(blob: str) -> StoryFeatures:
    """Features from their JSON."""
    data: dict[str, Any] = json.loads(blob)
    published = data.get("published")
    return StoryFeatures(
        weights=data["weights"],
        idf=data["idf"],
        headline=data["headline"],
        facts=tuple(Fact(*f) for f in data["facts"]),
        terms=frozenset(data["terms"]),
        published=datetime.fromisoformat(published) if published else None,
        articles=int(data["articles"]),
    )
