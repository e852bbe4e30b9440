"""Trigram indexes for the desk's word filter on PostgreSQL: a story's headline and its
articles' titles searched for a word without reading every title (pg_trgm). Where the
extension cannot be created (a role without the right), the filter scans the titles as
before; SQLite scans them too.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)
INDEXES = {"ix_articles_title_trgm": "articles", "ix_stories_headline_trgm": "stories"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm not created (%s): the word filter scans titles", exc.orig)
        return
    op.execute("CREATE INDEX ix_articles_title_trgm ON articles USING gin (title gin_trgm_ops)")
    op.execute("CREATE INDEX ix_stories_headline_trgm ON stories USING gin (headline gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
