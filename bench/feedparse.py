"""The fast feed parser against feedparser, on every corpus feed.

Each feed of ../shared/corpora (feedparser's 2,106 test feeds with the Content-Type
their header names, and the real feeds of `all_feeds`) is parsed by `parse_feed` with
the fast path and without it. Prints how many feeds took the fast path, their entries,
every difference between the two ParsedFeed results (or FeedErrors), and the CPU time
per feed both ways: over the fast-path feeds, and over the real news feeds of 20-50
items.

    python bench/feedparse.py [CORPORA] [--repeat N]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_feeds import CorpusFeed, corpus_feeds  # noqa: E402

from monitors.errors import FeedError  # noqa: E402
from monitors.ingest import fastfeed  # noqa: E402
from monitors.ingest.feeds import MAX_ITEMS, MAX_MARKUP, ParsedFeed, bound_items, parse_feed  # noqa: E402

URL = "https://news.example.com/feed.xml"


def outcome(feed: CorpusFeed, fast: bool) -> ParsedFeed | str:
    """parse_feed's result, or its FeedError as text."""
    try:
        return parse_feed(feed.body, URL, feed.content_type, fast=fast)
    except FeedError as exc:
        return f"FeedError: {exc}"


def takes_fast_path(feed: CorpusFeed) -> bool:
    try:
        bounded, _ = bound_items(feed.body, MAX_ITEMS, MAX_MARKUP)
    except FeedError:
        return False
    return fastfeed.parse(bounded, URL, feed.content_type) is not None


def cpu_time(work: Callable[[], object], repeat: int) -> float:
    """The least CPU seconds of `repeat` runs, each with no date parsed before."""
    best = float("inf")
    for _ in range(repeat):
        fastfeed._date.cache_clear()
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def differences(a: ParsedFeed | str, b: ParsedFeed | str) -> list[str]:
    """What differs between two results, field by field and entry by entry."""
    if isinstance(a, str) or isinstance(b, str):
        return [] if a == b else [f"fast {str(a)[:200]!r} / feedparser {str(b)[:200]!r}"]
    found = [
        f"{name}: fast {getattr(a, name)!r} / feedparser {getattr(b, name)!r}"
        for name in ("title", "skipped", "bozo", "ttl", "links")
        if getattr(a, name) != getattr(b, name)
    ]
    if len(a.entries) != len(b.entries):
        found.append(f"entries: fast {len(a.entries)} / feedparser {len(b.entries)}")
    for i, (x, y) in enumerate(zip(a.entries, b.entries, strict=False)):
        if x != y:
            found.append(f"entry {i}: fast {x!r} / feedparser {y!r}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="?", default="../shared/corpora", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs a feed (least)")
    args = parser.parse_args()
    feeds = corpus_feeds(args.corpora)
    fast_feeds = entries = diffs = 0
    fast_cpu: list[float] = []
    slow_cpu: list[float] = []
    news: list[tuple[float, float]] = []
    for feed in feeds:
        fast, slow = outcome(feed, True), outcome(feed, False)
        for line in differences(fast, slow):
            diffs += 1
            print(f"DIFF {feed.group} {feed.name}: {line}")
        if not takes_fast_path(feed):
            continue
        fast_feeds += 1
        entries += len(fast.entries) if isinstance(fast, ParsedFeed) else 0
        pair = (
            cpu_time(functools.partial(outcome, feed, True), args.repeat),
            cpu_time(functools.partial(outcome, feed, False), args.repeat),
        )
        fast_cpu.append(pair[0])
        slow_cpu.append(pair[1])
        size = len(fast.entries) if isinstance(fast, ParsedFeed) else 0
        if feed.group == "real feeds" and 20 <= size <= 50:
            news.append(pair)
    print(
        f"feeds {len(feeds)}, fast path {fast_feeds}, their entries {entries}, differences {diffs}"
    )
    print(
        f"fast-path feeds, parse_feed CPU: fast {sum(fast_cpu):.2f} s (median "
        f"{statistics.median(fast_cpu) * 1000:.2f} ms), feedparser {sum(slow_cpu):.2f} s "
        f"(median {statistics.median(slow_cpu) * 1000:.2f} ms), ratio "
        f"{sum(slow_cpu) / sum(fast_cpu):.1f}x"
    )
    if news:
        fast_ms = statistics.median(p[0] for p in news) * 1000
        slow_ms = statistics.median(p[1] for p in news) * 1000
        print(
            f"real news feeds of 20-50 items ({len(news)}), median parse_feed CPU: "
            f"fast {fast_ms:.2f} ms, feedparser {slow_ms:.2f} ms"
        )


if __name__ == "__main__":
    main()
