"""Polite fetching for backfills: per-host concurrency and request rate, and robots.txt
for pages (an unreachable robots.txt keeps the site's pages unfetched, RFC 9309)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser as RobotRules

from monitors.config import BackfillConfig
from monitors.errors import FetchError, HTTPStatusError
from monitors.ingest.fetch import Fetcher
from monitors.models import FetchResult


class Polite:
    """A fetcher behind per-host concurrency and rate limits, and robots.txt for pages."""

    def __init__(self, fetcher: Fetcher, settings: BackfillConfig, agent: str = "newsmon"):
        self.fetcher = fetcher
        self.settings = settings
        self.agent = agent
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._next: dict[str, float] = {}
        self._robots: dict[str, asyncio.Task[tuple[RobotRules | None, str | None]]] = {}

    async def fetch(self, url: str, accept: str) -> FetchResult:
        """GET `url` within its host's limits (raises FetchError)."""
        host = urlsplit(url).netloc.lower()
        slot = self._slots.setdefault(host, asyncio.Semaphore(self.settings.per_host_concurrency))
        async with slot:
            await self._pace(host)
            return await self.fetcher.fetch(url, accept=accept)

    async def _pace(self, host: str) -> None:
        now = time.monotonic()
        start = max(now, self._next.get(host, now))
        self._next[host] = start + 1.0 / self.settings.per_host_rps
        if start > now:
            await asyncio.sleep(start - now)

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from fetching this page; None when it does not (always,
        with robots off)."""
        if not self.settings.robots:
            return None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = asyncio.ensure_future(self._read_robots(origin))
        rules, unreachable = await self._robots[origin]
        if unreachable:
            return f"robots.txt unreachable ({unreachable}): the site is left alone"
        if rules is not None and not rules.can_fetch(self.agent, url):
            return "disallowed by robots.txt"
        return None

    async def _read_robots(self, origin: str) -> tuple[RobotRules | None, str | None]:
        """The origin's robots.txt (None: anything goes, when it has none, 4xx), or why it
        could not be read: an unreachable one forbids everything (RFC 9309)."""
        try:
            answer = await self.fetch(f"{origin}/robots.txt", "text/plain")
        except HTTPStatusError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None, None
            return None, exc.reason
        except FetchError as exc:
            return None, exc.reason
        rules = RobotRules()
        rules.parse(answer.body.decode("utf-8", "replace").splitlines())
        return rules, None
