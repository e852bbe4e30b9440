"""Per-feed polling: adaptive intervals, server hints, error backoff, `--due`, `feeds`."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from monitors.config import Config, PollConfig
from monitors.ingest.fetch import Fetcher
from monitors.ingest.schedule import Polled, backoff_until, items_per_day, next_interval
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store
from monitors.store.schema import feeds
from newsmon.cli import app
from tests.conftest import make_config
from tests.httpserver import LoopbackServer

S = PollConfig(min_interval=300, max_interval=7200, error_backoff=120)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_interval_halves_when_most_of_a_fetch_is_new() -> None:
    assert next_interval(1200, None, Polled(listed=30, new=25), S) == 600


def test_interval_grows_when_most_is_already_seen_or_unchanged() -> None:
    assert next_interval(1200, None, Polled(listed=30, new=2), S) == 1800
    assert next_interval(1200, None, Polled(listed=0, new=0), S) == 1800


def test_interval_stays_when_a_third_to_two_thirds_is_seen() -> None:
    assert next_interval(1200, None, Polled(listed=30, new=15), S) == 1200


def test_interval_bounds_and_first_value() -> None:
    assert next_interval(None, None, Polled(30, 30), S) == 450
    assert next_interval(310, None, Polled(30, 30), S) == 300
    assert next_interval(7000, None, Polled(0, 0), S) == 7200


def test_fixed_every_and_server_hints() -> None:
    assert next_interval(1200, 60, Polled(30, 30), S) == 60
    assert next_interval(1200, 60, Polled(30, 30, hint=600), S) == 600  # never undercut a ttl
    assert next_interval(300, None, Polled(30, 30, hint=3600), S) == 3600


def test_error_backoff_doubles_and_honours_retry_after() -> None:
    assert backoff_until(1, None, NOW, S) == NOW + timedelta(seconds=120)
    assert backoff_until(3, None, NOW, S) == NOW + timedelta(seconds=480)
    assert backoff_until(30, None, NOW, S) == NOW + timedelta(hours=6)
    assert backoff_until(1, 3600, NOW, S) == NOW + timedelta(seconds=3600)


def test_items_per_day_is_smoothed() -> None:
    assert items_per_day(None, 10, NOW - timedelta(hours=12), NOW) == 20
    assert items_per_day(20, 0, NOW - timedelta(hours=12), NOW) == 14
    assert items_per_day(None, 5, None, NOW) == 0


def cycle(cfg: Config, store: Store, due_only: bool = False) -> CycleReport:
    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher, retry_wait=0.001)
            return await pipeline.run_cycle(due_only=due_only)

    return asyncio.run(go())


def test_a_failing_feed_waits_and_retry_after_is_honoured(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    site.add("/busy.xml", b"", status=429, headers={"Retry-After": "3600"})
    site.add("/down.xml", b"", status=503)
    urls = [site.url("/busy.xml"), site.url("/down.xml"), site.url("/site/world.xml")]
    cfg = make_config(store_url, urls, "json://127.0.0.1:9/")
    first = cycle(cfg, store)
    assert [f.status for f in first.feeds] == ["failed", "failed", "new"]
    site.clear_requests()
    second = cycle(cfg, store)
    assert [f.status for f in second.feeds] == ["waiting", "waiting", "unchanged"]
    assert [r.path for r in site.requests] == ["/site/world.xml"]
    with store.engine.begin() as conn:
        rows = {r.url: r for r in conn.execute(sa.select(feeds))}
    busy, down = rows[urls[0]], rows[urls[1]]
    assert busy.backoff_until >= datetime.now(UTC) + timedelta(seconds=3500)
    assert timedelta(seconds=100) < down.backoff_until - datetime.now(UTC) < timedelta(seconds=130)
    assert (down.last_error, down.error_streak) == ("HTTP 503", 1)


def test_a_manual_run_polls_a_failing_feed_unless_its_server_asked_to_wait(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    site.add("/broken.xml", b"", status=500)
    site.add("/busy.xml", b"", status=429, headers={"Retry-After": "3600"})
    urls = [site.url("/broken.xml"), site.url("/busy.xml")]
    cfg = make_config(store_url, urls, "json://127.0.0.1:9/")
    cycle(cfg, store)
    site.clear_requests()
    assert [f.status for f in cycle(cfg, store, due_only=True).feeds] == ["waiting"] * 2
    assert site.requests == []
    assert [f.status for f in cycle(cfg, store).feeds] == ["failed", "waiting"]
    assert [r.path for r in site.requests] == ["/broken.xml"]


def test_the_next_poll_is_timed_from_the_cycle_start(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    """A feed polled every 5 minutes by a flow running every 5 minutes is due at every
    run, however long its fetch took."""
    site.add("/slow.xml", b"<rss><channel><title>Slow</title></channel></rss>", delay=1.0)
    cfg = make_config(store_url, [{"url": site.url("/slow.xml"), "every": "5m"}], "json://h/")
    started = datetime.now(UTC)
    cycle(cfg, store)
    with store.transaction() as tx:
        (row,) = tx.feed_rows()
    assert row.last_polled_at - started >= timedelta(seconds=1)
    assert row.next_due_at - started < timedelta(seconds=300.5)


def test_a_worker_that_started_later_does_not_poll_a_feed_again(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    cfg = make_config(store_url, [site.url("/site/world.xml")], "json://127.0.0.1:9/")
    with store.transaction() as tx:
        tx.sync_feeds([(cfg.feeds[0].url, None)])
    late_start = datetime.now(UTC) + timedelta(seconds=1)  # its states were read before
    cycle(cfg, store)  # another worker polls the feed meanwhile
    with store.transaction() as tx:
        (row,) = tx.feed_rows()
        assert tx.claim_feeds([row.id], late_start, 60, due_by=late_start) == []


@pytest.mark.parametrize("retry_after", ["1" + "0" * 20, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_is_read_as_a_day(
    store_url: str, store: Store, site: LoopbackServer, retry_after: str
) -> None:
    site.add("/busy.xml", b"", status=429, headers={"Retry-After": retry_after})
    cfg = make_config(store_url, [site.url("/busy.xml")], "json://127.0.0.1:9/")
    assert [(f.status, f.error) for f in cycle(cfg, store).feeds] == [("failed", "HTTP 429")]
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(feeds)).one()
    day = datetime.now(UTC) + timedelta(days=1)  # a news feed is not left longer
    assert day - timedelta(minutes=1) < row.backoff_until <= day
    assert row.claimed_until is None


def test_backoff_is_bounded_for_any_streak_and_retry_after() -> None:
    assert backoff_until(10**6, 1e300, NOW, S) == NOW + timedelta(days=1)
    assert backoff_until(10**6, None, NOW, S) == NOW + timedelta(hours=6)


def test_due_only_polls_feeds_whose_time_has_come(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    urls = [site.url("/site/world.xml"), site.url("/site/wire.xml")]
    cfg = make_config(store_url, urls, "json://127.0.0.1:9/")
    cycle(cfg, store)
    with store.engine.begin() as conn:
        conn.execute(
            feeds.update()
            .where(feeds.c.url == urls[1])
            .values(next_due_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    site.clear_requests()
    report = cycle(cfg, store, due_only=True)
    assert [f.status for f in report.feeds] == ["not due", "unchanged"]
    assert [r.path for r in site.requests] == ["/site/wire.xml"]
    assert [f.status for f in cycle(cfg, store).feeds] == ["unchanged", "unchanged"]


def test_feeds_command_shows_each_feed(tmp_path: Path, site: LoopbackServer) -> None:
    site.add("/down.xml", b"", status=500)
    items = "<item><title>No link here</title></item>"
    site.add("/partial.xml", f"<rss><channel><title>P</title>{items}</channel></rss>".encode())
    raw = {
        "store": "sqlite:///newsmon.db",
        "feeds": [
            {"url": site.url("/site/world.xml"), "name": "World"},
            {"url": site.url("/down.xml"), "name": "Down"},
            {"url": site.url("/never.xml"), "name": "Never"},
            {"url": site.url("/partial.xml"), "name": "Partial"},
        ],
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0},
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--config", str(path)]).exit_code == 0
    raw["feeds"][2]["url"] = site.url("/other.xml")
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["feeds", "--config", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "HTTP 500" in lines["Down"] and "│ 1 " in lines["Down"]
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d", lines["World"]) and "HTTP" not in lines["World"]
    assert "never polled" in lines["Never"]
    assert "│ 1: item 'No link here'" in lines["Partial"] and "│ 1: " not in lines["World"]
