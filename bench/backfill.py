"""Backfill throughput: stored articles through the shipped rules, and loopback URLs.

1. `stored`: 5,000 articles (3,000-character texts, one in ten about a Ukraine deal)
   bulk-loaded into a fresh SQLite store, then a dry-run backfill with the three
   rules of config/newsmon.yaml: articles a second.
2. `urls`: 500 article pages on a loopback server answering each after 50 ms, then a
   dry-run backfill from a file of their URLs (robots.txt on; per-host limits as printed).

    python bench/backfill.py [--articles 5000] [--urls 500] [--write-results]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.results import replace_section  # noqa: E402
from monitors import backfill as bf  # noqa: E402
from monitors import config as config_mod  # noqa: E402
from monitors.config import Config  # noqa: E402
from monitors.pipeline import Outcome, open_pipeline, run_backfill  # noqa: E402
from monitors.store import Store  # noqa: E402
from monitors.store.schema import articles, entries, feeds, stories  # noqa: E402
from tests.httpserver import LoopbackServer  # noqa: E402

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
PROSE = (
    "the minister said talks would continue next week while officials in the capital "
    "reviewed budget figures harbour council weather market prices rose sharply as "
    "farmers and unions met regional leaders to discuss transport schools and hospitals"
)
WORDS = PROSE.split(" ")
DEAL = (
    "Kyiv insists on security guarantees modelled on Article 5 before any deal, while "
    "Moscow demands a withdrawal from Donetsk as part of a peace plan; senators said the "
    "Senate would vote on ratifying the agreement with Ukraine."
)


def text(rng: random.Random, on_topic: bool) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(450))
    return f"{body[:1500]} {DEAL} {body[1500:]}" if on_topic else body


def shipped_config(store_url: str, **extra: object) -> Config:
    shipped = yaml.safe_load((REPO / "config" / "newsmon.yaml").read_text(encoding="utf-8"))
    rules = [{**r, "notify": ["desk"]} for r in shipped["rules"]]
    raw = {"store": store_url, "channels": {"desk": "json://127.0.0.1:9/x"}, "rules": rules}
    return config_mod.from_dict(
        {**raw, "aliases": shipped.get("aliases", {}), **extra}, "bench", {}
    )


def load_stored(store: Store, count: int) -> None:
    """`count` articles, one story each, bulk-inserted."""
    rng, now = random.Random(5), datetime.now(UTC)
    with store.engine.begin() as conn:
        feed_id = conn.execute(
            feeds.insert().values(url="https://bench.example/feed")
        ).inserted_primary_key[0]
        conn.execute(
            entries.insert(),
            [
                {
                    "id": n,
                    "feed_id": feed_id,
                    "key": f"k{n}",
                    "url": f"https://bench.example/{n}",
                    "canonical_url": f"https://bench.example/{n}",
                    "status": "done",
                    "first_seen_at": now,
                }
                for n in range(1, count + 1)
            ],
        )
        conn.execute(
            stories.insert(),
            [
                {
                    "id": n,
                    "headline": f"Story {n}",
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "features": "{}",
                }
                for n in range(1, count + 1)
            ],
        )
        conn.execute(
            articles.insert(),
            [
                {
                    "id": n,
                    "entry_id": n,
                    "url": f"https://bench.example/{n}",
                    "canonical_url": f"https://bench.example/{n}",
                    "title": f"Report {n}",
                    "text": text(rng, n % 10 == 0),
                    "site": "bench.example",
                    "source": "page",
                    "text_hash": f"h{n}",
                    "story_id": n,
                    "fetched_at": now,
                    "published_at": SINCE + timedelta(minutes=n),
                }
                for n in range(1, count + 1)
            ],
        )


async def run(cfg: Config, store: Store, request: bf.Request) -> tuple[Outcome, object]:
    """A backfill through the pipeline, as `newsmon backfill` runs it."""
    async with open_pipeline(cfg, store) as pipeline:
        return await run_backfill(pipeline, request)


def bench_stored(count: int, folder: Path) -> tuple[float, int]:
    url = f"sqlite:///{folder / 'stored.db'}"
    store = Store.open(url)
    load_stored(store, count)
    cfg = shipped_config(url)
    started = time.perf_counter()
    outcome, _ = asyncio.run(run(cfg, store, bf.Request(bf.Window(SINCE))))
    elapsed = time.perf_counter() - started
    store.close()
    assert outcome.progress.done == count
    return count / elapsed, len(outcome.fired)


def bench_urls(count: int, folder: Path, concurrency: int, rps: float) -> tuple[float, float]:
    rng = random.Random(7)
    with LoopbackServer() as server:
        for n in range(count):
            page = f"<html><body><article><h1>Report {n}</h1><p>{text(rng, n % 10 == 0)}</p>"
            server.add(
                f"/a/{n}.html",
                (page + "</article></body></html>").encode(),
                delay=0.05,
                headers={"Content-Type": "text/html"},
            )
        listing = folder / "urls.txt"
        listing.write_text("\n".join(server.url(f"/a/{n}.html") for n in range(count)))
        url = f"sqlite:///{folder / 'urls.db'}"
        store = Store.open(url)
        cfg = shipped_config(
            url,
            fetch={"allow_private_networks": "127.0.0.1/32", "concurrency": concurrency},
            backfill={"per_host_concurrency": concurrency, "per_host_rps": rps},
        )
        started = time.perf_counter()
        request = bf.Request(bf.Window(SINCE), "urls", str(listing))
        outcome, _ = asyncio.run(run(cfg, store, request))
        elapsed = time.perf_counter() - started
        store.close()
    assert outcome.progress.done == count and not outcome.errors, outcome.errors[:3]
    return count / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--urls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rps", type=float, default=1000.0)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate, fired = bench_stored(args.articles, Path(tmp))
        url_rate, url_time = bench_urls(args.urls, Path(tmp), args.concurrency, args.rps)
    lines = [
        "## backfill",
        "",
        f"- stored: {args.articles} articles, 3 shipped rules, dry run: "
        f"{rate:.0f} articles/s ({fired} alerts would fire)",
        f"- urls: {args.urls} loopback pages answering after 50 ms, robots.txt on, "
        f"per-host concurrency {args.concurrency}, {args.rps:g} req/s: "
        f"{url_time:.1f} s ({url_rate:.0f} pages/s)",
    ]
    print("\n".join(lines))
    if args.write_results:
        replace_section("## backfill", lines)


if __name__ == "__main__":
    main()
