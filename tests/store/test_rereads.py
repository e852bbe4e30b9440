"""Which known entries a poll or a push makes pending again when their feed changes
what it says of them: a new title or summary, within the limits (count, gap since
processed, window since first seen), never an entry without an article of its own."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from monitors.models import Article, Entry
from monitors.store import Rereads, Store, utcnow
from monitors.store.schema import entries

FEED = "https://news.example/feed.xml"
OTHER = "https://other.example/feed.xml"
URL = "https://news.example/live.html"
ON = Rereads(limit=3, after=600.0, window=timedelta(hours=72))


def feed_id(store: Store, url: str = FEED) -> int:
    with store.transaction() as tx:
        return tx.sync_feeds([(url, None)])[url].id


def listed(title: str, summary: str = "Live.", key: str = "live-1") -> Entry:
    return Entry(key=key, url=URL, canonical_url=URL, title=title, summary=summary)


def poll(store: Store, fid: int, entry: Entry, rereads: Rereads | None = ON) -> list[int]:
    """The ids of the entries the poll left pending."""
    with store.transaction() as tx:
        due = tx.record_feed_ok(
            fid,
            status=200,
            etag=None,
            last_modified=None,
            body_hash=None,
            new_entries=[entry],
            rereads=rereads,
        )
    return [d.id for d in due]


def process(store: Store, entry_id: int, ago: timedelta = timedelta(hours=1)) -> None:
    """Record the entry's article (once) and mark it done `ago`."""
    article = Article(URL, URL, "Title", "Text.", "news.example", "page", text_hash="h")
    with store.transaction() as tx:
        tx.insert_article(entry_id, article, None, utcnow())
        tx.finish_entry(entry_id, False, utcnow() - ago)


def row(store: Store, entry_id: int) -> sa.Row:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return conn.execute(sa.select(entries).where(entries.c.id == entry_id)).one()


def entry_of(store: Store, fid: int) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.select(entries.c.id).where(entries.c.feed_id == fid)))


def processed(store: Store, entry_id: int, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(entries.update().where(entries.c.id == entry_id).values(**values))


def test_a_new_title_makes_a_processed_entry_pending_again(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("Senate to vote"))
    process(store, entry_id)
    assert poll(store, fid, listed("Senate to vote")) == []  # the same: nothing
    assert poll(store, fid, listed("Senate ratifies")) == [entry_id]
    again = row(store, entry_id)
    assert (again.status, again.title, again.rereads, again.attempts) == (
        "pending",
        "Senate ratifies",
        1,
        0,
    )
    assert poll(store, fid, listed("Senate ratifies")) == []  # pending already


def test_a_new_summary_counts_too(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("Live", "Vote at noon."))
    process(store, entry_id)
    assert poll(store, fid, listed("Live", "Ratified, 81 to 17.")) == [entry_id]


def test_an_entry_is_read_again_at_most_the_limit(store: Store) -> None:
    fid = feed_id(store)
    once = Rereads(limit=1, after=600.0, window=timedelta(hours=72))
    [entry_id] = poll(store, fid, listed("One"), once)
    process(store, entry_id)
    assert poll(store, fid, listed("Two"), once) == [entry_id]
    processed(store, entry_id, status="done", processed_at=utcnow() - timedelta(hours=1))
    assert poll(store, fid, listed("Three"), once) == []
    assert row(store, entry_id).title == "Two"


def test_a_change_within_the_gap_waits_for_it(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("One"))
    process(store, entry_id, ago=timedelta(minutes=1))
    assert poll(store, fid, listed("Two")) == []
    assert row(store, entry_id).title == "One"  # and its fingerprint: caught later
    processed(store, entry_id, processed_at=utcnow() - timedelta(minutes=11))
    assert poll(store, fid, listed("Two")) == [entry_id]


def test_an_entry_first_seen_beyond_the_window_is_not_read_again(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("One"))
    process(store, entry_id)
    processed(store, entry_id, first_seen_at=utcnow() - timedelta(hours=73))
    assert poll(store, fid, listed("Two")) == []


def test_rereads_off_or_zero_read_nothing_again(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("One"))
    process(store, entry_id)
    assert poll(store, fid, listed("Two"), None) == []
    assert poll(store, fid, listed("Two"), Rereads(0, 600.0, timedelta(hours=72))) == []
    assert row(store, entry_id).status == "done"


def test_a_duplicate_entry_or_one_not_processed_is_not_read_again(store: Store) -> None:
    fid, other = feed_id(store), feed_id(store, OTHER)
    [entry_id] = poll(store, fid, listed("One"))
    assert poll(store, other, listed("One")) == []  # the URL came through FEED first
    duplicate = row(store, entry_of(store, other))
    assert duplicate.status == "duplicate"
    processed(store, duplicate.id, processed_at=utcnow() - timedelta(hours=1))
    assert poll(store, other, listed("Two")) == []
    assert poll(store, fid, listed("Two")) == []  # still pending: read once, as it is now


def test_an_entry_stored_before_fingerprints_just_gets_one(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("One"))
    process(store, entry_id)
    processed(store, entry_id, fingerprint=None)
    assert poll(store, fid, listed("Two")) == []
    assert row(store, entry_id).fingerprint is not None
    assert poll(store, fid, listed("Three")) == [entry_id]


def test_a_push_reads_a_changed_entry_again_as_a_poll_does(store: Store) -> None:
    fid = feed_id(store)
    with store.transaction() as tx:
        tx.note_hub(fid, "https://hub.example/", FEED, "cb")
        [sub] = tx.subscriptions()
        assert tx.record_push(sub.id, fid, "h1", [listed("One")], ON) == 1
    entry_id = entry_of(store, fid)
    process(store, entry_id)
    with store.transaction() as tx:
        assert tx.record_push(sub.id, fid, "h2", [listed("Two")], ON) == 1
        assert tx.feed_rows()[0].entries_seen == 1
    assert row(store, entry_id).status == "pending"


def test_an_entry_read_again_takes_the_link_its_feed_gives_now(store: Store) -> None:
    fid = feed_id(store)
    [entry_id] = poll(store, fid, listed("Senate to vote"))
    process(store, entry_id)
    moved = "https://news.example/senate-ratifies.html"
    ratified = Entry("live-1", moved, moved, "Senate ratifies", "Live.")
    assert poll(store, fid, ratified) == [entry_id]
    assert row(store, entry_id).url == moved
    assert row(store, entry_id).canonical_url == URL
