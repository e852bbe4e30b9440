"""The fast feed parser against feedparser, on every corpus feed.

Each feed of ../shared/corpora (feedparser's 2,106 test feeds with the Content-Type
their header names, and the real feeds of `all_feeds`) is parsed by `parse_feed` with
the fast path and without it, as served and with no Content-Type. Prints how many
feeds took the fast path, their entries, every difference between the two ParsedFeed
results (or FeedErrors), and parse_feed's CPU time per feed both ways: over the
fast-path feeds, over the others (what trying the fast path first costs them), and
over the real news feeds of 20-50 items. Then random edits of each fast-path feed
(elements moved, copied, removed, texts and attributes changed), compared the same way;
and bench/cycle.py's site of 1,000 feeds.

    python bench/feedparse.py [CORPORA] [--repeat N] [--mutations N] [--cycle N]
"""

from __future__ import annotations

import argparse
import copy
import functools
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lxml import etree

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


def cpu_time(work: Callable[[], object], repeat: int, cold: bool = True) -> float:
    """The least CPU seconds of `repeat` runs, each with no date parsed before if `cold`."""
    best = float("inf")
    for _ in range(repeat):
        if cold:
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


_TEXTS = ("", "  ", "CafÃ© \u0096", "/rel/x?a=1&amp;b", "Tue, 03 Jun 2025 09:39:21 GMT", "<p>x</p>")
_ATTRIBUTES = (("isPermaLink", "false"), ("rel", "self"), ("type", "html"), ("href", "/h"))


def mutated(body: bytes, rng: random.Random) -> bytes | None:
    """The document with 1-4 random edits: an element moved among its siblings, copied,
    removed, its text replaced or an attribute set; None if it is not XML."""
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
    for _ in range(rng.randint(1, 4)):
        if not elements:
            break
        element = rng.choice(elements)
        parent = element.getparent()
        edit = rng.random()
        if edit < 0.3:
            parent.remove(element)
            parent.insert(rng.randint(0, len(parent)), element)
        elif edit < 0.5:
            parent.insert(rng.randint(0, len(parent)), copy.deepcopy(element))
        elif edit < 0.65:
            parent.remove(element)
            elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
        elif edit < 0.8:
            element.text = rng.choice(_TEXTS)
        else:
            element.set(*rng.choice(_ATTRIBUTES))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def mutations(feeds: list[CorpusFeed], per_feed: int, seed: int) -> None:
    """Random edits of the fast-path feeds, parsed both ways: every difference."""
    rng = random.Random(seed)
    count = taken = diffs = 0
    for feed in feeds:
        for _ in range(per_feed):
            body = mutated(feed.body, rng)
            if body is None:
                break
            variant = replace(feed, body=body)
            count += 1
            taken += takes_fast_path(variant)
            for line in differences(outcome(variant, True), outcome(variant, False)):
                diffs += 1
                print(f"DIFF mutated {feed.group} {feed.name}: {line}")
    print(f"mutated feeds {count}, on the fast path {taken}, differences {diffs}")


def cycle_feeds(corpora: Path, count: int, repeat: int) -> None:
    """bench/cycle.py's site of `count` feeds: its mixed cycle's changed feeds and all
    its feeds, parsed both ways (CPU in all, differences)."""
    from cycle import build_site  # noqa: PLC0415 (the pipeline's imports, only here)

    site = build_site(corpora, count, "http://127.0.0.1:8000")
    for label, versions in (
        ("changed feeds (mixed cycle)", site.changed),
        ("all feeds", site.feeds),
    ):
        feeds = [
            CorpusFeed("cycle", path, version.body, version.content_type)
            for path, version in versions.items()
        ]
        diffs = sum(len(differences(outcome(f, True), outcome(f, False))) for f in feeds)
        fast = sum(cpu_time(functools.partial(outcome, f, True), repeat) for f in feeds)
        slow = sum(cpu_time(functools.partial(outcome, f, False), repeat) for f in feeds)
        taken = sum(takes_fast_path(f) for f in feeds)
        print(
            f"cycle site, {label}: {len(feeds)} feeds, {taken} on the fast path, differences "
            f"{diffs}, parse_feed CPU: fast {fast:.2f} s, feedparser {slow:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="?", default="../shared/corpora", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs a feed (least)")
    parser.add_argument(
        "--mutations", type=int, default=6, help="random edits of each fast-path feed"
    )
    parser.add_argument(
        "--cycle", type=int, default=1000, help="feeds of bench/cycle.py's site (0: skip)"
    )
    args = parser.parse_args()
    if args.cycle:
        cycle_feeds(args.corpora, args.cycle, args.repeat)
    feeds = corpus_feeds(args.corpora)
    diffs = 0
    taken: Counter[str] = Counter()
    entries = 0
    cpu: dict[bool, list[tuple[float, float]]] = {True: [], False: []}  # by fast path taken
    news: list[tuple[float, float, float]] = []
    for feed in feeds:
        for kind in (feed.content_type, ""):  # as served, and with no Content-Type
            variant = replace(feed, content_type=kind)
            for line in differences(outcome(variant, True), outcome(variant, False)):
                diffs += 1
                print(f"DIFF {feed.group} {feed.name} ({kind}): {line}")
        group = "real feeds" if feed.group == "real feeds" else "feedparser tests"
        taken[f"{group} feeds"] += 1
        fast_path = takes_fast_path(feed)
        pair = (
            cpu_time(functools.partial(outcome, feed, True), args.repeat),
            cpu_time(functools.partial(outcome, feed, False), args.repeat),
        )
        cpu[fast_path].append(pair)
        if not fast_path:
            continue
        taken[f"{group} fast path"] += 1
        parsed = outcome(feed, True)
        size = len(parsed.entries) if isinstance(parsed, ParsedFeed) else 0
        entries += size
        if group == "real feeds" and 20 <= size <= 50:
            warm = cpu_time(functools.partial(outcome, feed, True), args.repeat, cold=False)
            news.append((*pair, warm))
    print(f"feeds {len(feeds)} ({dict(taken)}), entries of the fast-path feeds {entries}")
    print(f"differences {diffs} (each feed compared as served and with no Content-Type)")
    for fast_path, label in ((True, "fast-path feeds"), (False, "feeds left to feedparser")):
        fast_cpu = [p[0] for p in cpu[fast_path]]
        slow_cpu = [p[1] for p in cpu[fast_path]]
        print(
            f"{label} ({len(fast_cpu)}), parse_feed CPU: with the fast path {sum(fast_cpu):.2f} s"
            f" (median {statistics.median(fast_cpu) * 1000:.2f} ms), feedparser only "
            f"{sum(slow_cpu):.2f} s (median {statistics.median(slow_cpu) * 1000:.2f} ms)"
        )
    fast_feeds = [feed for feed in feeds if takes_fast_path(feed)]
    mutations(fast_feeds, args.mutations, seed=1)
    if news:
        fast_ms, slow_ms, warm_ms = (statistics.median(p[i] for p in news) * 1000 for i in range(3))
        print(
            f"real news feeds of 20-50 items ({len(news)}), median parse_feed CPU: "
            f"fast {fast_ms:.2f} ms ({warm_ms:.2f} ms with its dates parsed before), "
            f"feedparser {slow_ms:.2f} ms"
        )


if __name__ == "__main__":
    main()
