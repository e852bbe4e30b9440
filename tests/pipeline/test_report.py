"""One cycle report, rendered by the CLI and the poll flow's artifact with the same counts:
"polled" means fetched this cycle (new, unchanged or failed), everywhere."""

from __future__ import annotations

import io

from rich.console import Console

from flows.report import poll_markdown
from monitors.pipeline import CycleReport, FeedOutcome, ProcessedEntry
from newsmon.report import print_report

STATUSES = ["new", "unchanged", "failed", "waiting", "not due", "claimed elsewhere"]


def report() -> CycleReport:
    feeds = [FeedOutcome(f"https://example.com/{s}", s, s, new_entries=2) for s in STATUSES]
    entries = [
        ProcessedEntry(1, "https://example.com/a", "article", alert_ids=(7,)),
        ProcessedEntry(2, "https://example.com/b", "duplicate"),
    ]
    return CycleReport(feeds, entries)


def test_polled_means_fetched_this_cycle() -> None:
    summary = report().summary()
    assert summary["feeds"] == {"polled": 3} | dict.fromkeys(STATUSES, 1)
    assert (summary["articles"], summary["duplicates"], summary["alerts"]) == (1, 1, 1)


def test_the_cli_and_the_artifact_say_the_same() -> None:
    console = Console(file=io.StringIO(), width=200)
    print_report(report(), console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    markdown = poll_markdown(report(), {})
    assert "feeds: 3 polled, 1 with news, 1 unchanged, 1 failed" in printed
    assert "**Feeds:** 3 polled (1 with news, 1 unchanged, 1 failed), 3 not due" in markdown
    assert "entries: 12 new; articles: 1 new, 1 duplicates" in printed
    assert "**New entries:** 12; **articles:** 1 new, 1 duplicates" in markdown
