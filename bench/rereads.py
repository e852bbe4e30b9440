"""What keeping entry fingerprints costs a poll: storing a parsed feed body of 50
entries, all known ("same"), or 5 of them with a new title ("changed": none may be
read again, being still pending), on SQLite in a temporary folder. Prints the median
and 90th percentile over N polls of each.

    python bench/rereads.py [N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta

from monitors.models import Entry
from monitors.store import Rereads, Store

FEED = "https://news.example/feed.xml"
REREADS = Rereads(3, 600.0, timedelta(hours=72))


def body(tag: str) -> list[Entry]:
    """50 entries, the first 5 titled with `tag`."""
    return [
        Entry(
            f"k{i}",
            f"https://news.example/{i}",
            f"https://news.example/{i}",
            f"Title {i} {tag if i < 5 else ''}",
            "Summary " * 20,
        )
        for i in range(50)
    ]


def main(polls: int) -> None:
    store = Store.open(f"sqlite:///{tempfile.mkdtemp()}/rereads.db")
    with store.transaction() as tx:
        feed_id = tx.sync_feeds([(FEED, None)])[FEED].id

    def poll(entries: list[Entry]) -> float:
        started = time.perf_counter()
        with store.transaction() as tx:
            tx.record_feed_ok(
                feed_id,
                status=200,
                etag=None,
                last_modified=None,
                body_hash=None,
                new_entries=entries,
                rereads=REREADS,
            )
        return time.perf_counter() - started

    poll(body(""))
    times: dict[str, list[float]] = {"same": [], "changed": []}
    for n in range(polls):
        times["same"].append(poll(body("")))
        times["changed"].append(poll(body(f"v{n}")))
    for name, taken in times.items():
        p90 = sorted(taken)[int(len(taken) * 0.9)]
        print(f"{name}: median {statistics.median(taken) * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms")
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("polls", nargs="?", type=int, default=300, help="polls of each kind")
    main(parser.parse_args().polls)
