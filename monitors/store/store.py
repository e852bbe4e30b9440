"""The store and its units of work.

`Store.open(url)` connects and migrates; `store.transaction()` is one unit of work, a
`Tx` whose methods are the store's statements, committed together at the end of the
block (or rolled back on an error). SQLite serialises units of work (BEGIN IMMEDIATE);
on PostgreSQL, the ones that place articles lock what they bear on (`Tx.lock_keys`,
`Tx.lock_story`) and commit through a short store-wide section (`Tx.lock_commits`):
see docs/architecture.md, "Concurrency". `store.reading()` is a unit of work that only
reads (no write lock on SQLite, a read-only transaction on PostgreSQL). `store.scratch()`
is a store whose units of work are savepoints in one transaction rolled back at the end:
a dry run writes there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from monitors.store.backfill import BackfillQueries
from monitors.store.claims import worker_id
from monitors.store.engine import READ_ONLY, as_store_error, connect, migrate_engine
from monitors.store.feeds import FeedQueries
from monitors.store.outbox import OutboxQueries
from monitors.store.push import PushQueries
from monitors.store.stories import StoryQueries

MAX_KNOWN_TEXTS = 100_000  # text fingerprints held to spot exact copies before analysis


class Tx(FeedQueries, StoryQueries, OutboxQueries, BackfillQueries, PushQueries):
    """One unit of work on the store: every statement newsmon runs is a method here."""

    def __init__(self, conn: Connection, worker: str) -> None:
        self.conn = conn
        self.worker = worker


class Store:
    """The SQL store (SQLite or PostgreSQL). Open with `Store.open(url)`."""

    def __init__(self, engine: Engine, worker: str | None = None) -> None:
        self.engine = engine
        self.worker = worker or worker_id()
        self._texts: set[str] | None = None
        self._texts_lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and migrate the schema to this version; StoreError if the store
        is unreachable or newer than this code."""
        engine = connect(url)
        with as_store_error():
            migrate_engine(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A unit of work, committed when the block ends."""
        with self.engine.begin() as conn:
            yield Tx(conn, self.worker)

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A unit of work that only reads, rolled back when the block ends. On SQLite it
        takes no write lock, so it neither waits for a writer nor holds one up."""
        options = {READ_ONLY: True, "postgresql_readonly": True}
        with self.engine.connect().execution_options(**options) as conn, conn.begin() as outer:
            try:
                yield Tx(conn, self.worker)
            finally:
                outer.rollback()

    @contextmanager
    def scratch(self) -> Iterator[Store]:
        """A store on this one whose writes are all rolled back when the block ends (each
        of its units of work is a savepoint). It holds the store's write lock meanwhile
        on SQLite: keep its work short."""
        with self.engine.connect() as conn:
            outer = conn.begin()
            try:
                yield _Scratch(self.engine, conn, self.worker)
            finally:
                outer.rollback()

    def holds_text(self, digest: str) -> bool:
        """Whether one of the last MAX_KNOWN_TEXTS originals stored has this text
        fingerprint: a page with it is an exact copy, and needs no analysis. Read once,
        then kept up to date with this process's own articles (`remember_text`; another
        process's are seen at the next read: missing one only costs an analysis)."""
        with self._texts_lock:
            if self._texts is None or len(self._texts) > 2 * MAX_KNOWN_TEXTS:
                with self.transaction() as tx:
                    self._texts = tx.recent_text_hashes(MAX_KNOWN_TEXTS)
            return digest in self._texts

    def remember_text(self, digest: str) -> None:
        """An original with this text fingerprint was just stored."""
        with self._texts_lock:
            if self._texts is not None:
                self._texts.add(digest)


class _Scratch(Store):
    """A store whose units of work are savepoints on one connection (see Store.scratch)."""

    def __init__(self, engine: Engine, conn: Connection, worker: str) -> None:
        super().__init__(engine, worker)
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._conn.begin_nested():
            yield Tx(self._conn, self.worker)

    def close(self) -> None:
        """Nothing: the scratch store ends with its block."""
