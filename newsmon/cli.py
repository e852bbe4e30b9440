"""The `newsmon` command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.secrets import prefect_api, prefect_secret, secret_problems, secrets_server
from newsmon.backfill_cli import backfill
from newsmon.common import (
    EXIT_CONFIG,
    App,
    ConfigOption,
    VerboseOption,
    add_row,
    counted,
    err,
    load_config,
    out,
    print_problems,
    setup_logging,
    store_for,
)
from newsmon.db_cli import db_app
from newsmon.progress import cycle_progress
from newsmon.report import delivery_counts, print_deliveries, print_report
from newsmon.rules_cli import rules_app
from newsmon.serve import serve
from newsmon.stats_cli import stats_app
from newsmon.stories_cli import stories_app
from newsmon.web.command import web

# The heavy monitors modules are imported inside the commands that use them, so that
# `--help` and `check` start fast.
if TYPE_CHECKING:
    from monitors.config import Config
    from monitors.errors import Problem
    from monitors.pipeline import CycleHook, CycleReport
    from monitors.store import DeliveryRow, Store, Subscription

app = App(no_args_is_help=True)
STATUSES = ("pending", "sending", "held", "sent", "failed")  # a delivery's, in its order


def _version(shown: bool) -> None:
    if shown:
        out.print(f"newsmon {_installed_version()}", highlight=False)
        raise typer.Exit()


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsmon")
    except PackageNotFoundError:
        return "(not installed: running from a source tree)"


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Watch news feeds and alert once per story, with the passage that matched."""


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
    every feed backing off after errors or not due yet. A feed another run polled since
    this one started is not polled again (runs started together share the feeds). Exits 1
    when every feed polled failed, so that cron tells of it."""
    import asyncio
    from datetime import UTC

    started = datetime.now(UTC)
    setup_logging(verbose)
    cfg = load_config(config)
    with store_for(cfg) as store, cycle_progress(err) as progress:
        report = asyncio.run(_cycle(cfg, store, due, progress, started))
    print_report(report, verbose=verbose)
    if report.all_failed:
        raise typer.Exit(1)


async def _cycle(
    cfg: Config, store: Store, due_only: bool, progress: CycleHook, started: datetime
) -> CycleReport:
    from monitors.pipeline import open_pipeline, run_cycle

    async with open_pipeline(cfg, store, secrets=prefect_secret) as pipeline:
        return await run_cycle(pipeline, due_only=due_only, progress=progress, since=started)


@app.command()
def deliver(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Send every due delivery (alerts, digests, notices) without polling."""
    from monitors.delivery import Outbox, deliver_due, notifier_for

    setup_logging(verbose)
    cfg = load_config(config)
    with store_for(cfg) as store:
        done = deliver_due(Outbox.of(cfg, store), notifier_for(cfg, prefect_secret), cfg.labels())
    out.print(f"deliveries: {delivery_counts(done)}", highlight=False)
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
    from monitors.delivery import Outbox, deliver_due, notifier_for

    setup_logging(verbose)
    periods = {"hourly": ["hourly"], "daily": ["daily"], "all": ["hourly", "daily"]}
    if period not in periods:
        raise typer.BadParameter("use hourly, daily or all", param_hint="--period")
    cfg = load_config(config)
    with store_for(cfg) as store:
        outbox = Outbox.of(cfg, store)
        made = outbox.make_digests(periods[period])
        done = deliver_due(outbox, notifier_for(cfg, prefect_secret), cfg.labels())
    out.print(
        f"digests: {len(made)} made; deliveries: {sum(d.status == 'sent' for d in done)} sent"
    )
    print_deliveries(done, only_failed=not verbose)


alerts_app = App(
    help="List alerts and their deliveries; retry failed ones.", invoke_without_command=True
)
app.command()(serve)
app.add_typer(alerts_app, name="alerts")
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(stories_app, name="stories")
app.add_typer(stats_app, name="stats")
app.command("backfill")(backfill)
app.command("web")(web)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            help="Only alerts with a delivery in this status: pending (due, or waiting to be "
            "retried), sending, held (for a digest), sent or failed (gave up)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the newest alerts with each delivery's status, attempts and last error."""
    if ctx.invoked_subcommand is not None:
        return
    from monitors.delivery import Outbox  # here: `alerts retry` runs this callback too
    from monitors.pipeline.latency import alert_latency

    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(STATUSES)}", param_hint="--status")
    cfg = load_config(config, sends=False)
    with store_for(cfg) as store:
        listing = Outbox.of(cfg, store).listing(status)
    table = Table(
        "alert", "rule", "headline", "latency", "channel", "status", "tries", "last error"
    )
    table.caption = (
        "latency: publication to first message sent (to seen, while unsent), and how the "
        "article was seen: by a poll or a push"
    )
    for column in table.columns[:2] + table.columns[3:7]:
        column.no_wrap = True
    for item in listing:
        a = item.alert
        for i, d in enumerate(item.deliveries or [None]):
            head = (str(a.id), a.rule_id, a.headline[:60], alert_latency(item))
            head = head if i == 0 else ("",) * 4
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
    """Make the failed and waiting deliveries of these alerts due now; the next run or
    `deliver` sends them. Exits 1 when an id is no alert's."""
    from monitors.delivery import Outbox

    if not ids and not all_:
        raise typer.BadParameter("give alert ids or --all")
    asked = set() if all_ else set(ids or ())
    cfg = load_config(config, sends=False)
    with store_for(cfg) as store:
        outbox = Outbox.of(cfg, store)
        unknown = sorted(asked - {a.alert.id for a in outbox.listing(ids=ids)}) if asked else []
        count = outbox.retry(None if all_ else ids)
    if unknown:
        err.print(f"no alert {', '.join(map(str, unknown))}", highlight=False)
    if all_ or len(unknown) < len(asked):  # some alert was asked for and found
        noun = "delivery" if count == 1 else "deliveries"
        out.print(f"{count} {noun} due now")
    if unknown:
        raise typer.Exit(1)


@app.command()
def feeds(config: ConfigOption = None) -> None:
    """Each feed's polling state: last success, last error, streak, next due, items a day,
    why entries of its last parsed body were skipped, and its WebSub push subscription."""
    cfg = load_config(config, sends=False)
    with store_for(cfg) as store, store.transaction() as tx:
        rows = {r.url: r for r in tx.feed_rows()}
        subs = {s.feed_url: s for s in tx.subscriptions()}
    table = Table(
        "feed", "last success", "last error", "streak", "next due", "items/day", "skipped", "push"
    )
    table.caption = (
        "times in UTC; skipped: entries of the last parsed body left out, and why; "
        "push: the WebSub subscription's state"
    )
    for column in table.columns[1:2] + table.columns[3:6]:
        column.no_wrap = True
    for feed in cfg.feeds:
        row = rows.get(feed.url)
        if row is None:
            add_row(table, feed.label, "never polled", "", "", "now", "", "", "")
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
            _push(subs.get(feed.url)),
        )
    out.print(table)


def _push(sub: Subscription | None) -> str:
    """A subscription's state: "active until …", "failed: why", …; "" without a hub."""
    if sub is None:
        return ""
    if sub.state == "active":
        return f"active until {_when(sub.expires_at)}"
    return f"{sub.state}: {sub.last_error}" if sub.last_error else sub.state


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
    """Check a config file, its store and its secret channels; list every problem.

    Once the file is valid, the store is opened (without creating or changing it) and
    the channels kept in Prefect Secret blocks are read, as `run` would."""
    from monitors import config as config_mod
    from monitors.errors import Problem, StoreError
    from monitors.store import probe

    cfg = load_config(config)
    if any(isinstance(channel, config_mod.SecretChannel) for channel in cfg.channels.values()):
        starts = "" if prefect_api() else ", which starts first (some 15 s)"
        err.print(f"reading the channels' Prefect secrets from {secrets_server()}{starts}")
    problems = list(secret_problems(cfg)) + list(_refused_feeds(cfg))
    try:
        probe(cfg.store)
    except StoreError as exc:
        where = ("environment", "NEWSMON_STORE") if cfg.store_from_env else (cfg.source, "store")
        problems.insert(0, Problem(*where, str(exc)))
    if problems:
        print_problems(config_mod.locate(problems))
        raise typer.Exit(EXIT_CONFIG)
    out.print(
        f"[green]OK[/] {escape(str(cfg.source))}: {counted(len(cfg.feeds), 'feed')}, "
        f"{counted(len(cfg.rules), 'rule')}, {counted(len(cfg.channels), 'channel')}",
        highlight=False,
    )


def _refused_feeds(cfg: Config) -> Iterator[Problem]:
    """Each feed whose URL names an address the fetcher will refuse (a private one)."""
    from monitors.errors import Problem
    from monitors.ingest.fetch import FetchLimits, refused_address

    limits = FetchLimits.of(cfg.fetch)
    for i, feed in enumerate(cfg.feeds):
        if reason := refused_address(feed.url, limits):
            yield Problem(cfg.source, f"feeds[{i}].url", f"refused when fetched: {reason}")


@app.command()
def demo(
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Keep the demo's SQLite store, and a config to read it, in this folder.",
            metavar="DIR",
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the whole pipeline offline on bundled sample feeds and print the alerts."""
    from newsmon.demo import run_demo

    setup_logging(verbose)
    run_demo(out, keep)


if __name__ == "__main__":  # pragma: no cover
    app()
