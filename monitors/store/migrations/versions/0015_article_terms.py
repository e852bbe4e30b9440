"""Each placed article's body terms and keys, so that story placement scores a newcomer
against the full texts of the window's articles, with the IDF of that window, and any
worker can rebuild what it holds from the store. Articles placed before this revision
have none: they are not compared with (a store upgraded mid-window starts its stories
afresh for the articles that follow).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_terms",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.PrimaryKeyConstraint("article_id"),
    )


def downgrade() -> None:
    op.drop_table("article_terms")
