"""Backfill items keep the page they extracted (or the stored article they name) and the
alerts recording them made, so that a dry run is recorded again in one go, and resumed
runs report what one run would. Runs under way before this revision start over.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backfill_items") as batch:
        batch.add_column(sa.Column("article_id", sa.Integer()))
        batch.add_column(sa.Column("page", sa.Text()))
        batch.add_column(sa.Column("feed_id", sa.Integer()))
        batch.add_column(
            sa.Column("recorded", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("DELETE FROM backfill_items")
    op.execute("UPDATE backfill_runs SET status = 'done'")


def downgrade() -> None:
    with op.batch_alter_table("backfill_items") as batch:
        batch.drop_column("recorded")
        batch.drop_column("feed_id")
        batch.drop_column("page")
        batch.drop_column("article_id")
