"""`newsmon stories`: stories with their articles and alerts, and why each joined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

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
        alerted = dict(
            conn.execute(
                sa.select(alerts.c.story_id, sa.func.count()).group_by(alerts.c.story_id)
            ).all()
        )
        outlets = dict(
            conn.execute(
                sa.select(
                    articles.c.story_id, sa.func.count(sa.distinct(articles.c.site))
                ).group_by(articles.c.story_id)
            ).all()
        )
    table = Table("story", "headline", "articles", "outlets", "alerts", "last seen (UTC)")
    for row in rows:
        add_row(
            table,
            str(row.id),
            row.headline[:70],
            str(row.articles),
            str(outlets.get(row.id, 0)),
            str(alerted.get(row.id, 0)),
            f"{row.last_seen_at:%m-%d %H:%M}",
        )
    out.print(table if rows else "no stories in that period")


@stories_app.command("show")
def stories_show(story_id: int, config: ConfigOption = None) -> None:
    """A story's articles, the decision that placed each (with its score and reason),
    and its alerts."""
    import sqlalchemy as sa

    from monitors.schema import alerts, articles, decisions, stories

    cfg = load_config(config)
    with store_for(cfg) as store, store.transaction() as conn:
        story = conn.execute(sa.select(stories).where(stories.c.id == story_id)).first()
        if story is None:
            out.print(f"no story {story_id}")
            raise typer.Exit(1)
        placed = conn.execute(
            sa.select(decisions, articles.c.site, articles.c.title)
            .join(articles, articles.c.id == decisions.c.article_id)
            .where(decisions.c.story_id == story_id)
            .order_by(decisions.c.id)
        ).all()
        made = conn.execute(
            sa.select(alerts).where(alerts.c.story_id == story_id).order_by(alerts.c.id)
        ).all()
    out.print(f"[bold]story {story.id}[/]: {escape(story.headline)}", highlight=False)
    table = Table("article", "site", "decision", "rule", "score", "reason")
    for d in placed:
        score = f"{d.score:.2f}" if d.score is not None else ""
        add_row(table, str(d.article_id), d.site, d.kind, d.rule_id or "", score, d.reason)
    out.print(table)
    table = Table("alert", "rule", "kind", "article", "new in this story")
    for a in made:
        add_row(table, str(a.id), a.rule_id, a.kind, str(a.article_id), a.new_facts)
    out.print(table if made else "no alerts")
