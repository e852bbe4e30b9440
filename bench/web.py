"""The desk's site on a large store: 10,000 stories of 100,000 articles, on SQLite and on
PostgreSQL.

The store is bulk-inserted: 50 outlets (one feed each) over 30 days, most stories of about
ten articles of about 3,500 characters (copies, near duplicates and other write-ups, each
with its placement decision), one story of 2,000 articles, an alert on three stories in
ten (a fifth of them with updates) delivered to two channels (some failed, some pending),
and entries re-listed under other URLs. The site runs under uvicorn on loopback; each page
is fetched `--repeat` times after two warm-up fetches, and its median and slowest answer
times (the whole HTTP exchange, as a browser waits for it) and its size are printed.

    python bench/web.py [--sqlite-only] [--repeat 20] [--write-results]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.results import replace_section  # noqa: E402
from monitors import config as config_mod  # noqa: E402
from monitors.config import Config  # noqa: E402
from monitors.store import Store  # noqa: E402
from monitors.store.schema import (  # noqa: E402
    alerts,
    articles,
    decisions,
    deliveries,
    entries,
    feeds,
    stories,
)

STORIES = 10_000
ARTICLES = 100_000
BIG = 2_000  # the articles of the one big story
OUTLETS = 50
DAYS = 30
RULES = ("security-guarantees", "donbas-withdrawal", "senate-ratification")
CHANNELS = ("slack", "email")
LANGUAGES = ("en",) * 7 + ("fr", "de", "es", "ru", "uk")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECTION = "## Desk site"
READING = (
    "Reading the figures: wall-clock times over loopback on a machine shared with other "
    "work (see the load average), so the slowest of 20 moves with it; the medians are "
    "steadier. On PostgreSQL a word filter goes through trigram indexes of headlines and "
    "titles (pg_trgm, migration 0012: 201 ms before them for a word found nowhere, 18 ms "
    "after, the unfiltered page 18 and 8 ms in those runs); on SQLite it reads every "
    "article title (from an index of titles and story ids, not from the articles with "
    "their texts), so its time grows with the store. The other filters, the listings and "
    "a story's page go through indexes. Listings hold "
    "`web.page_size` (50) rows and a story's timeline 50 articles a page, so no page "
    "reaches 100 KB."
)
CHUNK = 5_000
TEXT_WORDS = 450  # about 3,500 characters: a news article's text


def vocabulary(rng: random.Random, size: int = 3_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def sizes(rng: random.Random) -> list[int]:
    """Articles per story: the big story first, the rest of the articles spread over the
    other stories (1 to 19 each)."""
    rest = [1] * (STORIES - 1)
    for _ in range(ARTICLES - BIG - len(rest)):
        rest[rng.randrange(len(rest))] += 1
    return [BIG, *rest]


def build(store: Store) -> dict[str, Any]:
    """Fill an empty store; the ids of a typical and of the big story, a headline word."""
    rng = random.Random(7)
    words = vocabulary(rng)
    texts = [" ".join(rng.choice(words) for _ in range(TEXT_WORDS)) for _ in range(500)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("stories", "entries", "articles", "decisions", "alerts", "deliveries")
    }
    article_id = entry_id = alert_id = delivery_id = 0
    counts = sizes(rng)
    for story_id, size in enumerate(counts, 1):
        began = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        headline = " ".join(rng.choice(words) for _ in range(9)).capitalize()
        first = article_id + 1
        moment = began
        for i in range(size):
            article_id += 1
            entry_id += 1
            moment = began + timedelta(minutes=i * rng.randint(1, 30) / max(1, size / 50))
            outlet = rng.randrange(OUTLETS)
            url = f"https://outlet{outlet:02d}.example/news/{article_id}"
            copy = i > 0 and rng.random() < 0.15
            kind = "new story" if i == 0 else rng.choice(("exact copy", "near duplicate"))
            if i > 0 and not copy:
                kind = "same story"
            title = headline if i == 0 or copy else " ".join(rng.choice(words) for _ in range(9))
            rows["entries"].append(
                {
                    "id": entry_id,
                    "feed_id": outlet + 1,
                    "key": url,
                    "url": url,
                    "canonical_url": url,
                    "title": title,
                    "status": "done",
                    "first_seen_at": moment,
                    "processed_at": moment,
                }
            )
            rows["articles"].append(
                {
                    "id": article_id,
                    "entry_id": entry_id,
                    "url": url,
                    "canonical_url": url,
                    "title": title,
                    "text": rng.choice(texts),
                    "site": f"Outlet {outlet:02d}",
                    "language": rng.choice(LANGUAGES),
                    "published_at": moment,
                    "source": "page",
                    "text_hash": f"h{article_id}",
                    "duplicate_of": first if kind == "exact copy" else None,
                    "story_id": story_id,
                    "fetched_at": moment,
                }
            )
            score = None if i == 0 else round(rng.uniform(0.4, 1.0), 3)
            reason = {
                "new story": "no earlier story within the window",
                "exact copy": f"same URL or same text as article {first}",
                "near duplicate": f"near duplicate of article {first}: Jaccard {score}",
                "same story": f"score {score} >= 0.40: headline cosine {score}, shared names",
            }[kind]
            rows["decisions"].append(
                {
                    "article_id": article_id,
                    "story_id": story_id,
                    "kind": kind,
                    "other_article_id": first if kind in ("exact copy", "near duplicate") else None,
                    "score": score,
                    "reason": reason,
                    "created_at": moment,
                }
            )
            if i > 0 and rng.random() < 0.05:  # the same article re-listed by another feed
                entry_id += 1
                rows["entries"].append(
                    {
                        "id": entry_id,
                        "feed_id": (outlet + 1) % OUTLETS + 1,
                        "key": url + "?utm_source=feed",
                        "url": url + "?utm_source=feed",
                        "canonical_url": url,
                        "title": title,
                        "status": "duplicate",
                        "first_seen_at": moment,
                        "processed_at": moment,
                    }
                )
        rows["stories"].append(
            {
                "id": story_id,
                "headline": headline,
                "first_seen_at": began,
                "last_seen_at": moment,
                "published_at": moment,
                "articles": size,
                "features": "{}",
                "revision": story_id,
            }
        )
        alerting = story_id == 1 or rng.random() < 0.3
        updates = 20 if story_id == 1 else (rng.randint(1, 3) if rng.random() < 0.2 else 0)
        if not alerting:
            continue
        rule = RULES[story_id % len(RULES)]
        follows = None
        for n in range(1 + min(updates, size - 1)):
            alert_id += 1
            on = first + n * max(1, (size - 1) // max(1, updates))
            rows["alerts"].append(
                {
                    "id": alert_id,
                    "rule_id": rule,
                    "article_id": min(on, article_id),
                    "headline": headline,
                    "url": f"https://outlet00.example/news/{min(on, article_id)}",
                    "site": "Outlet 00",
                    "terms": '["security guarantees", "Ukraine"]',
                    "passage": f"Ukraine weighs security guarantees. {headline}.",
                    "marks": "[[16, 35]]",
                    "story_id": story_id,
                    "kind": "new" if n == 0 else "update",
                    "new_facts": "[]" if n == 0 else '["Geneva", "28 points"]',
                    "follows": follows,
                    "created_at": began + timedelta(minutes=n),
                }
            )
            follows = alert_id
            for channel in CHANNELS:
                delivery_id += 1
                status = rng.choices(("sent", "failed", "pending"), (90, 5, 5))[0]
                rows["deliveries"].append(
                    {
                        "id": delivery_id,
                        "kind": "alert",
                        "alert_id": alert_id,
                        "rule_id": rule,
                        "channel": channel,
                        "status": status,
                        "attempts": 8 if status == "failed" else 1,
                        "last_error": "HTTP 500 from the service" if status != "sent" else None,
                        "next_attempt_at": began,
                        "sent_at": began if status == "sent" else None,
                        "created_at": began,
                    }
                )
    now = datetime.now(UTC)
    feed_rows = [
        {
            "id": n + 1,
            "url": f"https://outlet{n:02d}.example/feed.xml",
            "name": f"Outlet {n:02d}",
            "last_polled_at": now,
            "last_success_at": now,
            "error_streak": n % 4,
            "last_error": "HTTP 503" if n % 4 else None,
            "items_per_day": ARTICLES / OUTLETS / DAYS,
            "next_due_at": now + timedelta(minutes=5),
            "skipped": '["entry 3: no link", "entry 9: not http(s): javascript:alert(1)"]',
        }
        for n in range(OUTLETS)
    ]
    with store.engine.begin() as conn:
        conn.execute(feeds.insert(), feed_rows)
        for table in (stories, entries, articles, decisions, alerts, deliveries):
            batch = rows[table.name]
            for at in range(0, len(batch), CHUNK):
                conn.execute(table.insert(), batch[at : at + CHUNK])
        if conn.dialect.name == "postgresql":
            for table in (feeds, stories, entries, articles, decisions, alerts, deliveries):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT max(id) FROM {table.name}))"
                )
                conn.exec_driver_sql(f"ANALYZE {table.name}")
        else:
            conn.exec_driver_sql("ANALYZE")
    typical = next(i for i, n in enumerate(counts, 1) if n == 10)
    return {"typical": typical, "big": 1, "word": rows["stories"][-1]["headline"].split()[2]}


def bench_config(store_url: str) -> Config:
    rules = [{"id": r, "query": "Ukraine", "notify": list(CHANNELS)} for r in RULES]
    raw = {
        "store": store_url,
        "channels": {c: "json://127.0.0.1:9/x" for c in CHANNELS},
        "rules": rules,
        "feeds": [
            {"name": f"Outlet {n:02d}", "url": f"https://outlet{n:02d}.example/feed.xml"}
            for n in range(OUTLETS)
        ],
    }
    return config_mod.from_dict(raw, "bench", {})


@contextmanager
def serving(cfg: Config, store: Store) -> Iterator[str]:
    """The site under uvicorn on a free loopback port; its base URL."""
    import socket

    import uvicorn

    from newsmon.web import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(cfg, store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def pages(ids: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("stories, first page", "/stories"),
        ("stories, page 100", "/stories?page=100"),
        ("stories of a rule", "/stories?rule=security-guarantees"),
        ("stories of a site", "/stories?site=Outlet+07"),
        ("stories in a language", "/stories?lang=fr"),
        ("stories with a headline word", f"/stories?q={ids['word']}"),
        ("stories with words nowhere", "/stories?q=zzzz+qqqq"),
        ("a story of 10 articles", f"/stories/{ids['typical']}"),
        (f"the story of {BIG} articles", f"/stories/{ids['big']}"),
        ("alerts", "/alerts"),
        ("failed alerts", "/alerts?status=failed"),
        ("feeds", "/feeds"),
    ]


def measure(base: str, ids: dict[str, Any], repeat: int) -> list[tuple[str, float, float, int]]:
    """(page, median ms, slowest ms, bytes) of each page."""
    out = []
    with httpx.Client(base_url=base) as client:
        for name, path in pages(ids):
            for _ in range(2):
                client.get(path).raise_for_status()
            times, size = [], 0
            for _ in range(repeat):
                began = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                answer.raise_for_status()
                size = len(answer.content)
            out.append((name, statistics.median(times), max(times), size))
    return out


def run_on(store_url: str, repeat: int) -> tuple[float, list[tuple[str, float, float, int]]]:
    """Build the store at `store_url`, then time its pages; (build seconds, timings)."""
    store = Store.open(store_url)
    try:
        began = time.perf_counter()
        ids = build(store)
        built = time.perf_counter() - began
        with serving(bench_config(store_url), store) as base:
            return built, measure(base, ids, repeat)
    finally:
        store.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server of $NEWSMON_TEST_POSTGRES, dropped after."""
    server = os.environ.get("NEWSMON_TEST_POSTGRES", PG_DEFAULT)
    name = f"newsmon_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def table(results: dict[str, tuple[float, list[tuple[str, float, float, int]]]]) -> list[str]:
    names = list(results)
    head = "| page | " + " | ".join(f"{n}: median ms (slowest) | KB" for n in names) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(names)]
    rows = zip(*(r[1] for r in results.values()), strict=True)
    for row in rows:
        cells = [
            f"{median:.1f} ({slowest:.1f}) | {size / 1024:.1f}" for _, median, slowest, size in row
        ]
        lines.append(f"| {row[0][0]} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    results = {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-web-") as folder:
        results["SQLite"] = run_on(f"sqlite:///{folder}/web.db", args.repeat)
    if not args.sqlite_only:
        with postgres_database() as url:
            results["PostgreSQL"] = run_on(url, args.repeat)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    lines = [
        SECTION,
        "",
        "`python bench/web.py --repeat 20 --write-results`: "
        + __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, newsmon at `{commit}`; load average {load:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after. Store built in "
        + ", ".join(f"{seconds:.0f} s on {name}" for name, (seconds, _) in results.items())
        + f"; {STORIES:,} stories, {ARTICLES:,} articles.",
        "",
        *table(results),
        "",
        READING,
    ]
    print("\n".join(lines))
    if args.write_results:
        replace_section(SECTION, lines)


if __name__ == "__main__":
    main()
