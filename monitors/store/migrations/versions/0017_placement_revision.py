"""Each placed article's terms get a placement revision that grows in commit order, so
that a worker reads exactly the placements committed since it last looked, while units
of work placing articles of different stories run side by side. The terms stored before
keep their order: their revision is their article id.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article_terms") as batch:
        batch.add_column(sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0"))
        batch.create_index("ix_article_terms_revision", ["revision"])
    op.execute("UPDATE article_terms SET revision = article_id")


def downgrade() -> None:
    with op.batch_alter_table("article_terms") as batch:
        batch.drop_index("ix_article_terms_revision")
        batch.drop_column("revision")
