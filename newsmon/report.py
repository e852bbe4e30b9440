"""How the command line shows a cycle's report and delivery attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from newsmon.common import add_row, out

if TYPE_CHECKING:
    from monitors.delivery import Delivered
    from monitors.pipeline import CycleReport


def print_report(report: CycleReport, console: Console = out, verbose: bool = False) -> None:
    """A summary of a cycle; failed feeds, entries skipped, articles matched in part and
    failed deliveries listed with their reasons."""
    from monitors.pipeline.report import NOT_POLLED

    held = "".join(f", {report.feeds_in(s)} {s}" for s in NOT_POLLED if report.feeds_in(s))
    console.print(
        f"feeds: {report.polled} polled, {report.feeds_in('new')} with news, "
        f"{report.feeds_in('unchanged')} unchanged, {report.feeds_in('failed')} failed{held}"
    )
    console.print(
        f"entries: {report.new_entries} new; articles: "
        f"{report.count('article')} new, {report.count('duplicate')} duplicates, "
        f"{report.count('error')} errors{_deferred(report)}; alerts: {report.alerts}; "
        f"deliveries: {delivery_counts(report.deliveries)}"
    )
    if report.hubs:
        failed = [h for h in report.hubs if h.status == "failed"]
        console.print(f"WebSub hubs: {len(report.hubs) - len(failed)} asked, {len(failed)} failed")
        for h in failed:
            console.print(f"  {h.action} {h.feed} at {h.hub}: {h.error}", markup=False)
    skipped = any(f.skipped for f in report.feeds)
    if verbose or report.failed or report.feeds_in("failed") or skipped:
        _print_problems(report, console)
    _print_matched_in_part(report, console)


def _deferred(report: CycleReport) -> str:
    """ ", N deferred to the next cycle" when pages were left for it, else nothing."""
    deferred = report.count("deferred")
    return f", {deferred} deferred to the next cycle" if deferred else ""


def _print_problems(report: CycleReport, console: Console) -> None:
    table = Table(
        "feed", "status", "new", "error", "entries skipped", title="feeds", title_justify="left"
    )
    for f in report.feeds:
        add_row(table, f.name, f.status, str(f.new_entries), f.error, "\n".join(f.skipped))
    console.print(table)
    print_deliveries(report.deliveries, console, only_failed=True)


def _print_matched_in_part(report: CycleReport, console: Console) -> None:
    """The articles whose matching the limits cut (`matching:` in the config), and what
    they left out."""
    cut = report.matched_in_part
    if not cut:
        return
    table = Table("article", "matched in part", title="articles matched in part")
    for entry in cut:
        add_row(table, entry.url, entry.matching_cut)
    console.print(table)


def delivery_counts(done: list[Delivered]) -> str:
    """ "N sent, N to retry, N failed": a delivery not sent is retried later (pending) or
    given up (failed)."""
    counts = {status: sum(d.status == status for d in done) for status in ("sent", "pending")}
    failed = len(done) - sum(counts.values())
    return f"{counts['sent']} sent, {counts['pending']} to retry, {failed} failed"


def print_deliveries(
    done: list[Delivered], console: Console = out, only_failed: bool = False
) -> None:
    """A table of delivery attempts (or of the failed ones)."""
    shown = [d for d in done if d.error or not only_failed]
    if not shown:
        return
    table = Table("delivery", "alert", "channel", "status", "error", title="deliveries")
    for d in shown:
        add_row(table, str(d.delivery_id), str(d.alert_id or d.kind), d.channel, d.status, d.error)
    console.print(table)
