"""Scale-out on PostgreSQL: one `newsmon run` process against several at once.

The loopback site of bench/cycle.py (real feeds from the corpora, a distinct article
page per link, 20-80 ms latency) serves `--feeds N` feeds. A fresh PostgreSQL
database is polled first by one `newsmon run` process, then (fresh again) by
`--processes K` processes started together. Printed for each: wall time until every
process ended, entries processed, articles, alerts, the checks of scale-out (every
feed fetched once, every entry processed once, every page fetched once), and the time
spent in the store-wide section of recording (`Tx.lock_commits`, from taking the lock to
the commit): per article, and the cluster ceiling it implies (one section at a time);
the SQL statements and commits each side ran (counted by SQLAlchemy's events in each
process), per entry and the most frequent; the placements done again after a conflict;
for each process, the feeds it polled, the entries they added and the articles it
recorded (an idle process takes entries others polled).

With `--pin`, each process and its one extraction worker (`extract.workers: 1`) are held
to one core of their own (os.sched_setaffinity: process k on core k), so that K
processes are K times the CPU of one, as K machines would be.

    python bench/scaleout.py [CORPORA] [--feeds 100] [--processes 3] [--pin]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.cycle import (  # noqa: E402
    SHIPPED_CONFIG,
    _serve,
    build_site,
    control,
    free_port,
    process_cpu,
    wait_up,
)
from monitors.store import Store, Tx  # noqa: E402
from monitors.store.schema import alerts, articles, entries  # noqa: E402
from monitors.stories import StoryDesk  # noqa: E402
from monitors.stories.placement import Conflict  # noqa: E402

# the store-wide lock of recording: `lock_commits`; `lock_stories` on commits before it,
# where it was held for the whole of an article's unit of work (a before/after)
STORE_WIDE_LOCKS = ("lock_commits", "lock_stories")
LOCKS = (*STORE_WIDE_LOCKS, "lock_keys", "lock_story")  # recording's locks, waits timed

DATABASE = "newsmon_bench_scaleout"
STATEMENT_KEY = 60  # characters of a statement's text that name it in the counts
SHOWN_STATEMENTS = 25  # the most frequent statements printed


def fresh_database(admin_url: str) -> str:
    """Drop and create the bench database; its URL."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    engine.dispose()
    return str(sa.engine.make_url(admin_url).set(database=DATABASE))


def write_config(folder: Path, store: str, base: str, count: int, pin: bool) -> Path:
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    config: dict[str, Any] = {
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
    if pin:
        config["extract"] = {"workers": 1}
    path = folder / "scaleout.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run_processes(
    config: Path, count: int, pin: bool, timings: Path
) -> tuple[float, list[int], list[dict[str, float]]]:
    """`count` `newsmon run` processes started together (each on a core of its own if
    `pin`): wall seconds, exit codes, and each one's time in the store-wide section."""
    launched, started = time.time(), time.perf_counter()
    procs = []
    for k in range(count):
        command = [sys.executable, __file__, "--worker", str(config), str(timings / f"{k}.json")]
        core = {k % (os.cpu_count() or 1)}
        pinned = partial(os.sched_setaffinity, 0, core) if pin else None
        procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, preexec_fn=pinned))
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - started
    held = [json.loads((timings / f"{k}.json").read_text()) for k in range(count)]
    for each in held:
        each |= {"launched": launched}
    return wall, codes, held


def timed_run(config: str, timings: str) -> None:
    """`newsmon run --config CONFIG` in this process, with the time each unit of work
    held the store-wide lock (from taking it to the end of its commit) and the time
    spent waiting for recording's locks written to `timings` at exit: sections,
    seconds, slowest, and the seconds waited in each lock."""
    held: dict[str, float] = {"sections": 0, "seconds": 0.0, "slowest": 0.0}
    held |= {f"waited in {name}": 0.0 for name in LOCKS}
    held |= {"started": time.time(), "first unit": 0.0, "redone": 0}
    held |= {"feeds polled": 0, "entries added": 0}
    statements: Counter[str] = Counter()
    _count_statements(statements)
    StoryDesk.settle = _counting_conflicts(StoryDesk.settle, held)  # type: ignore[method-assign]
    Tx.record_feed_ok = _counting_polls(Tx.record_feed_ok, held)  # type: ignore[method-assign]
    for name in LOCKS:
        if hasattr(Tx, name):
            setattr(Tx, name, _noting(getattr(Tx, name), held, name in STORE_WIDE_LOCKS))
    Store.transaction = _timed(Store.transaction, held)  # type: ignore[method-assign]
    atexit.register(_write_timings, held, statements, Path(timings))
    from newsmon.cli import app

    app(["run", "--config", config])


def _count_statements(statements: Counter[str]) -> None:
    """Count in `statements` every SQL statement this process runs (an executemany is
    one), by its first words, and every commit (as "COMMIT")."""

    def executed(*args: Any) -> None:
        statements[" ".join(args[2].split())[:STATEMENT_KEY]] += 1

    def committed(_conn: Any) -> None:
        statements["COMMIT"] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", executed)
    sa.event.listen(sa.engine.Engine, "commit", committed)


def _counting_conflicts(settle: Callable[..., Any], held: dict[str, float]) -> Any:
    """`StoryDesk.settle`, counting in `held` the placements it finds stale."""

    def counted(desk: StoryDesk, *args: Any) -> Any:
        try:
            return settle(desk, *args)
        except Conflict:
            held["redone"] += 1
            raise

    return counted


def _counting_polls(record: Callable[..., Any], held: dict[str, float]) -> Any:
    """`Tx.record_feed_ok`, counting in `held` the feeds polled and the entries added."""

    def counted(tx: Tx, *args: Any, **kwargs: Any) -> Any:
        added = record(tx, *args, **kwargs)
        held["feeds polled"] += 1
        held["entries added"] += len(added)
        return added

    return counted


def _write_timings(held: dict[str, Any], statements: Counter[str], path: Path) -> None:
    """Add when this process ended, the CPU it and its workers used and the statements
    it ran; write `held`."""
    cpu = os.times()
    held |= {"ended": time.time(), "cpu": cpu.user + cpu.system}
    held["workers cpu"] = cpu.children_user + cpu.children_system
    held["statements"] = dict(statements)
    path.write_text(json.dumps(held))


def _noting(lock: Callable[..., Any], held: dict[str, float], store_wide: bool) -> Any:
    """`lock`, adding the time it waited to `held`, and noting on the unit of work when
    it first held the lock if it is `store_wide`."""

    def locked(tx: Tx, *args: Any) -> Any:
        asked = time.perf_counter()
        found = lock(tx, *args)
        now = time.perf_counter()
        held[f"waited in {lock.__name__}"] += now - asked
        if store_wide and not hasattr(tx, "locked_at"):
            tx.locked_at = now  # type: ignore[attr-defined]
        return found

    return locked


def _timed(transaction: Any, held: dict[str, float]) -> Any:
    """`Store.transaction`, adding to `held` the time from its lock to its commit."""

    @contextmanager
    def timed(store: Store) -> Iterator[Tx]:
        tx = None
        try:
            with transaction(store) as tx:
                held["first unit"] = held["first unit"] or time.time()
                yield tx
        finally:
            if tx is not None and hasattr(tx, "locked_at"):
                took = time.perf_counter() - tx.locked_at
                held["sections"] += 1
                held["seconds"] += took
                held["slowest"] = max(held["slowest"], took)

    return timed


def postgres_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL: its processes' own, and the
    ended backends' (counted in their parent's children times); 0 if it is not local."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].rsplit(")", 1)[0].startswith("postgres"):
            total += _cpu(text)
    return total


def _cpu(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


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


def measure(
    label: str, args: argparse.Namespace, base: str, folder: Path, count: int, server_pid: int
) -> float:
    store = fresh_database(args.postgres)
    config = write_config(folder, store, base, args.feeds, args.pin)
    control(base, "stats")
    postgres, site = postgres_cpu(), process_cpu(server_pid)
    wall, codes, held = run_processes(config, count, args.pin, folder)
    server = control(base, "stats")
    time.sleep(0.5)  # the backends of the closed connections end and are counted
    postgres, site = postgres_cpu() - postgres, process_cpu(server_pid) - site
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
    for k, h in enumerate(held):
        print(
            f"  process {k}: started {h['started'] - h['launched']:.1f} s after launch, "
            f"first unit of work at {h['first unit'] - h['launched']:.1f} s, ended at "
            f"{h['ended'] - h['launched']:.1f} s; CPU {h['cpu']:.1f} s, its worker "
            f"{h['workers cpu']:.1f} s; polled {h.get('feeds polled', '?')} feeds adding "
            f"{h.get('entries added', '?')} entries, recorded {h['sections']} articles"
        )
    print(f"  CPU of PostgreSQL {postgres:.1f} s, of the loopback site {site:.1f} s")
    sections = sum(h["sections"] for h in held)
    seconds = sum(h["seconds"] for h in held)
    waits = {n: sum(h.get(f"waited in {n}", 0.0) for h in held) for n in LOCKS}
    each = ", ".join(f"{n} {1000 * w / done:.2f}" for n, w in waits.items() if w)
    waited = sum(waits.values())
    print(
        f"  {waited:.2f} s waiting for recording's locks, all processes together: "
        f"{1000 * waited / done:.2f} ms an entry ({each})"
    )
    _print_statements(held, done)
    if sections:
        mean = seconds / sections
        print(
            f"  store-wide section: {sections} units of work, {seconds:.2f} s in all, "
            f"{1000 * mean:.2f} ms each (slowest {1000 * max(h['slowest'] for h in held):.1f}"
            f" ms), {seconds / wall:.0%} of the wall time: a ceiling of {1 / mean:.0f} "
            f"articles/s for the cluster"
        )
    return wall


def _print_statements(held: list[dict[str, Any]], done: int) -> None:
    """The statements and commits all processes ran, per entry, the placements done
    again, and the most frequent statements."""
    statements: Counter[str] = Counter()
    for h in held:
        statements.update(h.get("statements", {}))
    commits = statements.pop("COMMIT", 0)
    total = sum(statements.values())
    redone = sum(h.get("redone", 0) for h in held)
    print(
        f"  {total} statements and {commits} commits, all processes together: "
        f"{total / done:.1f} and {commits / done:.2f} an entry; {redone} placements done "
        f"again after a conflict"
    )
    for text, number in statements.most_common(SHOWN_STATEMENTS):
        print(f"    {number:6d}  {text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="?", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument(
        "--pin", action="store_true", help="each process on one core, one extraction worker"
    )
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    print(_load())
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
        pinned = " pinned" if args.pin else ""
        with tempfile.TemporaryDirectory() as tmp:
            one = measure(f"1{pinned} process", args, base, Path(tmp), 1, server.pid)
            label = f"{args.processes}{pinned} processes"
            many = measure(label, args, base, Path(tmp), args.processes, server.pid)
        print(f"speed-up with {args.processes}{pinned} processes: {one / many:.2f}x; {_load()}")
    finally:
        server.terminate()
        server.join(5)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        timed_run(*sys.argv[2:4])
    else:
        main()
