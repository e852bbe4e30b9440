"""Pages fetched fairly across hosts, over loopback servers: a host whose pages never
answer does not hold back another host's alerts, and a host's pages beyond its budget a
cycle wait, pending, for the next cycle."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitors.config import Config
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store
from monitors.store.schema import entries, feeds
from tests.conftest import make_config
from tests.hostile import BULLETIN_RULE, HostileServer, answer, silent, story, story_feed
from tests.httpserver import LoopbackServer, Request

PAGE = "<html><head><title>{0}</title></head><body><article><h1>{0}</h1><p>{1}</p></article>"
RSS = {"Content-Type": "application/rss+xml"}
WARM = b"<html><body><p>" + b"Warms the extraction worker up. " * 20 + b"</p></body></html>"
STALLED = 60  # items of the feed whose pages never answer
PAGE_TIMEOUT = 6.0


class Hook(LoopbackServer):
    """A webhook that notes when each alert came, in time.monotonic() seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.came: list[tuple[float, str]] = []
        self.add("/hook", self._note)

    def _note(self, request: Request) -> bytes:
        self.came.append((time.monotonic(), json.loads(request.body)["title"]))
        return b""

    @property
    def channel(self) -> str:
        return "json://" + self.url("/hook").removeprefix("http://")


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'fair.db'}")
    yield store
    store.close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as server:
        yield server


def serve_stories(server: LoopbackServer, path: str, numbers: range) -> str:
    """A feed at `path` of these stories, each page on `server`; the feed's URL."""
    for n in numbers:
        title, text = story(n)
        page = PAGE.format(title, text).encode()
        server.add(f"/page/{n}.html", page, headers={"Content-Type": "text/html"})
    server.add(path, story_feed([(n, server.url(f"/page/{n}.html")) for n in numbers]))
    return server.url(path)


def config(store: Store, urls: list[str], hook: Hook, **fetch: Any) -> Config:
    return make_config(
        str(store.engine.url),
        urls,
        hook.channel,
        rules=[BULLETIN_RULE],
        extract={"workers": 1},
        fetch={"allow_private_networks": "127.0.0.1/32,127.0.0.2/32", "retries": 0, **fetch},
    )


def run_warm_cycle(cfg: Config, store: Store) -> tuple[CycleReport, float, float]:
    """One cycle, its extraction worker started beforehand: the report, when the cycle
    started and how long it took (time.monotonic() seconds)."""

    async def go() -> tuple[CycleReport, float]:
        async with Fetcher(cfg.fetch) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher, retry_wait=0.01)
            await asyncio.to_thread(pipeline.extractor.page_text, WARM, "http://warm.test/")
            started = time.monotonic()
            return await pipeline.run_cycle(), started

    report, started = asyncio.run(go())
    return report, started, time.monotonic() - started


def statuses(store: Store, feed_url: str) -> Counter[tuple[str, bool]]:
    """The feed's entries by (status, claimed)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entries.c.status, entries.c.claimed_by.is_not(None))
            .join(feeds, feeds.c.id == entries.c.feed_id)
            .where(feeds.c.url == feed_url)
        )
        return Counter((status, bool(claimed)) for status, claimed in rows)


def test_a_host_whose_pages_never_answer_holds_back_no_other_hosts_alerts(
    sqlite: Store, hook: Hook
) -> None:
    """60 items on 127.0.0.2 whose pages never answer, listed first; two good feeds on
    127.0.0.1: their alerts come within a second or two, not after the stalled pages'
    time-outs, and the stalled host's entries but those tried stay due (those tried
    name their bulletin in their feed's summary: it stands in for their page at once)."""
    with HostileServer("127.0.0.2") as evil, LoopbackServer() as good:
        links = [(n, evil.url(f"/page/{n}.html")) for n in range(STALLED)]
        evil.route("/feed.xml", answer(story_feed(links), RSS))
        for n in range(STALLED):
            evil.route(f"/page/{n}.html", silent)
        stalled = evil.url("/feed.xml")
        urls = [stalled, serve_stories(good, "/a.xml", range(100, 102))]
        urls.append(serve_stories(good, "/b.xml", range(200, 202)))
        cfg = config(sqlite, urls, hook, timeout=PAGE_TIMEOUT)
        report, started, elapsed = run_warm_cycle(cfg, sqlite)
        tried = sum(p.startswith("/page/") for p in evil.paths)

    good = {story(n)[0] for n in (100, 101, 200, 201)}
    came = {title.split(": ", 1)[1]: at - started for at, title in hook.came}
    assert good <= came.keys()
    latest = max(came[title] for title in good)
    assert latest < 2.5, f"the good feeds' alerts came {latest:.1f} s into the cycle"
    per_host = cfg.fetch.per_host
    assert tried == per_host  # one round of its slots, then the host is left for later
    assert elapsed < PAGE_TIMEOUT + 3.0, f"the cycle took {elapsed:.1f} s"
    assert report.count("deferred") == STALLED - per_host
    assert statuses(sqlite, stalled) == {
        ("done", False): per_host,  # the feed's summary stood in for the page
        ("pending", False): STALLED - per_host,  # due, claimed by nobody
    }
    assert {e.error for e in report.entries if e.outcome == "deferred"} == {
        f"127.0.0.2: {per_host} pages in a row did not answer"
    }


def test_a_hosts_pages_beyond_its_budget_wait_for_the_next_cycle(sqlite: Store, hook: Hook) -> None:
    """Budget 6: a host's two feeds take turns (the small one is done at once), the
    big one's newest wait, pending, and are processed in the next cycle."""
    with LoopbackServer() as site:
        big = serve_stories(site, "/big.xml", range(10))
        small = serve_stories(site, "/small.xml", range(10, 12))
        cfg = config(sqlite, [big, small], hook, pages_per_host_per_cycle=6)
        first, _, _ = run_warm_cycle(cfg, sqlite)
        waiting = statuses(sqlite, big)
        second, _, _ = run_warm_cycle(cfg, sqlite)

    assert first.count("article") == 6 and first.count("deferred") == 6
    assert statuses(sqlite, small) == {("done", False): 2}
    assert waiting == {("done", False): 4, ("pending", False): 6}
    assert second.count("article") == 6 and second.count("deferred") == 0
    assert statuses(sqlite, big) == {("done", False): 10}
    titles = Counter(title.split(": ", 1)[1] for _, title in hook.came)
    assert titles == {story(n)[0]: 1 for n in range(12)}
