"""Whole cycles against hostile loopback servers: slow, silent, bombing, redirecting and
lying servers cannot hang, blow up or crash a cycle, and the good feeds' alerts go out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from monitors.config import Config
from monitors.errors import ConfigError
from monitors.extract.language import detect_language
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, FeedOutcome, Pipeline
from monitors.pipeline.cycle import PAGE_ATTEMPTS, PAGE_RETRY_WAIT
from monitors.store import Store
from monitors.store.schema import entries
from tests.conftest import DATA, TEST_RULES, make_config
from tests.hostile import (
    BULLETIN_RULE,
    HostileServer,
    MiB,
    answer,
    bombs,
    endless,
    head,
    redirect,
    silent,
    story,
    story_feed,
    trickle,
)
from tests.httpserver import LoopbackServer

GOOD_FEED = "/site/world.xml"  # two items that alert (tests/data/site)
GOOD_ALERTS = 2
INSIDE = 999  # the story served on 127.0.0.2


def run_cycle(cfg: Config, store: Store) -> tuple[CycleReport, float]:
    """One cycle and how long it took."""

    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher, retry_wait=0.01).run_cycle()

    started = time.monotonic()
    report = asyncio.run(go())
    return report, time.monotonic() - started


def hostile_config(store: Store, feeds: list[str], hook: LoopbackServer, **fetch: Any) -> Config:
    fetch = {"allow_private_networks": "127.0.0.1/32", "retries": 0, "timeout": 5, **fetch}
    channel = "json://" + hook.url("/hook").removeprefix("http://")
    rules = [*TEST_RULES, BULLETIN_RULE]
    return make_config(str(store.engine.url), feeds, channel, fetch=fetch, rules=rules)


def posts(hook: LoopbackServer) -> list[dict[str, str]]:
    return [json.loads(r.body) for r in hook.requests if r.method == "POST"]


def by_url(report: CycleReport) -> dict[str, FeedOutcome]:
    return {f.url: f for f in report.feeds}


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'hostile.db'}")
    yield store
    store.close()


@pytest.fixture
def hook() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.add("/hook", b"")
        yield server


@pytest.fixture
def evil() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def canary() -> Iterator[HostileServer]:
    """A server on 127.0.0.2, serving a feed that would alert: nothing may reach it."""
    with HostileServer("127.0.0.2") as server:
        feed = story_feed([(INSIDE, server.url("/page.html"))])
        server.route("/feed.xml", answer(feed, {"Content-Type": "application/rss+xml"}))
        yield server


# -- time: slow and silent servers -------------------------------------------------------


def test_ten_hostile_feeds_end_within_one_deadline(
    sqlite: Store, site: LoopbackServer, hook: LoopbackServer
) -> None:
    """Ten hostile hosts (127.0.1.x), five trickling and five silent, fetched at once."""
    feed = story_feed([(1, "http://example.com/")]) * 20
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(HostileServer(f"127.0.1.{i + 1}")) for i in range(10)]
        for i, server in enumerate(servers):
            server.route("/feed.xml", trickle(feed, every=0.5) if i % 2 else silent)
        hostile = [server.url("/feed.xml") for server in servers]
        allowed = "127.0.0.1/32,127.0.1.0/24"
        urls = [*hostile, site.url(GOOD_FEED)]
        cfg = hostile_config(sqlite, urls, hook, timeout=1.5, allow_private_networks=allowed)
        report, elapsed = run_cycle(cfg, sqlite)

    outcomes = by_url(report)
    for url in hostile:
        assert outcomes[url].status == "failed"
        assert outcomes[url].error == "no complete answer within 1.5 s"
    assert outcomes[site.url(GOOD_FEED)].status == "new"
    assert len(posts(hook)) == GOOD_ALERTS
    assert [s.connections for s in servers] == [1] * 10  # no retry doubled the wait
    assert elapsed < 1.5 + 3.0, f"the cycle took {elapsed:.1f} s"


def test_a_page_failing_for_a_while_is_tried_again_unless_its_summary_matches(
    sqlite: Store, hook: LoopbackServer, evil: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that runs out of time may answer in a later cycle, its text holding what
    the feed's summary does not: an entry whose title and summary match no rule stays
    due, each cycle within one deadline, and after PAGE_ATTEMPTS tries its summary
    stands in; one whose summary matches makes its alert at once from it. (Tries here
    one cycle after the other: PAGE_RETRY_WAIT none.)"""
    monkeypatch.setattr("monitors.pipeline.cycle.PAGE_RETRY_WAIT", timedelta(0))
    page = b"<html><body>" + b"<p>Bulletin 1 is out.</p>" * 50 + b"</body></html>"
    evil.route("/drip.html", trickle(page, every=0.5, headers={"Content-Type": "text/html"}))
    evil.route("/silent.html", silent)
    items = (
        f"<item><title>Harbour notes</title><link>{evil.url('/drip.html')}</link>"
        "<description>A quiet day on the quays.</description></item>"
        f"<item><title>{story(2)[0]}</title><link>{evil.url('/silent.html')}</link>"
        f"<description>{story(2)[1]}</description></item>"
    )
    feed = f'<rss version="2.0"><channel><title>B</title>{items}</channel></rss>'.encode()
    cycles = []
    with LoopbackServer() as feeds:
        feeds.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
        cfg = hostile_config(sqlite, [feeds.url("/feed.xml")], hook, timeout=1.5)
        for _ in range(PAGE_ATTEMPTS):
            cycles.append((*run_cycle(cfg, sqlite), len(posts(hook))))

    outcomes = [
        [(e.url.rsplit("/", 1)[1], e.outcome, e.source) for e in r.entries] for r, *_ in cycles
    ]
    assert sorted(outcomes[0]) == [
        ("drip.html", "deferred", ""),
        ("silent.html", "article", "summary"),
    ]
    assert outcomes[1] == [("drip.html", "deferred", "")]
    assert outcomes[2] == [("drip.html", "article", "summary")]  # no alert: it said nothing
    assert [sent for *_, sent in cycles] == [1, 1, 1]  # the bulletin's alert in the first
    first_try = next(e for e in cycles[0][0].entries if e.outcome == "deferred")
    assert (
        first_try.error is not None and "(1 of 3 tries, then the feed's summary)" in first_try.error
    )
    for _, elapsed, _ in cycles:
        assert elapsed < 1.5 + 3.0, f"the cycle took {elapsed:.1f} s"


def test_a_page_waiting_for_another_try_is_held_from_every_worker_meanwhile(
    sqlite: Store, hook: LoopbackServer, evil: HostileServer
) -> None:
    """The next try waits PAGE_RETRY_WAIT: the entry stays this worker's until then, so
    neither the next cycle nor another worker sharing the cycle's entries fetches it
    again at once (its tries would be spent in seconds)."""
    evil.route("/busy.html", answer(b"busy", {"Content-Type": "text/html"}, status=503))
    items = (
        f"<item><title>Harbour notes</title><link>{evil.url('/busy.html')}</link>"
        "<description>A quiet day on the quays.</description></item>"
    )
    feed = f'<rss version="2.0"><channel><title>B</title>{items}</channel></rss>'.encode()
    with LoopbackServer() as feeds:
        feeds.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
        cfg = hostile_config(sqlite, [feeds.url("/feed.xml")], hook, timeout=1.5)
        first, _ = run_cycle(cfg, sqlite)
        second, _ = run_cycle(cfg, sqlite)
    assert [e.outcome for e in first.entries] == ["deferred"]
    assert second.entries == []  # held: not tried again at once
    with sqlite.engine.connect() as conn:
        row = conn.execute(sa.select(entries)).one()
    assert row.status == "pending" and row.attempts == 1 and row.claimed_by is not None
    wait = row.claimed_until.replace(tzinfo=UTC) - datetime.now(UTC)
    assert PAGE_RETRY_WAIT - timedelta(minutes=1) < wait <= PAGE_RETRY_WAIT


def slow_503(conn: socket.socket, stopping: threading.Event) -> None:
    """Answer 503 after 1.2 s (a retry within a 2 s deadline then has at most 0.8 s)."""
    if not stopping.wait(1.2):
        conn.sendall(head(503, {"Content-Length": "0"}))


def test_retries_share_one_deadline(
    sqlite: Store, site: LoopbackServer, hook: LoopbackServer, evil: HostileServer
) -> None:
    evil.route("/busy.xml", slow_503)
    cfg = hostile_config(
        sqlite, [evil.url("/busy.xml"), site.url(GOOD_FEED)], hook, timeout=2.0, retries=5
    )
    # the language model, loaded once a process in a thread, is loaded first: in a test
    # process holding a large heap its load can stall the event loop past the slack timed here
    detect_language("warm up the model")
    report, elapsed = run_cycle(cfg, sqlite)

    busy = by_url(report)[evil.url("/busy.xml")]
    assert busy.status == "failed"
    assert evil.connections == 2  # the retry had the 0.8 s left, not a deadline of its own
    assert busy.error is not None and busy.error.startswith("no complete answer within 0.")
    assert len(posts(hook)) == GOOD_ALERTS
    assert elapsed < 2.0 + 2.0, f"the cycle took {elapsed:.1f} s"


# -- size: bombs, endless bodies, lying lengths --------------------------------------------


def test_bombs_and_endless_bodies_stop_at_the_limit_with_bounded_memory(
    sqlite: Store, site: LoopbackServer, hook: LoopbackServer, evil: HostileServer
) -> None:
    limit = 2 * MiB
    for name, (body, coding) in bombs().items():
        evil.route(f"/{name}.xml", answer(body, {"Content-Encoding": coding}))
        evil.route(f"/{name}.html", answer(body, {"Content-Encoding": coding}))
    evil.route("/endless.xml", endless(b"<item>" * 10_000))
    evil.route("/endless-gzip.xml", endless(bombs()["gzip"][0], {"Content-Encoding": "gzip"}))
    evil.route("/huge-length.xml", answer(b"<rss/>", {"Content-Length": str(5 * 2**30)}))
    evil.route("/short-length.xml", endless(b"<item>" * 1000, {"Content-Length": "10"}))
    feeds = [f"/{name}.xml" for name in bombs()]
    feeds += ["/endless.xml", "/endless-gzip.xml", "/huge-length.xml", "/short-length.xml"]
    pages = [(i, evil.url(f"/{name}.html")) for i, name in enumerate(bombs())]
    site.add("/bomb-pages.xml", story_feed(pages), headers={"Content-Type": "application/rss+xml"})
    urls = [evil.url(p) for p in feeds] + [site.url("/bomb-pages.xml"), site.url(GOOD_FEED)]
    cfg = hostile_config(sqlite, urls, hook, max_bytes=limit)

    tracemalloc.start()
    try:
        report, elapsed = run_cycle(cfg, sqlite)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    outcomes = by_url(report)
    too_large = [evil.url(p) for p in feeds if p != "/short-length.xml"]
    for url in too_large:
        assert outcomes[url].status == "failed"
        assert "exceeds the limit of 2097152 bytes" in (outcomes[url].error or ""), url
    short = outcomes[evil.url("/short-length.xml")]  # read up to its 10 bytes, no further
    assert short.new_entries == 0 and short.skipped == ("item '' has no http(s) link",)
    bombed = [e for e in report.entries if e.url.startswith(evil.base_url)]
    assert [e.source for e in bombed] == ["summary"] * len(pages)
    assert len(posts(hook)) == GOOD_ALERTS + len(pages)
    in_flight = len(too_large) + len(pages)
    assert peak < in_flight * 2 * limit, f"peak {peak / MiB:.0f} MiB"
    assert elapsed < 15


def test_a_feed_of_wide_tags_is_cut_before_the_parser_and_the_cycle_goes_on(
    sqlite: Store, site: LoopbackServer, hook: LoopbackServer, evil: HostileServer
) -> None:
    attributes = " ".join(f'a{i}=""' for i in range(200_000))
    items = "".join(f"<item {attributes}><link>{evil.url('/p')}{n}</link></item>" for n in range(2))
    wide = f'<rss version="2.0"><channel><title>W</title>{items}</channel></rss>'.encode()
    assert len(wide) > 2 * MiB
    evil.route("/wide.xml", answer(wide, {"Content-Type": "application/rss+xml"}))
    cfg = hostile_config(sqlite, [evil.url("/wide.xml"), site.url(GOOD_FEED)], hook)

    report, elapsed = run_cycle(cfg, sqlite)

    outcome = by_url(report)[evil.url("/wide.xml")]
    assert (outcome.status, outcome.new_entries) == ("new", 0)
    assert outcome.skipped == (
        "2 items past the budget of 100000 tags and attributes (256 in a tag)",
    )
    assert len(posts(hook)) == GOOD_ALERTS
    assert elapsed < 10, f"the cycle took {elapsed:.1f} s"


# -- addresses: redirects and names that lead inside -----------------------------------------


@pytest.fixture
def internal_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """A host name that resolves to 127.0.0.2."""
    real = anyio.getaddrinfo
    name = "intranet.example.test"

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port))]
        return await real(host, port, **kwargs)

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)
    return name


def ssrf_targets(canary: HostileServer, name: str) -> dict[str, str]:
    """Where hostile redirects send the fetcher, by route."""
    return {
        "/to-canary": canary.url("/feed.xml"),
        "/to-metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "/to-ten": "http://10.0.0.1/feed.xml",
        "/to-cgnat": "http://100.64.0.1/feed.xml",
        "/to-mapped": "http://[::ffff:10.0.0.1]/feed.xml",
        "/to-mapped-loopback": f"http://[::ffff:127.0.0.2]:{canary.port}/feed.xml",
        "/to-name": f"http://{name}:{canary.port}/feed.xml",
        "/to-decimal": f"http://2130706434:{canary.port}/feed.xml",  # 127.0.0.2
    }


def test_redirects_to_private_addresses_are_refused_at_connect_time(
    sqlite: Store,
    site: LoopbackServer,
    hook: LoopbackServer,
    evil: HostileServer,
    canary: HostileServer,
    internal_name: str,
) -> None:
    targets = ssrf_targets(canary, internal_name)
    for route, target in targets.items():
        evil.route(route, redirect(target))
    evil.route("/hop1", redirect("/hop2"))  # allowed hops first, then inside
    evil.route("/hop2", redirect(evil.url("/to-canary"), status=307))
    evil.route("/loop-a", redirect("/loop-b"))
    evil.route("/loop-b", redirect(evil.url("/loop-a")))
    direct = [canary.url("/feed.xml"), f"http://{internal_name}:{canary.port}/feed.xml"]
    hostile = [evil.url(r) for r in [*targets, "/hop1"]] + direct
    pages = list(enumerate(targets.values()))
    site.add("/inside.xml", story_feed(pages), headers={"Content-Type": "application/rss+xml"})
    feeds = [*hostile, evil.url("/loop-a"), site.url("/inside.xml"), site.url(GOOD_FEED)]

    report, _ = run_cycle(hostile_config(sqlite, feeds, hook), sqlite)

    outcomes = by_url(report)
    for url in hostile:
        assert outcomes[url].status == "failed", url
        assert "resolves to a private address" in (outcomes[url].error or ""), url
    assert "redirect loop" in (outcomes[evil.url("/loop-a")].error or "")
    inside = [e for e in report.entries if e.url in targets.values()]
    assert len(inside) == len(targets) and all(e.source == "summary" for e in inside)
    assert canary.connections == 0
    assert len(posts(hook)) == GOOD_ALERTS + len(pages)
    assert not [p for p in posts(hook) if story(INSIDE)[0] in p["title"]]


@pytest.mark.parametrize(
    ("config_value", "env_value", "canary_reached"),
    [
        ("127.0.0.1/32", None, False),
        (False, "127.0.0.1/32", False),
        (False, "127.0.0.1/32,127.0.0.2/32", True),
        ("127.0.0.0/8", None, True),
        (False, "true", True),
        (False, "1", True),
        (True, "127.0.0.1/32", False),  # the environment wins
    ],
)
def test_private_network_allowances(
    sqlite: Store,
    site: LoopbackServer,
    hook: LoopbackServer,
    canary: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
    config_value: bool | str,
    env_value: str | None,
    canary_reached: bool,
) -> None:
    if env_value is None:
        monkeypatch.delenv("NEWSMON_ALLOW_PRIVATE_NETWORKS", raising=False)
    else:
        monkeypatch.setenv("NEWSMON_ALLOW_PRIVATE_NETWORKS", env_value)
    feeds = [site.url(GOOD_FEED), canary.url("/feed.xml")]
    cfg = hostile_config(sqlite, feeds, hook, allow_private_networks=config_value)

    report, _ = run_cycle(cfg, sqlite)

    outcomes = by_url(report)
    assert outcomes[site.url(GOOD_FEED)].status == "new"
    assert (outcomes[canary.url("/feed.xml")].status == "new") == canary_reached
    assert (canary.connections > 0) == canary_reached


def test_bad_private_network_setting_is_a_config_error(sqlite: Store, hook: LoopbackServer) -> None:
    with pytest.raises(ConfigError, match="not a CIDR network"):
        hostile_config(sqlite, [], hook, allow_private_networks="127.0.0.1/33")


# -- schemes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://127.0.0.1:70/1", "scheme 'gopher' is not allowed"),
        ("ftp://127.0.0.1/feed.xml", "scheme 'ftp' is not allowed"),
        ("http:\\\\127.0.0.1\\feed.xml", "backslashes"),
        ("https://example.com\\@127.0.0.1/feed.xml", "backslashes"),
    ],
)
def test_non_http_feed_urls_in_the_config_are_rejected(
    sqlite: Store, hook: LoopbackServer, url: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        hostile_config(sqlite, [url], hook)
    [problem] = caught.value.problems
    assert problem.path == "feeds[0].url"
    assert reason in problem.reason


def test_non_http_links_and_redirects_in_feeds_are_refused_with_a_reason(
    sqlite: Store, hook: LoopbackServer, evil: HostileServer
) -> None:
    hostile = DATA / "hostile"
    evil.route("/schemes.xml", answer((hostile / "schemes.xml").read_bytes()))
    for scheme, target in [
        ("file", "file:///etc/passwd"),
        ("gopher", "gopher://127.0.0.1:70/1"),
        ("ftp", "ftp://127.0.0.1/x"),
    ]:
        evil.route(f"/to-{scheme}.xml", redirect(target))
    evil.route("/to-backslash.xml", redirect("http:\\\\127.0.0.1\\x"))
    routes = ["/to-file.xml", "/to-gopher.xml", "/to-ftp.xml", "/to-backslash.xml"]
    feeds = [evil.url("/schemes.xml"), *(evil.url(r) for r in routes)]

    report, _ = run_cycle(hostile_config(sqlite, feeds, hook), sqlite)

    outcomes = by_url(report)
    assert outcomes[evil.url("/schemes.xml")].skipped == (
        "item 'A file link' has no http(s) link",
        "item 'A gopher link' has no http(s) link",
        "item 'An ftp link' has no http(s) link",
        "item 'A backslash link' has no http(s) link",
        "item 'A script link' has no http(s) link",
        "item 'A data link' has no http(s) link",
    )
    assert outcomes[evil.url("/schemes.xml")].new_entries == 1
    for scheme in ("file", "gopher", "ftp"):
        assert f"scheme '{scheme}' is not allowed" in (
            outcomes[evil.url(f"/to-{scheme}.xml")].error or ""
        )
    assert "backslashes" in (outcomes[evil.url("/to-backslash.xml")].error or "")
    with sqlite.engine.connect() as conn:
        urls = list(conn.scalars(sa.select(entries.c.url)))
    assert [u for u in urls if not u.startswith("http://127.0.0.1:")] == []


def test_an_entry_waiting_for_its_page_keeps_its_hosts_order(
    sqlite: Store, hook: LoopbackServer
) -> None:
    """A, B, C of one host in order of publication: A's page slow, B's page busy (503,
    its summary matching nothing), C's fast. B waits for another try, and C is still
    recorded after A (an outlet's first report stays its first)."""
    page = "<html><head><title>{0}</title></head><body><article><p>{1}</p></article></body></html>"
    dated = (
        ("a", "Harbour fair opens", "Thu, 19 Nov 2026 09:00:00 GMT"),
        ("b", "Weather", "Thu, 19 Nov 2026 10:00:00 GMT"),
        ("c", "Harbour fair closes", "Thu, 19 Nov 2026 11:00:00 GMT"),
    )
    with LoopbackServer() as news:
        items = "".join(
            f"<item><title>{title}</title><link>{news.base_url}/{n}.html</link><guid>{n}</guid>"
            f"<description>Quays.</description><pubDate>{date}</pubDate></item>"
            for n, title, date in dated
        )
        news.add("/a.html", page.format("Harbour fair opens", "Stalls. " * 60).encode(), delay=2.0)
        news.add("/b.html", b"busy", status=503)
        news.add("/c.html", page.format("Harbour fair closes", "Boats. " * 60).encode())
        news.add("/feed.xml", f"<rss><channel><title>N</title>{items}</channel></rss>".encode())
        report, _ = run_cycle(hostile_config(sqlite, [news.url("/feed.xml")], hook), sqlite)
    outcomes = {e.url.rsplit("/", 1)[1]: e.outcome for e in report.entries}
    assert outcomes == {"a.html": "article", "b.html": "deferred", "c.html": "article"}
    with sqlite.engine.connect() as conn:
        rows = conn.execute(sa.select(entries.c.url, entries.c.processed_at)).all()
    done = sorted((at, url.rsplit("/", 1)[1]) for url, at in rows if at is not None)
    assert [name for _, name in done] == ["a.html", "c.html"]


def test_a_summary_that_cannot_be_matched_is_an_error_of_its_entry_not_of_the_cycle(
    sqlite: Store, hook: LoopbackServer, evil: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("the rules broke")

    monkeypatch.setattr(Pipeline, "_match", broken)
    evil.route("/busy.html", answer(b"busy", {"Content-Type": "text/html"}, status=503))
    feed = story_feed([(1, evil.url("/busy.html"))])
    with LoopbackServer() as feeds:
        feeds.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
        report, _ = run_cycle(hostile_config(sqlite, [feeds.url("/feed.xml")], hook), sqlite)
    assert [(e.outcome, e.error) for e in report.entries] == [("error", "the rules broke")]
    with sqlite.engine.connect() as conn:
        row = conn.execute(sa.select(entries)).one()
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
