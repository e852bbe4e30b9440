"""Time whole poll cycles of the plain Pipeline over many loopback copies of real feeds.

A loopback HTTP/1.1 server (asyncio, in its own process) serves `--feeds N` feeds built
from the real feeds in the corpora (`--items MIN MAX` items each, 20-50 by default, item
links pointing at loopback copies of the extraction benchmark's news pages), answering
every request after 20-80 ms, with ETag/Last-Modified and 304. `run_cycle` runs on a
fresh SQLite store with the shipped rules and a loopback json:// channel:

- the floor: the same first cycle's unavoidable work only (fetching feeds and pages,
  feedparser, extraction in `extract.workers` processes, nothing stored), and the ratio
  of newsmon's first cycle to it, in wall time and in CPU time (this machine's wall times
  move by a third from run to run; `--rounds N` times the floor and a first cycle on a
  fresh store N times in turns and prints each ratio, their median and that of the sums);
- first cycle (everything new), steady cycle (every feed 304), mixed cycle (5% of the
  feeds changed, with new items): wall, CPU, peak RSS, articles/s;
- time per stage (fetch, parse, extract, dedup, stories, match, store) by wrapping
  methods at runtime, with the CPU time of the threads running a stage that is not a
  coroutine, and a cProfile of a first cycle on a subset of the feeds;
- a bare asyncio httpx poller doing the steady cycle's conditional GETs;
- the Prefect `poll` flow on the same steady cycle.

With `--hosts N` the feeds are spread over N loopback hosts (127.0.0.1 to 127.0.0.N,
each feed's pages on its host, contiguous groups of feeds as a config lists an outlet's
feeds together), standing for N outlets; by default every feed and page is on one host.

    python bench/cycle.py [CORPORA] [--feeds 1000] [--items 2 2] [--hosts 1] [--no-prefect]
                          [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import io
import json
import math
import multiprocessing
import os
import pstats
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from hashlib import sha1
from pathlib import Path
from typing import Any

import feedparser
import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.feeds_corpus import _ITEM, LinkRewriter, all_feeds, load_pages  # noqa: E402
from monitors import config as config_mod  # noqa: E402
from monitors.extract import Extractor, page_text  # noqa: E402
from monitors.ingest.fetch import Fetcher  # noqa: E402
from monitors.pipeline import CycleReport, Pipeline, open_pipeline, run_cycle  # noqa: E402
from monitors.pipeline import cycle as pipeline_mod  # noqa: E402
from monitors.store import Store, Tx  # noqa: E402
from monitors.stories import StoryDesk  # noqa: E402

SHIPPED_CONFIG = REPO / "config" / "newsmon.yaml"
MIN_ITEMS, MAX_ITEMS = 20, 50
NEW_ITEMS = 5
CHANGED_SHARE = 0.05
LATENCY = (0.020, 0.080)
_CANONICAL = re.compile(
    rb"<(?:link|meta)\b[^>]*(?:rel\s*=\s*[\"']canonical[\"']|property\s*=\s*[\"']og:url[\"'])"
    rb"[^>]*>",
    re.I,
)
_GUID = re.compile(rb"(<(?:[\w.-]+:)?(?:guid|id)\b[^>]*>)(.*?)(</)", re.S | re.I)
_PAGE_PATH = re.compile(r"^/f(\d+)(?:v2)?/page/(\d+)\.html$")
_PARAGRAPH = re.compile(rb"<p\b[^>]*>(?:(?!</?p\b).){120,}?</p>", re.S | re.I)
BORROWED = 4  # paragraphs each page borrows from two other pages


@dataclass
class FeedVersion:
    body: bytes
    etag: str
    last_modified: str
    content_type: str


@dataclass
class Site:
    """Feed bodies by path, in two versions for the feeds the mixed cycle changes."""

    feeds: dict[str, FeedVersion] = field(default_factory=dict)
    changed: dict[str, FeedVersion] = field(default_factory=dict)
    items: int = 0


def _cut(body: bytes, keep: int) -> tuple[bytes, list[bytes]]:
    """The feed with only its first `keep` items, and those item blocks."""
    found = list(_ITEM.finditer(body))
    if len(found) <= keep:
        return body, [m.group(0) for m in found]
    return body[: found[keep].start()] + body[found[-1].end() :], [m.group(0) for m in found[:keep]]


def feed_base(base: str, number: int, count: int, hosts: int = 1) -> str:
    """The address of feed `number` of `count` and of its pages: `base` (on 127.0.0.1)
    moved to the feed's host, one of `hosts` loopback hosts, in contiguous groups."""
    return base.replace("127.0.0.1", f"127.0.0.{1 + number * hosts // count}")


def feed_url(base: str, number: int, count: int, hosts: int = 1) -> str:
    return f"{feed_base(base, number, count, hosts)}/feed/{number}.xml"


def build_site(
    corpora: Path,
    count: int,
    base: str,
    seed: int = 7,
    items: tuple[int, int] = (MIN_ITEMS, MAX_ITEMS),
    hosts: int = 1,
) -> Site:
    """`count` feeds from the corpora's real feeds that have at least 20 items, each cut to
    a number of items drawn from `items`, spread over `hosts` loopback hosts."""
    rng = random.Random(seed)
    sources = []
    for feed in all_feeds(corpora):
        body = feed.path.read_bytes()
        if len(_ITEM.findall(body)) >= MIN_ITEMS:
            sources.append((feed, body))
    if not sources:
        raise SystemExit(f"no feed with {MIN_ITEMS}+ items under {corpora}")
    site = Site()
    changed = set(rng.sample(range(count), max(1, round(count * CHANGED_SHARE))))
    for number in range(count):
        feed, raw = sources[number % len(sources)]
        body, kept = _cut(raw, rng.randint(*items))
        home = feed_base(base, number, count, hosts)
        body = LinkRewriter(f"{home}/f{number}").rewrite(body)
        site.items += len(kept)
        path = f"/feed/{number}.xml"
        modified = formatdate(1_700_000_000 + number, usegmt=True)
        site.feeds[path] = FeedVersion(
            body, f'"{sha1(body).hexdigest()[:16]}"', modified, feed.content_type
        )
        if number in changed:
            fresh = LinkRewriter(f"{home}/f{number}v2").rewrite(b"".join(kept[:NEW_ITEMS]))
            fresh = _GUID.sub(
                lambda m: m.group(1) + m.group(2).strip() + b"-v2" + m.group(3), fresh
            )
            first = _ITEM.search(body)
            assert first is not None
            body2 = body[: first.start()] + fresh + body[first.start() :]
            site.changed[path] = FeedVersion(
                body2,
                f'"{sha1(body2).hexdigest()[:16]}"',
                formatdate(1_800_000_000 + number, usegmt=True),
                feed.content_type,
            )
    return site


# the server (its own process)


class _Server:
    def __init__(self, site: Site, pages: list[bytes]) -> None:
        self.site = site
        self.pages = [_CANONICAL.sub(b"", p) for p in pages]
        self.paragraphs = [[m for m in _PARAGRAPH.finditer(p)] for p in self.pages]
        self.mixed = False
        self.counts: dict[str, int] = defaultdict(int)
        self.rng = random.Random(11)

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        if path == "/_control/mixed":
            self.mixed = True
            return 200, {}, b"ok"
        if path == "/_control/stats":
            body = json.dumps(self.counts).encode()
            self.counts.clear()
            return 200, {"Content-Type": "application/json"}, body
        if method == "POST":
            self.counts["post"] += 1
            return 200, {}, b""
        version = self.site.feeds.get(path)
        if version is not None:
            if self.mixed:
                version = self.site.changed.get(path, version)
            self.counts["feed"] += 1
            head = {
                "Content-Type": version.content_type,
                "ETag": version.etag,
                "Last-Modified": version.last_modified,
            }
            inm = headers.get("if-none-match")
            ims = headers.get("if-modified-since")
            if (inm is not None and version.etag in inm) or (
                inm is None and ims == version.last_modified
            ):
                self.counts["304"] += 1
                return 304, head, b""
            return 200, head, version.body
        page = _PAGE_PATH.match(path)
        if page is not None:
            self.counts["page"] += 1
            feed, number = int(page.group(1)), int(page.group(2))
            body = self.page(feed, number)
            return 200, {"Content-Type": "text/html; charset=utf-8", "ETag": '"p"'}, body
        self.counts["404"] += 1
        return 404, {}, b"not found"

    def page(self, feed: int, number: int) -> bytes:
        """A distinct article for each link: a benchmark page whose article body also
        holds paragraphs of two other pages (its own chrome and headline kept)."""
        count = len(self.pages)
        home = (feed * 31 + number) % count
        own = self.paragraphs[home]
        if not own:
            return self.pages[home]
        digest = sha1(f"{feed}/{number}".encode()).digest()
        others = (
            int.from_bytes(digest[:4], "big") % count,
            int.from_bytes(digest[4:8], "big") % count,
        )
        borrowed = b"".join(
            m.group(0) for other in others for m in self.paragraphs[other][:BORROWED]
        )
        at = own[len(own) // 2].end()
        body = self.pages[home]
        return body[:at] + borrowed + body[at:]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                if length := int(headers.get("content-length") or 0):
                    await reader.readexactly(length)
                await asyncio.sleep(self.rng.uniform(*LATENCY))
                status, extra, body = self.answer(method, target.split("?", 1)[0], headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                out = [f"HTTP/1.1 {status} {reason}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                if status != 304:
                    out.append(f"Content-Length: {len(body)}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD" and status != 304:
                    writer.write(body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, ValueError):
            return
        finally:
            writer.close()

    async def serve(self, port: int, hosts: int) -> None:
        addresses = [f"127.0.0.{n}" for n in range(1, hosts + 1)]
        server = await asyncio.start_server(self.handle, addresses, port, backlog=1024)
        async with server:
            await server.serve_forever()


def _serve(site: Site, corpora: Path, port: int, hosts: int = 1) -> None:
    asyncio.run(_Server(site, load_pages(corpora)).serve(port, hosts))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def control(base: str, what: str) -> Any:
    answer = httpx.get(f"{base}/_control/{what}", timeout=10)
    return answer.json() if what == "stats" else answer.text


def wait_up(base: str) -> None:
    for _ in range(200):
        try:
            control(base, "stats")
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the loopback server did not start")


# measuring


class Stages:
    """Seconds per stage from methods wrapped at runtime: summed over calls, busy (wall
    time with at least one call of the stage running: its share of the cycle), and for a
    stage that is not a coroutine the CPU time of the threads running it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.busy: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._running: dict[str, int] = defaultdict(int)
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()

    def _enter(self, stage: str) -> float:
        now = time.perf_counter()
        with self._lock:
            if self._running[stage] == 0:
                self._since[stage] = now
            self._running[stage] += 1
        return now

    def _exit(self, stage: str, started: float) -> None:
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] += now - started
            self.calls[stage] += 1
            self._running[stage] -= 1
            if self._running[stage] == 0:
                self.busy[stage] += now - self._since.pop(stage)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = self._enter(stage)
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._exit(stage, started)

            setattr(owner, name, timed_async)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started, spent = self._enter(stage), time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    self._exit(stage, started)
                    with self._lock:
                        self.cpu[stage] += time.thread_time() - spent

            setattr(owner, name, timed)

    def install(self) -> None:
        self.wrap(Fetcher, "fetch", "fetch")
        self.wrap(pipeline_mod, "parse_feed", "parse")
        self.wrap(Extractor, "page_text", "extract")
        self.wrap(pipeline_mod, "article_from", "extract (article_from)")
        self.wrap(Tx, "insert_found_article", "dedup")
        self.wrap(StoryDesk, "place", "stories (place)")
        self.wrap(pipeline_mod, "record_article", "store (record_article, incl. dedup)")
        self.wrap(Tx, "record_feed_ok", "store")
        self.wrap(Tx, "schedule_feed", "store")
        self.wrap(Tx, "pending_entries", "store")
        self.wrap(Tx, "sync_feeds", "store")

    def wrap_ruleset(self, pipeline: Pipeline) -> None:
        self.wrap(pipeline.ruleset, "matching", "match")


class GcClock:
    """Seconds this process spends in the cyclic garbage collector."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


GC = GcClock()


def child_cpu(exclude: set[int]) -> float:
    """CPU seconds of this process's live children (the extractor's workers)."""
    return sum(process_cpu(kid) for kid in live_children(exclude))


def live_children(exclude: set[int]) -> list[int]:
    """The pids of this process's live children but `exclude` (the extractor's workers)."""
    kids: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return [k for k in kids if k not in exclude]


def status_mb(pid: int | str, key: str) -> float:
    """A field of /proc/PID/status in kB (VmRSS, VmHWM), as MB; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak_rss() -> None:
    """Start this process's VmHWM (peak RSS) again from its current RSS (Linux 4.0+)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def process_cpu(pid: int) -> float:
    """CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Rss:
    """Peak RSS over a cycle, MB: the main process's (from its RSS when the cycle
    started, `start`), and each extractor worker's, read as the cycle ends."""

    start: float
    main: float
    workers: tuple[float, ...]

    @property
    def total(self) -> float:
        return self.main + sum(self.workers)

    def __str__(self) -> str:
        workers = " + ".join(f"{w:.0f}" for w in self.workers) or "none"
        return (
            f"peak RSS {self.total:.0f} MB (main {self.main:.0f} MB from {self.start:.0f} MB "
            f"at the start, workers {workers} MB)"
        )


@dataclass
class Cycle:
    label: str
    wall: float
    cpu: float
    workers_cpu: float
    server_cpu: float
    gc_seconds: float
    rss: Rss
    report: CycleReport
    server: dict[str, int]

    @property
    def cores(self) -> float:
        """The cores kept busy on average: all CPU time over wall time."""
        return (self.cpu + self.workers_cpu + self.server_cpu) / self.wall if self.wall else 0.0

    def line(self) -> str:
        feeds = defaultdict(int)
        for f in self.report.feeds:
            feeds[f.status] += 1
        entries = len(self.report.entries)
        rate = entries / self.wall if self.wall else 0.0
        arts = self.report.count("article")
        return (
            f"{self.label}: {self.wall:.1f} s wall, CPU {self.cpu:.1f} s "
            f"(+{self.workers_cpu:.1f} s extractor workers, +{self.server_cpu:.1f} s bench "
            f"server: {self.cores:.2f} cores busy), {self.gc_seconds:.1f} s in the garbage "
            f"collector, {self.rss}; "
            f"feeds {dict(feeds)}; "
            f"entries {entries} ({arts} articles, {self.report.count('duplicate')} duplicates, "
            f"{self.report.count('error')} errors) = {rate:.1f} entries/s, "
            f"{arts / self.wall:.1f} new articles/s; alerts {self.report.alerts}, sent "
            f"{self.report.sent}; server {self.server}"
        )


def write_config(folder: Path, base: str, count: int, hosts: int = 1) -> Path:
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config = {
        "store": f"sqlite:///{folder / 'cycle.db'}",
        # a loopback host stands for many sites (one host: every site): its slots and its
        # page budget (none here) are theirs
        "fetch": {
            "allow_private_networks": "127.0.0.0/8",
            "concurrency": 16,
            "per_host": 16,
            "pages_per_host_per_cycle": 10**9,
        },
        "feeds": [
            {"name": f"feed {n}", "url": feed_url(base, n, count, hosts)} for n in range(count)
        ],
        "channels": {"desk": "json://" + base.removeprefix("http://") + "/hook"},
        "rules": [{**rule, "notify": ["desk"]} for rule in shipped["rules"]],
    }
    path = folder / "cycle.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def timed_cycle(
    label: str,
    config_path: Path,
    base: str,
    server_pid: int,
    stages: Stages | None = None,
    feeds: int | None = None,
) -> Cycle:
    cfg = config_mod.load(config_path)
    store = Store.open(cfg.store)
    try:
        async with open_pipeline(cfg, store) as pipeline:
            if stages is not None:
                stages.wrap_ruleset(pipeline)
            before = resource.getrusage(resource.RUSAGE_SELF)
            kids, served = child_cpu({server_pid}), process_cpu(server_pid)
            collected = GC.seconds
            start_rss = status_mb("self", "VmRSS")
            reset_peak_rss()
            started = time.perf_counter()
            report = await run_cycle(pipeline, cfg.feeds[:feeds] if feeds else None)
            wall = time.perf_counter() - started
            workers = tuple(status_mb(k, "VmHWM") for k in live_children({server_pid}))
            rss = Rss(start_rss, status_mb("self", "VmHWM"), workers)
            workers_cpu = child_cpu({server_pid}) - kids
            server_cpu = process_cpu(server_pid) - served
            gc_seconds = GC.seconds - collected
            after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        store.close()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    server = control(base, "stats")
    return Cycle(label, wall, cpu, workers_cpu, server_cpu, gc_seconds, rss, report, server)


async def bare_poll(urls: list[str], validators: dict[str, tuple[str, str]]) -> tuple[float, int]:
    """Conditional GETs of every feed, 16 at a time, as the pipeline does: seconds, 304s."""
    limit = asyncio.Semaphore(16)
    not_modified = 0
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20), trust_env=False
    ) as client:

        async def one(url: str) -> None:
            nonlocal not_modified
            etag, modified = validators[url]
            async with limit:
                answer = await client.get(
                    url, headers={"If-None-Match": etag, "If-Modified-Since": modified}
                )
            not_modified += answer.status_code == 304

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - started, not_modified


def _warm() -> None:
    """Load the extractor's libraries in a floor worker before it is timed."""
    page_text(b"<html><body><p>warm</p></body></html>", "http://warm.example/")


def _extract(body: bytes, url: str) -> int:
    """The text of a page as newsmon extracts it; its length (only that crosses back)."""
    return len(page_text(body, url).text)


@dataclass(frozen=True)
class Floor:
    """A floor run: wall seconds, pages, CPU seconds (its process and its workers), peak
    RSS of its process (MB)."""

    wall: float
    pages: int
    cpu: float
    rss: float


async def floor_cycle(urls: list[str], workers: int) -> tuple[float, int, float]:
    """The unavoidable work of a first cycle and nothing else: every feed fetched (16 at
    a time, as the pipeline), parsed with feedparser, every item's page fetched and its
    text extracted in `workers` processes, as many pages in flight as the pipeline has
    (16 + 2 a worker); nothing stored, no rules, no stories. Seconds, pages, peak RSS of
    this process (MB)."""
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(workers, initializer=_warm)
    await asyncio.gather(*(loop.run_in_executor(pool, _warm) for _ in range(workers)))
    limit = asyncio.Semaphore(16)
    in_flight = asyncio.Semaphore(16 + 2 * workers)
    pages = 0
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20), trust_env=False
    ) as client:

        async def page(link: str) -> None:
            nonlocal pages
            async with in_flight:
                async with limit:
                    answer = await client.get(link)
                await loop.run_in_executor(pool, _extract, answer.content, link)
            pages += 1

        async def feed(url: str) -> None:
            async with limit:
                answer = await client.get(url)
            parsed = await asyncio.to_thread(feedparser.parse, answer.content)
            await asyncio.gather(*(page(e.link) for e in parsed.entries if e.get("link")))

        started = time.perf_counter()
        await asyncio.gather(*(feed(u) for u in urls))
        seconds = time.perf_counter() - started
    pool.shutdown()
    return seconds, pages, status_mb("self", "VmHWM")


def floor_apart(urls: list[str], workers: int) -> Floor:
    """`floor_cycle` in a child process, so that its heap is not this one's; with the CPU
    of the child and its workers."""
    receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_floor_child, args=(urls, workers, sending)
    )
    child.start()
    sending.close()
    found = receiving.recv()
    child.join()
    return found  # type: ignore[no-any-return]


def _floor_child(urls: list[str], workers: int, sending: Any) -> None:
    wall, pages, rss = asyncio.run(floor_cycle(urls, workers))
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    sending.send(Floor(wall, pages, sum(u.ru_utime + u.ru_stime for u in used), rss))


def cycle_apart(
    label: str, config_path: Path, base: str, server_pid: int, staged: bool = False
) -> tuple[Cycle, dict[str, tuple[float, float, int, float | None]]]:
    """`timed_cycle` in a fresh interpreter, as `newsmon run` would run it, so that its
    peak RSS holds newsmon's memory, not this bench's world; with `staged`, the stage
    times too (busy, summed, calls by stage)."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_cycle_child, args=(label, config_path, base, server_pid, staged, sending)
    )
    child.start()
    sending.close()
    found = receiving.recv()
    child.join()
    return found  # type: ignore[no-any-return]


def _cycle_child(
    label: str, config_path: Path, base: str, server_pid: int, staged: bool, sending: Any
) -> None:
    stages = Stages() if staged else None
    if stages is not None:
        stages.install()
    cycle = asyncio.run(timed_cycle(label, config_path, base, server_pid, stages))
    busy = {}
    if stages is not None:
        busy = {
            k: (v, stages.seconds[k], stages.calls[k], stages.cpu.get(k))
            for k, v in stages.busy.items()
        }
    sending.send((cycle, busy))


def profile_first(config_path: Path, base: str, server_pid: int, feeds: int) -> str:
    """cProfile of a first cycle over `feeds` feeds on a fresh store: the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(timed_cycle("profiled", config_path, base, server_pid, feeds=feeds))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("tottime")
    stats.print_stats(15)
    out.write("\n--- by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(
        r"pipeline|extract|feeds\.py|stories|store\.py|rules|fetch\.py|similarity|minhash",
        25,
    )
    return out.getvalue()


def prefect_share(config_path: Path, runs: int = 5) -> tuple[float, float]:
    """Median seconds of a steady cycle as the Prefect `poll` flow (every feed, what
    `newsmon serve` pays a cycle) and as `newsmon run`'s plain cycle (config and store
    opening included), timed in turns in one warm process under a test harness, so that
    both share its server's background load; after one untimed run of each."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["PREFECT_HOME"] = home
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
        from prefect.testing.utilities import prefect_test_harness

        from flows.poll import poll

        with prefect_test_harness():
            print(f"prefect flow summary: {asyncio.run(poll(str(config_path), due_only=False))}")
            plain_cycle(config_path)
            flow, plain = [], []
            collected = GC.seconds
            for _ in range(runs):
                started = time.perf_counter()
                asyncio.run(poll(str(config_path), due_only=False))
                flow.append(time.perf_counter() - started)
                plain.append(plain_cycle(config_path))
            print(f"  {GC.seconds - collected:.1f} s in the garbage collector over the runs")
    return statistics.median(flow), statistics.median(plain)


def plain_cycle(config_path: Path) -> float:
    """Seconds of a `newsmon run` cycle without Prefect: load the config, open the
    store, run the cycle."""
    started = time.perf_counter()
    cfg = config_mod.load(config_path)

    async def cycle() -> None:
        async with open_pipeline(cfg) as pipeline:
            await run_cycle(pipeline)

    asyncio.run(cycle())
    return time.perf_counter() - started


def first_rounds(
    args: argparse.Namespace,
    folder: Path,
    base: str,
    urls: list[str],
    workers: int,
    server_pid: int,
    hosts: int,
) -> tuple[float, float, Cycle, dict[str, tuple[float, float, int, float | None]], Path]:
    """The floor and a first cycle on a fresh store, `args.rounds` times in turns, each
    printed with its ratios. The median ratios of wall and of CPU time, the last first
    cycle with its stage times, and the config of its store (for the cycles after)."""
    floors: list[Floor] = []
    firsts: list[Cycle] = []
    busy: dict[str, tuple[float, float, int, float | None]] = {}
    config_path = folder / "cycle.yaml"
    for number in range(args.rounds):
        round_dir = folder / f"round{number}"
        round_dir.mkdir()
        config_path = write_config(round_dir, base, args.feeds, hosts)
        if not args.no_floor:
            floors.append(floor_apart(urls, workers))
            control(base, "stats")
            f = floors[-1]
            print(
                f"floor (fetch + feedparser + extraction in {workers} processes, nothing "
                f"stored): {f.wall:.1f} s wall, CPU {f.cpu:.1f} s ({f.cpu / f.wall:.2f} cores "
                f"busy) for {f.pages} pages, peak RSS of its main process {f.rss:.0f} MB"
            )
        first, busy = cycle_apart("first", config_path, base, server_pid, staged=True)
        firsts.append(first)
        print(first.line())
        if floors:
            spent = first.cpu + first.workers_cpu
            print(
                f"first/floor = {first.wall / floors[-1].wall:.2f} "
                f"(CPU {spent / floors[-1].cpu:.2f})"
            )
    if not floors:
        return math.nan, math.nan, firsts[-1], busy, config_path
    walls = [c.wall / f.wall for c, f in zip(firsts, floors, strict=True)]
    cpus = [(c.cpu + c.workers_cpu) / f.cpu for c, f in zip(firsts, floors, strict=True)]
    if args.rounds > 1:
        summed = sum(c.wall for c in firsts) / sum(f.wall for f in floors)
        print(
            f"first/floor over {args.rounds} rounds: "
            + ", ".join(f"{w:.2f}" for w in walls)
            + f"; median {statistics.median(walls):.2f}, of the sums {summed:.2f}; CPU median "
            f"{statistics.median(cpus):.2f}"
        )
    return statistics.median(walls), statistics.median(cpus), firsts[-1], busy, config_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="?", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument(
        "--items",
        type=int,
        nargs=2,
        default=(MIN_ITEMS, MAX_ITEMS),
        metavar=("MIN", "MAX"),
        help="items per feed, drawn between MIN and MAX",
    )
    parser.add_argument(
        "--profile-feeds", type=int, default=20, help="feeds in the cProfile run (0: none)"
    )
    parser.add_argument(
        "--hosts", type=int, default=1, help="loopback hosts the feeds are spread over (1-250)"
    )
    parser.add_argument("--no-prefect", action="store_true")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the floor (its ratio is then not printed)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="floor and first cycle timed this many times in turns (medians printed)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    corpora = args.corpora if args.corpora.is_absolute() else (REPO / args.corpora).resolve()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hosts = max(1, min(args.hosts, 250, args.feeds))
    site = build_site(corpora, args.feeds, base, items=tuple(args.items), hosts=hosts)
    print(
        f"{len(site.feeds)} feeds on {hosts} host(s), {site.items} items, "
        f"{len(site.changed)} change in mixed"
    )
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(site, corpora, port, hosts), daemon=True
    )
    server.start()
    assert server.pid is not None
    try:
        wait_up(base)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config_path = write_config(folder, base, args.feeds, hosts)
            urls = [feed_url(base, n, args.feeds, hosts) for n in range(args.feeds)]
            workers = config_mod.load(config_path).extract.workers
            wall_ratio, cpu_ratio, first, busy, config_path = first_rounds(
                args, folder, base, urls, workers, server.pid, hosts
            )
            for stage, (busy_s, summed, calls, cpu) in sorted(
                busy.items(), key=lambda kv: -kv[1][0]
            ):
                print(
                    f"  stage {stage}: busy {busy_s:.2f} s ({busy_s / first.wall:.0%} of wall), "
                    f"{summed:.2f} s summed over {calls} calls"
                    + (f", CPU {cpu:.2f} s" if cpu is not None else "")
                )
            steady, _ = cycle_apart("steady", config_path, base, server.pid)
            print(steady.line())
            versions = site.feeds.values()
            validators = {u: (v.etag, v.last_modified) for u, v in zip(urls, versions, strict=True)}
            bare, bare_304 = asyncio.run(bare_poll(urls, validators))
            control(base, "stats")
            print(
                f"bare poller: {bare:.2f} s ({bare_304} x 304); "
                f"steady/bare = {steady.wall / bare:.2f}"
            )
            if not args.no_prefect:
                prefect, plain = prefect_share(config_path)
                control(base, "stats")
                print(
                    f"steady cycle, median of 5 taken in turns, config and store opening "
                    f"included: Prefect poll flow {prefect:.2f} s vs plain {plain:.2f} s: "
                    f"Prefect share {(prefect - plain) / prefect:.0%}"
                )
            control(base, "mixed")
            mixed, _ = cycle_apart("mixed", config_path, base, server.pid)
            print(mixed.line())
            print(
                f"ratios: first/floor {wall_ratio:.2f} (CPU {cpu_ratio:.2f}), steady/bare "
                f"{steady.wall / bare:.2f}, mixed {mixed.wall:.1f} s, first cycle "
                f"{first.rss}"
            )
            if args.profile_feeds:
                profile_dir = folder / "profile"
                profile_dir.mkdir()
                profile_config = write_config(profile_dir, base, args.feeds, hosts)
                print(f"\n--- cProfile, first cycle over {args.profile_feeds} feeds ---")
                print(profile_first(profile_config, base, server.pid, args.profile_feeds))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
