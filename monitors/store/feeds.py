"""Feeds and their entries: polling state, claims, new entries, pending entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.models import Entry
from monitors.store.claims import dead_local_worker
from monitors.store.engine import from_row, insert_ignore
from monitors.store.schema import articles, entries, feeds, utcnow

MAX_ENTRY_ATTEMPTS = 5
ENTRY_LEASE = 600.0  # seconds a worker holds the entries it claimed


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
class DueEntry:
    """A pending entry as the scheduler of page fetches sees it, unclaimed."""

    id: int
    feed_id: int
    url: str
    published: datetime | None
    again: bool = False  # made pending again to be read again (see `add_entries`)


@dataclass(frozen=True)
class Rereads:
    """When an entry its feed lists again with a new title or summary is read again: at
    most `limit` times (0: never), at least `after` seconds since it was last processed,
    while first seen within `window`."""

    limit: int
    after: float
    window: timedelta


@dataclass(frozen=True)
class PendingEntry:
    """An entry that still has to be processed."""

    id: int
    feed_id: int
    attempts: int
    entry: Entry


class FeedQueries:
    """The feeds and entries part of a unit of work (see monitors.store.Tx)."""

    conn: Connection
    worker: str

    def sync_feeds(self, configured: Iterable[tuple[str, str | None]]) -> dict[str, FeedState]:
        """Make sure a row exists for each (url, name); return every feed's state by URL."""
        wanted = dict(configured)
        rows = self._feed_rows(wanted)
        if missing := [{"url": u, "name": n} for u, n in wanted.items() if u not in rows]:
            self.conn.execute(insert_ignore(self.conn, feeds), missing)
        renamed = {u: n for u, n in wanted.items() if u in rows and rows[u].name != n}
        for url, name in renamed.items():
            self.conn.execute(feeds.update().where(feeds.c.url == url).values(name=name))
        if missing or renamed:
            rows = self._feed_rows(wanted)
        return {url: _feed_state(row) for url, row in rows.items()}

    def _feed_rows(self, urls: Iterable[str]) -> dict[str, Any]:
        """The stored feeds among `urls`, by URL."""
        found = self.conn.execute(sa.select(feeds).where(feeds.c.url.in_(list(urls))))
        return {row.url: row for row in found}

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
        rereads: Rereads | None = None,
    ) -> list[DueEntry]:
        """Store a successful poll: the validators, the new entries and (for a parsed body)
        why any entries were skipped.

        An entry is new unless its feed already had its key or any feed had its
        canonical URL; those are recorded as duplicates, never fetched. A known entry
        whose title or summary changed is read again within `rereads` (none without;
        see `add_entries`). Returns the entries now pending, unclaimed.
        """
        now = utcnow()
        parsed = {} if skipped is None else {"skipped": json.dumps(list(skipped))}
        added = add_entries(self.conn, feed_id, new_entries, now, rereads=rereads)
        self._set_feed(
            feed_id,
            **parsed,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            last_polled_at=now,
            last_success_at=now,
            last_status=status,
            last_error=None,
            error_streak=0,
            entries_seen=feeds.c.entries_seen + new_count(added),
            claimed_by=None,
            claimed_until=None,
        )
        return added

    def schedule_feed(
        self, feed_id: int, next_due_at: datetime, interval: float, items_per_day: float
    ) -> None:
        """When to poll the feed next, and what its polling has learnt."""
        self._set_feed(
            feed_id,
            next_due_at=next_due_at,
            interval=interval,
            items_per_day=items_per_day,
            backoff_until=None,
        )

    def record_feed_error(
        self, feed_id: int, error: str, status: int | None, backoff_until: datetime
    ) -> None:
        """Note a failed poll on the feed and back it off; its validators are kept."""
        self._set_feed(
            feed_id,
            last_polled_at=utcnow(),
            last_status=status,
            last_error=error,
            error_streak=feeds.c.error_streak + 1,
            backoff_until=backoff_until,
            next_due_at=backoff_until,
            claimed_by=None,
            claimed_until=None,
        )

    def due_now(self, feed_ids: Iterable[int]) -> None:
        """These feeds are to be polled again from now on (their push stopped)."""
        now = utcnow()
        self.conn.execute(
            feeds.update()
            .where(feeds.c.id.in_(list(feed_ids)), feeds.c.next_due_at > now)
            .values(next_due_at=now)
        )

    def poll_later(self, feed_id: int, until: datetime) -> None:
        """The feed is not due before `until` (its content is pushed meanwhile)."""
        self.conn.execute(
            feeds.update()
            .where(
                feeds.c.id == feed_id,
                sa.or_(feeds.c.next_due_at.is_(None), feeds.c.next_due_at < until),
            )
            .values(next_due_at=until)
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
        claimed = list(
            self.conn.scalars(
                sa.select(feeds.c.id)
                .where(
                    feeds.c.id.in_(list(feed_ids)),
                    claimable(self.conn, feeds, now),
                    sa.or_(feeds.c.last_polled_at.is_(None), feeds.c.last_polled_at < since),
                    due,
                )
                .order_by(feeds.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if claimed:
            self.conn.execute(
                feeds.update().where(feeds.c.id.in_(claimed)).values(**self._claim(now, lease))
            )
        return claimed

    def feed_rows(self) -> list[sa.Row[Any]]:
        """Every feed with its polling state, by name."""
        return list(self.conn.execute(sa.select(feeds).order_by(feeds.c.name, feeds.c.url)))

    def due_entries(
        self, feed_ids: Iterable[int] | None = None, new_since: datetime | None = None
    ) -> list[DueEntry]:
        """The pending entries (of these feeds; with `new_since`, only those first seen
        since then and never tried) no live worker holds, oldest first, as the scheduler
        of page fetches needs them; nothing is claimed."""
        query = (
            sa.select(entries.c.id, entries.c.feed_id, entries.c.url, entries.c.published_at)
            .where(entries.c.status == "pending", claimable(self.conn, entries, utcnow()))
            .order_by(entries.c.id)
        )
        if feed_ids is not None:
            query = query.where(entries.c.feed_id.in_(list(feed_ids)))
        if new_since is not None:
            query = query.where(entries.c.first_seen_at >= new_since, entries.c.attempts == 0)
        return [DueEntry(*row) for row in self.conn.execute(query)]

    def pending_entries(
        self,
        feed_ids: Iterable[int] | None = None,
        lease: float = ENTRY_LEASE,
        ids: Iterable[int] | None = None,
    ) -> list[PendingEntry]:
        """Claim for `lease` seconds the pending entries (of these feeds, with these ids)
        no live worker holds, oldest first; recording each releases it."""
        now = utcnow()
        query = (
            sa.select(entries)
            .where(entries.c.status == "pending", claimable(self.conn, entries, now))
            .order_by(entries.c.id)
            .with_for_update(skip_locked=True)
        )
        if feed_ids is not None:
            query = query.where(entries.c.feed_id.in_(list(feed_ids)))
        if ids is not None:
            query = query.where(entries.c.id.in_(list(ids)))
        claimed = [_pending(r) for r in self.conn.execute(query)]
        self.conn.execute(
            entries.update()
            .where(entries.c.id.in_([p.id for p in claimed]))
            .values(**self._claim(now, lease))
        )
        return claimed

    def release_entries(self, entry_ids: Iterable[int]) -> None:
        """Let go of claimed entries left unprocessed: they stay pending, due at once."""
        self.conn.execute(
            entries.update()
            .where(entries.c.id.in_(list(entry_ids)), entries.c.claimed_by == self.worker)
            .values(claimed_by=None, claimed_until=None)
        )

    def record_entry_error(
        self, entry_id: int, error: str, hold_until: datetime | None = None
    ) -> None:
        """Count a failed attempt; the entry stays pending until MAX_ENTRY_ATTEMPTS, due
        at once, or with `hold_until` this worker's until then (no other worker tries it
        again meanwhile)."""
        self.conn.execute(
            entries.update()
            .where(entries.c.id == entry_id)
            .values(
                attempts=entries.c.attempts + 1,
                last_error=error,
                status=sa.case(
                    (entries.c.attempts + 1 >= MAX_ENTRY_ATTEMPTS, "failed"), else_="pending"
                ),
                claimed_by=self.worker if hold_until is not None else None,
                claimed_until=hold_until,
            )
        )

    def finish_entry(self, entry_id: int, duplicate: bool, now: datetime) -> None:
        """Mark an entry processed: `done`, or `duplicate` of an article already stored."""
        status = "duplicate" if duplicate else "done"
        self.conn.execute(_FINISH_ENTRY, {"entry": entry_id, "status": status, "now": now})

    def entry_for_page(self, feed_id: int, entry: Entry) -> int:
        """The id of the entry of `feed_id` with this entry's key, made (pending) if need be."""
        self.conn.execute(
            insert_ignore(self.conn, entries).values(
                **_entry_values(feed_id, entry),
                status="pending",
                first_seen_at=utcnow(),
                seen_via="backfill",
            )
        )
        found = sa.select(entries.c.id).where(
            entries.c.feed_id == feed_id, entries.c.key == entry.key
        )
        return int(self.conn.execute(found).scalar_one())

    def first_seen(self, canonical_url: str) -> datetime | None:
        """When any feed first listed this URL, if one did."""
        seen: datetime | None = self.conn.scalar(
            sa.select(sa.func.min(entries.c.first_seen_at)).where(
                entries.c.canonical_url == canonical_url
            )
        )
        return seen

    def _set_feed(self, feed_id: int, **values: Any) -> None:
        self.conn.execute(feeds.update().where(feeds.c.id == feed_id).values(**values))

    def _claim(self, now: datetime, lease: float) -> dict[str, Any]:
        return {"claimed_by": self.worker, "claimed_until": now + timedelta(seconds=lease)}


def add_entries(
    conn: Connection,
    feed_id: int,
    new: Sequence[Entry],
    now: datetime,
    via: str = "poll",
    rereads: Rereads | None = None,
) -> list[DueEntry]:
    """Store the entries the feed did not have yet, seen `via` a poll or a push: pending,
    or `duplicate` when any feed already had the canonical URL; and read again those it
    had that it now says something new of (see `_read_again`). The entries now pending,
    new ones first (those read again are marked `again`)."""
    unique: dict[str, Entry] = {}
    for entry in new:
        unique.setdefault(entry.key, entry)
    if not unique:
        return []
    known = {
        row.key: row
        for row in conn.execute(
            sa.select(entries.c.id, entries.c.key, entries.c.fingerprint).where(
                entries.c.feed_id == feed_id, entries.c.key.in_(list(unique))
            )
        )
    }
    again = _read_again(conn, feed_id, unique, known, now, rereads)
    fresh = [e for k, e in unique.items() if k not in known]
    urls = [e.canonical_url for e in fresh]
    seen_urls = set(
        conn.scalars(sa.select(entries.c.canonical_url).where(entries.c.canonical_url.in_(urls)))
    )
    rows = []
    for entry in fresh:
        status = "duplicate" if entry.canonical_url in seen_urls else "pending"
        seen_urls.add(entry.canonical_url)
        rows.append(
            _entry_values(feed_id, entry)
            | {
                "status": status,
                "first_seen_at": now,
                "seen_via": via,
                "processed_at": now if status == "duplicate" else None,
            }
        )
    if not rows:
        return again
    inserted = insert_ignore(conn, entries).returning(entries.c.key, entries.c.id)
    ids = dict(conn.execute(inserted, rows).tuples().all())  # one statement for them all
    added = [
        DueEntry(ids[row["key"]], feed_id, row["url"], row["published_at"])
        for row in rows
        if row["status"] == "pending" and row["key"] in ids
    ]
    return added + again


def new_count(due: Sequence[DueEntry]) -> int:
    """How many of these pending entries are new items of their feed (not read again)."""
    return sum(not entry.again for entry in due)


def _read_again(
    conn: Connection,
    feed_id: int,
    listed: dict[str, Entry],
    known: dict[str, Any],
    now: datetime,
    rereads: Rereads | None,
) -> list[DueEntry]:
    """Make pending again the `known` entries (rows by key) the feed lists with a new
    title or summary (a story updated in place under its URL) that may be read again:
    processed into an article of their own (not pending, nor a duplicate of another
    feed's entry), at least `rereads.after` seconds ago, first seen within
    `rereads.window`, read again fewer than `rereads.limit` times. Each gets the new
    title, summary, link and fingerprint, one more re-read, no attempts nor error; those
    pending. A change not read again keeps the old fingerprint, so that it is caught
    once the gap has passed; an entry with none (stored before fingerprints) just gets
    one."""
    prints = {key: fingerprint(listed[key]) for key in known}
    if unset := [
        {"entry": r.id, "print": prints[k]} for k, r in known.items() if not r.fingerprint
    ]:
        conn.execute(_SET_FINGERPRINT, unset)
    changed = {r.id: r for k, r in known.items() if r.fingerprint not in (None, prints[k])}
    if not changed or rereads is None or rereads.limit <= 0:
        return []
    again = []
    for entry_id in conn.scalars(_may_reread(list(changed), now, rereads)):
        row = changed[entry_id]
        entry = listed[row.key]
        if _reread(conn, entry_id, row.fingerprint, entry, prints[row.key], now):
            again.append(DueEntry(entry_id, feed_id, entry.url, entry.published, True))
    return again


def fingerprint(entry: Entry) -> str:
    """What a feed says of an entry, hashed: its title and summary. (Its updated date is
    left out: some feeds restamp every item at each build, which would spend the
    re-reads on nothing.)"""
    said = f"{entry.title}\n{entry.summary}".encode("utf-8", "replace")
    return hashlib.sha256(said).hexdigest()


def _may_reread(ids: list[int], now: datetime, rereads: Rereads) -> sa.Select[Any]:
    """Those of these entries that may be read again now (see `_read_again`)."""
    own_article = sa.exists().where(articles.c.entry_id == entries.c.id)
    return sa.select(entries.c.id).where(
        entries.c.id.in_(ids),
        entries.c.status.in_(("done", "duplicate")),
        entries.c.rereads < rereads.limit,
        entries.c.first_seen_at >= now - rereads.window,
        entries.c.processed_at <= now - timedelta(seconds=rereads.after),
        own_article,
    )


def _reread(
    conn: Connection, entry_id: int, old: str, entry: Entry, new: str, now: datetime
) -> bool:
    """Make the entry pending again with what its feed says now, unless another unit of
    work did first; whether this one did."""
    done = conn.execute(
        entries.update()
        .where(entries.c.id == entry_id, entries.c.fingerprint == old)
        .values(
            url=entry.url,  # where the feed links it now (a new slug, say); its canonical
            # URL stays the one its article was stored under, so that the page read
            # again revises that article
            title=entry.title,
            summary=entry.summary,
            fingerprint=new,
            rereads=entries.c.rereads + 1,
            reread_at=now,
            status="pending",
            attempts=0,
            last_error=None,
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(done.rowcount)


def claimable(conn: Connection, table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
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


def _feed_state(row: sa.Row[Any]) -> FeedState:
    return from_row(FeedState, row)


def _pending(row: sa.Row[Any]) -> PendingEntry:
    entry = from_row(Entry, row, published=row.published_at)
    return PendingEntry(row.id, row.feed_id, row.attempts, entry)


def _entry_values(feed_id: int, entry: Entry) -> dict[str, Any]:
    """The columns of an entry row of this feed."""
    return {
        "feed_id": feed_id,
        "key": entry.key,
        "url": entry.url,
        "canonical_url": entry.canonical_url,
        "title": entry.title,
        "summary": entry.summary,
        "published_at": entry.published,
        "fingerprint": fingerprint(entry),
    }


_SET_FINGERPRINT = (
    entries.update()
    .where(entries.c.id == sa.bindparam("entry"))
    .values(fingerprint=sa.bindparam("print"))
)


_FINISH_ENTRY = (  # built once: every recorded article runs it
    entries.update()
    .where(entries.c.id == sa.bindparam("entry"))
    .values(
        status=sa.bindparam("status"),
        processed_at=sa.bindparam("now"),
        attempts=entries.c.attempts + 1,
        last_error=None,
        claimed_by=None,
        claimed_until=None,
    )
)
