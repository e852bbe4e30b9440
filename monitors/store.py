"""All state in one SQL store (SQLite or PostgreSQL) through SQLAlchemy Core.

Each article is recorded with its alerts and their deliveries in one transaction,
so a crash leaves its entry pending, never half done. Those transactions run one at a
time (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock,
STORY_LOCK), so two workers recording write-ups of one story cannot both start it or
both alert on it. Workers running at once
claim the feeds they poll and the entries they process (a lease, released when the
result is recorded), so none is handled twice. The schema is in
`monitors.schema`; the delivery side of the outbox in `monitors.outbox`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from monitors.alerts import add_alert
from monitors.errors import StoreError
from monitors.migrate import SCHEMA_LOCK, upgrade
from monitors.models import Article, Entry, Match
from monitors.schema import (
    alerts,
    articles,
    deliveries,
    entries,
    feeds,
    insert_ignore,
    metadata,
    utcnow,
)
from monitors.similarity import StoryFeatures
from monitors.stories import Placement, StoryDesk, StorySettings, record
from monitors.workers import dead_local_worker, worker_id

__all__ = [
    "Store",
    "insert_ignore",
    "alerts",
    "articles",
    "deliveries",
    "entries",
    "feeds",
    "metadata",
]

MAX_ENTRY_ATTEMPTS = 5
STORY_LOCK = SCHEMA_LOCK + 1  # the advisory lock key of story placement
MAX_KNOWN_TEXTS = 100_000  # text fingerprints held to spot exact copies before analysis


class Enqueue(Protocol):
    """Creates an alert's deliveries inside the transaction that records it."""

    def __call__(self, conn: Connection, alert_id: int, rule_id: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class FeedState:
    """What the store remembers of a feed between polls."""

    id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_success_at: datetime | None = None
    error_streak: int = 0
    interval: float | None = None
    items_per_day: float | None = None
    next_due_at: datetime | None = None
    backoff_until: datetime | None = None
    last_status: int | None = None


@dataclass(frozen=True)
class PendingEntry:
    """An entry that still has to be processed."""

    id: int
    feed_id: int
    attempts: int
    entry: Entry


@dataclass(frozen=True)
class Recorded:
    """What recording an article did: its id, the article it duplicates, the alerts made."""

    article_id: int
    duplicate_of: int | None
    alert_ids: tuple[int, ...]


class Store:
    """The SQL store. Open with `Store.open(url)`; every method is one transaction."""

    def __init__(
        self, engine: Engine, desk: StoryDesk | None = None, worker: str | None = None
    ) -> None:
        self.engine = engine
        self.desk = desk or StoryDesk()
        self.worker = worker or worker_id()
        self._texts: set[str] | None = None
        self._texts_lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and migrate the schema to this version; StoreError if the store
        is unreachable or newer than this code."""
        engine = connect(url)
        with _as_store_error():
            _migrate(engine)
        return cls(engine)

    def use_story_settings(self, settings: StorySettings) -> None:
        """Place stories with these thresholds and windows from now on."""
        if settings != self.desk.settings:
            self.desk = StoryDesk(settings)

    def close(self) -> None:
        self.engine.dispose()

    def holds_text(self, digest: str) -> bool:
        """Whether one of the last MAX_KNOWN_TEXTS articles stored has this text
        fingerprint: a page with it is an exact copy, and needs no analysis. Read once,
        then kept up to date with this process's own articles (another process's are
        seen at the next read: missing one only costs an analysis)."""
        with self._texts_lock:
            if self._texts is None or len(self._texts) > 2 * MAX_KNOWN_TEXTS:
                with self.transaction() as conn:
                    self._texts = set(
                        conn.scalars(
                            sa.select(articles.c.text_hash)
                            .where(articles.c.duplicate_of.is_(None))
                            .order_by(articles.c.id.desc())
                            .limit(MAX_KNOWN_TEXTS)
                        )
                    )
            return digest in self._texts

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # feeds

    def sync_feeds(self, configured: Iterable[tuple[str, str | None]]) -> dict[str, FeedState]:
        """Make sure a row exists for each (url, name); return every feed's state by URL."""
        configured = list(configured)
        with self.transaction() as conn:
            for url, name in configured:
                conn.execute(insert_ignore(conn, feeds).values(url=url, name=name))
                conn.execute(feeds.update().where(feeds.c.url == url).values(name=name))
            rows = conn.execute(sa.select(feeds).where(feeds.c.url.in_([u for u, _ in configured])))
            return {r.url: _feed_state(r) for r in rows}

    def record_feed_ok(
        self,
        feed_id: int,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        new_entries: Sequence[Entry] = (),
        skipped: Sequence[str] | None = None,
    ) -> int:
        """Store a successful poll: the validators, the new entries and (for a parsed body)
        why any entries were skipped, in one transaction.

        An entry is new unless its feed already had its key or any feed had its
        canonical URL; those are recorded as duplicates, never fetched. Returns
        how many entries are pending.
        """
        now = utcnow()
        parsed = {} if skipped is None else {"skipped": json.dumps(list(skipped))}
        with self.transaction() as conn:
            added = self._add_entries(conn, feed_id, new_entries, now)
            conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(
                    **parsed,
                    etag=etag,
                    last_modified=last_modified,
                    body_hash=body_hash,
                    last_polled_at=now,
                    last_success_at=now,
                    last_status=status,
                    last_error=None,
                    error_streak=0,
                    entries_seen=feeds.c.entries_seen + added,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        return added

    def schedule_feed(
        self, feed_id: int, next_due_at: datetime, interval: float, items_per_day: float
    ) -> None:
        """When to poll the feed next, and what its polling has learnt."""
        with self.transaction() as conn:
            conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(
                    next_due_at=next_due_at,
                    interval=interval,
                    items_per_day=items_per_day,
                    backoff_until=None,
                )
            )

    def record_feed_error(
        self, feed_id: int, error: str, status: int | None, backoff_until: datetime
    ) -> None:
        """Note a failed poll on the feed and back it off; its validators are kept."""
        with self.transaction() as conn:
            conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(
                    last_polled_at=utcnow(),
                    last_status=status,
                    last_error=error,
                    error_streak=feeds.c.error_streak + 1,
                    backoff_until=backoff_until,
                    next_due_at=backoff_until,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def claim_feeds(
        self,
        feed_ids: Iterable[int],
        since: datetime,
        lease: float,
        limit: int = 1,
        due_by: datetime | None = None,
    ) -> list[int]:
        """Claim for `lease` seconds up to `limit` of these feeds that no live worker
        holds and nobody polled since `since` (with `due_by`, only those due by then, as
        the row says now: a worker that started later sees another's poll); their ids,
        none when none is left."""
        now = utcnow()
        due = (
            sa.or_(feeds.c.next_due_at.is_(None), feeds.c.next_due_at <= due_by)
            if due_by is not None
            else sa.true()
        )
        with self.transaction() as conn:
            claimed = list(
                conn.scalars(
                    sa.select(feeds.c.id)
                    .where(
                        feeds.c.id.in_(list(feed_ids)),
                        _claimable(conn, feeds, now),
                        sa.or_(feeds.c.last_polled_at.is_(None), feeds.c.last_polled_at < since),
                        due,
                    )
                    .order_by(feeds.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if claimed:
                conn.execute(
                    feeds.update().where(feeds.c.id.in_(claimed)).values(**self._claim(now, lease))
                )
        return claimed

    def _claim(self, now: datetime, lease: float) -> dict[str, Any]:
        return {"claimed_by": self.worker, "claimed_until": now + timedelta(seconds=lease)}

    def feed_rows(self) -> list[sa.Row[Any]]:
        """Every feed with its polling state, by name."""
        with self.transaction() as conn:
            return list(conn.execute(sa.select(feeds).order_by(feeds.c.name, feeds.c.url)))

    # entries

    def _add_entries(
        self, conn: Connection, feed_id: int, new: Sequence[Entry], now: datetime
    ) -> int:
        unique: dict[str, Entry] = {}
        for entry in new:
            unique.setdefault(entry.key, entry)
        if not unique:
            return 0
        keys = list(unique)
        known = set(
            conn.scalars(
                sa.select(entries.c.key).where(
                    entries.c.feed_id == feed_id, entries.c.key.in_(keys)
                )
            )
        )
        fresh = [e for k, e in unique.items() if k not in known]
        urls = [e.canonical_url for e in fresh]
        seen_urls = set(
            conn.scalars(
                sa.select(entries.c.canonical_url).where(entries.c.canonical_url.in_(urls))
            )
        )
        added = 0
        for entry in fresh:
            status = "duplicate" if entry.canonical_url in seen_urls else "pending"
            seen_urls.add(entry.canonical_url)
            entry_id = conn.scalar(
                insert_ignore(conn, entries)
                .values(
                    feed_id=feed_id,
                    key=entry.key,
                    url=entry.url,
                    canonical_url=entry.canonical_url,
                    title=entry.title,
                    summary=entry.summary,
                    published_at=entry.published,
                    status=status,
                    first_seen_at=now,
                    processed_at=now if status == "duplicate" else None,
                )
                .returning(entries.c.id)
            )
            added += int(status == "pending" and entry_id is not None)
        return added

    def pending_entries(
        self,
        feed_ids: Iterable[int] | None = None,
        lease: float = 600.0,
        limit: int | None = None,
        after: int = 0,
    ) -> list[PendingEntry]:
        """Claim for `lease` seconds the pending entries no live worker holds, oldest
        first: up to `limit` of them, with ids above `after`; recording each releases it."""
        now = utcnow()
        with self.transaction() as conn:
            query = (
                sa.select(entries)
                .where(
                    entries.c.status == "pending",
                    entries.c.id > after,
                    _claimable(conn, entries, now),
                )
                .order_by(entries.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if feed_ids is not None:
                query = query.where(entries.c.feed_id.in_(list(feed_ids)))
            claimed = [_pending(r) for r in conn.execute(query)]
            conn.execute(
                entries.update()
                .where(entries.c.id.in_([p.id for p in claimed]))
                .values(**self._claim(now, lease))
            )
        return claimed

    def record_entry_error(self, entry_id: int, error: str) -> None:
        """Count a failed attempt; the entry stays pending until MAX_ENTRY_ATTEMPTS."""
        with self.transaction() as conn:
            conn.execute(
                entries.update()
                .where(entries.c.id == entry_id)
                .values(
                    attempts=entries.c.attempts + 1,
                    last_error=error,
                    status=sa.case(
                        (entries.c.attempts + 1 >= MAX_ENTRY_ATTEMPTS, "failed"), else_="pending"
                    ),
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    # articles, alerts, deliveries

    def record_article(
        self,
        entry_id: int,
        article: Article,
        matches: Sequence[Match],
        enqueue: Enqueue,
    ) -> Recorded:
        """Store an article, and unless it duplicates one already stored, an alert
        per match with its deliveries (`enqueue`); mark the entry done."""
        now = utcnow()
        with self.transaction() as conn:
            _lock_stories(conn)
            duplicate_of = self._find_duplicate(conn, article)
            article_id = conn.execute(
                insert_ignore(conn, articles)
                .values(
                    entry_id=entry_id,
                    url=article.url,
                    canonical_url=article.canonical_url,
                    title=article.title,
                    text=article.text,
                    site=article.site,
                    language=article.language,
                    published_at=article.published,
                    source=article.source,
                    text_hash=article.text_hash,
                    duplicate_of=duplicate_of,
                    fetched_at=now,
                )
                .returning(articles.c.id)
            ).scalar()
            made: list[tuple[int, Match]] = []
            if article_id is None:
                duplicate_of = self._same_url(conn, entry_id, article, now)
            else:
                placement, feats = self.desk.place(conn, article_id, article, duplicate_of, now)
                if placement.is_copy:
                    duplicate_of = duplicate_of or placement.other_article_id
                if feats is not None:
                    made = self._alerts(conn, article_id, article, matches, placement, feats)
                    for alert_id, match in made:
                        enqueue(conn, alert_id, match.rule_id, now)
            conn.execute(
                entries.update()
                .where(entries.c.id == entry_id)
                .values(
                    status="done" if duplicate_of is None else "duplicate",
                    processed_at=now,
                    attempts=entries.c.attempts + 1,
                    last_error=None,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        if duplicate_of is None and self._texts is not None:
            self._texts.add(article.text_hash)
        alert_ids = tuple(alert_id for alert_id, _ in made)
        return Recorded(article_id or duplicate_of or 0, duplicate_of, alert_ids)

    def _same_url(self, conn: Connection, entry_id: int, article: Article, now: datetime) -> int:
        """The stored article with this article's canonical URL; the decision is kept."""
        row = conn.execute(
            sa.select(articles.c.id, articles.c.story_id).where(
                articles.c.canonical_url == article.canonical_url
            )
        ).one()
        reason = f"entry {entry_id} has the same URL as article {row.id}: {article.canonical_url}"
        record(conn, row.id, Placement(row.story_id, "same URL", 1.0, reason, row.id), now)
        return int(row.id)

    def _find_duplicate(self, conn: Connection, article: Article) -> int | None:
        return conn.scalar(
            sa.select(articles.c.id)
            .where(
                sa.or_(
                    articles.c.canonical_url == article.canonical_url,
                    articles.c.text_hash == article.text_hash,
                ),
                articles.c.duplicate_of.is_(None),
            )
            .order_by(articles.c.id)
            .limit(1)
        )

    def _alerts(
        self,
        conn: Connection,
        article_id: int,
        article: Article,
        matches: Sequence[Match],
        placement: Placement,
        feats: StoryFeatures,
    ) -> list[tuple[int, Match]]:
        """The alerts the matches deserve in this story, with the match of each."""
        now = utcnow()
        gap = self.desk.settings.update_gap
        made = []
        for match in matches:
            story_id = placement.story_id
            alert_id = add_alert(conn, article_id, article, match, story_id, feats, now, gap)
            if alert_id is not None:
                made.append((alert_id, match))
        return made

    def count(self, table: sa.Table) -> int:
        with self.transaction() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    with engine.connect():
        pass
    return engine


def connect(url: str) -> Engine:
    """An engine on the store at `url`; StoreError if it cannot be reached."""
    with _as_store_error():
        return _engine(url)


def migrate(url: str, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate the store at `url` to `target`; its revision before and after."""
    engine = connect(url)
    try:
        with _as_store_error():
            return _migrate(engine, target)
    finally:
        engine.dispose()


@contextmanager
def _as_store_error() -> Iterator[None]:
    """Database errors on connecting or migrating, as a StoreError with the reason."""
    try:
        yield
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"not a valid store URL: {exc}") from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise StoreError(f"cannot open the store: {_first_line(exc)}") from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"the store's database driver is not installed: {exc.name}") from None


@retry(
    retry=retry_if_exception(lambda exc: "database is locked" in str(exc)),
    wait=wait_random(0.05, 0.5),
    stop=stop_after_delay(30),
    reraise=True,
)
def _migrate(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema up to date. SQLite can refuse a second process with "database
    is locked" without waiting while the first turns a new file to WAL: try again."""
    return upgrade(engine, target)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    """WAL, a busy timeout, and transactions we begin ourselves."""
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _lock_stories(conn: Connection) -> None:
    """On PostgreSQL, wait for any other transaction placing an article (SQLite's BEGIN
    IMMEDIATE already lets one writer in at a time)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(STORY_LOCK)))


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock up front, so two writers wait instead of deadlocking."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _claimable(conn: Connection, table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """Rows of `table` no live worker holds: unclaimed, lease expired, or a dead local worker."""
    holders = conn.scalars(
        sa.select(table.c.claimed_by).distinct().where(table.c.claimed_until > now)
    )
    dead = [w for w in holders if dead_local_worker(w)]
    return sa.or_(
        table.c.claimed_by.is_(None),
        table.c.claimed_until <= now,
        table.c.claimed_by.in_(dead),
    )


def _feed_state(r: sa.Row[Any]) -> FeedState:
    return FeedState(
        r.id,
        r.url,
        r.etag,
        r.last_modified,
        r.body_hash,
        r.last_success_at,
        r.error_streak,
        r.interval,
        r.items_per_day,
        r.next_due_at,
        r.backoff_until,
        r.last_status,
    )


def _pending(row: sa.Row[Any]) -> PendingEntry:
    entry = Entry(
        key=row.key,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        summary=row.summary,
        published=row.published_at,
    )
    return PendingEntry(row.id, row.feed_id, row.attempts, entry)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
