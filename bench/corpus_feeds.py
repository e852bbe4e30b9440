"""Hostile input, measured: corpus feeds through fetch + parse, a hostile `newsmon run`,
extraction through the worker pool, and SIGKILL trials.

1. Every feed of ../shared/corpora/feedparser-tests (well-formed, ill-formed, encoding,
   entities; each with the Content-Type its header comment names) and of the real-feed
   folders is served on a loopback server and goes through `Fetcher` + `parse_feed`:
   parsed, parsed with a bozo flag, skipped with a reason (FeedError/FetchError), or
   crashed (any other exception).
2. `newsmon run` runs as a subprocess over a hostile loopback site (slow, silent,
   bombing, endless, lying, redirecting-inside servers; the hostile feeds of
   tests/data/hostile; a page trafilatura would chew on for seconds) plus good feeds:
   its wall time, exit status, peak RSS (against a run without the hostile feeds),
   the blocked SSRF attempts, lost entries and duplicate alerts.
3. The 181 pages of the extraction benchmark: in-process, through a 1-worker pool, and
   through a 2-worker pool (two at a time); then a whole cycle over them each way.
4. `newsmon run` SIGKILLed at random points and run again (tests/test_crash.py's helpers).

    python bench/corpus_feeds.py [CORPORA] [--skip-crash] [--write-results]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.feeds_corpus import all_feeds  # noqa: E402
from monitors.config import ExtractConfig, FetchConfig, from_dict  # noqa: E402
from monitors.errors import FeedError, FetchError  # noqa: E402
from monitors.extract import Extractor, PageText, page_text  # noqa: E402
from monitors.ingest.feeds import parse_feed  # noqa: E402
from monitors.ingest.fetch import Fetcher  # noqa: E402
from monitors.pipeline import open_pipeline, run_cycle  # noqa: E402
from monitors.store import Store  # noqa: E402
from tests.hostile import (  # noqa: E402
    BULLETIN_RULE,
    HostileServer,
    answer,
    bombs,
    endless,
    redirect,
    silent,
    story,
    story_feed,
    trickle,
)
from tests.httpserver import LoopbackServer  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
RESULTS_TITLE = "# newsmon benchmark results"
SECTION = "## Hostile input"
FEEDPARSER = "feedparser-tests/tests"
FEEDPARSER_GROUPS = ("illformed", "encoding", "entities", "wellformed")
PAGES = "scrapinghub-article-extraction-benchmark/html"
HOSTILE_FEEDS = REPO / "tests" / "data" / "hostile"
TEST_FILES = ("test_hostile_cycle", "test_hostile_feeds", "test_hostile_extract", "test_crash")
DEADLINE = 5.0
_HEADER = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.I | re.M)
_PAGE = "<html><head><title>{}</title></head><body><article><h1>{}</h1><p>{}</p></article>"


# -- 1. corpus feeds through fetch + parse ---------------------------------------------------


@dataclass
class Tally:
    """Outcomes of one group of feeds."""

    parsed: int = 0
    bozo: int = 0
    skipped: int = 0
    crashed: int = 0
    entries: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.parsed + self.bozo + self.skipped + self.crashed


@dataclass(frozen=True)
class CorpusFeed:
    """A feed file and the Content-Type it is served with (its test header, else XML)."""

    group: str
    name: str
    body: bytes
    content_type: str


def corpus_feeds(corpora: Path) -> list[CorpusFeed]:
    """feedparser's test feeds by folder, then the real feeds."""
    found = []
    for group in FEEDPARSER_GROUPS:
        for path in sorted((corpora / FEEDPARSER / group).rglob("*.xml")):
            body = path.read_bytes()
            declared = _HEADER.search(body[:2048])
            kind = declared.group(1).decode("latin-1") if declared else "application/xml"
            found.append(CorpusFeed(f"feedparser {group}", path.name, body, kind))
    for feed in all_feeds(corpora):
        body = feed.path.read_bytes()
        found.append(CorpusFeed("real feeds", feed.relative, body, feed.content_type))
    return found


def run_corpus(feeds: list[CorpusFeed]) -> tuple[dict[str, Tally], float]:
    """Serve every feed, fetch and parse it; tallies by group and the seconds taken."""
    tallies: dict[str, Tally] = {}
    with LoopbackServer() as server:
        for i, feed in enumerate(feeds):
            server.add(f"/f/{i}", feed.body, headers={"Content-Type": feed.content_type})
        started = time.monotonic()
        asyncio.run(_fetch_and_parse(server, feeds, tallies))
    return tallies, time.monotonic() - started


async def _fetch_and_parse(
    server: LoopbackServer, feeds: list[CorpusFeed], tallies: dict[str, Tally]
) -> None:
    limits = FetchConfig(allow_private_networks="127.0.0.1/32")
    limit = asyncio.Semaphore(16)
    async with Fetcher(limits) as fetcher:

        async def one(i: int, feed: CorpusFeed) -> None:
            tally = tallies.setdefault(feed.group, Tally())
            async with limit:
                try:
                    result = await fetcher.fetch(server.url(f"/f/{i}"))
                    parsed = parse_feed(result.body, result.url, result.content_type)
                except (FeedError, FetchError) as exc:
                    tally.skipped += 1
                    tally.reasons[_reason_kind(str(exc))] += 1
                    return
                except Exception as exc:  # what this benchmark counts as a crash
                    tally.crashed += 1
                    tally.crashes.append(f"{feed.name}: {type(exc).__name__}: {exc}"[:200])
                    return
            tally.entries += len(parsed.entries)
            if parsed.bozo:
                tally.bozo += 1
            else:
                tally.parsed += 1

        await asyncio.gather(*(one(i, f) for i, f in enumerate(feeds)))


def _reason_kind(reason: str) -> str:
    return re.sub(r"\(.*|: <unknown>.*|http://\S+: ", "", reason).strip(" :")[:70]


# -- 2. a hostile newsmon run --------------------------------------------------------------


@dataclass
class HostileRun:
    hostile_feeds: int
    hostile_pages: int
    feeds: int
    seconds: float
    exit_status: int
    peak_rss: int
    baseline_rss: int
    ssrf_redirects: int
    ssrf_blocked: int
    canary_connections: int
    failed_feeds: int
    pending: int
    entries: int
    alerts_expected: int
    posts: Counter[bytes]
    stderr_tail: str


def hostile_site(evil: HostileServer, canary: HostileServer, site: LoopbackServer) -> list[str]:
    """Route every hostile case; the feed URLs to poll, hostile ones first."""
    feed = b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>' * 40
    urls = []
    for i in range(5):
        evil.route(f"/drip{i}.xml", trickle(feed, every=0.5))
        evil.route(f"/silent{i}.xml", silent)
        urls += [evil.url(f"/drip{i}.xml"), evil.url(f"/silent{i}.xml")]
    for name, (body, coding) in bombs().items():
        evil.route(f"/{name}.xml", answer(body, {"Content-Encoding": coding}))
        urls.append(evil.url(f"/{name}.xml"))
    evil.route("/endless.xml", endless(b"<item>" * 10_000))
    evil.route("/huge-length.xml", answer(b"<rss/>", {"Content-Length": str(5 * 2**30)}))
    evil.route("/short-length.xml", endless(b"<item>" * 1000, {"Content-Length": "10"}))
    urls += [evil.url(p) for p in ("/endless.xml", "/huge-length.xml", "/short-length.xml")]
    for route, target in ssrf_targets(canary).items():
        evil.route(route, redirect(target))
        urls.append(evil.url(route))
    evil.route("/loop-a", redirect("/loop-b"))
    evil.route("/loop-b", redirect("/loop-a"))
    for scheme in ("file:///etc/passwd", "gopher://127.0.0.1:70/1", "ftp://127.0.0.1/x"):
        evil.route(f"/to-{scheme[:3]}", redirect(scheme))
        urls.append(evil.url(f"/to-{scheme[:3]}"))
    urls.append(evil.url("/loop-a"))
    site.serve_dir("/hostile", HOSTILE_FEEDS, {"{{BASE}}": site.base_url, "{{SECRET}}": "/nope"})
    urls += [site.url(f"/hostile/{p.name}") for p in sorted(HOSTILE_FEEDS.glob("*.xml"))]
    return urls


def ssrf_targets(canary: HostileServer) -> dict[str, str]:
    return {
        "/to-canary": canary.url("/feed.xml"),
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-ten": "http://10.0.0.1/feed.xml",
        "/to-cgnat": "http://100.64.0.1/feed.xml",
        "/to-mapped": "http://[::ffff:10.0.0.1]/feed.xml",
        "/to-mapped-loopback": f"http://[::ffff:127.0.0.2]:{canary.port}/feed.xml",
        "/to-decimal": f"http://2130706434:{canary.port}/feed.xml",
    }


def feed_of_stories(site: LoopbackServer, path: str, first: int, pages: list[str]) -> str:
    """A feed at `path` of distinct stories (numbered from `first`) linking to `pages`."""
    site.add(path, story_feed([(first + i, url) for i, url in enumerate(pages)]))
    return site.url(path)


def benign_pages(site: LoopbackServer) -> list[str]:
    for i in range(10):
        title, text = story(i)
        site.add(f"/good/{i}.html", _PAGE.format(title, title, text).encode(), headers=_HTML)
    return [site.url(f"/good/{i}.html") for i in range(10)]


def hostile_pages(site: LoopbackServer, evil: HostileServer, canary: HostileServer) -> list[str]:
    """Pages that are stuck, slow, inside or bombs."""
    stuck = b"<html><body>" + b"<p>word word word word word word word</p>" * 50_000
    site.add("/stuck.html", stuck, headers={"Content-Type": "text/html"})
    for name, (body, coding) in bombs().items():
        evil.route(f"/{name}.html", answer(body, {"Content-Encoding": coding}))
    evil.route("/drip.html", trickle(b"<html>" * 100, every=0.5))
    pages = [site.url("/stuck.html"), evil.url("/drip.html"), canary.url("/page.html")]
    return pages + [evil.url(f"/{name}.html") for name in bombs()]


_HTML = {"Content-Type": "text/html; charset=utf-8"}


def run_newsmon(config: Path) -> tuple[float, int, int, str]:
    """`newsmon run` once: seconds, exit status, peak RSS in KiB, the end of stderr.

    The peak is the process's VmHWM, read until it exits (a forked child's ru_maxrss
    would count the benchmark's own memory).
    """
    command = [sys.executable, "-m", "newsmon.cli", "run", "--config", str(config)]
    started = time.monotonic()
    peak = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            peak = max(peak, _high_water_mark(proc.pid))
            time.sleep(0.02)
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-600:]
    return time.monotonic() - started, proc.returncode, peak, tail


def _high_water_mark(pid: int) -> int:
    """A running process's peak resident set in KiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def write_config(folder: Path, name: str, feeds: list[str], hook: LoopbackServer) -> Path:
    raw: dict[str, Any] = {
        "store": f"sqlite:///{folder / (name + '.db')}",
        "feeds": [{"url": u} for u in feeds],
        "channels": {"desk": "json://" + hook.url("/hook").removeprefix("http://")},
        "rules": [
            BULLETIN_RULE,
            {
                "id": "security-guarantees",
                "query": '"security guarantee*" AND (Ukrain* OR Kyiv)',
                "notify": ["desk"],
                "max_alerts_per_hour": 10_000,
            },
        ],
        "fetch": {"allow_private_networks": "127.0.0.1/32", "timeout": DEADLINE, "retries": 0},
        "extract": {"timeout": "2s"},
    }
    from_dict(raw, name, env={})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def hostile_run(folder: Path) -> HostileRun:
    with (
        HostileServer() as evil,
        HostileServer("127.0.0.2") as canary,
        LoopbackServer() as site,
        LoopbackServer() as hook,
    ):
        hook.add("/hook", b"")
        canary.route("/feed.xml", answer(b'<rss version="2.0"><channel></channel></rss>'))
        benign = feed_of_stories(site, "/benign.xml", 0, benign_pages(site))
        _, _, baseline, _ = run_newsmon(write_config(folder, "baseline", [benign], hook))
        hook.clear_requests()
        pages = hostile_pages(site, evil, canary)
        feeds = [*hostile_site(evil, canary, site), feed_of_stories(site, "/mixed.xml", 100, pages)]
        seconds, status, peak, tail = run_newsmon(
            write_config(folder, "hostile", [*feeds, benign], hook)
        )
        posts = Counter(r.body for r in hook.requests if r.method == "POST")
        blocked, failed, pending, entries = store_figures(folder / "hostile.db")
        return HostileRun(
            hostile_feeds=len(feeds) - 1,
            hostile_pages=len(pages),
            feeds=len(feeds) + 1,
            seconds=seconds,
            exit_status=status,
            peak_rss=peak,
            baseline_rss=baseline,
            ssrf_redirects=len(ssrf_targets(canary)),
            ssrf_blocked=blocked,
            canary_connections=canary.connections,
            failed_feeds=failed,
            pending=pending,
            entries=entries,
            alerts_expected=10 + len(pages),
            posts=posts,
            stderr_tail=tail,
        )


def store_figures(db: Path) -> tuple[int, int, int, int]:
    """(SSRF refusals, failed feeds, pending entries, entries) in a run's store."""
    with sqlite3.connect(db) as conn:
        errors = [e or "" for (e,) in conn.execute("SELECT last_error FROM feeds")]
        statuses = Counter(s for (s,) in conn.execute("SELECT status FROM entries"))
    blocked = sum("private address" in e for e in errors)
    failed = sum(bool(e) for e in errors)
    return blocked, failed, statuses["pending"], sum(statuses.values())


# -- 3. extraction through the pool --------------------------------------------------------


@dataclass
class PoolFigures:
    pages: int
    in_process: float
    one_worker: float
    two_workers: float
    overhead: float  # median extra seconds a page through the pool
    round_trip: float  # median seconds for a trivial page through the pool
    cycles: dict[str, float]


def load_pages(corpora: Path) -> list[bytes]:
    return [gzip.decompress(p.read_bytes()) for p in sorted((corpora / PAGES).glob("*.gz"))]


def time_pool(pages: list[bytes]) -> PoolFigures:
    """Best of two runs of each way to extract every page."""
    url = "https://news.example.com/story"
    page_text(pages[0], url)  # trafilatura's first call loads its data
    in_process = min(_timed(lambda: [page_text(p, url) for p in pages]) for _ in range(2))
    with_one = Extractor(ExtractConfig(workers=1, timeout=30))
    with_one.page_text(b"<p>warm</p>", url)
    one = min(_timed(lambda: [with_one.page_text(p, url) for p in pages]) for _ in range(2))
    overhead = statistics.median(
        _timed(lambda p=p: with_one.page_text(p, url)) - _timed(lambda p=p: page_text(p, url))
        for p in pages
    )
    round_trip = statistics.median(
        _timed(lambda: with_one.page_text(b"<p>x</p>", url)) for _ in range(200)
    )
    with_one.close()
    with_two = Extractor(ExtractConfig(workers=2, timeout=30))

    async def both() -> None:
        limit = asyncio.Semaphore(2)

        async def one_page(page: bytes) -> PageText:
            async with limit:
                return await asyncio.to_thread(with_two.page_text, page, url)

        await asyncio.gather(one_page(b"<p>warm</p>"), one_page(b"<p>warm</p>"))
        await asyncio.gather(*(one_page(p) for p in pages))

    two = min(_timed(lambda: asyncio.run(both())) for _ in range(2))
    with_two.close()
    return PoolFigures(len(pages), in_process, one, two, overhead, round_trip, time_cycles(pages))


def _timed(work: Callable[[], object]) -> float:
    started = time.monotonic()
    work()
    return time.monotonic() - started


class InProcess:
    """Extraction in the cycle's own process, as before the pool (for comparison)."""

    workers = 1

    def page_text(self, page: bytes, url: str) -> PageText:
        return page_text(page, url)


def time_cycles(pages: list[bytes]) -> dict[str, float]:
    """One whole cycle over a feed of every page: in-process, 1 worker, 2 workers."""
    figures = {}
    with LoopbackServer() as site, tempfile.TemporaryDirectory() as tmp:
        for i, page in enumerate(pages):
            site.add(f"/p/{i}.html", page, headers=_HTML)
        items = "".join(
            f"<item><title>Story {i}</title><link>{site.url(f'/p/{i}.html')}</link></item>"
            for i in range(len(pages))
        )
        site.add("/feed.xml", f'<rss version="2.0"><channel>{items}</channel></rss>'.encode())
        for mode in ("in-process", "1 worker", "2 workers"):
            raw = {
                "store": f"sqlite:///{tmp}/{mode.replace(' ', '-')}.db",
                "feeds": [{"url": site.url("/feed.xml")}],
                "fetch": {
                    "allow_private_networks": "127.0.0.1/32",
                    "pages_per_host_per_cycle": 10**9,  # every page, in one cycle
                },
                "extract": {"workers": 2 if mode == "2 workers" else 1},
            }
            figures[mode] = _cycle(from_dict(raw, mode, env={}), mode == "in-process")
    return figures


def _cycle(cfg: Any, in_process: bool) -> float:
    store = Store.open(cfg.store)

    async def go() -> float:
        async with open_pipeline(cfg, store) as pipeline:
            if in_process:
                pipeline.extractor = InProcess()  # type: ignore[assignment]
            started = time.monotonic()
            await run_cycle(pipeline)
            return time.monotonic() - started

    try:
        return asyncio.run(go())
    finally:
        store.close()


# -- 4. SIGKILL trials ------------------------------------------------------------------------


@dataclass
class CrashFigures:
    kills: Counter[str]
    entries: int
    lost_entries: int
    lost_alerts: int
    duplicates: int
    seconds: float


def crash_trials(folder: Path, trials: int = 20, seed: int = 1) -> CrashFigures:
    from tests.test_crash import NewsSite, finish, kill_at_random, statuses

    started = time.monotonic()
    rng = random.Random(seed)
    kills: Counter[str] = Counter()
    with LoopbackServer() as server:
        site = NewsSite(server, random.Random(seed))
        config = site.config(folder)
        for _ in range(trials):
            site.add_items()
            kills[kill_at_random(config, site, rng).split()[0]] += 1
            finish(config)
        posts = site.posts()
        done = statuses(config, "entries")["done"]
    return CrashFigures(
        kills=kills,
        entries=len(site.titles),
        lost_entries=len(site.titles) - done,
        lost_alerts=len(set(site.titles) - set(posts)),
        duplicates=sum(posts.values()) - len(posts),
        seconds=time.monotonic() - started,
    )


# -- the report --------------------------------------------------------------------------


def test_cases() -> dict[str, int]:
    """How many test cases each hostile-input test file holds (pytest's collection)."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + [f"tests/{name}.py" for name in TEST_FILES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        if "::" in line:
            counts[line.split("::")[0].removeprefix("tests/").removesuffix(".py")] += 1
    return dict(counts)


def report(
    tallies: dict[str, Tally],
    corpus_seconds: float,
    run: HostileRun,
    pool: PoolFigures,
    crash: CrashFigures | None,
    cases: dict[str, int],
) -> list[str]:
    lines = [SECTION, "", *_intro(), "", *_corpus_table(tallies, corpus_seconds)]
    lines += ["", *_hostile_lines(run), "", *_pool_lines(pool)]
    if crash is not None:
        lines += ["", *_crash_lines(crash)]
    lines += ["", "Hostile-input test cases (pytest items):"]
    lines += [f"- `tests/{name}.py`: {count}" for name, count in sorted(cases.items())]
    return lines


def _intro() -> list[str]:
    return [
        "`python bench/corpus_feeds.py --write-results` on a 2-core machine; every server",
        "on loopback, in the benchmark's own process. Crashed = an exception other than",
        "FeedError/FetchError.",
    ]


def _corpus_table(tallies: dict[str, Tally], seconds: float) -> list[str]:
    lines = [
        f"Corpus feeds through `Fetcher` + `parse_feed` ({seconds:.1f} s; "
        f"peak RSS of the whole benchmark process so far {_peak_self()} MiB):",
        "",
        "| feeds | files | parsed | parsed, bozo | skipped with a reason | crashed | entries |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for group, t in tallies.items():
        lines.append(
            f"| {group} | {t.total} | {t.parsed} | {t.bozo} | {t.skipped} | {t.crashed} "
            f"| {t.entries} |"
        )
    reasons: Counter[str] = sum((t.reasons for t in tallies.values()), Counter())
    lines += ["", "Skip reasons: " + "; ".join(f"{r} ({n})" for r, n in reasons.most_common())]
    crashes = [c for t in tallies.values() for c in t.crashes]
    lines += [f"Crashes: {crashes[:5] if crashes else 'none'}"]
    return lines


def _peak_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _hostile_lines(run: HostileRun) -> list[str]:
    duplicates = sum(run.posts.values()) - len(run.posts)
    growth = (run.peak_rss - run.baseline_rss) // 1024
    return [
        f"A hostile `newsmon run`: {run.hostile_feeds} hostile feeds (5 trickling, 5 silent, "
        "4 bombs of 200 MiB, endless and lying bodies, redirects inside, to other schemes and "
        "in a loop, the feeds of tests/data/hostile) and a feed of "
        f"{run.hostile_pages} hostile pages (stuck for trafilatura, trickling, inside, bombs), "
        f"beside a benign feed of 10 pages; fetch deadline {DEADLINE:g} s, 10 MiB size limit, "
        "2 s extraction deadline, no retries:",
        "",
        f"- wall time {run.seconds:.1f} s, start-up (~0.8 s) included; exit status "
        f"{run.exit_status}; {run.failed_feeds} of {run.feeds} feeds failed, each with a reason",
        f"- peak RSS {run.peak_rss // 1024} MiB against {run.baseline_rss // 1024} MiB for the "
        f"benign feed alone (+{growth} MiB, with ~13 bodies decoding at once up to the 10 MiB "
        "limit; each bomb would decode to 200 MiB)",
        f"- SSRF: {run.ssrf_blocked} of {run.ssrf_redirects} redirects inside refused at connect "
        f"time, and the page inside fell back to its summary; connections that reached "
        f"127.0.0.2: {run.canary_connections}",
        f"- entries {run.entries}, left pending {run.pending}; alerts received "
        f"{len(run.posts)} (at least {run.alerts_expected} expected), duplicates {duplicates}",
    ]


def _pool_lines(pool: PoolFigures) -> list[str]:
    cycles = ", ".join(f"{mode} {s:.2f} s" for mode, s in pool.cycles.items())
    return [
        f"Extraction of the {pool.pages} extraction-benchmark pages: in-process "
        f"{pool.in_process:.2f} s ({pool.in_process / pool.pages * 1000:.1f} ms a page); "
        f"1 worker {pool.one_worker:.2f} s; 2 workers, two pages at a time, "
        f"{pool.two_workers:.2f} s ({pool.in_process / pool.two_workers:.2f}x in-process). "
        f"Overhead of the pool, per page: {pool.overhead * 1000:+.1f} ms (median of "
        "the page-by-page differences, in-process and pool runs interleaved); a trivial "
        f"page's round trip {pool.round_trip * 1000:.2f} ms.",
        f"A whole cycle over a feed of those pages: {cycles}.",
        f"(Load average when measured: {os.getloadavg()[0]:.1f}; two CPU-bound processes "
        f"here finish {parallel_speedup():.2f}x as fast as one after the other.)",
    ]


def parallel_speedup() -> float:
    """How much faster two CPU-bound processes run side by side than in turn."""
    command = [sys.executable, "-c", "sum(range(30_000_000))"]
    alone = _timed(lambda: subprocess.run(command, check=True))
    both = _timed(lambda: [p.wait() for p in [subprocess.Popen(command) for _ in range(2)]])
    return 2 * alone / both


def _crash_lines(crash: CrashFigures) -> list[str]:
    where = ", ".join(f"{stage} {n}" for stage, n in sorted(crash.kills.items()))
    return [
        f"SIGKILL trials ({sum(crash.kills.values())} kills after a random sleep or the n-th "
        f"page or alert request: {where}; each followed by a run to completion; "
        f"{crash.seconds:.0f} s): {crash.entries} entries, lost {crash.lost_entries}; "
        f"alerts lost {crash.lost_alerts}; duplicate alerts {crash.duplicates} "
        f"(at most one per kill allowed).",
    ]


def update_results(path: Path, section: list[str]) -> None:
    """Replace (or add) SECTION in RESULTS.md, keeping every other section."""
    text = path.read_text(encoding="utf-8") if path.exists() else RESULTS_TITLE + "\n"
    lines = text.rstrip("\n").split("\n")
    if SECTION in lines:
        start = lines.index(SECTION)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
        lines[start : end if end is not None else len(lines)] = [*section, ""]
    else:
        lines += ["", *section]
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="?", type=Path, default=REPO.parent / "shared/corpora")
    parser.add_argument("--skip-crash", action="store_true", help="no SIGKILL trials")
    parser.add_argument("--write-results", action="store_true", help=f"update {RESULTS.name}")
    args = parser.parse_args(argv)
    pool = time_pool(load_pages(args.corpora))  # first, in a lean process
    tallies, corpus_seconds = run_corpus(corpus_feeds(args.corpora))
    with tempfile.TemporaryDirectory(prefix="newsmon-hostile-") as tmp:
        run = hostile_run(Path(tmp))
        crash = None if args.skip_crash else crash_trials(Path(tmp))
    lines = report(tallies, corpus_seconds, run, pool, crash, test_cases())
    print("\n".join(lines))
    if run.exit_status != 0:
        print(f"\nnewsmon run failed:\n{run.stderr_tail}", file=sys.stderr)
        return 1
    if args.write_results:
        update_results(RESULTS, lines)
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
