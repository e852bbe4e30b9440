"""Scale-out on PostgreSQL: one `newsmon run` process against several at once.

The loopback site of bench/cycle.py (real feeds from the corpora, a distinct article
page per link, 20-80 ms latency) serves `--feeds N` feeds. A fresh PostgreSQL
database is polled first by one `newsmon run` process, then (fresh again) by
`--processes K` processes started together. Printed for each: wall time until every
process ended, entries processed, articles, alerts, and the checks of scale-out:
every feed fetched once, every entry processed once, every page fetched once.

    python bench/scaleout.py [CORPORA] [--feeds 100] [--processes 3]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.cycle import SHIPPED_CONFIG, _serve, build_site, control, free_port, wait_up  # noqa: E402
from monitors.store.schema import alerts, articles, entries  # noqa: E402

DATABASE = "newsmon_bench_scaleout"


def fresh_database(admin_url: str) -> str:
    """Drop and create the bench database; its URL."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    engine.dispose()
    return str(sa.engine.make_url(admin_url).set(database=DATABASE))


def write_config(folder: Path, store: str, base: str, count: int) -> Path:
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config = {
        "store": store,
        # one loopback host stands for many sites: its slots and page budget are theirs
        "fetch": {
            "allow_private_networks": "127.0.0.1/32",
            "concurrency": 16,
            "per_host": 16,
            "pages_per_host_per_cycle": 10**9,
        },
        "feeds": [{"name": f"feed {n}", "url": f"{base}/feed/{n}.xml"} for n in range(count)],
        "channels": {"desk": "json://" + base.removeprefix("http://") + "/hook"},
        "rules": [{**rule, "notify": ["desk"]} for rule in shipped["rules"]],
    }
    path = folder / "scaleout.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run_processes(config: Path, count: int) -> tuple[float, list[int]]:
    """`count` `newsmon run` processes started together: wall seconds, exit codes."""
    command = [sys.executable, "-m", "newsmon.cli", "run", "--config", str(config)]
    started = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(count)]
    codes = [p.wait() for p in procs]
    return time.perf_counter() - started, codes


def store_counts(store: str) -> dict[str, Any]:
    engine = sa.create_engine(store)
    with engine.connect() as conn:
        grouped = sa.select(entries.c.status, sa.func.count()).group_by(entries.c.status)
        by_status = {status: number for status, number in conn.execute(grouped)}
        counts = {
            "entries": by_status,
            "articles": conn.scalar(sa.select(sa.func.count()).select_from(articles)),
            "alerts": conn.scalar(sa.select(sa.func.count()).select_from(alerts)),
            "entries tried twice": conn.scalar(
                sa.select(sa.func.count()).where(entries.c.attempts > 1)
            ),
        }
    engine.dispose()
    return counts


def measure(label: str, args: argparse.Namespace, base: str, folder: Path, count: int) -> float:
    store = fresh_database(args.postgres)
    config = write_config(folder, store, base, args.feeds)
    control(base, "stats")
    wall, codes = run_processes(config, count)
    server = control(base, "stats")
    counts = store_counts(store)
    done = counts["entries"].get("done", 0) + counts["entries"].get("duplicate", 0)
    print(
        f"{label}: {wall:.1f} s wall, exit codes {codes}; {done / wall:.1f} entries/s; "
        f"store {counts}; server {server}"
    )
    print(
        f"  checks: feed requests {server.get('feed', 0)} for {args.feeds} feeds; "
        f"page requests {server.get('page', 0)}; webhook posts {server.get('post', 0)} "
        f"for {counts['alerts']} alerts"
    )
    return wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="?", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    corpora = args.corpora if args.corpora.is_absolute() else (REPO / args.corpora).resolve()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    site = build_site(corpora, args.feeds, base)
    print(f"{len(site.feeds)} feeds, {site.items} items; {os.cpu_count()} cores")
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(site, corpora, port), daemon=True
    )
    server.start()
    try:
        wait_up(base)
        with tempfile.TemporaryDirectory() as tmp:
            one = measure("1 process", args, base, Path(tmp), 1)
            many = measure(f"{args.processes} processes", args, base, Path(tmp), args.processes)
        print(f"speed-up with {args.processes} processes: {one / many:.2f}x")
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
