"""Two pipelines on one store share a cycle's entries, not only its feeds: one polls a
feed of many entries, the other, idle once its own feed is polled, takes part of them;
each entry is processed once, and one claimed by a worker that dies stays due until its
lease ends. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa

from monitors.config import Config
from monitors.ingest.fetch import Fetcher
from monitors.models import Entry
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store, Tx, utcnow
from monitors.store.schema import articles, entries
from tests.conftest import make_config
from tests.hostile import story, story_feed
from tests.httpserver import LoopbackServer

ENTRIES = 30
PAGE = "<html><head><title>{0}</title></head><body><article><h1>{0}</h1><p>{1}</p></article></html>"


def serve(server: LoopbackServer) -> None:
    """`/big.xml`, ENTRIES items whose pages answer after 0.1 s; `/late.xml`, one item,
    answering after 0.8 s."""
    for n in range(ENTRIES + 1):
        title, text = story(n)
        server.add(f"/page/{n}.html", PAGE.format(title, text).encode(), delay=0.1)
    pages = [(n, server.url(f"/page/{n}.html")) for n in range(ENTRIES + 1)]
    server.add("/big.xml", story_feed(pages[:ENTRIES]))
    server.add("/late.xml", story_feed(pages[ENTRIES:]), delay=0.8)


def config(store_url: str, server: LoopbackServer, feed: str) -> Config:
    return make_config(
        store_url,
        [server.url(feed)],
        "json://127.0.0.1:9/hook",
        fetch={"allow_private_networks": "127.0.0.1/32", "retries": 0, "per_host": 2},
        extract={"workers": 1},
    )


async def cycle(cfg: Config, store: Store) -> CycleReport:
    async with Fetcher(cfg.fetch) as fetcher:
        return await Pipeline(cfg, store, fetcher).run_cycle()


def processed(report: CycleReport) -> list[str]:
    return [e.url for e in report.entries if e.outcome in ("article", "duplicate")]


def test_an_idle_worker_takes_entries_another_polled(store_url: str, store: Store) -> None:
    other = Store.open(store_url)
    other.worker = "worker-b:2"
    try:
        with LoopbackServer() as server:
            serve(server)
            a, b = config(store_url, server, "/big.xml"), config(store_url, server, "/late.xml")

            async def both() -> tuple[CycleReport, CycleReport]:
                return await asyncio.gather(cycle(a, store), cycle(b, other))

            by_a, by_b = asyncio.run(both())
            pages = Counter(r.path for r in server.requests if r.path.startswith("/page/"))
            urls = [server.url(f"/page/{n}.html") for n in range(ENTRIES + 1)]
    finally:
        other.close()
    assert [f.status for f in by_a.feeds] == [f.status for f in by_b.feeds] == ["new"]
    taken = set(processed(by_b)) & set(urls[:ENTRIES])
    assert 0 < len(taken) < ENTRIES, "the idle worker took a part of the other's entries"
    assert Counter(processed(by_a) + processed(by_b)) == {u: 1 for u in urls}
    assert all(e.outcome != "error" for e in by_a.entries + by_b.entries)
    assert pages == {f"/page/{n}.html": 1 for n in range(ENTRIES + 1)}
    with store.engine.connect() as conn:
        statuses = Counter(conn.scalars(sa.select(entries.c.status)))
        stored = conn.scalar(sa.select(sa.func.count()).select_from(articles))
    assert statuses == {"done": ENTRIES + 1} and stored == ENTRIES + 1


def test_entries_a_dead_worker_claimed_stay_due_until_its_lease_ends(
    store_url: str, store: Store
) -> None:
    """Claimed elsewhere after this worker polled and planned them: skipped without
    error; once the lease has ended, the next cycle processes them."""
    gone = Store.open(store_url)
    gone.worker = "gone-host:3"  # on another host: its claims hold until their lease ends
    try:
        with LoopbackServer() as server:
            serve(server)
            cfg = config(store_url, server, "/big.xml")
            held: list[str] = []

            async def poll_while_another_claims() -> CycleReport:
                async with Fetcher(cfg.fetch) as fetcher:
                    pipeline = Pipeline(cfg, store, fetcher)
                    queue = pipeline.pages(adding=True)
                    await pipeline.poll(cfg.feeds, queue=queue)
                    with gone.transaction() as tx:
                        ids = [e.id for e in tx.due_entries()][-5:]
                        held.extend(p.entry.url for p in tx.pending_entries(ids=ids))
                    return CycleReport(entries=await pipeline.process(queue=queue))

            first = asyncio.run(poll_while_another_claims())
            with store.transaction() as tx:
                assert tx.due_entries() == []  # held by the worker gone
            with store.engine.begin() as conn:  # its lease ends
                holder = entries.c.claimed_by == gone.worker
                conn.execute(entries.update().where(holder).values(claimed_until=utcnow()))
            later = asyncio.run(cycle(cfg, store))
    finally:
        gone.close()
    assert len(processed(first)) == ENTRIES - 5
    assert all(e.outcome != "error" for e in first.entries + later.entries)
    assert len(held) == 5 and sorted(processed(later)) == sorted(held)
    with store.engine.connect() as conn:
        statuses = Counter(conn.scalars(sa.select(entries.c.status)))
    assert statuses == {"done": ENTRIES}


def test_only_this_cycles_untried_entries_are_taken_from_others(store: Store) -> None:
    """An entry seen before the cycle, or tried (and failed) in it, is not taken from
    the worker that polled it; its next cycle plans it."""

    def poll(tx: Tx, state: int, keys: list[str]) -> list[int]:
        new = [Entry(k, f"https://a.test/{k}", f"https://a.test/{k}") for k in keys]
        added = tx.record_feed_ok(
            state, status=200, etag=None, last_modified=None, body_hash=None, new_entries=new
        )
        return [e.id for e in added]

    with store.transaction() as tx:
        feed = tx.sync_feeds([("https://a.test/rss", None)])["https://a.test/rss"].id
        poll(tx, feed, ["old"])
    since = utcnow()
    with store.transaction() as tx:
        failed, fresh = poll(tx, feed, ["failed", "fresh"])
        tx.record_entry_error(failed, "an error")
        assert [e.id for e in tx.due_entries(new_since=since)] == [fresh]
        assert len(tx.due_entries()) == 3
