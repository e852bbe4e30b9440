"""Reading an article again when its feed entry changes in place: each entry keeps a
fingerprint of what its feed says of it, how often it was read again and when last; an
article its revision number, its earlier texts in `article_revisions`; an alert the revision
of the article it was made on, so that a revised article may get an update alert from
a rule that alerted on it before (one alert per rule, article and revision). Entries
stored before get their fingerprint at their feed's next parse, without a re-read.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_NEW = sa.text("kind = 'new'")


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64)))
        batch.add_column(sa.Column("rereads", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reread_at", sa.DateTime()))
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "article_revisions",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id"), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("revised_at", sa.DateTime(), nullable=False),
    )
    _alert_key(["rule_id", "article_id", "revision"], add_revision=True)


def downgrade() -> None:
    """The alerts on revised texts go, with their deliveries."""
    revised = "SELECT id FROM alerts WHERE revision > 0"
    op.execute(f"DELETE FROM deliveries WHERE alert_id IN ({revised})")
    op.execute("DELETE FROM alerts WHERE revision > 0")
    _alert_key(["rule_id", "article_id"], add_revision=False)
    op.drop_table("article_revisions")
    op.drop_column("articles", "revision")
    op.drop_column("entries", "reread_at")
    op.drop_column("entries", "rereads")
    op.drop_column("entries", "fingerprint")


def _alert_key(columns: list[str], add_revision: bool) -> None:
    """Make the alerts' unique key these columns (SQLite rebuilds the table: the store
    migrates it with its foreign keys off, see monitors.store.revisions)."""
    old, new = "uq_alerts_rule_article", "uq_alerts_rule_article_revision"
    if not add_revision:
        old, new = new, old
    op.drop_index("uq_alerts_rule_story_new", "alerts", sqlite_where=_NEW, postgresql_where=_NEW)
    with op.batch_alter_table("alerts") as batch:
        if add_revision:
            batch.add_column(
                sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
            )
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint(new, columns)
        if not add_revision:
            batch.drop_column("revision")
    op.create_index(
        "uq_alerts_rule_story_new",
        "alerts",
        ["rule_id", "story_id"],
        unique=True,
        sqlite_where=_NEW,
        postgresql_where=_NEW,
    )
