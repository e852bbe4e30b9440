"""Three `newsmon run` processes at once over 50 feeds, on SQLite and PostgreSQL: each
feed is fetched once a cycle, each page once, each entry processed once, each alert
delivered once, and the alerts are those one process makes.

Feeds answer only once every process holds a claim on one, so the three really poll
side by side; then they answer after 20-80 ms, like pages.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from monitors.store.schema import entries, feeds
from tests.hostile import BULLETIN_RULE, story, story_feed
from tests.httpserver import LoopbackServer, Request

FEEDS = 50
PROCESSES = 3
CYCLES = 2
PAGE = "<html><head><title>{}</title></head><body><article><h1>{}</h1><p>{}</p></article></html>"

pytestmark = pytest.mark.slow


class Site:
    """Feeds that grow every cycle, answering once `gate` opens; pages; a webhook."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.rng = random.Random(9)
        self.gate = threading.Event()
        self.items: dict[int, list[int]] = {f: [] for f in range(FEEDS)}
        self.titles: list[str] = []
        for feed in range(FEEDS):
            server.add(f"/feed{feed}.xml", self._feed_body(feed), delay=self._latency())
        server.add("/hook", b"")
        server.add("/hook-one", b"")

    def _latency(self) -> float:
        return self.rng.uniform(0.02, 0.08)

    def _feed_body(self, feed: int) -> Any:
        def body(_request: Request) -> bytes:
            self.gate.wait(30)
            links = [(n, self.server.url(f"/page/{n}.html")) for n in self.items[feed]]
            return story_feed(links)

        return body

    def add_items(self, per_feed: int) -> None:
        for numbers in self.items.values():
            for _ in range(per_feed):
                number = len(self.titles)
                title, text = story(number)
                self.titles.append(title)
                numbers.append(number)
                self.server.add(
                    f"/page/{number}.html",
                    PAGE.format(title, title, text).encode(),
                    headers={"Content-Type": "text/html"},
                    delay=self._latency(),
                )

    def config(self, path: Path, store_url: str, hook: str = "/hook") -> Path:
        raw: dict[str, Any] = {
            "store": store_url,
            "feeds": [{"url": self.server.url(f"/feed{f}.xml")} for f in range(FEEDS)],
            "channels": {"desk": "json://" + self.server.url(hook).removeprefix("http://")},
            "rules": [BULLETIN_RULE],
            # the one loopback host stands for 50 sites: no page budget a cycle
            "fetch": {
                "allow_private_networks": "127.0.0.1/32",
                "retries": 0,
                "timeout": 10,
                "pages_per_host_per_cycle": 10_000,
            },
            "extract": {"workers": 1},
            "delivery": {"backoff": "1s"},
        }
        path.write_text(yaml.safe_dump(raw))
        return path

    def posts(self, hook: str = "/hook") -> Counter[str]:
        """How many times each headline was posted to the webhook `hook`."""
        return Counter(
            json.loads(r.body)["title"].split(": ", 1)[1]
            for r in self.server.requests
            if r.path == hook
        )


@pytest.fixture
def site() -> Iterator[Site]:
    with LoopbackServer() as server:
        yield Site(server)


def command(config: Path) -> list[str]:
    return [sys.executable, "-m", "newsmon.cli", "run", "--config", str(config)]


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def claimers(engine: sa.Engine) -> int:
    """How many workers hold a claim on a feed (0 before the tables exist)."""
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count(sa.distinct(feeds.c.claimed_by)))
            return int(conn.scalar(query) or 0)
    except sa.exc.DBAPIError:
        return 0


def open_gate_when_all_claim(site: Site, engine: sa.Engine, runs: list[Any]) -> None:
    deadline = time.monotonic() + 20
    while claimers(engine) < PROCESSES and time.monotonic() < deadline:
        ended = [run.communicate()[1] for run in runs if run.poll() is not None]
        assert not ended, f"a run ended before the others claimed: {ended}"
        time.sleep(0.01)
    site.gate.set()


def run_cycle(site: Site, config: Path, engine: sa.Engine) -> None:
    site.gate.clear()
    runs = [start(config) for _ in range(PROCESSES)]
    open_gate_when_all_claim(site, engine, runs)
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * PROCESSES, errors


def requests_by_path(site: Site, since: int, prefix: str) -> Counter[str]:
    return Counter(r.path for r in site.server.requests[since:] if r.path.startswith(prefix))


def test_three_runs_at_once_share_the_work(tmp_path: Path, site: Site, store_url: str) -> None:
    config = site.config(tmp_path / "newsmon.yaml", store_url)
    engine = sa.create_engine(store_url)
    for cycle in range(CYCLES):
        site.add_items(2 if cycle == 0 else 1)
        before = len(site.server.requests)
        run_cycle(site, config, engine)
        fetched = requests_by_path(site, before, "/feed")
        assert fetched == {f"/feed{f}.xml": 1 for f in range(FEEDS)}, f"cycle {cycle}"
    pages = requests_by_path(site, 0, "/page/")
    assert pages == {f"/page/{n}.html": 1 for n in range(len(site.titles))}
    with engine.connect() as conn:
        statuses = Counter(conn.scalars(sa.select(entries.c.status)))
    engine.dispose()
    assert statuses == {"done": len(site.titles)}
    assert site.posts() == {title: 1 for title in site.titles}

    one = site.config(tmp_path / "one.yaml", f"sqlite:///{tmp_path / 'one.db'}", "/hook-one")
    done = subprocess.run(command(one), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert site.posts("/hook-one") == site.posts()
