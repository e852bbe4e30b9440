"""`newsmon stories`: stories with their articles and alerts, and why each joined."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from newsmon.common import ConfigOption, add_row, load_config, out, store_for

stories_app = typer.Typer(
    help="Stories: articles grouped as one piece of news, with every decision explained.",
    invoke_without_command=True,
)


def _since(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC) - timedelta(days=7)
    from monitors.backfill import parse_moment

    try:
        return parse_moment(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None


@stories_app.callback()
def stories_list(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Stories seen since this date (default: 7 days).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List stories seen since a date, with their articles and alerts."""
    if ctx.invoked_subcommand is not None:
        return
    import sqlalchemy as sa  # here: `stories show` runs this callback too

    from monitors.schema import alerts, articles, stories

    cfg = load_config(config)
    with store_for(cfg) as store, store.transaction() as conn:
        rows = conn.execute(
            sa.select(stories)
            .where(stories.c.last_seen_at >= _since(since))
            .order_by(stories.c.last_seen_at.desc())
        ).all()
        ids = [row.id for row in rows]
        members = _by_story(
            conn.execute(
                sa.select(articles.c.story_id, articles.c.title, articles.c.site, articles.c.url)
                .where(articles.c.story_id.in_(ids))
                .order_by(articles.c.id)
            )
        )
        made = _by_story(
            conn.execute(
                sa.select(alerts.c.story_id, alerts.c.id, alerts.c.rule_id, alerts.c.kind)
                .where(alerts.c.story_id.in_(ids))
                .order_by(alerts.c.id)
            )
        )
    if not rows:
        out.print("no stories in that period")
    for row in rows:
        listed = members.get(row.id, [])
        outlets = len({a.site for a in listed})
        out.print(
            f"[bold]story {row.id}[/] ({row.articles} articles, {outlets} outlets, last seen "
            f"{row.last_seen_at:%Y-%m-%d %H:%M} UTC): {escape(row.headline)}",
            highlight=False,
        )
        for a in listed:
            line = f"  {a.title} | {a.site} | {a.url}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        for alert in made.get(row.id, []):
            out.print(f"  alert #{alert.id} {alert.kind} for {alert.rule_id}", highlight=False)


def _same_url_entries(conn: Any, story_id: int) -> list[Any]:
    """Entries of any feed skipped when polled because a story article's entry had their
    canonical URL (a re-listed item, a tracking-link variant): with that article."""
    import sqlalchemy as sa

    from monitors.schema import articles, entries, feeds

    dup, own = entries.alias("dup"), entries.alias("own")
    return list(
        conn.execute(
            sa.select(
                dup.c.url,
                dup.c.first_seen_at,
                feeds.c.name.label("feed"),
                feeds.c.url.label("feed_url"),
                articles.c.id.label("article_id"),
            )
            .select_from(dup)
            .join(own, own.c.canonical_url == dup.c.canonical_url)
            .join(articles, articles.c.entry_id == own.c.id)
            .join(feeds, feeds.c.id == dup.c.feed_id)
            .where(
                articles.c.story_id == story_id,
                dup.c.status == "duplicate",
                dup.c.id != own.c.id,
            )
            .order_by(dup.c.id)
        )
    )


def _by_story(rows: Iterable[Any]) -> dict[int, list[Any]]:
    """Rows grouped by their first column, a story id."""
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


@stories_app.command("show")
def stories_show(story_id: int, config: ConfigOption = None) -> None:
    """A story's articles, the decision that placed each (with its score and reason),
    the entries skipped as the same URL before any fetch, and its alerts."""
    import sqlalchemy as sa

    from monitors.schema import alerts, articles, decisions, stories

    cfg = load_config(config)
    with store_for(cfg) as store, store.transaction() as conn:
        story = conn.execute(sa.select(stories).where(stories.c.id == story_id)).first()
        if story is None:
            out.print(f"no story {story_id}")
            raise typer.Exit(1)
        placed = conn.execute(
            sa.select(decisions, articles.c.site, articles.c.title, articles.c.url)
            .join(articles, articles.c.id == decisions.c.article_id)
            .where(decisions.c.story_id == story_id)
            .order_by(decisions.c.id)
        ).all()
        made = conn.execute(
            sa.select(alerts).where(alerts.c.story_id == story_id).order_by(alerts.c.id)
        ).all()
        relisted = _same_url_entries(conn, story_id)
    out.print(f"[bold]story {story.id}[/]: {escape(story.headline)}", highlight=False)
    table = Table("article", "title, site, URL", "decision", "rule", "score", "reason")
    for d in placed:
        score = f"{d.score:.2f}" if d.score is not None else ""
        where = f"{d.title}\n{d.site}\n{d.url}"
        add_row(table, str(d.article_id), where, d.kind, d.rule_id or "", score, d.reason)
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
