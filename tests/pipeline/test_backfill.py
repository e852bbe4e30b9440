"""Backfill: stored articles, feeds with archives, URL lists and sitemaps on loopback;
dry runs that send nothing, --notify that sends once, resume after an interruption."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from monitors import backfill as bf
from monitors import config as config_mod
from monitors.config import BackfillConfig, Config, parse_moment
from monitors.delivery import Delivered, Outbox
from monitors.errors import FeedError
from monitors.ingest import Fetcher, Polite
from monitors.pipeline import Outcome, Progress, ProgressHook, open_pipeline, run_backfill
from monitors.store import Store
from monitors.store.schema import alerts, articles, backfill_items, deliveries
from newsmon.cli import app
from newsmon.demo import SITE as DEMO_SITE
from newsmon.demo import demo_config
from newsmon.loopback import StaticSite, WebhookReceiver
from tests.conftest import TEST_RULES, make_config
from tests.factories import pseudo_word, seed
from tests.httpserver import LoopbackServer
from tests.pipeline.test_pipeline import hook_posts, receiver, run_cycle

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
TWO_RULES = ["donbas-withdrawal", "security-guarantees"]
NEW_RULE = {"id": "bread", "query": "bakery OR loaf", "notify": ["desk"]}
PAGE = """<html><head><title>{title}</title></head><body><article><h1>{title}</h1>
<p>{body}</p><p>{filler}</p></article></body></html>"""
FILLER = (
    "Officials spoke at length about the talks, the timetable and the next round of "
    "meetings planned for the coming weeks in several European capitals. "
) * 3


class Crash(Exception):
    """A crash in the middle of a backfill."""


def crash_after(items: int) -> ProgressHook:
    """A progress hook that crashes the backfill once it has done `items` in this attempt."""

    def hook(p: Progress) -> None:
        if p.done - p.resumed >= items:
            raise Crash

    return hook


def one_page_at_a_time(store_url: str) -> Config:
    """A config that fetches one page at a time, so that a crash falls between two."""
    fetch = {"allow_private_networks": "127.0.0.1/32", "retries": 0, "concurrency": 1}
    return make_config(store_url, [], "json://127.0.0.1:9/x", fetch=fetch)


def channel(hook: LoopbackServer) -> str:
    return "json://" + hook.url("/hook").removeprefix("http://")


async def run(
    cfg: Config, store: Store, request: bf.Request, hook: ProgressHook | None = None
) -> tuple[Outcome, list[Delivered] | None]:
    async with open_pipeline(cfg, store) as pipeline:
        return await run_backfill(pipeline, request, hook)


def backfill(
    cfg: Config, store: Store, request: bf.Request, hook: ProgressHook | None = None
) -> Outcome:
    return asyncio.run(run(cfg, store, request, hook))[0]


def count(store: Store, table: sa.Table) -> int:
    with store.engine.begin() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def page(title: str, body: str, n: int = 0) -> bytes:
    """An article page; its filler is words of its own, so pages are different stories."""
    words = " ".join(pseudo_word(n, salt) for salt in range(40))
    return PAGE.format(title=title, body=body, filler=f"{FILLER} {words}.").encode()


# stored


def test_a_new_rule_on_stored_articles_dry_run_then_notify_once(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    with receiver() as hook:
        polled = make_config(store_url, [site.url("/site/world.xml")], channel(hook))
        run_cycle(polled, store)
        before = len(hook_posts(hook))
        site.clear_requests()
        cfg = make_config(
            store_url, [site.url("/site/world.xml")], channel(hook), rules=[*TEST_RULES, NEW_RULE]
        )
        counts = (count(store, alerts), count(store, deliveries))

        dry = backfill(cfg, store, bf.Request(bf.Window(SINCE)))
        assert [(f.rule_id, f.headline) for f in dry.fired] == [
            ("bread", "Harbour bakery wins national bread award")
        ]
        assert dry.fired[0].articles[0][1] == site.url("/site/news/bakery.html")
        assert (count(store, alerts), count(store, deliveries)) == counts
        assert site.requests == [] and len(hook_posts(hook)) == before

        sent = backfill(cfg, store, bf.Request(bf.Window(SINCE), notify=True))
        posts = hook_posts(hook)[before:]
        assert [f.rule_id for f in sent.fired] == ["bread"]
        assert len(posts) == 1 and "bakery" in posts[0]["message"]

        again = backfill(cfg, store, bf.Request(bf.Window(SINCE), notify=True))
        assert again.fired == [] and len(hook_posts(hook)) == before + 1
        assert backfill(cfg, store, bf.Request(bf.Window(SINCE))).fired == []


def test_window_and_rule_filters_on_stored(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    feeds = [site.url("/site/world.xml")]
    run_cycle(make_config(store_url, feeds, "json://127.0.0.1:9/x", rules=[]), store)
    cfg = make_config(store_url, feeds, "json://127.0.0.1:9/x")
    everything = backfill(cfg, store, bf.Request(bf.Window(SINCE)))
    assert sorted(f.rule_id for f in everything.fired) == TWO_RULES
    only = bf.Request(bf.Window(SINCE), rules=("donbas-withdrawal",))
    assert [f.rule_id for f in backfill(cfg, store, only).fired] == ["donbas-withdrawal"]
    late = bf.Window(datetime(2026, 11, 20, 9, tzinfo=UTC))  # only the 09:15 article
    assert [f.rule_id for f in backfill(cfg, store, bf.Request(late)).fired] == [
        "security-guarantees"
    ]
    early = bf.Window(SINCE, datetime(2026, 11, 20, 8, 30, tzinfo=UTC))
    assert [f.rule_id for f in backfill(cfg, store, bf.Request(early)).fired] == [
        "donbas-withdrawal"
    ]
    other_feed = bf.Request(bf.Window(SINCE), feeds=("https://elsewhere.example/feed.xml",))
    assert backfill(cfg, store, other_feed).fired == []


# network sources


def news_server(server: LoopbackServer, n: int) -> list[str]:
    """n unrelated pages on the server, every third about security guarantees for Kyiv."""
    urls = []
    for i in range(n):
        name = " ".join(pseudo_word(i, salt) for salt in (50, 51, 52))
        topic = "security guarantees for Kyiv" if i % 3 == 0 else "a harbour fair"
        server.add(
            f"/p/{i}.html",
            page(name, f"{pseudo_word(i, 53)} reported on {topic}.", i),
            headers={"Content-Type": "text/html"},
        )
        urls.append(server.url(f"/p/{i}.html"))
    return urls


def test_urls_dry_run_stores_nothing_and_notify_sends_once(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    with LoopbackServer() as news, receiver() as hook:
        urls = news_server(news, 6)
        news.add("/robots.txt", b"User-agent: *\nDisallow: /p/5.html\n")
        listing = tmp_path / "urls.txt"
        listing.write_text("# pages\n" + "\n".join(urls) + "\n\n")
        cfg = make_config(store_url, [], channel(hook))
        request = bf.Request(bf.Window(SINCE), "urls", str(listing))

        dry = backfill(cfg, store, request)
        assert sorted(a[1] for f in dry.fired for a in f.articles) == [urls[0], urls[3]]
        assert [e.url for e in dry.errors] == [urls[5]]
        assert "robots.txt" in (dry.errors[0].error or "")
        assert count(store, articles) == 0 and count(store, alerts) == 0
        assert not any(r.path == "/p/5.html" for r in news.requests)

        sent = backfill(cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing), notify=True))
        assert len(sent.fired) == 2 and len(hook_posts(hook)) == 2
        assert count(store, articles) == 5
        news.clear_requests()
        again = backfill(
            cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing), notify=True)
        )
        assert again.fired == [] and len(hook_posts(hook)) == 2
        assert [r.path for r in news.requests] == ["/robots.txt"]  # stored pages: no refetch


def test_interrupted_backfill_resumes_where_it_stopped(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 9)
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(urls))
        cfg = one_page_at_a_time(store_url)
        request = bf.Request(bf.Window(SINCE), "urls", str(listing))
        with pytest.raises(Crash):
            backfill(cfg, store, request, crash_after(4))
        first = [r.path for r in news.requests if r.path.startswith("/p/")]
        news.clear_requests()
        seen: list[Progress] = []
        outcome = backfill(cfg, store, request, seen.append)
        second = [r.path for r in news.requests if r.path.startswith("/p/")]
    assert len(first) == 4 and len(second) == 5 and not set(first) & set(second)
    assert outcome.progress.resumed == 4 and outcome.progress.done == 9
    assert sorted(a[1] for f in outcome.fired for a in f.articles) == [urls[0], urls[3], urls[6]]
    with store.engine.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(backfill_items)) == 9


ARCHIVED_FEED = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<link rel="{rel}" href="{href}"/>{entries}</feed>"""
ENTRY = """<entry><title>{title}</title><id>urn:{n}</id><link href="{url}"/>
<updated>{when}</updated><summary>{title}.</summary></entry>"""


def atom(rel: str, href: str, items: list[tuple[int, str, str, datetime]]) -> bytes:
    body = "".join(
        ENTRY.format(n=n, title=t, url=u, when=w.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for n, t, u, w in items
    )
    return ARCHIVED_FEED.format(rel=rel, href=href, entries=body).encode()


def test_feeds_follow_archive_pages_into_the_window(store_url: str, store: Store) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 4)
        march, june = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
        news.add(
            "/feed.xml",
            atom(
                "prev-archive",
                "/archive/1.xml",
                [(1, "Harbour fair opens 1", urls[1], june + timedelta(days=1))],
            ),
            headers={"Content-Type": "application/atom+xml"},
        )
        news.add(
            "/archive/1.xml",
            atom(
                "prev-archive",
                "/archive/0.xml",
                [
                    (3, "Kyiv weighs security guarantees 3", urls[3], march),
                    (2, "Harbour fair opens 2", urls[2], march - timedelta(days=2)),
                ],
            ),
        )
        news.add(
            "/archive/0.xml",
            atom(
                "current",
                "/feed.xml",
                [
                    (
                        0,
                        "Kyiv weighs security guarantees 0",
                        urls[0],
                        datetime(2025, 5, 1, tzinfo=UTC),
                    )
                ],
            ),
        )
        cfg = make_config(store_url, [news.url("/feed.xml")], "json://127.0.0.1:9/x")
        window = bf.Window(datetime(2026, 3, 1, tzinfo=UTC), june)
        outcome = backfill(cfg, store, bf.Request(window, "feeds"))
        paths = [r.path for r in news.requests]
    assert [a[1] for f in outcome.fired for a in f.articles] == [urls[3]]
    assert "/archive/0.xml" not in paths  # the archive before the window is never read
    assert "/p/3.html" in paths and "/p/1.html" not in paths and "/p/0.html" not in paths


SITEMAP_INDEX = """<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>"""
URLSET = """<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>"""


def test_sitemap_index_filtered_by_dates(store_url: str, store: Store) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 4)
        news.add(
            "/sitemap.xml",
            SITEMAP_INDEX.format(
                children="".join(
                    f"<sitemap><loc>{news.url(p)}</loc><lastmod>{d}</lastmod></sitemap>"
                    for p, d in (("/s/new.xml", "2026-04-01"), ("/s/old.xml", "2025-01-01"))
                )
            ).encode(),
        )
        news.add(
            "/s/new.xml",
            URLSET.format(
                urls=(
                    f"<url><loc>{urls[0]}</loc><news:news><news:publication_date>2026-03-05T10:00:00Z"
                    "</news:publication_date><news:title>Kyiv weighs</news:title></news:news></url>"
                    f"<url><loc>{urls[3]}</loc><lastmod>2026-02-01</lastmod></url>"
                )
            ).encode(),
        )
        news.add("/s/old.xml", URLSET.format(urls=f"<url><loc>{urls[1]}</loc></url>").encode())
        cfg = make_config(store_url, [], "json://127.0.0.1:9/x")
        window = bf.Window(datetime(2026, 3, 1, tzinfo=UTC))
        outcome = backfill(cfg, store, bf.Request(window, "sitemap", news.url("/sitemap.xml")))
        paths = [r.path for r in news.requests]
    assert [a[1] for f in outcome.fired for a in f.articles] == [urls[0]]
    assert "/s/old.xml" not in paths and "/p/3.html" not in paths


# politeness and plumbing


def test_per_host_rate_limit_spaces_requests() -> None:
    async def go(server: LoopbackServer) -> float:
        cfg = make_config("sqlite://", [], "json://127.0.0.1:9/x")
        async with Fetcher(cfg.fetch) as fetcher:
            polite = Polite(fetcher, BackfillConfig(per_host_concurrency=4, per_host_rps=20))
            started = time.monotonic()
            await asyncio.gather(*(polite.fetch(server.url("/x"), "*/*") for _ in range(5)))
            return time.monotonic() - started

    with LoopbackServer() as server:
        server.add("/x", b"ok")
        assert asyncio.run(go(server)) >= 0.19  # 5 requests at 20/s: 4 gaps of 50 ms


def test_window_parsing_and_chunks() -> None:
    assert parse_moment("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_moment("2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_moment("2026-03-01T12:00:00+02:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_moment("March")
    window = bf.Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, 12, tzinfo=UTC))
    chunks = window.chunks(timedelta(days=1))
    assert [(c.since.day, c.until.day if c.until else None) for c in chunks] == [
        (1, 2),
        (2, 3),
        (3, 3),
    ]
    assert chunks[-1].until == window.until


def test_cli_dry_run_json_and_plain_progress(
    store_url: str, store: Store, site: LoopbackServer, tmp_path: Path
) -> None:
    raw: dict[str, Any] = {
        "store": store_url,
        "feeds": [{"url": site.url("/site/world.xml")}],
        "channels": {"desk": "json://127.0.0.1:9/hook"},
        "rules": [*TEST_RULES, NEW_RULE],
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0},
        "backfill": {"per_host_rps": 50, "robots": False},
    }
    run_cycle(
        make_config(store_url, [site.url("/site/world.xml")], "json://127.0.0.1:9/x", rules=[]),
        store,
    )
    path = tmp_path / "newsmon.yaml"
    path.write_text(json.dumps(raw))
    runner = CliRunner()
    result = runner.invoke(
        app, ["backfill", "--since", "2026-01-01", "--json", "--rules", "bread", "-c", str(path)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["rule"], x["alert"]) for x in lines] == [("bread", "would fire")]
    assert lines[0]["urls"] == [site.url("/site/news/bakery.html")]
    assert "backfill: items 3/3 done" in result.stderr
    table = runner.invoke(app, ["backfill", "--since", "2026-01-01", "-c", str(path)])
    assert "would fire" in table.stdout and "bakery" in table.stdout
    bad = runner.invoke(
        app, ["backfill", "--since", "2026-01-01", "--from", "urls", "-c", str(path)]
    )
    assert bad.exit_code == 2 and "file of URLs" in bad.stderr


# interruption, listings, dates, usage


def seeded_config(store_url: str, store: Store, n: int) -> Config:
    """`n` unrelated stored articles, and a new rule that matches each of them."""
    rule = {"id": "guarantees", "query": '"security guarantees"', "notify": ["desk"]}
    cfg = make_config(store_url, [], "json://127.0.0.1:9/x", rules=[rule])
    seed(store, Outbox.of(cfg, store), n)
    return cfg


def test_a_stored_backfill_lets_the_event_loop_run_and_can_be_cancelled(
    store_url: str, store: Store
) -> None:
    """Ctrl-C (a cancelled task) stops a stored backfill between items, and the rest is
    done when it runs again; other tasks (chunks of the flow) run meanwhile."""
    cfg = seeded_config(store_url, store, 12)
    request = bf.Request(bf.Window(SINCE))

    async def interrupted() -> int:
        task: asyncio.Task[Any] | None = None
        ticks = 0

        def stop_after_five(p: Progress) -> None:
            if p.done >= 5 and task is not None:
                task.cancel()

        async def other() -> None:
            nonlocal ticks
            while task is None or not task.done():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(run(cfg, store, request, stop_after_five))
        await asyncio.gather(task, other(), return_exceptions=True)
        assert task.cancelled()
        return ticks

    ticks = asyncio.run(interrupted())
    assert ticks >= 5
    outcome = backfill(cfg, store, request)
    assert outcome.progress.resumed == 5 and outcome.progress.done == 12
    assert len(outcome.fired) == 12


def test_a_resumed_backfill_counts_the_errors_of_its_first_attempt(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 4) + [news.url("/missing.html")]
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join([urls[-1], *urls[:-1]]))
        cfg = one_page_at_a_time(store_url)
        request = bf.Request(bf.Window(SINCE), "urls", str(listing))
        with pytest.raises(Crash):
            backfill(cfg, store, request, crash_after(2))
        outcome = backfill(cfg, store, request)
    assert outcome.progress.errors == 1 and [e.url for e in outcome.errors] == [urls[-1]]


def test_unreachable_sitemaps_count_as_errors_and_gzipped_ones_are_read(
    store_url: str, store: Store
) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 4)
        children = "".join(
            f"<sitemap><loc>{news.url(p)}</loc></sitemap>" for p in ("/s/a.xml.gz", "/s/gone.xml")
        )
        news.add("/sitemap.xml", SITEMAP_INDEX.format(children=children).encode())
        pages = URLSET.format(urls=f"<url><loc>{urls[0]}</loc><lastmod>2026-03-05</lastmod></url>")
        news.add(
            "/s/a.xml.gz",
            gzip.compress(pages.encode()),
            headers={"Content-Type": "application/x-gzip"},
        )
        news.add("/s/gone.xml", b"", status=404)
        cfg = make_config(store_url, [], "json://127.0.0.1:9/x")
        window = bf.Window(datetime(2026, 3, 1, tzinfo=UTC))
        outcome = backfill(cfg, store, bf.Request(window, "sitemap", news.url("/sitemap.xml")))
    assert [a[1] for f in outcome.fired for a in f.articles] == [urls[0]]
    assert outcome.progress.errors == 1
    assert [e.url for e in outcome.errors] == [news.url("/s/gone.xml")]
    assert "its pages are missing" in (outcome.errors[0].error or "")


def test_gzipped_sitemaps_are_bounded() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    with pytest.raises(FeedError, match="holds over"):
        bf.gunzipped(bomb, 1_000_000)
    with pytest.raises(FeedError, match="not a gzipped sitemap"):
        bf.gunzipped(b"\x1f\x8b broken", 1_000_000)


def test_unreachable_robots_is_not_called_a_disallow(store_url: str, tmp_path: Path) -> None:
    with LoopbackServer() as news:
        urls = news_server(news, 1)
        news.add("/robots.txt", b"", status=503)
        listing = tmp_path / "urls.txt"
        listing.write_text(urls[0])
        cfg = make_config(store_url, [], "json://127.0.0.1:9/x")
        store = Store.open(store_url)
        try:
            outcome = backfill(cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing)))
        finally:
            store.close()
    [error] = outcome.errors
    assert error.error == "robots.txt unreachable (HTTP 503): the site is left alone"


def test_an_undated_page_is_dated_by_its_markup(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    """A URL without a feed date is placed in the window by its page's own date, not by
    when the backfill saw it."""
    dated = page("Kyiv weighs security guarantees", "Kyiv weighs security guarantees.", 1)
    dated = dated.replace(
        b"<head>",
        b'<head><meta property="article:published_time" content="2025-05-04T08:00:00Z">',
    )
    with LoopbackServer() as news:
        news.add("/old.html", dated, headers={"Content-Type": "text/html"})
        listing = tmp_path / "urls.txt"
        listing.write_text(news.url("/old.html"))
        cfg = make_config(store_url, [], "json://127.0.0.1:9/x")
        this_year = backfill(cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing)))
        last_year = bf.Window(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))
        then = backfill(cfg, store, bf.Request(last_year, "urls", str(listing)))
    assert this_year.fired == []
    assert [a[1] for f in then.fired for a in f.articles] == [news.url("/old.html")]


def test_cli_usage_errors_and_json_summary(
    store_url: str, store: Store, site: LoopbackServer, tmp_path: Path
) -> None:
    path = tmp_path / "newsmon.yaml"
    raw = {
        "store": store_url,
        "feeds": [{"url": site.url("/site/world.xml"), "name": "World"}],
        "channels": {"desk": "json://127.0.0.1:9/hook"},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0},
    }
    path.write_text(json.dumps(raw))
    runner = CliRunner()
    since = ["backfill", "--since", "2026-03-01", "-c", str(path)]
    reversed_window = runner.invoke(app, [*since, "--until", "2026-02-01"])
    assert reversed_window.exit_code == 2 and "not after --since" in reversed_window.stderr
    unknown = runner.invoke(app, [*since, "--feeds", "Wrld"])
    assert unknown.exit_code == 2 and "unknown feed Wrld" in unknown.stderr
    assert runner.invoke(app, [*since, "--feeds", "World"]).exit_code == 0
    result = runner.invoke(app, [*since, "--json"])
    assert result.exit_code == 0 and result.stdout == ""
    [summary] = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert summary == {"summary": {"items": 0, "resumed": 0, "errors": 0, "alerts": 0}}


def test_a_dry_run_counts_copies_of_new_pages_as_one_story(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    """Three outlets' copies of one report and one other report, all new to the store:
    the dry run lists what --notify then sends, one alert per story."""
    wire = page("Kyiv weighs security guarantees", "Kyiv weighs security guarantees.", 1)
    other = page(
        "Oslo summit names Brekke envoy for Arctic fisheries",
        "Trond Brekke will also brief Kyiv on security guarantees in March.",
        2,
    )
    with LoopbackServer() as news, receiver() as hook:
        paths = ["/a/1.html", "/b/1.html", "/c/1.html", "/d/2.html"]
        for path in paths:
            news.add(
                path, other if path == "/d/2.html" else wire, headers={"Content-Type": "text/html"}
            )
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(news.url(p) for p in paths))
        cfg = make_config(store_url, [], channel(hook))
        dry = backfill(cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing)))
        sent = backfill(cfg, store, bf.Request(bf.Window(SINCE), "urls", str(listing), notify=True))
        posts = len(hook_posts(hook))
    assert sorted(len(f.articles) for f in dry.fired) == [1, 3]
    assert len(dry.fired) == len(sent.fired) == posts == 2


# the same stages as a poll cycle


def demo_world(store_url: str, base: str, channel_url: str) -> Config:
    """The demo site's five outlets (copies, a tracking-link variant, another write-up
    of the event and a next-day development), fetched one page at a time."""
    raw = demo_config(base, channel_url, store_url).model_dump(exclude={"source"})
    raw["fetch"]["concurrency"] = 1
    raw["backfill"] = {"per_host_rps": 100}
    return config_mod.from_dict(raw, "demo world", env={})


def alerts_of(outcome: Outcome) -> list[tuple[str, str, str]]:
    """(rule, kind, path of the alerting page) of each alert a backfill listed."""
    return sorted((f.rule_id, f.kind, urlsplit(f.articles[0][1]).path) for f in outcome.fired)


def test_a_dry_run_lists_exactly_the_alerts_notify_records(store_url: str, store: Store) -> None:
    with StaticSite(DEMO_SITE) as site, WebhookReceiver() as desk:
        cfg = demo_world(store_url, site.base, desk.apprise_url)
        request = bf.Request(bf.Window(datetime(2026, 11, 1, tzinfo=UTC)), "feeds")
        dry = backfill(cfg, store, request)
        assert count(store, articles) == 0 and count(store, alerts) == 0 and desk.received == []
        sent = backfill(cfg, store, bf.Request(request.window, "feeds", notify=True))
        received = len(desk.received)
    assert alerts_of(dry) == alerts_of(sent)
    assert [kind for _, kind, _ in alerts_of(dry)].count("update") >= 1
    assert len(dry.fired) == count(store, alerts) == received
    with store.engine.begin() as conn:
        stored = conn.execute(sa.select(alerts.c.rule_id, alerts.c.kind, alerts.c.url)).all()
    assert sorted((r, k, urlsplit(u).path) for r, k, u in stored) == alerts_of(sent)


def test_a_resumed_dry_run_reports_what_one_run_would(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    with StaticSite(DEMO_SITE) as site, WebhookReceiver() as desk:
        cfg = demo_world(store_url, site.base, desk.apprise_url)
        window = bf.Window(datetime(2026, 11, 1, tzinfo=UTC))
        whole = backfill(cfg, store, bf.Request(window, "feeds"))
        resumed_request = bf.Request(window, "feeds", rules=tuple(r.id for r in cfg.rules))
        with pytest.raises(Crash):
            backfill(cfg, store, resumed_request, crash_after(5))
        resumed = backfill(cfg, store, resumed_request)
    assert resumed.progress.resumed == 5
    assert alerts_of(resumed) == alerts_of(whole)
    assert sorted(len(f.articles) for f in resumed.fired) == sorted(
        len(f.articles) for f in whole.fired
    )
