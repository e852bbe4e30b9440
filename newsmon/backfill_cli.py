"""`newsmon backfill`: replay a window of history through the rules, dry run by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from flows.secrets import prefect_secret
from newsmon.common import (
    ConfigOption,
    VerboseOption,
    add_row,
    err,
    load_config,
    out,
    setup_logging,
    store_for,
)
from newsmon.progress import backfill_progress

if TYPE_CHECKING:
    from monitors import backfill as bf
    from monitors.config import Config
    from monitors.delivery import Delivered
    from monitors.pipeline import Outcome, ProgressHook
    from monitors.store import Store

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def backfill(
    since: Annotated[
        str,
        typer.Option(help="Start of the window: a date (UTC) or an ISO 8601 time.", metavar="DATE"),
    ],
    target: Annotated[
        str | None,
        typer.Argument(
            help="With --from urls: the file of URLs; with sitemap: its URL.", metavar="TARGET"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End of the window (a date is included); default: now.", metavar="DATE"),
    ] = None,
    source: Annotated[
        str,
        typer.Option("--from", help="stored, feeds, urls FILE or sitemap URL.", metavar="SOURCE"),
    ] = "stored",
    feeds: Annotated[
        list[str] | None,
        typer.Option(
            "--feeds", help="Only these feeds, by name or URL (repeatable).", metavar="FEED"
        ),
    ] = None,
    rules: Annotated[
        list[str] | None,
        typer.Option("--rules", help="Only these rules (repeatable).", metavar="ID"),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send the alerts (default: a dry run).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per rule and story.")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Match the rules over a window of history and list the alerts that fire.

    The window is each article's publication date, else when it was first seen. A dry
    run sends nothing (and needs no channel's variable); --notify sends what was never
    sent. Run again with the same arguments, an interrupted backfill goes on where it
    stopped. Exits 1 when every item failed, 130 when interrupted."""
    import asyncio

    setup_logging(verbose)
    request = _request(since, until, source, target, feeds or [], rules or [], notify)
    cfg = load_config(config, sends=notify)
    _check_names(request, cfg)
    with store_for(cfg) as store:
        try:
            with backfill_progress(err) as hook:
                outcome, delivered = asyncio.run(_run(cfg, store, request, hook))
        except KeyboardInterrupt:
            err.print(
                "interrupted: what is done is kept; run the same command again to go on",
                highlight=False,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    print_outcome(outcome, as_json)
    if delivered is not None:
        print_deliveries(delivered, outcome.held, err if as_json else out)
    p = outcome.progress
    if p.done and p.errors == p.done:
        if not as_json:  # there, the summary says it
            err.print(f"all {p.done} items failed", highlight=False)
        raise typer.Exit(EXIT_FAILED)


async def _run(
    cfg: Config, store: Store, request: bf.Request, hook: ProgressHook
) -> tuple[Outcome, list[Delivered] | None]:
    from monitors.pipeline import open_pipeline, run_backfill

    async with open_pipeline(cfg, store, secrets=prefect_secret) as pipeline:
        return await run_backfill(pipeline, request, hook)


def _check_names(request: bf.Request, cfg: Config) -> None:
    """A usage error for a rule or feed the config does not have."""
    unknown = set(request.rules) - {r.id for r in cfg.rules}
    if unknown:
        _usage_error(f"unknown rule {', '.join(sorted(unknown))}")
    names = {n for f in cfg.feeds for n in (f.url, f.name) if n}
    missing = set(request.feeds) - names
    if missing:
        _usage_error(f"unknown feed {', '.join(sorted(missing))} (give a feed's name or URL)")


def print_deliveries(delivered: list[Delivered], held: int, console: Console) -> None:
    """What became of the deliveries: sent, not sent (with why), held for a digest."""
    sent = sum(d.status == "sent" for d in delivered)
    failed = [d for d in delivered if d.status != "sent"]
    console.print(
        f"deliveries: {sent} sent, {len(failed)} not sent, {held} held for the digest",
        highlight=False,
    )
    for d in failed:
        console.print(
            f"  delivery {d.delivery_id} to {d.channel}: {d.status}: {d.error or ''}",
            markup=False,
            highlight=False,
        )


def _request(
    since: str,
    until: str | None,
    source: str,
    target: str | None,
    feeds: list[str],
    rules: list[str],
    notify: bool,
) -> bf.Request:
    from monitors import backfill as bf
    from monitors.config import parse_moment

    if source not in bf.SOURCES:
        _usage_error(f"--from takes one of {', '.join(bf.SOURCES)}")
    needs_target = source in ("urls", "sitemap")
    if needs_target != (target is not None):
        what = "a file of URLs" if source == "urls" else "a sitemap URL"
        _usage_error(f"--from {source} takes {what}" if needs_target else f"unexpected {target}")
    if source == "urls" and target is not None:
        if not Path(target).is_file():
            _usage_error(f"no such file: {target}")
        target = str(Path(target).resolve())
    try:
        window = bf.Window(parse_moment(since), parse_moment(until, end=True) if until else None)
    except ValueError as exc:
        _usage_error(str(exc))
    if window.until is not None and window.until <= window.since:
        _usage_error(f"--until {until} is not after --since {since}: the window is empty")
    return bf.Request(window, source, target, _split(feeds), _split(rules), notify)


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def _usage_error(message: str) -> NoReturn:
    err.print(f"Error: {message}", markup=False, highlight=False)
    raise typer.Exit(EXIT_USAGE)


def _json_line(console: Console, value: dict[str, object]) -> None:
    line = json.dumps(value, ensure_ascii=False)
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def _json_summary(outcome: Outcome) -> None:
    """With --json: the summary and each error as JSON lines on standard error, so that
    standard output holds only the alerts."""
    p = outcome.progress
    summary = {"items": p.done, "resumed": p.resumed, "errors": p.errors}
    _json_line(err, {"summary": {**summary, "alerts": len(outcome.fired)}})
    for item in outcome.errors:
        _json_line(err, {"error": item.error, "url": item.url})
    for url, cut in outcome.matched_in_part:
        _json_line(err, {"matched_in_part": cut, "url": url})


def print_outcome(outcome: Outcome, as_json: bool, console: Console = out) -> None:
    """The alerts per rule and story (a table, or JSON lines), then a summary."""
    notify = outcome.request.notify
    if as_json:
        for fired in outcome.fired:
            _json_line(console, fired.as_json(notify))
        _json_summary(outcome)
        return
    p = outcome.progress
    verb = "alerts queued" if notify else "alerts that would fire (dry run: nothing sent)"
    if outcome.fired:
        table = Table("rule", "kind", "story", "headline", "articles", "URLs", title=verb)
        table.columns[5].overflow = "fold"  # a URL is never cut short
        for fired in outcome.fired:
            urls = "\n".join(u for _, u in fired.articles)
            count = str(len(fired.articles))
            add_row(table, fired.rule_id, fired.kind, fired.story, fired.headline, count, urls)
        console.print(table)
    resumed = f" ({p.resumed} in an earlier attempt)" if p.resumed else ""
    console.print(
        f"{p.done} items{resumed}, {p.errors} errors; {len(outcome.fired)} {verb}",
        highlight=False,
    )
    for item in outcome.errors:
        console.print(f"  error: {item.url}: {item.error}", markup=False, highlight=False)
    for url, cut in outcome.matched_in_part:
        console.print(f"  matched in part: {url}: {cut}", markup=False, highlight=False)
