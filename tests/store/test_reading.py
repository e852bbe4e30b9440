"""Units of work that only read: they see committed data, write nothing, and on SQLite
never wait for a writer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from monitors.store import Store, StoryFilter, Tx, utcnow


def stories(tx: Tx) -> int:
    return len(tx.story_summaries(StoryFilter()))


def test_reading_sees_what_was_committed_and_keeps_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.new_story("committed", utcnow(), None, "{}")
    with store.reading() as tx:
        assert stories(tx) == 1
    try:
        with store.reading() as tx:
            tx.new_story("never kept", utcnow(), None, "{}")
    except sa.exc.InternalError as exc:  # PostgreSQL: a read-only transaction
        assert "read-only transaction" in str(exc)
    with store.transaction() as tx:
        assert stories(tx) == 1  # only the committed story


def test_reading_does_not_wait_for_a_sqlite_writer(store: Store, store_url: str) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    with store.transaction() as writer:
        writer.new_story("uncommitted", utcnow(), None, "{}")
        with store.reading() as tx:
            assert stories(tx) == 0
