"""Publish→alert latency of pushed (WebSub) and polled feeds, on loopback.

One loopback publisher serves `--pushed` feeds that name the loopback hub
(tests/websub_hub.py) and `--polled` feeds that name none, all empty at first. The
desk's site runs as `newsmon web` (another process) with `push.base_url` set, so the
hub's checks and pushes reach its callback; this process runs poll cycles (`due_only`)
on a fixed schedule, as `newsmon serve` does, every feed with `every: 5m`. A first cycle
polls every feed and subscribes the pushed ones. Then `--entries` entries are published
at random moments over `--span` minutes, alternately to a random pushed and a random
polled feed: the publisher's feed (and the article's page) change, and for a pushed feed
the hub is pinged and pushes the new feed at once. Each entry's publication is timed
here; its alert's first message is timed by the deliverer (a json:// channel to a
loopback hook); an alert per entry (one rule matches every article, each a story of
its own).

The clock runs `--scale` times faster for both arms: the poll schedule, each feed's
`every`, the safety interval and the span of publications are all divided by it. A
latency is reported in real seconds, and as it would be unscaled: the wait until the
entry is seen multiplied back by the scale, the time from seen to sent as measured
(processing does not scale). The same formula is applied to both arms.

    python bench/latency.py [--pushed 200] [--polled 800] [--entries 500] [--span 50]
                            [--scale 10] [--store URL] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.results import replace_section  # noqa: E402
from monitors import config as config_mod  # noqa: E402
from monitors.config import Config  # noqa: E402
from monitors.pipeline import open_pipeline, run_cycle  # noqa: E402
from monitors.pipeline.latency import percentile  # noqa: E402
from monitors.store import Store, utcnow  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.httpserver import LoopbackServer  # noqa: E402
from tests.websub_hub import LoopbackHub  # noqa: E402

POLL_EVERY = 300.0  # seconds: newsmon serve's poll schedule, and each feed's `every`
SAFETY = 3600.0  # push.safety_interval, the default
KEEP = 20  # entries a feed lists
WORD = "Zorblat"  # in every article: the one rule matches them all


@dataclass
class Feed:
    """One publisher's feed: its path, whether it names the hub, its entries."""

    path: str
    pushed: bool
    entries: list[int]


class Publisher:
    """The feeds and pages on a loopback server, and the hub their publishers ping."""

    def __init__(self, site: LoopbackServer, hub: LoopbackHub, feeds: list[Feed]) -> None:
        self.site, self.hub, self.feeds = site, hub, feeds
        self.published: dict[str, tuple[datetime, bool]] = {}  # page URL -> when, pushed
        for feed in feeds:
            self.serve(feed)

    def serve(self, feed: Feed) -> bytes:
        url = self.site.url(feed.path)
        hub = f'<link rel="hub" href="{self.hub.url}"/>' if feed.pushed else ""
        items = "".join(self.item(n) for n in feed.entries[-KEEP:])
        body = (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{feed.path}</title>{hub}'
            f'<link rel="self" href="{url}"/><id>{url}</id>{items}</feed>'
        ).encode()
        tag = f'"{len(feed.entries)}"'
        self.site.add(feed.path, body, headers={"Content-Type": "application/atom+xml"}, etag=tag)
        return body

    def item(self, n: int) -> str:
        title = " ".join(words(n, 4))
        return (
            f"<entry><id>tag:bench,{n}</id><title>{title}</title>"
            f'<link href="{self.page_url(n)}"/><updated>{_iso(utcnow())}</updated>'
            f"<summary>{title}</summary></entry>"
        )

    def page_url(self, n: int) -> str:
        return self.site.url(f"/pages/{n}.html")

    def publish(self, feed: Feed, n: int) -> None:
        """Entry `n` goes live in `feed` (and, pushed, to the hub at once)."""
        title = " ".join(words(n, 4))
        text = " ".join(words(n, 150)[4:])
        page = (
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{WORD} {text}.</p></article></body></html>"
        )
        self.site.add(f"/pages/{n}.html", page.encode(), headers={"Content-Type": "text/html"})
        feed.entries.append(n)
        body = self.serve(feed)
        self.published[self.page_url(n)] = (utcnow(), feed.pushed)
        if feed.pushed:
            self.hub.publish(self.site.url(feed.path), body)


def words(n: int, count: int) -> list[str]:
    """The first `count` made-up words of article `n`: 26^7 possible, so two articles
    share none (each is a story of its own)."""
    rng = random.Random(n)
    return ["".join(rng.choices(string.ascii_lowercase, k=7)).capitalize() for _ in range(count)]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_config(
    folder: Path, store: str, site: LoopbackServer, feeds: list[Feed], hook: str, port: int,
    scale: float,
) -> tuple[Path, Config]:  # fmt: skip
    raw = {
        "store": store,
        "feeds": [{"url": site.url(f.path), "every": POLL_EVERY / scale} for f in feeds],
        "channels": {"desk": hook},
        "rules": [{"id": "bench", "query": WORD, "notify": ["desk"]}],
        "fetch": {"allow_private_networks": "127.0.0.1/32", "timeout": 10, "retries": 0},
        "delivery": {"max_alerts_per_hour": 1_000_000},
        "push": {"base_url": f"http://127.0.0.1:{port}", "safety_interval": SAFETY / scale},
    }
    path = folder / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path, config_mod.load(path, env={})


def start_desk(path: Path, port: int) -> subprocess.Popen[bytes]:
    """`newsmon web` serving the callback; waits until it answers."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "newsmon.cli", "web", "--config", str(path)]
    proc = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/feeds", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the desk's site did not start")


async def poll_on_schedule(cfg: Config, every: float, stop: threading.Event) -> list[float]:
    """Run due-only cycles every `every` seconds until `stop`; each cycle's duration."""
    took = []
    async with open_pipeline(cfg) as pipeline:
        while not stop.is_set():
            started = time.monotonic()
            await run_cycle(pipeline, due_only=True)
            took.append(time.monotonic() - started)
            wait = every - (time.monotonic() - started)
            while wait > 0 and not stop.is_set():
                await asyncio.sleep(min(wait, 0.5))
                wait = every - (time.monotonic() - started)
    return took


def publish_over_time(
    publisher: Publisher, entries: int, span: float, seed: int
) -> threading.Thread:
    """A thread publishing `entries` entries at random moments over `span` seconds,
    alternately to a random pushed and a random polled feed."""
    rng = random.Random(seed)
    pushed = [f for f in publisher.feeds if f.pushed]
    polled = [f for f in publisher.feeds if not f.pushed]
    moments = sorted(rng.uniform(0, span) for _ in range(entries))
    targets = [rng.choice(pushed if i % 2 == 0 else polled) for i in range(entries)]

    def run() -> None:
        start = time.monotonic()
        for n, (moment, feed) in enumerate(zip(moments, targets, strict=True)):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            publisher.publish(feed, 10_000 + n)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class Timed:
    pushed: bool
    real: float  # publication to first message sent, seconds
    unscaled: float  # (seen - published) x scale + (sent - seen)


def measured(store: Store, publisher: Publisher, since: datetime, scale: float) -> list[Timed]:
    """Each published entry's latency, from its alert's times in the store."""
    with store.reading() as tx:
        rows = {r.url: r for r in tx.alert_latencies(since)}
    out = []
    for url, (published, pushed) in publisher.published.items():
        row = rows.get(url)
        if row is None or row.sent_at is None or row.seen_at is None:
            continue
        wait = (row.seen_at - published).total_seconds()
        work = (row.sent_at - row.seen_at).total_seconds()
        out.append(Timed(pushed, wait + work, max(wait, 0.0) * scale + work))
    return out


def sent_count(store: Store, since: datetime) -> int:
    with store.reading() as tx:
        return sum(r.sent_at is not None for r in tx.alert_latencies(since))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushed", type=int, default=200)
    parser.add_argument("--polled", type=int, default=800)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--span", type=float, default=50.0, help="minutes (unscaled)")
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--store", help="a store URL (default: SQLite in a temporary folder)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    every = POLL_EVERY / args.scale
    feeds = [Feed(f"/feeds/{i}.xml", i < args.pushed, []) for i in range(args.pushed + args.polled)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        LoopbackServer() as site,
        LoopbackHub(lease=86400) as hub,
        LoopbackServer() as hook,
    ):
        hook.add("/hook", b"")
        store_url = args.store or f"sqlite:///{Path(tmp) / 'bench.db'}"
        port = free_port()
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        path, cfg = write_config(Path(tmp), store_url, site, feeds, channel, port, args.scale)
        publisher = Publisher(site, hub, feeds)
        store = Store.open(store_url)
        desk = start_desk(path, port)
        try:
            first = time.monotonic()
            asyncio.run(_first_cycle(cfg))
            print(f"first cycle: {time.monotonic() - first:.1f} s, {len(hub.subscriptions)} "
                  f"feeds subscribed at the hub")  # fmt: skip
            since = utcnow() - timedelta(seconds=1)
            stop = threading.Event()
            span = args.span * 60 / args.scale
            publishing = publish_over_time(publisher, args.entries, span, args.seed)
            waiter = threading.Thread(
                target=_stop_when_done, args=(store, since, args.entries, publishing, stop, every)
            )
            waiter.start()
            took = asyncio.run(poll_on_schedule(cfg, every, stop))
            waiter.join()
            timed = measured(store, publisher, since, args.scale)
        finally:
            desk.terminate()
            desk.wait(timeout=30)
            store.close()
    report(args, timed, took)


async def _first_cycle(cfg: Config) -> None:
    async with open_pipeline(cfg) as pipeline:
        await run_cycle(pipeline)


def _stop_when_done(
    store: Store, since: datetime, entries: int, publishing: threading.Thread,
    stop: threading.Event, every: float,
) -> None:  # fmt: skip
    """Stop polling once every entry's alert is sent, or two poll periods after the last
    publication."""
    publishing.join()
    deadline = time.monotonic() + 2 * every + 30
    while time.monotonic() < deadline and sent_count(store, since) < entries:
        time.sleep(0.5)
    stop.set()


def report(args: argparse.Namespace, timed: list[Timed], took: list[float]) -> None:
    lines = [
        "## Push latency",
        "",
        f"`python bench/latency.py --pushed {args.pushed} --polled {args.polled} --entries "
        f"{args.entries} --span {args.span:g} --scale {args.scale:g}`: {args.entries} entries "
        f"published at random over {args.span:g} min, alternately to a random one of "
        f"{args.pushed} pushed (WebSub, loopback hub) and {args.polled} polled feeds, every "
        f"feed `every: 5m` and polled by due-only cycles every 5 min (`newsmon serve`'s "
        f"schedule); pages extracted, one alert per entry to a json:// hook. The clock "
        f"runs ×{args.scale:g} for both arms (5 min = {POLL_EVERY / args.scale:g} s); "
        '"unscaled" = time until seen × scale + seen→sent as measured.',
        "",
        "| arm | alerts sent / published | p50 real | p95 real | p50 unscaled | p95 unscaled |",
        "|---|---|---|---|---|---|",
    ]
    for pushed, name in ((True, "pushed"), (False, "polled")):
        arm = [t for t in timed if t.pushed is pushed]
        published = args.entries // 2 + (args.entries % 2 if pushed else 0)
        if not arm:
            lines.append(f"| {name} | 0 / {published} | | | | |")
            continue
        real = [t.real for t in arm]
        unscaled = [t.unscaled for t in arm]
        lines.append(
            f"| {name} | {len(arm)} / {published} | {percentile(real, 50):.2f} s | "
            f"{percentile(real, 95):.2f} s | {percentile(unscaled, 50):.1f} s | "
            f"{percentile(unscaled, 95):.1f} s |"
        )
    if took:
        lines += [
            "",
            f"Poll cycles: {len(took)}, {statistics_line(took)} each "
            f"(every {POLL_EVERY / args.scale:g} s real).",
        ]
    lines += [
        "",
        "The desk's site (`newsmon web`, taking the pushes) ran in a process of its own, the "
        "cycles, the publisher and the hub in the bench's, on a 2-core machine shared with "
        "other work. A pushed entry waits for nothing but its own page and extraction; a "
        "polled one waits for its feed's next poll (half an interval on average), then for "
        "the cycle's other feeds to be polled before its page is processed.",
    ]
    print("\n".join(lines))
    if args.write:
        replace_section(lines[0], lines)


def statistics_line(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.1f} s, max {max(values):.1f} s"


if __name__ == "__main__":
    main()
