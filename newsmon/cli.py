"""The `newsmon` command line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsmon.backfill_cli import backfill
from newsmon.common import (
    ConfigOption,
    VerboseOption,
    add_row,
    load_config,
    out,
    setup_logging,
    store_for,
)
from newsmon.db_cli import db_app
from newsmon.rules_cli import rules_app
from newsmon.secrets import prefect_secret
from newsmon.serve import serve
from newsmon.stories_cli import stories_app

# The heavy monitors modules are imported inside the commands that use them, so that
# `--help` and `check` start fast.
if TYPE_CHECKING:
    from monitors.config import Config
    from monitors.deliver import Delivered
    from monitors.outbox import DeliveryRow
    from monitors.pipeline import CycleReport
    from monitors.store import Store

app = typer.Typer(
    help="Watch news feeds and alert once per story, with the passage that matched.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # help paragraphs flow: a docstring's line breaks are not kept
)


@app.command()
def run(
    config: ConfigOption = None,
    due: Annotated[
        bool, typer.Option("--due", help="Poll only the feeds whose next poll is due.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Run one poll cycle over every configured feed, then deliver due alerts.

    A feed whose server asked to wait (429, 503) waits its turn; with --due, so does
    every feed backing off after errors or not due yet."""
    import asyncio

    setup_logging(verbose)
    cfg = load_config(config)
    with store_for(cfg) as store:
        report = asyncio.run(run_cycle(cfg, store, due))
    print_report(report, verbose=verbose)


async def run_cycle(cfg: Config, store: Store, due_only: bool = False) -> CycleReport:
    """One cycle with a fetcher built from the config."""
    from monitors.fetch import Fetcher
    from monitors.pipeline import Pipeline, fetch_limits

    async with Fetcher(fetch_limits(cfg)) as fetcher:
        pipeline = Pipeline(cfg, store, fetcher, secrets=prefect_secret)
        return await pipeline.run_cycle(due_only=due_only)


def print_report(report: CycleReport, console: Console = out, verbose: bool = False) -> None:
    """A summary of a cycle; failed feeds, entries skipped and failed deliveries listed
    with their reasons."""
    states = [f.status for f in report.feeds]
    held = ("waiting", "not due", "claimed elsewhere")
    polled = len(states) - sum(states.count(s) for s in held)
    waiting = "".join(f", {states.count(s)} {s}" for s in held if s in states)
    console.print(
        f"feeds: {polled} polled, {states.count('new')} with news, "
        f"{states.count('unchanged')} unchanged, {states.count('failed')} failed{waiting}"
    )
    console.print(
        f"entries: {sum(f.new_entries for f in report.feeds)} new; articles: "
        f"{report.count('article')} new, {report.count('duplicate')} duplicates, "
        f"{report.count('error')} errors; alerts: {report.alerts}; "
        f"deliveries: {report.sent} sent, {report.failed} failed"
    )
    skipped = any(f.skipped for f in report.feeds)
    if verbose or report.failed or states.count("failed") or skipped:
        _print_problems(report, console)


def _print_problems(report: CycleReport, console: Console) -> None:
    table = Table(
        "feed", "status", "new", "error", "entries skipped", title="feeds", title_justify="left"
    )
    for f in report.feeds:
        add_row(table, f.name, f.status, str(f.new_entries), f.error, "\n".join(f.skipped))
    console.print(table)
    print_deliveries(report.deliveries, console, only_failed=True)


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


@app.command()
def deliver(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Send every due delivery (alerts, digests, notices) without polling."""
    from monitors.deliver import deliver_due, notifier_for, outbox_for

    setup_logging(verbose)
    cfg = load_config(config)
    with store_for(cfg) as store:
        done = deliver_due(outbox_for(cfg, store), notifier_for(cfg, prefect_secret), cfg.labels())
    sent = sum(d.status == "sent" for d in done)
    out.print(f"deliveries: {sent} sent, {len(done) - sent} failed")
    print_deliveries(done, only_failed=not verbose)


@app.command()
def digest(
    period: Annotated[
        str, typer.Option(help="Which held alerts to send: hourly, daily or all.")
    ] = "all",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Send held alerts as one digest message per channel, grouped by rule."""
    from monitors.deliver import deliver_due, notifier_for, outbox_for

    setup_logging(verbose)
    periods = {"hourly": ["hourly"], "daily": ["daily"], "all": ["hourly", "daily"]}
    if period not in periods:
        raise typer.BadParameter("use hourly, daily or all", param_hint="--period")
    cfg = load_config(config)
    with store_for(cfg) as store:
        outbox = outbox_for(cfg, store)
        made = outbox.make_digests(periods[period])
        done = deliver_due(outbox, notifier_for(cfg, prefect_secret), cfg.labels())
    out.print(
        f"digests: {len(made)} made; deliveries: {sum(d.status == 'sent' for d in done)} sent"
    )
    print_deliveries(done, only_failed=not verbose)


alerts_app = typer.Typer(
    help="List alerts and their deliveries; retry failed ones.", invoke_without_command=True
)
app.command()(serve)
app.add_typer(alerts_app, name="alerts")
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(stories_app, name="stories")
app.command("backfill")(backfill)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="Only alerts with a delivery in this status: pending, failed, sent."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the newest alerts with each delivery's status, attempts and last error."""
    if ctx.invoked_subcommand is not None:
        return
    from monitors.deliver import outbox_for  # here: `alerts retry` runs this callback too

    cfg = load_config(config)
    with store_for(cfg) as store:
        listing = outbox_for(cfg, store).listing(status)
    table = Table("alert", "rule", "headline", "channel", "status", "tries", "last error")
    for column in table.columns[:2] + table.columns[3:6]:
        column.no_wrap = True
    for item in listing:
        a = item.alert
        for i, d in enumerate(item.deliveries or [None]):
            head = (str(a.id), a.rule_id, a.headline[:60]) if i == 0 else ("", "", "")
            cells = (d.channel, _status(d), str(d.attempts), d.last_error or "") if d else ("",) * 4
            add_row(table, *head, *cells)
    out.print(table if listing else "no alerts")


def _status(delivery: DeliveryRow) -> str:
    """A delivery's status; for a digest, which one."""
    if delivery.kind == "digest":
        return f"{delivery.status} (digest {delivery.id})"
    return delivery.status


@alerts_app.command("retry")
def alerts_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Alert ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed or waiting delivery.")] = False,
    config: ConfigOption = None,
) -> None:
    """Make the deliveries of these alerts due now; the next run or `deliver` sends them."""
    from monitors.deliver import outbox_for

    if not ids and not all_:
        raise typer.BadParameter("give alert ids or --all")
    cfg = load_config(config)
    with store_for(cfg) as store:
        count = outbox_for(cfg, store).retry(None if all_ else ids)
    out.print(f"{count} deliveries due now")


@app.command()
def feeds(config: ConfigOption = None) -> None:
    """Each feed's polling state: last success, last error, streak, next due, items a day,
    and why entries of its last parsed body were skipped."""
    cfg = load_config(config)
    with store_for(cfg) as store:
        rows = {r.url: r for r in store.feed_rows()}
    table = Table(
        "feed", "last success", "last error", "streak", "next due", "items/day", "skipped"
    )
    table.caption = "times in UTC; skipped: entries of the last parsed body left out, and why"
    for column in table.columns[1:2] + table.columns[3:6]:
        column.no_wrap = True
    for feed in cfg.feeds:
        row = rows.get(feed.url)
        if row is None:
            add_row(table, feed.label, "never polled", "", "", "now", "", "")
            continue
        add_row(
            table,
            feed.label,
            _when(row.last_success_at),
            row.last_error or "",
            str(row.error_streak or ""),
            _when(row.next_due_at) or "now",
            f"{row.items_per_day:.1f}" if row.items_per_day is not None else "",
            _skipped(row.skipped),
        )
    out.print(table)


def _skipped(stored: str | None) -> str:
    """'N: first reason (+ more)' from a feed's stored skip reasons."""
    reasons = json.loads(stored) if stored else []
    if not reasons:
        return ""
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{len(reasons)}: {reasons[0]}{more}"


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate a config file and list every problem in it."""
    cfg = load_config(config)
    out.print(
        f"[green]OK[/] {escape(str(cfg.source))}: {len(cfg.feeds)} feeds, {len(cfg.rules)} rules, "
        f"{len(cfg.channels)} channels",
        highlight=False,
    )


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option(help="Keep the demo's SQLite store in this folder.")
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the whole pipeline offline on bundled sample feeds and print the alerts."""
    from newsmon.demo import run_demo

    setup_logging(verbose)
    run_demo(out, keep)


if __name__ == "__main__":  # pragma: no cover
    app()
