"""An alert keeps the sources its story had when it was decided, and its messages say
those (they counted the story's sources at send time, so two sends of one alert could
differ). Alerts stored before this revision held their own article's source only: they
get their story's articles recorded up to and with theirs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

alerts = sa.table(
    "alerts",
    sa.column("id", sa.Integer),
    sa.column("article_id", sa.Integer),
    sa.column("story_id", sa.Integer),
    sa.column("sources", sa.Text),
)
articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("story_id", sa.Integer),
    sa.column("site", sa.Text),
    sa.column("canonical_url", sa.Text),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(alerts.c.id, alerts.c.article_id, alerts.c.story_id, alerts.c.sources).where(
            alerts.c.story_id.is_not(None)
        )
    ).all()
    carried: dict[int, list[Any]] = {}
    for article in conn.execute(
        sa.select(articles.c.id, articles.c.story_id, articles.c.site, articles.c.canonical_url)
        .where(articles.c.story_id.in_(sa.select(alerts.c.story_id)))
        .order_by(articles.c.id)
    ):
        carried.setdefault(article.story_id, []).append(article)
    updates = [
        {"alert_id": row.id, "decided": json.dumps(_sources(row, carried), ensure_ascii=False)}
        for row in rows
    ]
    if updates:
        conn.execute(
            alerts.update()
            .where(alerts.c.id == sa.bindparam("alert_id"))
            .values(sources=sa.bindparam("decided")),
            updates,
        )


def _sources(alert: Any, carried: dict[int, list[Any]]) -> list[tuple[str, str]]:
    """The (site, URL) of the alert's story up to and with its article, first seen first,
    then any other it held."""
    before = [
        (a.site, a.canonical_url)
        for a in carried.get(alert.story_id, [])
        if a.id <= alert.article_id
    ]
    held = [(site, url) for site, url in json.loads(alert.sources)]
    return list(dict.fromkeys(before + held))


def downgrade() -> None:
    """Nothing to undo: the sources stay, and older code reads the story's instead."""
