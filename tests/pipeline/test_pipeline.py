"""The whole cycle against the loopback test site, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from monitors import models
from monitors.config import Config
from monitors.delivery import Outbox
from monitors.extract import Extractor, analysis
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store, utcnow
from monitors.store.schema import alerts, articles, deliveries, entries, feeds
from tests.conftest import free_port, make_config
from tests.httpserver import LoopbackServer


def run_cycle(cfg: Config, store: Store) -> CycleReport:
    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher, retry_wait=0.01).run_cycle()

    return asyncio.run(go())


def hook_posts(server: LoopbackServer) -> list[dict[str, str]]:
    return [json.loads(r.body) for r in server.requests if r.method == "POST"]


def site_config(store_url: str, site: LoopbackServer, channel: str) -> Config:
    return make_config(
        store_url, [site.url("/site/world.xml"), site.url("/site/wire.xml")], channel
    )


def receiver() -> LoopbackServer:
    server = LoopbackServer()
    server.add("/hook", b"")
    return server


def test_first_cycle_alerts_each_matching_article(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    with receiver() as hook:
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        report = run_cycle(make_config(store_url, [site.url("/site/world.xml")], channel), store)
        posts = hook_posts(hook)
    assert [f.status for f in report.feeds] == ["new"]
    assert sorted(p["title"] for p in posts) == [
        "[newsmon] Security guarantees: Allies offer Kyiv security guarantees in draft accord",
        "[newsmon] donbas-withdrawal: Kremlin demands Ukrainian pull-out from Donbas",
    ]
    guarantees = next(p for p in posts if "Security" in p["title"])
    assert "**security guarantees**" in guarantees["message"]
    assert "**Article 5**" in guarantees["message"]
    assert "Site: Test World Service" in guarantees["message"]
    assert site.url("/site/news/guarantees.html") in guarantees["message"]
    with store.engine.connect() as conn:
        sources = dict(conn.execute(sa.select(articles.c.url, articles.c.source)).all())
        text = conn.scalar(sa.select(articles.c.text).where(articles.c.url.like("%guarantees%")))
    assert sources[site.url("/site/news/missing-page.html")] == "summary"
    assert sources[site.url("/site/news/guarantees.html")] == "page"
    for chrome in ("cookies", "Read more", "All rights reserved", "Share on", "Home"):
        assert chrome not in text


def test_tracking_variant_and_verbatim_copy_alert_nobody(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    with receiver() as hook:
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        run_cycle(make_config(store_url, [site.url("/site/world.xml")], channel), store)
        first = len(hook_posts(hook))
        report = run_cycle(site_config(store_url, site, channel), store)
        assert len(hook_posts(hook)) == first
    paths = [r.path for r in site.requests]
    assert not any("utm_source" in p for p in paths), "a utm_ variant of a seen URL was fetched"
    assert "/site/partner/guarantees-copy.html" in paths
    assert report.count("duplicate") == 1 and report.alerts == 0
    with store.engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(entries.c.url, entries.c.status)).all())
    variant = site.url("/site/news/guarantees.html?utm_source=partner&utm_medium=feed")
    assert statuses[variant] == "duplicate"
    assert statuses[site.url("/site/partner/guarantees-copy.html")] == "duplicate"


def test_unchanged_feeds_cost_a_304_and_send_nothing(
    store_url: str, store: Store, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Extractor] = []
    start = Extractor._start

    def counted_start(self: Extractor) -> Any:
        started.append(self)
        return start(self)

    monkeypatch.setattr(Extractor, "_start", counted_start)
    with receiver() as hook:
        cfg = site_config(store_url, site, "json://" + hook.url("/hook").removeprefix("http://"))
        run_cycle(cfg, store)
        first = len(hook_posts(hook))
        assert started, "new entries start the extraction workers"
        started.clear()
        site.clear_requests()
        report = run_cycle(cfg, store)
        assert len(hook_posts(hook)) == first
        assert started == [], "an unchanged cycle started extraction workers"
    assert [f.status for f in report.feeds] == ["unchanged", "unchanged"]
    feed_requests = [r for r in site.requests if r.path.endswith(".xml")]
    assert len(feed_requests) == 2
    assert all("if-none-match" in r.headers for r in feed_requests)
    assert [r.path for r in site.requests] == [r.path for r in feed_requests]
    assert report.entries == [] and report.deliveries == []


def test_a_feed_another_run_polled_since_this_one_started_is_not_polled_again(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    """Runs started together: the other polled the feed before this one's cycle began."""
    url = site.url("/site/world.xml")
    cfg = make_config(store_url, [url], "json://127.0.0.1:9/hook")
    started = utcnow()
    other = Store.open(store_url)
    other.worker = "another-host:4242"
    with other.transaction() as tx:
        state = tx.sync_feeds([(url, None)])[url]
        assert tx.claim_feeds([state.id], started, lease=60) == [state.id]
        tx.record_feed_ok(state.id, status=200, etag=None, last_modified=None, body_hash="x")
    other.close()

    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher).run_cycle(since=started)

    report = asyncio.run(go())
    assert [f.status for f in report.feeds] == ["claimed elsewhere"]
    assert not site.requests
    assert [f.status for f in run_cycle(cfg, store).feeds] == ["new"]  # a later run polls it


def test_a_worker_claims_a_share_of_the_feeds_left(store_url: str, store: Store) -> None:
    """One feed for each fetch.concurrency still to poll: a worker polling beside others
    does not take all of the last feeds."""
    feeds = [f"https://feeds{n}.example/rss" for n in range(40)]
    cfg = make_config(store_url, feeds, "json://127.0.0.1:9/hook")
    concurrency = cfg.fetch.concurrency

    async def claims() -> list[int]:
        async with Fetcher(cfg.fetch) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher)
        states = pipeline.feed_states(cfg.feeds)
        todo = {states[f.url].id: f for f in cfg.feeds}
        sizes: list[int] = []
        while todo:
            claimed: list[int] = []
            assert pipeline._claim_batch(todo, claimed, utcnow(), None)
            sizes.append(len(claimed))
            for feed_id in claimed:
                del todo[feed_id]
        return sizes

    sizes = asyncio.run(claims())
    assert sizes[0] == -(-40 // concurrency) < concurrency and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 40


def test_relisted_item_alerts_nobody(store_url: str, store: Store) -> None:
    item = (
        "<item><title>{title}</title><link>{base}/p{n}.html</link>"
        "<guid>g-{n}</guid><description>{title}.</description></item>"
    )
    titles = {
        1: "Kyiv weighs security guarantees offered by Paris and Berlin",
        2: "Donbas withdrawal demanded as Moscow hardens its terms",
    }

    def feed(base: str, numbers: list[int]) -> bytes:
        items = "".join(item.format(base=base, n=n, title=titles[n]) for n in numbers)
        return f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()

    with LoopbackServer() as server, receiver() as hook:
        route = server.add("/feed.xml", feed(server.base_url, [1]))
        cfg = make_config(
            store_url,
            [server.url("/feed.xml")],
            "json://" + hook.url("/hook").removeprefix("http://"),
        )
        run_cycle(cfg, store)
        assert len(hook_posts(hook)) == 1
        route.body = feed(server.base_url, [2, 1])  # item 1 listed again, after a new one
        report = run_cycle(cfg, store)
        posts = hook_posts(hook)
    assert report.feeds[0].new_entries == 1
    assert len(posts) == 2  # item 2 alerts; item 1, listed again, does not
    assert len({p["message"] for p in posts}) == 2


def test_failing_feed_is_recorded_and_others_go_on(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    site.add("/broken.xml", b"oops", status=503)
    site.add("/page.xml", b"<!DOCTYPE html><html><body><p>Hello</p></body></html>")
    with receiver() as hook:
        cfg = make_config(
            store_url,
            [site.url("/broken.xml"), site.url("/page.xml"), site.url("/site/world.xml")],
            "json://" + hook.url("/hook").removeprefix("http://"),
        )
        report = run_cycle(cfg, store)
        assert len(hook_posts(hook)) == 2
    assert [f.status for f in report.feeds] == ["failed", "failed", "new"]
    with store.engine.connect() as conn:
        rows = {r.url: r for r in conn.execute(sa.select(feeds))}
    broken = rows[site.url("/broken.xml")]
    assert (broken.last_error, broken.last_status, broken.error_streak) == ("HTTP 503", 503, 1)
    assert "HTML page" in rows[site.url("/page.xml")].last_error
    assert rows[site.url("/site/world.xml")].last_error is None


def test_unreachable_channel_keeps_alert_queued_then_delivers_once(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    dead_port = free_port()
    dead_url = f"json://127.0.0.1:{dead_port}/hook"  # nothing listens there
    cfg = site_config(store_url, site, dead_url)
    report = run_cycle(cfg, store)
    assert report.sent == 0 and report.failed == 2
    listing = Outbox.of(cfg, store).listing("pending")
    pending = [d for item in listing for d in item.deliveries]
    assert len(pending) == 2 and all(d.attempts == 1 and d.last_error for d in pending)
    assert all(str(dead_port) not in (d.last_error or "") for d in pending)

    with receiver() as hook:
        cfg = site_config(store_url, site, "json://" + hook.url("/hook").removeprefix("http://"))
        report = run_cycle(cfg, store)
        assert report.sent == 2
        run_cycle(cfg, store)
        posts = hook_posts(hook)
    assert len(posts) == 2
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(alerts)) == 2
        sent = conn.execute(sa.select(deliveries.c.status, deliveries.c.attempts)).all()
    assert sorted(sent) == [("sent", 2), ("sent", 2)]


def test_a_feed_that_breaks_the_code_is_recorded_and_let_go(
    store_url: str, store: Store, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while ingesting a feed fails that feed alone; its claim is
    released and it backs off like any failing feed."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Pipeline, "ingest", broken)
    cfg = make_config(store_url, [site.url("/site/world.xml")], "json://127.0.0.1:9/x")
    report = run_cycle(cfg, store)
    assert [(f.status, f.error) for f in report.feeds] == [
        ("failed", "internal error: RuntimeError('boom')")
    ]
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(feeds)).one()
    assert row.claimed_by is None and row.error_streak == 1 and row.backoff_until is not None


def test_an_alert_goes_out_while_the_batch_is_still_processed(store_url: str, store: Store) -> None:
    """The alerting entry is recorded first; the other's page takes 6 s to load (a margin
    for a loaded machine): the alert is sent before that page arrives, not after the
    whole batch."""
    page = "<html><head><title>{0}</title></head><body><article><p>{1}</p></article></body></html>"
    text = "Allies offered Kyiv security guarantees modelled on Article 5, officials said. " * 4
    items = "".join(
        f"<item><title>{title}</title><link>{{base}}/{n}.html</link><guid>{n}</guid>"
        f"<pubDate>{date}</pubDate></item>"
        for n, title, date in (
            ("a", "Kyiv offered security guarantees", "Thu, 19 Nov 2026 09:00:00 GMT"),
            ("b", "Harbour fair opens", "Thu, 19 Nov 2026 10:00:00 GMT"),
        )
    )
    posted: list[float] = []

    def hook_body(_request: object) -> bytes:
        posted.append(time.monotonic())
        return b""

    with LoopbackServer() as news, LoopbackServer() as hook:
        hook.add("/hook", hook_body)
        news.add("/a.html", page.format("Kyiv offered security guarantees", text).encode())
        news.add("/b.html", page.format("Harbour fair", "Boats. " * 60).encode(), delay=6.0)
        feed = f"<rss><channel><title>N</title>{items}</channel></rss>"
        news.add("/feed.xml", feed.replace("{base}", news.base_url).encode())
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        report = run_cycle(make_config(store_url, [news.url("/feed.xml")], channel), store)
        ended = time.monotonic()
    assert [d.status for d in report.deliveries] == ["sent"]
    assert len(posted) == 1 and ended - posted[0] > 1.0


def test_entries_are_processed_while_other_feeds_still_poll(store_url: str, store: Store) -> None:
    """One host's feed answers at once, another host's after 10 s (a slow server, within
    the fetch timeout): the first feed's alert is sent before the slow feed is polled
    (the extraction worker's start leaves a margin for a loaded machine), and the slow
    feed's entry is processed in the same cycle."""
    page = "<html><head><title>{0}</title></head><body><article><p>{1}</p></article></body></html>"
    text = "Allies offered Kyiv security guarantees modelled on Article 5, officials said. " * 4
    rss = "<rss><channel><title>N</title><item><title>{0}</title><link>{1}</link></item>"
    rss += "</channel></rss>"
    posted: list[float] = []

    def hook_body(_request: object) -> bytes:
        posted.append(time.monotonic())
        return b""

    with (
        LoopbackServer() as fast,
        LoopbackServer("127.0.0.2") as slow,
        LoopbackServer() as hook,
    ):
        hook.add("/hook", hook_body)
        title = "Kyiv offered security guarantees"
        fast.add("/a.html", page.format(title, text).encode())
        fast.add("/feed.xml", rss.format(title, fast.url("/a.html")).encode())
        slow.add("/b.html", page.format("Harbour fair", "Boats and stalls. " * 30).encode())
        slow.add("/feed.xml", rss.format("Harbour fair", slow.url("/b.html")).encode(), delay=10.0)
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        urls = [fast.url("/feed.xml"), slow.url("/feed.xml")]
        fetch = {"allow_private_networks": "127.0.0.0/30", "retries": 0, "timeout": 20}
        report = run_cycle(make_config(store_url, urls, channel, fetch=fetch), store)
        ended = time.monotonic()
    assert [f.status for f in report.feeds] == ["new", "new"]
    assert sorted(e.outcome for e in report.entries) == ["article", "article"]
    assert [d.status for d in report.deliveries] == ["sent"]
    assert len(posted) == 1 and ended - posted[0] > 5.0


def test_pages_are_analysed_in_the_extraction_workers(
    store_url: str, store: Store, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recording process computes story features only for articles a worker did not
    analyse (an entry's summary)."""
    analysed_here: list[str] = []
    features = analysis.features

    def counted_features(title: str, text: str, *args: Any) -> models.StoryFeatures:
        analysed_here.append(text)
        return features(title, text, *args)

    monkeypatch.setattr(analysis, "features", counted_features)
    with receiver() as hook:
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        report = run_cycle(make_config(store_url, [site.url("/site/world.xml")], channel), store)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(articles.c.source, articles.c.text)).all()
    pages = [text for source, text in rows if source == "page"]
    summaries = [text for source, text in rows if source == "summary"]
    assert pages and summaries and report.count("error") == 0
    assert not set(pages) & set(analysed_here)
    assert set(analysed_here) <= set(summaries)


def test_a_store_error_looking_up_a_text_loses_no_page(
    store_url: str, store: Store, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(digest: str) -> bool:
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "holds_text", unreachable)
    with receiver() as hook:
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        report = run_cycle(make_config(store_url, [site.url("/site/world.xml")], channel), store)
    assert report.count("error") == 0 and report.count("article") > 0
    assert all(e.source == "page" for e in report.entries if "guarantees" in e.url)
