"""Indexes for the desk's site: a story's alerts, and stories by an article's site or
language (which also list the sites and languages to filter by) or by words of its title
(a scan of this index reads the titles without the articles' texts).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_story_id", "alerts", ["story_id"])
    op.create_index("ix_articles_site_story", "articles", ["site", "story_id"])
    op.create_index("ix_articles_language_story", "articles", ["language", "story_id"])
    op.create_index("ix_articles_title_story", "articles", ["title", "story_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_title_story", "articles")
    op.drop_index("ix_articles_language_story", "articles")
    op.drop_index("ix_articles_site_story", "articles")
    op.drop_index("ix_alerts_story_id", "alerts")
