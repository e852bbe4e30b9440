"""WebSub push: a subscription per feed whose hub is known, and the times that measure
an alert's latency (when its article was published, first seen, and how: polled,
pushed or backfilled). Alerts stored before keep what their article and entry say.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("feed_id", sa.Integer(), sa.ForeignKey("feeds.id"), nullable=False),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("hub", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text()),
        sa.Column("state", sa.String(16), nullable=False, server_default="new"),
        sa.Column("requested", sa.String(12)),
        sa.Column("expires_at", sa.DateTime()),
        sa.Column("next_request_at", sa.DateTime()),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_push_at", sa.DateTime()),
        sa.Column("last_push_hash", sa.String(64)),
        sa.Column("pushes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("feed_id"),
        sa.UniqueConstraint("callback_id"),
    )
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("seen_via", sa.String(8), nullable=False, server_default="poll"))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("published_at", sa.DateTime()))
        batch.add_column(sa.Column("seen_at", sa.DateTime()))
        batch.add_column(sa.Column("seen_via", sa.String(8)))
    op.execute(
        "UPDATE alerts SET "
        "published_at = (SELECT articles.published_at FROM articles "
        "WHERE articles.id = alerts.article_id), "
        "seen_at = (SELECT entries.first_seen_at FROM articles JOIN entries "
        "ON entries.id = articles.entry_id WHERE articles.id = alerts.article_id), "
        "seen_via = 'poll'"
    )


def downgrade() -> None:
    """Plain DROP COLUMN (SQLite 3.35+): rebuilding `entries` would break the foreign
    keys of the articles that point at it."""
    for column in ("seen_via", "seen_at", "published_at"):
        op.drop_column("alerts", column)
    op.drop_column("entries", "seen_via")
    op.drop_table("push_subscriptions")
