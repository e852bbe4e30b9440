"""Time `newsmon run` over loopback copies of real news feeds, and `newsmon demo`.

Real feeds from the corpora folder are served on a loopback HTTP server (ETag,
Last-Modified, 304 on conditional requests). Each served copy has its items' article
links pointed at loopback pages, which are real news pages from the extraction
benchmark, handed out round-robin. `newsmon run` is run twice as a subprocess on a
temporary config and SQLite store: a first cycle where everything is new, then a
second one where every feed is unchanged.

    python bench/run_feeds.py                    # ten well-known news feeds
    python bench/run_feeds.py --all              # every feed-like file in the feed folders
    python bench/run_feeds.py --all --repeat 3 --write-results
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from email.utils import formatdate
from hashlib import sha1
from pathlib import Path
from urllib.parse import quote

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.feeds_corpus import (  # noqa: E402
    FeedFile,
    LinkRewriter,
    all_feeds,
    load_pages,
    well_known_feeds,
)
from tests.httpserver import LoopbackServer, not_modified  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
RESULTS_TITLE = "# newsmon benchmark results"
SECTION = "## newsmon run over loopback copies of real feeds"
SHIPPED_CONFIG = REPO / "config" / "newsmon.yaml"
FEEDS_PREFIX = "/feeds/"
PAGES_PREFIX = "/page/"
HOOK_PATH = "/hook"
RUN_TIMEOUT = 1800

_FEEDS_LINE = re.compile(
    r"feeds: (\d+) polled, (\d+) with news, (\d+) unchanged, (\d+) failed(?:, (\d+) waiting)?"
)
_ENTRIES_LINE = re.compile(
    r"entries: (\d+) new; articles: (\d+) new, (\d+) duplicates, (\d+) errors; "
    r"alerts: (\d+); deliveries: (\d+) sent, (\d+) failed"
)
_SUMMARY_KEYS = (
    "polled",
    "new",
    "unchanged",
    "failed",
    "waiting",
    "entries",
    "articles",
    "duplicates",
    "errors",
    "alerts",
    "sent",
    "send_failed",
)


@dataclass
class RunFigures:
    """One `newsmon` subprocess: its wall time, its printed summary, what the server saw."""

    seconds: float
    cpu_seconds: float
    returncode: int
    summary: dict[str, int]
    feed_requests: int = 0
    feed_repeats: list[str] = field(default_factory=list)
    answers_304: int = 0
    page_requests: int = 0
    hook_posts: int = 0
    stray: list[str] = field(default_factory=list)
    warnings: int = 0
    stderr_tail: str = ""


@dataclass
class StoreFigures:
    """What the store holds after both runs."""

    entries_by_status: dict[str, int] = field(default_factory=dict)
    articles_by_source: dict[str, int] = field(default_factory=dict)
    foreign_entries: int = 0
    failed_feeds: list[tuple[str, str]] = field(default_factory=list)
    linkless_feeds: list[str] = field(default_factory=list)
    seen_elsewhere_feeds: list[str] = field(default_factory=list)
    problem: str | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpora",
        type=Path,
        default=Path("../shared/corpora"),
        help="the corpora folder (relative paths are taken from the repo root)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--feeds", type=int, default=10, help="well-known news feeds to use")
    group.add_argument("--all", action="store_true", help="every feed-like file")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of two runs, each on a fresh store"
    )
    parser.add_argument("--write-results", action="store_true", help=f"update {RESULTS.name}")
    parser.add_argument("--no-demo", action="store_true", help="skip timing `newsmon demo`")
    parser.add_argument("--keep", type=Path, help="keep the config, store and logs here")
    return parser.parse_args(argv)


def corpora_path(path: Path) -> Path:
    """The corpora folder, a relative path taken from the repo root."""
    return path if path.is_absolute() else (REPO / path).resolve()


def newsmon_command() -> list[str]:
    """The `newsmon` console script beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "newsmon"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("newsmon")
    if found is None:
        raise SystemExit("newsmon is not installed: pip install -e . first")
    return [found]


def child_env() -> dict[str, str]:
    """The environment for newsmon: no NEWSMON_* overrides, wide plain output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env.update({"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})
    return env


class FeedSite:
    """A loopback server with the rewritten feeds, the article pages and a webhook."""

    def __init__(self, feeds: list[FeedFile], pages: list[bytes]) -> None:
        self.server = LoopbackServer()
        self.rewriter = LinkRewriter(self.server.base_url)
        self.pages = pages
        self.urls: dict[str, FeedFile] = {}
        self.feed_bytes = 0
        self.load = (os.getloadavg()[0], 0.0)
        for feed in feeds:
            self._add_feed(feed)
        self._add_pages()
        self.server.add(HOOK_PATH, b"")

    def __enter__(self) -> FeedSite:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.load = (self.load[0], os.getloadavg()[0])
        self.server.__exit__(*exc)

    @property
    def hook_url(self) -> str:
        """The apprise URL of the webhook."""
        return "json://" + self.server.url(HOOK_PATH).removeprefix("http://")

    def _add_feed(self, feed: FeedFile) -> None:
        body = self.rewriter.rewrite(feed.path.read_bytes())
        path = FEEDS_PREFIX + quote(feed.relative)
        self.server.add(
            path,
            body,
            headers={"Content-Type": feed.content_type},
            etag=f'"{sha1(body).hexdigest()[:16]}"',
            last_modified=formatdate(feed.path.stat().st_mtime, usegmt=True),
        )
        self.urls[self.server.url(path)] = feed
        self.feed_bytes += len(body)

    def _add_pages(self) -> None:
        """One route per rewritten link, each a benchmark page, round-robin."""
        for number in range(len(self.rewriter.numbers)):
            body = self.pages[number % len(self.pages)]
            self.server.add(
                f"{PAGES_PREFIX}{number}.html",
                body,
                headers={"Content-Type": "text/html; charset=utf-8"},
                etag=f'"p{number}"',
            )

    def tally(self, figures: RunFigures) -> None:
        """Count the requests received since the last tally into `figures`, then forget them."""
        feed_paths: set[str] = set()
        for request in self.server.requests:
            path = request.path.split("?", 1)[0]
            route = self.server.route_for(request.path)
            if route is None:
                figures.stray.append(request.path)
            elif path.startswith(FEEDS_PREFIX):
                figures.feed_requests += 1
                if path in feed_paths:
                    figures.feed_repeats.append(path)
                feed_paths.add(path)
                figures.answers_304 += not_modified(route, request.headers)
            elif path.startswith(PAGES_PREFIX):
                figures.page_requests += 1
            elif path == HOOK_PATH and request.method == "POST":
                figures.hook_posts += 1
        self.server.clear_requests()


def write_config(folder: Path, site: FeedSite) -> Path:
    """A config with the site's feeds, a temp SQLite store, one desk channel, shipped rules."""
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    rules = [{**rule, "notify": ["desk"]} for rule in shipped["rules"]]
    config = {
        "store": f"sqlite:///{folder / 'bench.db'}",
        # one loopback host stands for every feed's site: no page budget a cycle
        "fetch": {"allow_private_networks": "127.0.0.1/32", "pages_per_host_per_cycle": 10**9},
        "feeds": [{"name": feed.name, "url": url} for url, feed in site.urls.items()],
        "channels": {"desk": site.hook_url},
        "rules": rules,
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_timed(args: list[str], log: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run a newsmon command: its wall and CPU (user + system) seconds, and its result.

    Its output is also saved to `log`.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        newsmon_command() + args,
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=log.parent,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr, encoding="utf-8")
    return seconds, cpu, done


def parse_summary(stdout: str) -> dict[str, int]:
    """The counts in `newsmon run`'s two summary lines (empty when they are missing)."""
    feeds = _FEEDS_LINE.search(stdout)
    entries = _ENTRIES_LINE.search(stdout)
    if feeds is None or entries is None:
        return {}
    values = [int(v or 0) for v in feeds.groups() + entries.groups()]
    return dict(zip(_SUMMARY_KEYS, values, strict=True))


def run_cycle(config: Path, site: FeedSite, label: str) -> RunFigures:
    """One `newsmon run`, with the server's view of it."""
    log = config.parent / f"{label}.log"
    seconds, cpu, done = run_timed(["run", "--config", str(config)], log)
    lines = done.stderr.splitlines()
    figures = RunFigures(
        seconds=seconds,
        cpu_seconds=cpu,
        returncode=done.returncode,
        summary=parse_summary(done.stdout),
        warnings=sum(line.startswith(("WARNING", "ERROR")) for line in lines),
        stderr_tail="\n".join(lines[-5:]),
    )
    site.tally(figures)
    return figures


def store_figures(db: Path, site: FeedSite) -> StoreFigures:
    """Entries, articles and feed outcomes as the store recorded them."""
    figures = StoreFigures()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            _read_store(conn, site, figures)
    except sqlite3.Error as exc:
        figures.problem = f"{type(exc).__name__}: {exc}"
    return figures


def _read_store(conn: sqlite3.Connection, site: FeedSite, figures: StoreFigures) -> None:
    base = site.server.base_url
    figures.entries_by_status = dict(
        conn.execute("SELECT status, count(*) FROM entries GROUP BY status ORDER BY 1")
    )
    figures.articles_by_source = dict(
        conn.execute("SELECT source, count(*) FROM articles GROUP BY source ORDER BY 1")
    )
    figures.foreign_entries = conn.execute(
        "SELECT count(*) FROM entries WHERE substr(url, 1, ?) != ?", (len(base), base)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT f.url, f.last_error, f.entries_seen, count(e.id) FROM feeds f"
        " LEFT JOIN entries e ON e.feed_id = f.id GROUP BY f.id ORDER BY f.url"
    )
    for url, error, pending, stored in rows:
        relative = site.urls[url].relative
        if error:
            figures.failed_feeds.append((relative, error))
        elif not stored:
            figures.linkless_feeds.append(relative)
        elif not pending:
            figures.seen_elsewhere_feeds.append(relative)


def time_demo(folder: Path) -> tuple[float, float, int | None]:
    """Wall and CPU seconds of `newsmon demo`, and the alerts it says the desk received."""
    seconds, cpu, done = run_timed(["demo"], folder / "demo.log")
    found = re.search(r"(\d+) alerts received by the desk", done.stdout)
    if done.returncode != 0:
        print(f"newsmon demo exited {done.returncode}:\n{done.stderr[-2000:]}", file=sys.stderr)
    return seconds, cpu, int(found.group(1)) if found else None


def select_feeds(args: argparse.Namespace, corpora: Path) -> tuple[str, list[FeedFile]]:
    """The mode's label and its feed files."""
    if args.all:
        return "--all", all_feeds(corpora)
    return f"--feeds {args.feeds}", well_known_feeds(corpora, args.feeds)


def figures_table(rounds: list[list[RunFigures]]) -> list[str]:
    """A markdown table with one column per run; counts from the last round."""
    runs = rounds[-1]
    columns = range(len(runs))
    wall = [_spread([round_[i].seconds for round_ in rounds]) for i in columns]
    cpu = [_spread([round_[i].cpu_seconds for round_ in rounds]) for i in columns]
    median = f", median of {len(rounds)} (range)" if len(rounds) > 1 else ""
    rows = [
        ("wall seconds" + median, wall),
        ("CPU seconds, user + system" + median, cpu),
        ("exit status", [str(r.returncode) for r in runs]),
    ]
    labels = {
        "new": "feeds new",
        "unchanged": "feeds unchanged",
        "failed": "feeds failed",
        "waiting": "feeds waiting (backing off after a failure)",
        "entries": "entries (new, pending)",
        "articles": "articles",
        "duplicates": "duplicates",
        "errors": "entry errors",
        "alerts": "alerts",
        "sent": "deliveries sent",
        "send_failed": "deliveries failed",
    }
    for key, label in labels.items():
        rows.append((label, [str(r.summary.get(key, "?")) for r in runs]))
    rows += [
        ("feed requests", [str(r.feed_requests) for r in runs]),
        ("feed URLs requested twice in one run", [str(len(r.feed_repeats)) for r in runs]),
        ("304 answers", [str(r.answers_304) for r in runs]),
        ("page requests", [str(r.page_requests) for r in runs]),
        ("webhook POSTs received", [str(r.hook_posts) for r in runs]),
        ("requests for paths never served (404)", [str(len(r.stray)) for r in runs]),
        ("warnings logged", [str(r.warnings) for r in runs]),
    ]
    lines = ["| figure | run 1 (all new) | run 2 (unchanged) |", "|---|---:|---:|"]
    lines += [f"| {label} | {' | '.join(values)} |" for label, values in rows]
    return lines


def _spread(values: list[float]) -> str:
    """One figure, or the median with the range of several."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def report_lines(
    mode: str,
    site: FeedSite,
    rounds: list[list[RunFigures]],
    stored: StoreFigures,
    demo: tuple[float, float, int | None] | None,
) -> list[str]:
    """The markdown subsection for one mode."""
    links = len(site.rewriter.numbers)
    repeats = max(0, links - len(site.pages))
    lines = [
        f"### `{mode}`",
        "",
        f"{date.today().isoformat()}, {_nproc()} cores (`nproc`), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"newsmon at {_revision()}; load average {site.load[0]:.2f} before, "
        f"{site.load[1]:.2f} after.",
        "",
        f"{len(site.urls)} feeds ({site.feed_bytes:,} bytes served), {links} distinct item "
        f"links rewritten to loopback pages ({site.rewriter.rewritten} link elements), "
        f"{len(site.pages)} benchmark pages round-robin ({repeats} links reuse a page); "
        f"{site.rewriter.from_ids} link-less items had their URL GUID/id rewritten instead.",
        "",
        *figures_table(rounds),
        "",
        "After both runs the store holds entries "
        f"{_counts(stored.entries_by_status)}; articles by source "
        f"{_counts(stored.articles_by_source)}; {stored.foreign_entries} entries whose link "
        "was left pointing off the machine (no rewritable link in the item).",
    ]
    if demo is not None:
        seconds, cpu, alerts = demo
        lines += [
            "",
            f"`newsmon demo`: {seconds:.2f} s wall, {cpu:.2f} s CPU, {alerts} alerts received.",
        ]
    lines += _feed_notes(stored)
    for label, paths in (
        ("Feed URLs requested twice in one run", [p for r in rounds[-1] for p in r.feed_repeats]),
        ("Requests for paths never served", [p for r in rounds[-1] for p in r.stray]),
    ):
        if paths:
            lines += ["", f"{label}: " + ", ".join(f"`{p}`" for p in sorted(set(paths)))]
    return lines


def _feed_notes(stored: StoreFigures) -> list[str]:
    """Failed feeds with their errors; feeds that gave nothing new, and why."""
    lines: list[str] = []
    if stored.problem:
        lines += ["", f"The store could not be read: {stored.problem}"]
    if stored.failed_feeds:
        lines += ["", f"Feeds that failed ({len(stored.failed_feeds)}):", ""]
        lines += [f"- `{name}`: {error}" for name, error in stored.failed_feeds]
    if stored.linkless_feeds:
        lines += [
            "",
            f"Feeds parsed without an entry that has an http(s) link "
            f"({len(stored.linkless_feeds)}):",
            "",
        ]
        lines += [f"- `{name}`" for name in stored.linkless_feeds]
    if stored.seen_elsewhere_feeds:
        lines += [
            "",
            f"Feeds whose entries were all seen first in another feed "
            f"({len(stored.seen_elsewhere_feeds)}): "
            + ", ".join(f"`{name}`" for name in stored.seen_elsewhere_feeds),
        ]
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _revision() -> str:
    """The checked-out commit, and whether tracked files differ from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO, check=False)
    except (OSError, subprocess.CalledProcessError):
        return "an unknown revision"
    return f"`{head}`" + (" with uncommitted changes" if dirty.returncode else "")


def update_results(path: Path, subsection: list[str]) -> None:
    """Rewrite SECTION of RESULTS.md with this mode's subsection, keeping the other modes'
    subsections and every other section as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else RESULTS_TITLE + "\n"
    lines = text.rstrip("\n").split("\n")
    if SECTION not in lines:
        lines += ["", SECTION]
    start = lines.index(SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    kept = _subsections(lines[start + 1 : end])
    kept[subsection[0]] = subsection
    section = [SECTION, "", *_section_intro()]
    for block in kept.values():
        section += ["", *block]
    tail = lines[end:]
    lines[start:] = section + ([""] + tail if tail else [])
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


def _subsections(lines: list[str]) -> dict[str, list[str]]:
    """The `### ` subsections of a section by heading, in order, without trailing blanks."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith("### "):
            current = found.setdefault(line, [])
            current.clear()
        if current is not None:
            current.append(line)
    for block in found.values():
        while block and not block[-1]:
            block.pop()
    return found


def _section_intro() -> list[str]:
    return [
        "`python bench/run_feeds.py [--feeds 10 | --all] --repeat 3 --write-results`: real feeds",
        "from `../shared/corpora` (rss-parser, feed-rs, feedjira, miniflux and RSS-Parser",
        "fixtures) served byte for byte on a loopback server (ETag, Last-Modified, 304), except",
        "that each item's article link points at a loopback copy of a page from the scrapinghub",
        "article extraction benchmark (181 pages, handed out round-robin). `newsmon run` runs",
        "twice as a subprocess on a fresh SQLite store with the shipped rules and one json://",
        "webhook; wall time includes interpreter start-up, and the loopback server runs in the",
        "benchmark's own process on the same cores. Counts are from the last round.",
        "",
        "Reading the figures: most duplicates in run 1 are links that were handed a page already",
        "used (round-robin), caught by the text hash. The shipped rules watch for a Ukraine",
        "peace deal, which few if any benchmark pages mention, so alerts and deliveries stay near",
        "zero here; `newsmon demo` exercises those. Wall time moves with the machine's load;",
        "CPU seconds are steadier.",
    ]


def print_report(lines: list[str]) -> None:
    """The subsection, as plain text on stdout."""
    print("\n".join(lines))


def run_round(config: Path, site: FeedSite) -> list[RunFigures]:
    """Two `newsmon run`s on a fresh store: everything new, then nothing changed."""
    for old in config.parent.glob("bench.db*"):
        old.unlink()
    return [run_cycle(config, site, "run1"), run_cycle(config, site, "run2")]


def run_benchmark(args: argparse.Namespace, folder: Path) -> tuple[list[str], bool]:
    """Serve, run each round, inspect the store, time the demo; the report and success."""
    corpora = corpora_path(args.corpora)
    mode, feeds = select_feeds(args, corpora)
    with FeedSite(feeds, load_pages(corpora)) as site:
        config = write_config(folder, site)
        rounds = [run_round(config, site) for _ in range(max(1, args.repeat))]
        stored = store_figures(folder / "bench.db", site)
    ok = True
    for runs in rounds:
        for number, run in enumerate(runs, 1):
            if run.returncode != 0 or not run.summary:
                ok = False
                print(f"run {number} exited {run.returncode}:\n{run.stderr_tail}", file=sys.stderr)
    demo = None if args.no_demo else time_demo(folder)
    return report_lines(mode, site, rounds, stored, demo), ok


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures and optionally write them to RESULTS.md."""
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        lines, ok = run_benchmark(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as tmp:
            lines, ok = run_benchmark(args, Path(tmp))
    print_report(lines)
    if not ok:
        print(f"\nnewsmon run failed: {RESULTS.name} left as it is", file=sys.stderr)
        return 1
    if args.write_results:
        update_results(RESULTS, lines)
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
