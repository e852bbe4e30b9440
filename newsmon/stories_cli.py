"""`newsmon stories`: stories with their articles and alerts, and why each joined."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from newsmon.common import (
    App,
    ConfigOption,
    add_row,
    counted,
    load_config,
    out,
    parse_since,
    store_for,
)

stories_app = App(
    help="Stories: articles grouped as one piece of news, with every decision explained.",
    invoke_without_command=True,
)


@stories_app.callback()
def stories_list(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Stories seen since this date (default: 7 days ago).", metavar="DATE"),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per story, oldest first: its articles with the decision "
            "that placed each and the feeds that listed each, its alerts.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List stories seen since a date, with their articles and alerts."""
    if ctx.invoked_subcommand is not None:
        return
    moment = parse_since(since) if since else datetime.now(UTC) - timedelta(days=7)
    cfg = load_config(config, sends=False)
    if as_json:
        with store_for(cfg) as store, store.transaction() as tx:
            exported = tx.story_export(moment)
        for item in exported:
            typer.echo(json.dumps(_story_json(item), ensure_ascii=False))
        return
    with store_for(cfg) as store, store.transaction() as tx:
        rows = tx.story_listing(moment)
    if not rows:
        out.print("no stories in that period")
    for row in rows:
        listed = row["members"]
        outlets = len({a.site for a in listed})
        out.print(
            f"[bold]story {row['id']}[/] ({counted(row['articles'], 'article')}, "
            f"{counted(outlets, 'outlet')}, "
            f"last seen {row['last_seen_at']:%Y-%m-%d %H:%M} UTC): {escape(row['headline'])}",
            highlight=False,
        )
        for a in listed:
            line = f"  {a.title} | {a.site} | {a.language or 'language unknown'} | {a.url}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        for alert in row["alerts"]:
            out.print(f"  alert #{alert.id} {alert.kind} for {alert.rule_id}", highlight=False)


def _story_json(item: dict[str, Any]) -> dict[str, Any]:
    """A story for scripts: its times, its articles with the decision that placed each
    (null where none was kept) and the feeds that listed each, its alerts."""
    story = item["story"]
    return {
        "id": story.id,
        "headline": story.headline,
        "first_seen": _iso(story.first_seen_at),
        "last_seen": _iso(story.last_seen_at),
        "articles": [
            {
                "id": a.id,
                "url": a.url,
                "site": a.site,
                "title": a.title,
                "published": _iso(a.published_at),
                "decision": {
                    "kind": a.kind,
                    "score": a.score,
                    "reason": a.reason,
                    "other_article": a.other_article_id,
                }
                if a.kind
                else None,
                "feeds": [
                    {"name": f.feed, "url": f.feed_url, "first_listed": _iso(f.first_listed_at)}
                    for f in item["listed"].get(a.id, [])
                ],
            }
            for a in item["articles"]
        ],
        "alerts": [{"id": a.id, "rule": a.rule_id, "kind": a.kind} for a in item["alerts"]],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@stories_app.command("show")
def stories_show(story_id: int, config: ConfigOption = None) -> None:
    """A story's articles, the decision that placed each (with its score and reason),
    the feeds that listed each, the entries skipped as the same URL before any fetch, and
    its alerts."""
    from monitors.extract.language import UNKNOWN  # here: `--help` loads no extractor

    cfg = load_config(config, sends=False)
    with store_for(cfg) as store, store.transaction() as tx:
        detail = tx.story_detail(story_id)
    if detail is None:
        out.print(f"no story {story_id}")
        raise typer.Exit(1)
    story, placed, made, relisted, listed = (
        detail[k] for k in ("story", "decisions", "alerts", "relisted", "listed")
    )
    out.print(f"[bold]story {story.id}[/]: {escape(story.headline)}", highlight=False)
    languages = sorted({d.language for d in placed if d.language not in (None, UNKNOWN)})
    if len(languages) > 1:
        out.print(f"languages: {', '.join(languages)}", highlight=False)
    table = Table("article", "title, site, language, URL", "decision", "rule", "score", "reason")
    for d in placed:
        score = f"{d.score:.2f}" if d.score is not None else ""
        where = f"{d.title}\n{d.site}, {d.language or 'language unknown'}\n{d.url}"
        add_row(table, str(d.article_id), where, d.kind, d.rule_id or "", score, d.reason)
    out.print(table)
    if listed:
        table = Table("article", "listed by feed", "first listed (UTC)")
        for article_id, feeds in listed.items():
            for f in feeds:
                first = f"{f.first_listed_at:%Y-%m-%d %H:%M:%S}"
                add_row(table, str(article_id), f.feed or f.feed_url, first)
        out.print(table)
    if relisted:
        table = Table("feed", "entry URL", "seen (UTC)", "decision", "reason")
        for e in relisted:
            reason = f"same URL as article {e.article_id}: not fetched, no alert"
            seen = f"{e.first_seen_at:%Y-%m-%d %H:%M}"
            add_row(table, e.feed or e.feed_url, e.url, seen, "same URL", reason)
        out.print(table)
    table = Table("alert", "rule", "kind", "follows", "article", "new in this story")
    for a in made:
        follows = f"#{a.follows}" if a.follows else ""
        new = ", ".join(json.loads(a.new_facts))
        add_row(table, f"#{a.id}", a.rule_id, a.kind, follows, str(a.article_id), new)
    out.print(table if made else "no alerts")
