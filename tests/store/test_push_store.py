"""WebSub subscriptions in the store, on SQLite and PostgreSQL: a row per feed, a claim per
request to the hub, the hub's checks, pushes and their replays, lapses."""

from __future__ import annotations

from datetime import timedelta

from monitors.models import Entry
from monitors.store import Store, utcnow

FEED = "https://news.example/feed.xml"
HUB = "https://hub.example/"


def feed_id(store: Store) -> int:
    with store.transaction() as tx:
        return tx.sync_feeds([(FEED, "News")])[FEED].id


def entry(n: int) -> Entry:
    url = f"https://news.example/{n}"
    return Entry(f"e{n}", url, url, f"story {n}")


def test_a_hub_is_noted_once_and_another_hub_starts_over(store: Store) -> None:
    fid = feed_id(store)
    with store.transaction() as tx:
        tx.note_hub(fid, HUB, FEED, "cb1")
        tx.note_hub(fid, HUB, FEED, "cb2")
        [sub] = tx.subscriptions()
    assert (sub.callback_id, sub.state, sub.feed_url) == ("cb1", "new", FEED)
    with store.transaction() as tx:
        tx.request_sent(sub.id, "subscribe", "s", utcnow())
        assert tx.verified("cb1", "subscribe", FEED, 600, 60) is not None
        tx.note_hub(fid, "https://other-hub.example/", FEED, "cb3")
        [moved] = tx.subscriptions()
    assert (moved.callback_id, moved.hub, moved.state, moved.expires_at) == (
        "cb1",
        "https://other-hub.example/",
        "new",
        None,
    )


def test_a_request_to_the_hub_is_taken_by_one_worker(store: Store) -> None:
    fid = feed_id(store)
    now = utcnow()
    with store.transaction() as tx:
        tx.note_hub(fid, HUB, FEED, "cb")
        [sub] = tx.subscriptions()
        assert tx.take_request(sub.id, "subscribe", now, now + timedelta(minutes=2))
        assert not tx.take_request(sub.id, "subscribe", now, now + timedelta(minutes=2))
        later = now + timedelta(minutes=3)
        assert tx.take_request(sub.id, "subscribe", later, later + timedelta(minutes=2))


def test_only_the_awaited_check_is_verified_and_an_unchecked_request_is_a_failure(
    store: Store,
) -> None:
    fid = feed_id(store)
    with store.transaction() as tx:
        tx.note_hub(fid, HUB, FEED, "cb")
        [sub] = tx.subscriptions()
        tx.request_sent(sub.id, "subscribe", "s", utcnow())
        assert tx.verified("cb", "unsubscribe", FEED, 600, 60) is None
        assert tx.verified("cb", "subscribe", "https://news.example/other", 600, 60) is None
        tx.request_sent(sub.id, "subscribe", "s", utcnow())  # the first one never checked
        [again] = tx.subscriptions()
        assert (again.failures, again.last_error) == (1, "the hub did not check the last request")
        assert tx.verified("cb", "subscribe", FEED, 600, 60) is not None
        [active] = tx.subscriptions()
    assert active.state == "active" and active.failures == 0 and active.active(utcnow())
    assert active.expires_at is not None and active.next_request_at is not None
    assert active.expires_at - active.next_request_at == timedelta(seconds=60)


def test_a_push_adds_entries_once_and_its_replay_nothing(store: Store) -> None:
    fid = feed_id(store)
    with store.transaction() as tx:
        tx.note_hub(fid, HUB, FEED, "cb")
        [sub] = tx.subscriptions()
        assert tx.record_push(sub.id, fid, "h1", [entry(1), entry(2)]) == 2
        assert tx.record_push(sub.id, fid, "h1", [entry(1), entry(2)]) is None
        assert tx.record_push(sub.id, fid, "h2", [entry(1), entry(2), entry(3)]) == 1
        added = tx.record_feed_ok(
            fid, status=200, etag=None, last_modified=None, body_hash="b", new_entries=[entry(3)]
        )
        [pushed] = tx.subscriptions()
        pending = tx.pending_entries([fid])
    assert added == [] and pushed.pushes == 2 and pushed.last_push_hash == "h2"
    assert sorted(p.entry.key for p in pending) == ["e1", "e2", "e3"]


def test_an_ended_lease_lapses_and_its_feed_is_due(store: Store) -> None:
    fid = feed_id(store)
    with store.transaction() as tx:
        tx.note_hub(fid, HUB, FEED, "cb")
        [sub] = tx.subscriptions()
        tx.request_sent(sub.id, "subscribe", "s", utcnow())
        tx.verified("cb", "subscribe", FEED, 600, 60)
        tx.poll_later(fid, utcnow() + timedelta(hours=1))
        assert tx.pushed_feeds([fid], utcnow()) == {fid}
        assert tx.lapse(utcnow()) == []
        assert tx.lapse(utcnow() + timedelta(seconds=601)) == [fid]
        tx.due_now([fid])
        [row] = [r for r in tx.feed_rows() if r.id == fid]
        [lapsed] = tx.subscriptions()
    assert lapsed.state == "lapsed" and lapsed.next_request_at is None
    assert row.next_due_at <= utcnow()
