"""Articles, stories, placement decisions and MinHash signatures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.models import Article
from monitors.store.engine import from_row, insert_ignore, insert_ignore_on, to_row
from monitors.store.revisions import SCHEMA_LOCK
from monitors.store.schema import (
    UTCDateTime,
    alerts,
    article_minhash,
    article_revisions,
    article_terms,
    articles,
    decisions,
    entries,
    feeds,
    lsh_bands,
    stories,
)

COMMIT_LOCK = SCHEMA_LOCK + 1  # the advisory lock key held from a placement's revision to commit
MAX_CANDIDATES = 100  # near-duplicate candidates checked per article


@dataclass(frozen=True)
class TermsRow:
    """A placed article's stored terms (JSON, see monitors.stories.index), its story, when
    it was published and fetched, and its story's stored features (JSON) as they are now."""

    article_id: int
    revision: int
    story_id: int
    published_at: datetime | None
    fetched_at: datetime
    terms: str
    story_features: str


@dataclass(frozen=True)
class StoryFilter:
    """Which stories a listing shows: those a rule alerted on, with an article of a site or
    in a language, with every word in their headline or an article's title."""

    rule: str | None = None
    site: str | None = None
    language: str | None = None
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class StorySummary:
    """A story in a listing: its headline, times, articles and outlets, and the rules
    that alerted on it."""

    id: int
    headline: str
    first_seen_at: datetime
    last_seen_at: datetime
    articles: int
    outlets: int = 0
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placed:
    """A decision on an article: its kind, score and reason (and rule, for a silence)."""

    kind: str
    reason: str
    score: float | None
    rule_id: str | None
    other_article_id: int | None


@dataclass(frozen=True)
class StoryArticle:
    """An article of a story with the decisions on it, at its `moment` (publication,
    else when fetched)."""

    id: int
    title: str
    site: str
    url: str
    language: str | None
    source: str
    moment: datetime
    duplicate_of: int | None
    decisions: tuple[Placed, ...] = ()


@dataclass(frozen=True)
class Listing:
    """A feed that listed an article's URL, and when it first did."""

    article_id: int
    feed: str | None
    feed_url: str
    first_listed_at: datetime


@dataclass(frozen=True)
class StoredArticle:
    """A stored article with its `moment` (publication, else when first seen)."""

    id: int
    article: Article
    story_id: int | None
    duplicate_of: int | None
    moment: datetime


class StoryQueries:
    """The articles and stories part of a unit of work (see monitors.store.Tx)."""

    conn: Connection

    def lock_keys(self, keys: Iterable[int]) -> None:
        """On PostgreSQL, hold an advisory lock on each of these 64-bit keys until the unit
        of work ends, taken in key order (so two units of work never wait on each other
        in a cycle). SQLite's BEGIN IMMEDIATE already lets one writer in at a time."""
        ordered = sorted(set(keys))
        if ordered and self.conn.dialect.name == "postgresql":
            # the two-int4 form: a key space apart from the schema and commit locks
            self.conn.execute(
                _LOCK_KEYS,
                {"high": [k >> 32 for k in ordered], "low": [_int4(k) for k in ordered]},
            )

    def lock_commits(self) -> None:
        """On PostgreSQL, wait for any other unit of work between taking its placement
        revision and committing, and hold the others off until this one commits: the
        store-wide section that makes revisions grow in commit order. Its commit does
        not wait for the WAL flush (synchronous_commit off): the section lasts well
        under a millisecond, not a disk flush; a crash of the database server may lose
        the last such commits whole, at most three times wal_writer_delay's worth,
        their entries left pending (SQLite's BEGIN IMMEDIATE already lets one writer in
        at a time)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.select(
                    sa.func.set_config("synchronous_commit", "off", True),
                    sa.func.pg_advisory_xact_lock(COMMIT_LOCK),
                )
            )

    def lock_story(self, story_id: int) -> str:
        """Lock a story's row until the unit of work ends; its stored features."""
        return str(self.conn.scalar(_LOCK_STORY, {"story": story_id}))

    def insert_found_article(
        self, entry_id: int, article: Article, now: datetime
    ) -> tuple[int | None, int | None]:
        """Store an article as a copy of the first stored original with its URL or text
        fingerprint, if any, in one statement: its id and that original's;
        (None, None) when one with its canonical URL is stored already."""
        row = to_row(article, articles, entry_id=entry_id, published_at=article.published)
        row |= {"fetched_at": now, "url_of": article.canonical_url, "hash_of": article.text_hash}
        found = self.conn.execute(_insert_found(self.conn.dialect.name), row).first()
        return (None, None) if found is None else (found.id, found.duplicate_of)

    def insert_article(
        self, entry_id: int, article: Article, duplicate_of: int | None, now: datetime
    ) -> int | None:
        """Store an article; None when one with its canonical URL is stored already."""
        row = to_row(
            article,
            articles,
            entry_id=entry_id,
            published_at=article.published,
            duplicate_of=duplicate_of,
            fetched_at=now,
        )
        return self.conn.execute(_insert_article(self.conn.dialect.name), row).scalar()

    def article_with_url(self, canonical_url: str) -> tuple[int, int | None]:
        """The id and story of the stored article with this canonical URL."""
        row = self.conn.execute(
            sa.select(articles.c.id, articles.c.story_id).where(
                articles.c.canonical_url == canonical_url
            )
        ).one()
        return int(row.id), row.story_id

    def article_read_again(self, entry_id: int, canonical_url: str) -> StoredArticle | None:
        """The stored article with this canonical URL if it was recorded from this entry
        (its page is being read again), else None."""
        row = self.conn.execute(
            _stored().where(
                articles.c.canonical_url == canonical_url, articles.c.entry_id == entry_id
            )
        ).first()
        return _stored_article(row) if row is not None else None

    def revise_article(self, article_id: int, article: Article, now: datetime) -> int:
        """Give a stored article the new title and text of its page read again, keeping
        what it said before as its latest earlier revision (`article_revisions`); its new
        revision number."""
        earlier = sa.select(
            articles.c.id,
            articles.c.revision,
            articles.c.title,
            articles.c.text,
            articles.c.text_hash,
            sa.literal(now, UTCDateTime),
        ).where(articles.c.id == article_id)
        self.conn.execute(
            article_revisions.insert().from_select(
                ["article_id", "revision", "title", "text", "text_hash", "revised_at"], earlier
            )
        )
        revised = self.conn.scalar(
            articles.update()
            .where(articles.c.id == article_id)
            .values(
                title=article.title,
                text=article.text,
                text_hash=article.text_hash,
                revision=articles.c.revision + 1,
            )
            .returning(articles.c.revision)
        )
        return int(revised)

    def story_of(self, article_id: int) -> int | None:
        story = self.conn.scalar(_STORY_OF, {"article": article_id})
        return int(story) if story is not None else None

    def set_story(self, article_id: int, story_id: int) -> None:
        self.conn.execute(_SET_STORY, {"article": article_id, "story": story_id})

    def new_story(
        self, headline: str, now: datetime, published: datetime | None, features: str
    ) -> int:
        """A story of one article; its id."""
        story_id = self.conn.scalar(
            _NEW_STORY,
            {
                "headline": headline,
                "first_seen_at": now,
                "last_seen_at": now,
                "published_at": published,
                "features": features,
            },
        )
        return int(story_id)

    def grow_story(
        self, story_id: int, features: str, now: datetime, latest: datetime | None
    ) -> None:
        """One more write-up in the story, with its features merged in."""
        self.conn.execute(
            _GROW_STORY, {"story": story_id, "features": features, "now": now, "latest": latest}
        )

    def count_copy(self, story_id: int, now: datetime) -> None:
        """One more copy in the story (its features stay)."""
        self.conn.execute(_COUNT_COPY, {"story": story_id, "now": now})

    def add_article_terms(self, article_id: int, terms: str) -> None:
        """Keep a placed article's terms (see monitors.stories.index) with the next
        placement revision: call it under `lock_commits`, last."""
        self.conn.execute(_ADD_TERMS, {"article_id": article_id, "terms": terms})

    def stamp_story(self, story_id: int) -> None:
        """Give a story written by this unit of work the next story revision: call it
        under `lock_commits`, last."""
        self.conn.execute(_STAMP_STORY, {"story": story_id})

    def place_terms(self, after: int, article_id: int, terms: str, story_id: int) -> list[TermsRow]:
        """The terms of the articles placed after placement revision `after` (as
        `article_terms_after`), then `add_article_terms` and `stamp_story`: one statement
        on PostgreSQL. Call it under `lock_commits`, last."""
        if self.conn.dialect.name == "postgresql":
            found = {"after": after, "article_id": article_id, "terms": terms, "story": story_id}
            return [TermsRow(*row) for row in self.conn.execute(_place_terms(), found)]
        rows = self.article_terms_after(after)
        self.add_article_terms(article_id, terms)
        self.stamp_story(story_id)
        return rows

    def placement_revision(self) -> int:
        """The last placement revision committed (0 for none)."""
        return int(self.conn.scalar(sa.select(sa.func.max(article_terms.c.revision))) or 0)

    def article_terms_since(self, since: datetime, limit: int, upto: int) -> list[TermsRow]:
        """The terms of the `limit` articles placed last up to placement revision `upto`
        among those fetched since `since`, in revision order."""
        last = (
            sa.select(article_terms.c.article_id)
            .join(articles, articles.c.id == article_terms.c.article_id)
            .where(articles.c.fetched_at >= since, article_terms.c.revision <= upto)
            .order_by(article_terms.c.revision.desc())
            .limit(limit)
            .subquery()
        )
        return self._terms_rows(article_terms.c.article_id.in_(sa.select(last.c.article_id)))

    def article_terms_after(self, revision: int) -> list[TermsRow]:
        """The terms of the articles placed after placement revision `revision`, in
        revision order."""
        rows = self.conn.execute(_terms_after(), {"after": revision})
        return [TermsRow(*row) for row in rows]

    def _terms_rows(self, where: sa.ColumnElement[bool]) -> list[TermsRow]:
        return [TermsRow(*row) for row in self.conn.execute(_terms_query(where))]

    def add_decision(
        self,
        article_id: int,
        story_id: int | None,
        kind: str,
        reason: str,
        now: datetime,
        score: float | None = None,
        other_article_id: int | None = None,
        rule_id: str | None = None,
    ) -> None:
        """Keep a decision on an article (its placement, or a rule's silence) and why."""
        self.conn.execute(
            _ADD_DECISION,
            {
                "article_id": article_id,
                "story_id": story_id,
                "kind": kind,
                "rule_id": rule_id,
                "other_article_id": other_article_id,
                "score": score,
                "reason": reason,
                "created_at": now,
            },
        )

    def place_article(
        self,
        article_id: int,
        story_id: int,
        kind: str,
        reason: str,
        now: datetime,
        score: float | None = None,
        other_article_id: int | None = None,
    ) -> None:
        """Set an article's story and keep the decision that placed it there (`set_story`
        and `add_decision`): one statement on PostgreSQL."""
        if self.conn.dialect.name != "postgresql":
            self.set_story(article_id, story_id)
            self.add_decision(article_id, story_id, kind, reason, now, score, other_article_id)
            return
        decision = {
            "article_id": article_id,
            "story_id": story_id,
            "kind": kind,
            "rule_id": None,
            "other_article_id": other_article_id,
            "score": score,
            "reason": reason,
            "created_at": now,
        }
        self.conn.execute(_PLACE_ARTICLE, decision | {"article": article_id, "story": story_id})

    def add_signature(self, article_id: int, signature: bytes, band_keys: list[int]) -> None:
        """Index an article's MinHash signature under its band keys (again: nothing happens):
        one statement on PostgreSQL."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                _ADD_SIGNATURE, {"id": article_id, "sig": signature, "keys": band_keys}
            )
            return
        self.conn.execute(
            insert_ignore(self.conn, article_minhash), {"article_id": article_id, "sig": signature}
        )
        self.conn.execute(
            insert_ignore(self.conn, lsh_bands),
            [{"band_key": key, "article_id": article_id} for key in band_keys],
        )

    def signature_candidates(self, band_keys: list[int]) -> list[tuple[int, bytes]]:
        """(article id, signature) of the articles sharing most of these band keys, at most
        MAX_CANDIDATES of them."""
        rows = self.conn.execute(
            _candidates(len(band_keys)), {f"k{i}": key for i, key in enumerate(band_keys)}
        )
        return [(int(row.article_id), bytes(row.sig)) for row in rows]

    def recent_text_hashes(self, limit: int) -> set[str]:
        """The text fingerprints of the last `limit` originals stored."""
        return set(
            self.conn.scalars(
                sa.select(articles.c.text_hash)
                .where(articles.c.duplicate_of.is_(None))
                .order_by(articles.c.id.desc())
                .limit(limit)
            )
        )

    def stored_articles(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        feeds_named: Iterable[str] = (),
        after: int = 0,
        limit: int | None = None,
        placed_originals: bool = True,
    ) -> list[StoredArticle]:
        """Stored articles by id above `after`, with a moment (publication, else first
        seen) in [since, until) and of the feeds named (by name or URL; any when none);
        with `placed_originals`, only originals placed in a story."""
        query = _stored().where(articles.c.id > after).order_by(articles.c.id).limit(limit)
        if since is not None:
            query = query.where(_moment >= since)
        if until is not None:
            query = query.where(_moment < until)
        names = list(feeds_named)
        if names:
            query = query.where(sa.or_(feeds.c.name.in_(names), feeds.c.url.in_(names)))
        if placed_originals:
            query = query.where(articles.c.duplicate_of.is_(None), articles.c.story_id.is_not(None))
        return [_stored_article(row) for row in self.conn.execute(query)]

    def count_stored_articles(
        self, since: datetime, until: datetime | None, feeds_named: Iterable[str] = ()
    ) -> int:
        """How many placed originals `stored_articles` would list over the window."""
        query = (
            sa.select(sa.func.count())
            .select_from(articles)
            .join(entries, entries.c.id == articles.c.entry_id)
            .join(feeds, feeds.c.id == entries.c.feed_id)
            .where(
                _moment >= since,
                articles.c.duplicate_of.is_(None),
                articles.c.story_id.is_not(None),
            )
        )
        if until is not None:
            query = query.where(_moment < until)
        names = list(feeds_named)
        if names:
            query = query.where(sa.or_(feeds.c.name.in_(names), feeds.c.url.in_(names)))
        return int(self.conn.scalar(query) or 0)

    def originals_fetched_since(self, since: datetime | None) -> Iterator[Article]:
        """The stored originals (copies left out) fetched since `since`, oldest first."""
        query = sa.select(articles).where(articles.c.duplicate_of.is_(None)).order_by(articles.c.id)
        if since is not None:
            query = query.where(articles.c.fetched_at >= since)
        for row in self.conn.execute(query):
            yield _stored_article(row, row.fetched_at).article

    def stored_article(self, article_id: int) -> StoredArticle:
        row = self.conn.execute(_stored().where(articles.c.id == article_id)).one()
        return _stored_article(row)

    def stored_article_by_url(self, canonical_url: str) -> StoredArticle | None:
        row = self.conn.execute(_stored().where(articles.c.canonical_url == canonical_url)).first()
        return _stored_article(row) if row is not None else None

    def story_listing(self, since: datetime) -> list[dict[str, Any]]:
        """The stories seen since `since`, last seen first, each with its `members`
        (title, site, url, language) and `alerts` (id, rule_id, kind)."""
        rows = self.conn.execute(
            sa.select(stories)
            .where(stories.c.last_seen_at >= since)
            .order_by(stories.c.last_seen_at.desc())
        ).all()
        ids = [row.id for row in rows]
        members = _by_story(
            self.conn.execute(
                sa.select(
                    articles.c.story_id,
                    articles.c.title,
                    articles.c.site,
                    articles.c.url,
                    articles.c.language,
                )
                .where(articles.c.story_id.in_(ids))
                .order_by(articles.c.id)
            )
        )
        made = self._alerts_by_story(ids)
        return [
            {**row._asdict(), "members": members.get(row.id, []), "alerts": made.get(row.id, [])}
            for row in rows
        ]

    def _alerts_by_story(self, ids: list[int]) -> dict[int, list[Any]]:
        """The alerts (story_id, id, rule_id, kind) of stories `ids`, by story, oldest first."""
        return _by_story(
            self.conn.execute(
                sa.select(alerts.c.story_id, alerts.c.id, alerts.c.rule_id, alerts.c.kind)
                .where(alerts.c.story_id.in_(ids))
                .order_by(alerts.c.id)
            )
        )

    def story_export(self, since: datetime) -> list[dict[str, Any]]:
        """The stories seen since `since`, oldest first, each with its `articles` (id, url,
        site, title, published_at, and the kind, score, reason and other_article_id of
        the decision that placed it: its first one), `alerts` (id, rule_id, kind) and
        the feeds that `listed` each article (see `listings`)."""
        rows = self.conn.execute(
            sa.select(stories).where(stories.c.last_seen_at >= since).order_by(stories.c.id)
        ).all()
        ids = [row.id for row in rows]
        placing = (
            sa.select(sa.func.min(decisions.c.id))
            .where(decisions.c.rule_id.is_(None))
            .group_by(decisions.c.article_id)
        )
        members = _by_story(
            self.conn.execute(
                sa.select(
                    articles.c.story_id,
                    articles.c.id,
                    articles.c.url,
                    articles.c.site,
                    articles.c.title,
                    articles.c.published_at,
                    decisions.c.kind,
                    decisions.c.score,
                    decisions.c.reason,
                    decisions.c.other_article_id,
                )
                .outerjoin(
                    decisions,
                    sa.and_(decisions.c.article_id == articles.c.id, decisions.c.id.in_(placing)),
                )
                .where(articles.c.story_id.in_(ids))
                .order_by(articles.c.id)
            )
        )
        made = self._alerts_by_story(ids)
        listed = self.listings(ids)
        return [
            {
                "story": row,
                "articles": members.get(row.id, []),
                "alerts": made.get(row.id, []),
                "listed": listed,
            }
            for row in rows
        ]

    def story_summaries(
        self, where: StoryFilter, offset: int = 0, limit: int = 50
    ) -> list[StorySummary]:
        """The stories `where` admits, last seen first, from `offset`, at most `limit`."""
        query = (
            sa.select(*_SUMMARY)
            .where(*_story_conditions(where))
            .order_by(stories.c.last_seen_at.desc(), stories.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        found = [StorySummary(*row) for row in self.conn.execute(query)]
        ids = [s.id for s in found]
        outlets: dict[int, int] = dict(
            self.conn.execute(
                sa.select(articles.c.story_id, sa.func.count(sa.distinct(articles.c.site)))
                .where(articles.c.story_id.in_(ids))
                .group_by(articles.c.story_id)
            ).all()
        )
        rules = _by_story(
            self.conn.execute(
                sa.select(alerts.c.story_id, alerts.c.rule_id)
                .distinct()
                .where(alerts.c.story_id.in_(ids))
                .order_by(alerts.c.story_id, alerts.c.rule_id)
            )
        )
        return [
            replace(
                s,
                outlets=outlets.get(s.id, 0),
                rules=tuple(r.rule_id for r in rules.get(s.id, [])),
            )
            for s in found
        ]

    def article_facets(self) -> tuple[list[str], list[str]]:
        """The sites and the languages of the stored articles, each sorted."""
        return self._distinct(articles.c.site), self._distinct(articles.c.language)

    def _distinct(self, column: sa.Column[Any]) -> list[Any]:
        """The distinct values of an indexed column but NULL, sorted: one index probe per
        value (a loose index scan), not a pass over the table."""
        step = sa.select(sa.func.min(column).label("value")).cte("found", recursive=True)
        after = sa.select(sa.func.min(column)).where(column > step.c.value).scalar_subquery()
        found = step.union_all(sa.select(after).where(step.c.value.is_not(None)))
        return list(self.conn.scalars(sa.select(found.c.value).where(found.c.value.is_not(None))))

    def story_summary(self, story_id: int) -> StorySummary | None:
        """One story's summary, or None."""
        found = self.conn.execute(sa.select(*_SUMMARY).where(stories.c.id == story_id)).first()
        return StorySummary(*found) if found is not None else None

    def story_articles(
        self, story_id: int, offset: int = 0, limit: int = 100
    ) -> list[StoryArticle]:
        """A story's articles, earliest moment first, from `offset`, at most `limit`, each
        with the decisions on it in this story."""
        rows = self.conn.execute(
            sa.select(
                articles.c.id,
                articles.c.title,
                articles.c.site,
                articles.c.url,
                articles.c.language,
                articles.c.source,
                _fetched_moment.label("moment"),
                articles.c.duplicate_of,
            )
            .where(articles.c.story_id == story_id)
            .order_by(_fetched_moment, articles.c.id)
            .offset(offset)
            .limit(limit)
        ).all()
        made = _by_story(
            self.conn.execute(
                sa.select(
                    decisions.c.article_id,
                    decisions.c.kind,
                    decisions.c.reason,
                    decisions.c.score,
                    decisions.c.rule_id,
                    decisions.c.other_article_id,
                )
                .where(
                    decisions.c.article_id.in_([r.id for r in rows]),
                    decisions.c.story_id == story_id,
                )
                .order_by(decisions.c.id)
            )
        )
        return [
            StoryArticle(*row, decisions=tuple(Placed(*d[1:]) for d in made.get(row.id, [])))
            for row in rows
        ]

    def story_detail(self, story_id: int) -> dict[str, Any] | None:
        """A story with its `decisions` (with each article's site, title, URL and
        language), its `alerts`, the entries `relisted` as the same URL as one of its
        articles, and the feeds that `listed` each article."""
        story = self.conn.execute(sa.select(stories).where(stories.c.id == story_id)).first()
        if story is None:
            return None
        placed = self.conn.execute(
            sa.select(
                decisions, articles.c.site, articles.c.title, articles.c.url, articles.c.language
            )
            .join(articles, articles.c.id == decisions.c.article_id)
            .where(decisions.c.story_id == story_id)
            .order_by(decisions.c.id)
        ).all()
        made = self.conn.execute(
            sa.select(alerts).where(alerts.c.story_id == story_id).order_by(alerts.c.id)
        ).all()
        return {
            "story": story,
            "decisions": placed,
            "alerts": made,
            "relisted": self.relisted_entries(story_id),
            "listed": self.listings([story_id]),
        }

    def listings(
        self, story_ids: Iterable[int], article_ids: Iterable[int] | None = None
    ) -> dict[int, list[Listing]]:
        """The feeds that listed the URL of each article of these stories (only of
        `article_ids`, when given: a page of a story's timeline) (an entry of theirs had its
        canonical URL, whether fetched or skipped as the same URL), by article, the first
        to list it first."""
        first = sa.func.min(entries.c.first_seen_at)
        rows = self.conn.execute(
            sa.select(articles.c.id, feeds.c.name, feeds.c.url, first)
            .join(entries, entries.c.canonical_url == articles.c.canonical_url)
            .join(feeds, feeds.c.id == entries.c.feed_id)
            .where(articles.c.story_id.in_(list(story_ids)), *_among(articles.c.id, article_ids))
            .group_by(articles.c.id, feeds.c.id, feeds.c.name, feeds.c.url)
            .order_by(articles.c.id, first, feeds.c.id)
        )
        found: dict[int, list[Listing]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(Listing(*row))
        return found

    def relisted_entries(self, story_id: int, limit: int | None = None) -> list[sa.Row[Any]]:
        """Entries of any feed skipped when polled because a story article had their
        canonical URL (a re-listed item, a tracking-link variant; an article's canonical
        URL is its entry's): with that article; the first `limit` of them."""
        dup = entries.alias("dup")
        return list(
            self.conn.execute(
                sa.select(
                    dup.c.url,
                    dup.c.first_seen_at,
                    feeds.c.name.label("feed"),
                    feeds.c.url.label("feed_url"),
                    articles.c.id.label("article_id"),
                )
                .select_from(dup)
                .join(articles, articles.c.canonical_url == dup.c.canonical_url)
                .join(feeds, feeds.c.id == dup.c.feed_id)
                .where(
                    articles.c.story_id == story_id,
                    dup.c.status == "duplicate",
                    dup.c.id != articles.c.entry_id,
                )
                .order_by(dup.c.id)
                .limit(limit)
            )
        )


_moment = sa.func.coalesce(articles.c.published_at, entries.c.first_seen_at)
_fetched_moment = sa.func.coalesce(articles.c.published_at, articles.c.fetched_at)  # no join


def _story_conditions(where: StoryFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions on `stories` of a story filter."""
    found: list[sa.ColumnElement[bool]] = []
    if where.rule:
        found.append(
            stories.c.id.in_(sa.select(alerts.c.story_id).where(alerts.c.rule_id == where.rule))
        )
    if where.site:
        found.append(
            stories.c.id.in_(sa.select(articles.c.story_id).where(articles.c.site == where.site))
        )
    if where.language:
        found.append(
            stories.c.id.in_(
                sa.select(articles.c.story_id).where(articles.c.language == where.language)
            )
        )
    for word in where.words:
        titled = sa.select(articles.c.story_id).where(
            articles.c.title.icontains(word, autoescape=True)
        )
        found.append(
            sa.or_(stories.c.headline.icontains(word, autoescape=True), stories.c.id.in_(titled))
        )
    return found


def _next(revision: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    """One above every row's `revision`: taken under the commit lock, revisions grow in
    commit order across workers (see Tx.lock_commits)."""
    highest = sa.select(sa.func.coalesce(sa.func.max(revision), 0) + 1)
    return highest.select_from(revision.table).scalar_subquery()


def _among(column: sa.Column[Any], ids: Iterable[int] | None) -> list[sa.ColumnElement[bool]]:
    """The condition that `column` is one of `ids`; none when `ids` is None."""
    return [] if ids is None else [column.in_(list(ids))]


def _int4(key: int) -> int:
    """The low 32 bits of a key as a signed int4."""
    low = key & 0xFFFFFFFF
    return low - (1 << 32) if low >= 1 << 31 else low


_LOCK_KEYS = sa.text(
    "SELECT count(pg_advisory_xact_lock(k.high, k.low)) "
    "FROM unnest(CAST(:high AS int4[]), CAST(:low AS int4[])) AS k(high, low)"
)


def _terms_query(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Placed articles' terms, revision, story, times and story features, in revision
    order."""
    return (
        sa.select(
            article_terms.c.article_id,
            article_terms.c.revision,
            articles.c.story_id,
            articles.c.published_at,
            articles.c.fetched_at,
            article_terms.c.terms,
            stories.c.features,
        )
        .join(articles, articles.c.id == article_terms.c.article_id)
        .join(stories, stories.c.id == articles.c.story_id)
        .where(where)
        .order_by(article_terms.c.revision)
    )


# the statements every placement runs, built once (a statement built anew is compiled
# from its cache key, which costs more than running it)
_LOCK_STORY = (
    sa.select(stories.c.features).where(stories.c.id == sa.bindparam("story")).with_for_update()
)
_STORY_OF = sa.select(articles.c.story_id).where(articles.c.id == sa.bindparam("article"))
_SET_STORY = (
    articles.update()
    .where(articles.c.id == sa.bindparam("article"))
    .values(story_id=sa.bindparam("story"))
)
_NEW_STORY = stories.insert().returning(stories.c.id)
_GROW_STORY = (
    stories.update()
    .where(stories.c.id == sa.bindparam("story"))
    .values(
        features=sa.bindparam("features"),
        last_seen_at=sa.bindparam("now"),
        published_at=sa.bindparam("latest"),
        articles=stories.c.articles + 1,
    )
)
_COUNT_COPY = (
    stories.update()
    .where(stories.c.id == sa.bindparam("story"))
    .values(last_seen_at=sa.bindparam("now"), articles=stories.c.articles + 1)
)
_ADD_TERMS = article_terms.insert().values(revision=_next(article_terms.c.revision))
_STAMP_STORY = (
    stories.update()
    .where(stories.c.id == sa.bindparam("story"))
    .values(revision=_next(stories.c.revision))
)
_ADD_DECISION = decisions.insert()
_PLACE_ARTICLE = _ADD_DECISION.add_cte(_SET_STORY.cte("placed"))  # PostgreSQL
_ADD_SIGNATURE = sa.text(  # PostgreSQL: the signature and its band keys in one statement
    "WITH added AS (INSERT INTO article_minhash (article_id, sig) VALUES (:id, :sig) "
    "ON CONFLICT DO NOTHING) INSERT INTO lsh_bands (band_key, article_id) "
    "SELECT unnest(CAST(:keys AS bigint[])), :id ON CONFLICT DO NOTHING"
)


@cache
def _insert_article(dialect: str) -> Any:
    """The insert of an article (nothing when its canonical URL is stored), returning
    its id."""
    return insert_ignore_on(dialect, articles).returning(articles.c.id)


@cache
def _insert_found(dialect: str) -> Any:
    """`insert_article` with its duplicate_of the first stored original with the `url_of`
    URL or `hash_of` text fingerprint, returning its id and duplicate_of."""
    original = (
        sa.select(articles.c.id)
        .where(
            sa.or_(
                articles.c.canonical_url == sa.bindparam("url_of"),
                articles.c.text_hash == sa.bindparam("hash_of"),
            ),
            articles.c.duplicate_of.is_(None),
        )
        .order_by(articles.c.id)
        .limit(1)
        .scalar_subquery()
    )
    inserted = insert_ignore_on(dialect, articles).values(duplicate_of=original)
    return inserted.returning(articles.c.id, articles.c.duplicate_of)


@cache
def _place_terms() -> sa.Select[Any]:
    """PostgreSQL's `Tx.place_terms`: the read, the insert and the update in one
    statement (data-modifying CTEs; the read does not see the insert)."""
    added = _ADD_TERMS.values(article_id=sa.bindparam("article_id"), terms=sa.bindparam("terms"))
    return _terms_after().add_cte(added.cte("added"), _STAMP_STORY.cte("stamped"))


@cache
def _terms_after() -> sa.Select[Any]:
    """The terms of the articles placed after the `after` revision: built once, as every
    placement runs it."""
    return _terms_query(article_terms.c.revision > sa.bindparam("after"))


@cache
def _candidates(bands: int) -> sa.Select[Any]:
    """The articles sharing most of `bands` band keys, with their signatures."""
    hits = (
        sa.select(lsh_bands.c.article_id, sa.func.count().label("hits"))
        .where(lsh_bands.c.band_key.in_([sa.bindparam(f"k{i}") for i in range(bands)]))
        .group_by(lsh_bands.c.article_id)
        .order_by(sa.desc("hits"), lsh_bands.c.article_id)
        .limit(MAX_CANDIDATES)
        .subquery()
    )
    return sa.select(article_minhash.c.article_id, article_minhash.c.sig).join(
        hits, hits.c.article_id == article_minhash.c.article_id
    )


def _stored() -> sa.Select[Any]:
    """Stored articles with their moment (publication, else first seen)."""
    return (
        sa.select(articles, _moment.label("moment"))
        .join(entries, entries.c.id == articles.c.entry_id)
        .join(feeds, feeds.c.id == entries.c.feed_id)
    )


def _stored_article(row: sa.Row[Any], moment: datetime | None = None) -> StoredArticle:
    article = from_row(Article, row, published=row.published_at)
    when = row.moment if moment is None else moment
    return StoredArticle(row.id, article, row.story_id, row.duplicate_of, when)


# a StorySummary's stored columns, in its order
_SUMMARY = (
    stories.c.id,
    stories.c.headline,
    stories.c.first_seen_at,
    stories.c.last_seen_at,
    stories.c.articles,
)


def _by_story(rows: Iterable[Any]) -> dict[int, list[Any]]:
    """Rows grouped by their first column (a story's or an article's id)."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped
