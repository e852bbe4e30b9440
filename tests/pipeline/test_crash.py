"""`newsmon run` killed with SIGKILL at random points, then run again: no entry is lost,
every alert arrives, and at most one per kill (the one in flight) arrives twice. Two
runs at once on one SQLite file: no "database is locked", every alert once.

The random points come from NEWSMON_CRASH_SEED (default: a fresh seed, named in
failure messages): a random sleep once the run has begun, or a wait for the n-th page
or alert request, over slow pages and a slow webhook, so kills land in every stage;
NEWSMON_CRASH_TRIALS sets the number of kills (default 12; each run draws new points).
A run to completion follows every second kill (a run costs ~0.8 s of start-up).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitors.extract.workers import WORKER_CODE
from tests.hostile import BULLETIN_RULE, story, story_feed
from tests.httpserver import LoopbackServer, Request

TRIALS = int(os.environ.get("NEWSMON_CRASH_TRIALS") or 12)
FINISH_EVERY = 2
FEEDS = 3
NEW_ITEMS = 2  # per feed and trial
PAGE = "<html><head><title>{}</title></head><body><article><h1>{}</h1><p>{}</p></article></html>"


class NewsSite:
    """Feeds that grow by NEW_ITEMS items each trial, their slow pages, a slow webhook."""

    def __init__(self, server: LoopbackServer, rng: random.Random) -> None:
        self.server = server
        self.rng = rng
        self.items: dict[int, list[int]] = {f: [] for f in range(FEEDS)}
        self.titles: list[str] = []
        server.add("/hook", b"", delay=0.02)

    def add_items(self) -> None:
        for feed, numbers in self.items.items():
            for _ in range(NEW_ITEMS):
                number = len(self.titles)
                numbers.append(number)
                title, text = story(number)
                self.titles.append(title)
                self.server.add(
                    f"/page/{number}.html",
                    PAGE.format(title, title, text).encode(),
                    headers={"Content-Type": "text/html"},
                    delay=self.rng.uniform(0, 0.05),
                )
            links = [(n, self.server.url(f"/page/{n}.html")) for n in numbers]
            self.server.add(f"/feed{feed}.xml", story_feed(links))

    def config(self, folder: Path) -> Path:
        raw: dict[str, Any] = {
            "store": f"sqlite:///{folder / 'crash.db'}",
            "feeds": [{"url": self.server.url(f"/feed{f}.xml")} for f in range(FEEDS)],
            "channels": {"desk": "json://" + self.server.url("/hook").removeprefix("http://")},
            "rules": [BULLETIN_RULE],
            "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0, "timeout": 10},
            "extract": {"workers": 1},
            "delivery": {"backoff": "1s"},
        }
        path = folder / "newsmon.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    def posts(self) -> Counter[str]:
        """How many times each headline was posted whole to the webhook (a POST the kill
        cut short reached no desk: its delivery is sent again)."""
        return Counter(
            json.loads(r.body)["title"].split(": ", 1)[1]
            for r in self.server.requests
            if r.path == "/hook" and _whole(r.body)
        )


def _whole(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def run_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "newsmon.cli", "run", "--config", str(config)]


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        run_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def finish(config: Path) -> None:
    done = subprocess.run(run_command(config), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def kill_at_random(config: Path, site: NewsSite, rng: random.Random) -> str:
    """Start a run and SIGKILL it at a random point; describe the point."""
    before = len(site.server.requests)
    stage, count = rng.choice(["sleep", "page", "hook"]), rng.randint(1, 4)

    def reached() -> bool:
        seen = [r for r in site.server.requests[before:] if _is(stage, r)]
        return len(seen) >= (1 if stage == "sleep" else count)

    proc = start(config)
    deadline = time.monotonic() + 20
    while not reached() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.6) if stage == "sleep" else rng.uniform(0, 0.03))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return f"{stage} {count}" + (" (already done)" if proc.returncode == 0 else "")


def _is(stage: str, request: Request) -> bool:
    if stage == "hook":
        return request.path == "/hook"
    return request.path.startswith("/page/" if stage == "page" else "/feed")


def statuses(config: Path, table: str) -> Counter[str]:
    """How many rows of `entries` or `deliveries` have each status."""
    db = yaml.safe_load(config.read_text())["store"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        return Counter(s for (s,) in conn.execute(f"SELECT status FROM {table}"))


def orphaned_workers() -> list[int]:
    """Extraction workers whose parent is gone."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if WORKER_CODE.encode() in cmdline and ppid == 1:
            found.append(int(proc.name))
    return found


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("NEWSMON_CRASH_SEED") or random.randrange(2**32))


@pytest.fixture
def site(seed: int) -> Iterator[NewsSite]:
    with LoopbackServer() as server:
        yield NewsSite(server, random.Random(seed))


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(tmp_path: Path, site: NewsSite, seed: int) -> None:
    config = site.config(tmp_path)
    rng = random.Random(seed)
    kills: list[str] = []
    duplicates = 0
    for trial in range(TRIALS):
        site.add_items()
        kills.append(kill_at_random(config, site, rng))
        where = f"seed {seed}, trial {trial}, kills {kills}"
        assert statuses(config, "deliveries")["sending"] <= 1, f"two in flight ({where})"
        if (trial + 1) % FINISH_EVERY:
            continue
        finish(config)
        posts = site.posts()
        assert statuses(config, "entries") == {"done": len(site.titles)}, where
        assert sorted(posts) == sorted(site.titles), f"an alert was lost ({where})"
        extra = sum(posts.values()) - len(posts)
        assert extra - duplicates <= FINISH_EVERY, f"over one duplicate per kill ({where})"
        duplicates = extra
    time.sleep(0.2)
    assert orphaned_workers() == []


@pytest.mark.slow
def test_two_runs_at_once_on_one_sqlite_file(tmp_path: Path, site: NewsSite) -> None:
    config = site.config(tmp_path)
    for _ in range(2):
        site.add_items()
        runs = [start(config), start(config)]
        errors = [proc.communicate(timeout=60)[1] for proc in runs]
        assert [proc.returncode for proc in runs] == [0, 0], errors
        assert not [e for e in errors if "locked" in e], errors
    posts = site.posts()
    assert sorted(posts) == sorted(site.titles)
    assert set(posts.values()) == {1}, posts.most_common(3)
    entries = statuses(config, "entries")
    assert "pending" not in entries and sum(entries.values()) == len(site.titles)
