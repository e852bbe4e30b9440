"""Progress of a cycle: told per feed and per entry, drawn on a terminal or logged."""

from __future__ import annotations

import asyncio
import copy
import io
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from monitors.config import Config
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleProgress, CycleReport, Every, Pipeline, Progress
from monitors.pipeline import progress as progress_mod
from monitors.store import Store
from newsmon.cli import app
from newsmon.progress import cycle_progress
from tests.cli.test_cli import write_config
from tests.conftest import make_config
from tests.httpserver import LoopbackServer


def cycle_told(cfg: Config, store: Store) -> tuple[CycleReport, list[CycleProgress]]:
    told: list[CycleProgress] = []

    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher, retry_wait=0.01)
            return await pipeline.run_cycle(progress=lambda p: told.append(copy.deepcopy(p)))

    return asyncio.run(go()), told


def test_a_cycle_tells_each_feed_and_entry_as_it_goes(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    feeds = [site.url("/site/world.xml"), site.url("/site/wire.xml"), site.url("/gone.xml")]
    report, told = cycle_told(make_config(store_url, feeds, "json://127.0.0.1:9/"), store)
    stages = [p.stage for p in told]
    assert stages == sorted(stages, key=["poll", "process", "deliver"].index)
    polling = [p.feeds for p in told if p.stage == "poll"]
    assert _steps([p.done for p in polling]) == [0, 1, 2, 3]
    assert {p.total for p in polling} == {3}
    assert polling[-1].errors == 1 and [f.status for f in report.feeds].count("failed") == 1
    processed = _steps([p.entries.done for p in told])  # while polling, then after
    assert processed == list(range(len(report.entries) + 1))
    totals = [p.entries.total for p in told if p.entries.total is not None]
    assert max(totals) == len(report.entries)  # counted as the feeds' entries are stored
    last = told[-1]
    assert last.stage == "deliver" and last.entries.done == len(report.entries) > 0
    assert "feeds 3 polled" in last.line() and "delivering alerts" in last.line()


def _steps(counts: list[int]) -> list[int]:
    """The counts told, each once: they only ever go up."""
    assert counts == sorted(counts)
    return sorted(set(counts))


def test_a_second_cycle_has_nothing_to_process(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    cfg = make_config(store_url, [site.url("/site/world.xml")], "json://127.0.0.1:9/")
    cycle_told(cfg, store)
    _, told = cycle_told(cfg, store)
    assert told[-1].feeds.done == 1 and told[-1].entries.total == 0


def test_a_failing_hook_does_not_stop_the_cycle(
    store_url: str, store: Store, site: LoopbackServer
) -> None:
    cfg = make_config(store_url, [site.url("/site/world.xml")], "json://127.0.0.1:9/")

    def broken(_p: CycleProgress) -> None:
        raise RuntimeError("a terminal went away")

    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher).run_cycle(progress=broken)

    report = asyncio.run(go())
    assert [f.status for f in report.feeds] == ["new"] and report.entries


def test_progress_rate_eta_and_line() -> None:
    p = Progress(total=200, done=50, started=time.monotonic() - 10)
    assert p.rate == pytest.approx(5.0, rel=0.05)
    assert p.eta == pytest.approx(30.0, rel=0.05)
    assert p.line("entries", "processed").startswith("entries 50/200 processed, 5.0/s, ETA 3")
    p.errors = 2
    assert ", 2 failed, " in p.line("entries", "processed")
    assert Progress().line("feeds", "polled") == "feeds 0/? polled, 0.0/s, ETA ?"
    etas = [progress_mod.eta(s) for s in (None, 40, 600, 3900)]
    assert etas == ["?", "40 s", "10 min", "1 h 5 min"]


def test_every_says_nothing_of_short_work_then_a_line_every_period() -> None:
    lines: list[str] = []
    every = Every(lines.append, seconds=0.2)
    cycle = CycleProgress(feeds=Progress(total=10, done=3))
    every(cycle)
    assert lines == []
    time.sleep(0.25)
    every(cycle)
    every(cycle)
    assert lines == [f"cycle: {cycle.line()}"] and "feeds 3/10 polled" in lines[0]
    done = Progress(total=3, done=3)
    final = Every(lines.append, seconds=60, final=True)
    final(done)
    assert lines[-1].startswith("backfill: items 3/3 done")


def test_a_terminal_shows_bars_for_feeds_and_entries() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with cycle_progress(console) as hook:
        hook(CycleProgress(feeds=Progress(total=4, done=4)))
        hook(CycleProgress(Progress(4, 4), Progress(10, 7, errors=1), "process"))
    shown = screen.getvalue()
    assert "feeds polled" in shown and "4/4" in shown
    assert "entries processed" in shown and "7/10" in shown and "failed 1" in shown


def test_newsmon_run_piped_logs_progress_lines(
    tmp_path: Path, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_mod, "PLAIN_EVERY", 0.0)
    path = write_config(tmp_path, [site.url("/site/world.xml")], "json://127.0.0.1:9/")
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("cycle: ")]
    assert any("feeds 1/1 polled" in line for line in lines)
    assert any("entries" in line and "processed" in line for line in lines)
