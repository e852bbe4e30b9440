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


@dataclass(frozen=True)
class StoryDesk:
    """Places articles into stories inside the caller's transaction."""

    near_threshold: float = minhash.THRESHOLD
    story_threshold: float = similarity.THRESHOLD
    window: timedelta = similarity.WINDOW

    def place(
        self,
        conn: Connection,
        article_id: int,
        article: Article,
        duplicate_of: int | None,
        now: datetime,
    ) -> tuple[Placement, StoryFeatures]:
        """Record the article's story and the decision; return them with its features."""
        feats = similarity.features(article.title, article.text, article.published or now)
        sig = minhash.signature(article.text)
        placement = self._decide(conn, article, duplicate_of, feats, sig, now)
        if placement.is_copy:
            self._count(conn, placement.story_id, now)
        elif placement.kind == "same story":
            self._grow(conn, placement.story_id, feats, now)
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
        if not placement.is_copy:
            minhash.add(conn, article_id, sig)
        return placement, feats

    def _decide(
        self,
        conn: Connection,
        article: Article,
        duplicate_of: int | None,
        feats: StoryFeatures,
        sig: minhash.Signature,
        now: datetime,
    ) -> Placement:
        if duplicate_of is not None:
            story = _story_of(conn, duplicate_of)
            if story is not None:
                reason = f"same URL or same text as article {duplicate_of}"
                return Placement(story, "exact copy", 1.0, reason, duplicate_of)
        for near in minhash.near_duplicates(conn, sig, self.near_threshold):
            story = _story_of(conn, near.article_id)
            if story is not None:
                reason = f"near duplicate of article {near.article_id}: Jaccard ~{near.jaccard:.2f}"
                return Placement(story, "near duplicate", near.jaccard, reason, near.article_id)
        best = self._best_story(conn, feats, now)
        if best is not None:
            return best
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

    def _best_story(
        self, conn: Connection, feats: StoryFeatures, now: datetime
    ) -> Placement | None:
        """The best-scoring recent story the article joins, if any."""
        rows = conn.execute(
            sa.select(stories.c.id, stories.c.features)
            .where(stories.c.last_seen_at >= now - self.window)
            .order_by(stories.c.last_seen_at.desc())
            .limit(MAX_CANDIDATES)
        )
        best: tuple[float, int, str] | None = None
        for story_id, blob in rows:
            decision = similarity.decide(load(blob), feats, self.story_threshold, self.window)
            if decision.join and (best is None or decision.score > best[0]):
                best = (decision.score, story_id, decision.reason)
        if best is None:
            return None
        score, story_id, reason = best
        return Placement(story_id, "same story", score, reason)

    def _grow(self, conn: Connection, story_id: int, feats: StoryFeatures, now: datetime) -> None:
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

    def _count(self, conn: Connection, story_id: int, now: datetime) -> None:
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
