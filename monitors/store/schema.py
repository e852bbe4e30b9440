"""The store's schema: every table, on one `metadata`, for SQLite and PostgreSQL.

Uniqueness that matters is a constraint: an entry is seen once per feed, an
article once per canonical URL, an alert once per rule and article, a delivery
once per alert and channel. Changes to it are Alembic migrations (`migrations/`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = sa.MetaData()

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.Text),
    sa.Column("last_polled_at", UTCDateTime),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("error_streak", sa.Integer, nullable=False, server_default="0"),
    sa.Column("entries_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("interval", sa.Float),
    sa.Column("items_per_day", sa.Float),
    sa.Column("next_due_at", UTCDateTime),
    sa.Column("backoff_until", UTCDateTime),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("skipped", sa.Text),  # JSON: why entries of the last parsed body were skipped
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("feed_id", sa.ForeignKey("feeds.id"), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("canonical_url", sa.Text, nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
    sa.Column("published_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending", index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("seen_via", sa.String(8), nullable=False, server_default="poll"),  # or push, backfill
    sa.Column("processed_at", UTCDateTime),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", UTCDateTime),
    # what the feed says of it (title and summary, hashed) and how often it was read again
    # because that changed (see monitors.store.feeds.add_entries)
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("rereads", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reread_at", UTCDateTime),  # when its feed was last seen changing it
    sa.UniqueConstraint("feed_id", "key", name="uq_entries_feed_key"),
    sa.Index("ix_entries_claimed_until", "claimed_until"),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("headline", sa.Text, nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False, index=True),
    sa.Column("published_at", UTCDateTime),
    sa.Column("articles", sa.Integer, nullable=False, server_default="1"),
    sa.Column("features", sa.Text, nullable=False),
    # one above every story's at each write: the order in which stories changed
    sa.Column("revision", sa.Integer, nullable=False, server_default="0", index=True),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entry_id", sa.ForeignKey("entries.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("canonical_url", sa.Text, nullable=False, unique=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("site", sa.Text, nullable=False),
    sa.Column("language", sa.String(16)),
    sa.Column("published_at", UTCDateTime),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False, index=True),
    sa.Column("duplicate_of", sa.ForeignKey("articles.id")),
    sa.Column("story_id", sa.ForeignKey("stories.id"), index=True),
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    # how many times its page was read again with a new text (its earlier texts:
    # article_revisions)
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_articles_site_story", "site", "story_id"),  # the desk's filters
    sa.Index("ix_articles_language_story", "language", "story_id"),
    sa.Index("ix_articles_title_story", "title", "story_id"),  # titles read without texts
)


def _trigrams(name: str, column: sa.Column[str]) -> sa.Index:
    """A PostgreSQL trigram index of a text column, for the desk's word filter (pg_trgm;
    migration 0012 makes it where the extension can be created)."""
    index = sa.Index(
        name, column, postgresql_using="gin", postgresql_ops={column.name: "gin_trgm_ops"}
    )
    return index.ddl_if(dialect="postgresql")


TRIGRAM_INDEXES = (
    _trigrams("ix_articles_title_trgm", articles.c.title),
    _trigrams("ix_stories_headline_trgm", stories.c.headline),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("story_id", sa.ForeignKey("stories.id"), index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("rule_id", sa.Text),
    sa.Column("other_article_id", sa.Integer),
    sa.Column("score", sa.Float),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule_id", sa.Text, nullable=False),
    sa.Column("article_id", sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("headline", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("site", sa.Text, nullable=False),
    sa.Column("terms", sa.Text, nullable=False),
    sa.Column("passage", sa.Text, nullable=False),
    sa.Column("marks", sa.Text, nullable=False),
    sa.Column("sources", sa.Text, nullable=False, server_default="[]"),
    sa.Column("story_id", sa.ForeignKey("stories.id")),
    sa.Column("kind", sa.String(8), nullable=False, server_default="new"),
    sa.Column("new_facts", sa.Text, nullable=False, server_default="[]"),
    sa.Column("follows", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # latency: when the article says it was published, and when and how it was first seen
    sa.Column("published_at", UTCDateTime),
    sa.Column("seen_at", UTCDateTime),
    sa.Column("seen_via", sa.String(8)),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),  # the article's
    sa.UniqueConstraint(
        "rule_id", "article_id", "revision", name="uq_alerts_rule_article_revision"
    ),
    sa.Index("ix_alerts_story_id", "story_id"),
    sa.Index(
        "uq_alerts_rule_story_new",
        "rule_id",
        "story_id",
        unique=True,
        sqlite_where=sa.text("kind = 'new'"),
        postgresql_where=sa.text("kind = 'new'"),
    ),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False, server_default="alert"),
    sa.Column("alert_id", sa.ForeignKey("alerts.id")),
    sa.Column("rule_id", sa.Text),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
    sa.Column("period", sa.String(8)),
    sa.Column("digest_id", sa.ForeignKey("deliveries.id")),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("remote_id", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("alert_id", "channel", name="uq_deliveries_alert_channel"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_rule_channel", "rule_id", "channel", "created_at"),
)


# an article's earlier texts: revision N is what it said before its page was read again
# with a new text for the Nth time (the articles row holds the latest)
article_revisions = sa.Table(
    "article_revisions",
    metadata,
    sa.Column("article_id", sa.ForeignKey("articles.id"), primary_key=True, autoincrement=False),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("revised_at", UTCDateTime, nullable=False),  # when the next text replaced it
)


# each placed article's body terms and keys (JSON; see monitors.stories.index): what
# story placement holds in memory for the articles of its window, read back from here
article_terms = sa.Table(
    "article_terms",
    metadata,
    sa.Column("article_id", sa.ForeignKey("articles.id"), primary_key=True, autoincrement=False),
    sa.Column("terms", sa.Text, nullable=False),
    # the placement revision: grows in commit order (see Tx.lock_commits)
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0", index=True),
)


# a feed's WebSub subscription (see monitors.pipeline.push): one per feed whose hub is known
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("feed_id", sa.ForeignKey("feeds.id"), nullable=False, unique=True),
    sa.Column("callback_id", sa.String(64), nullable=False, unique=True),
    sa.Column("hub", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("secret", sa.Text),
    # new, subscribing, active, unsubscribing, unsubscribed, denied, failed, lapsed
    sa.Column("state", sa.String(16), nullable=False, server_default="new"),
    sa.Column("requested", sa.String(12)),  # the mode the hub is yet to check
    sa.Column("expires_at", UTCDateTime),
    sa.Column("next_request_at", UTCDateTime),  # no request to the hub before then
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("last_push_at", UTCDateTime),
    sa.Column("last_push_hash", sa.String(64)),
    sa.Column("pushes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# MinHash signatures of article texts and their LSH band keys (see monitors.stories.minhash);
# WITHOUT ROWID on SQLite, so the band rows are the index
article_minhash = sa.Table(
    "article_minhash",
    metadata,
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sig", sa.LargeBinary, nullable=False),
)

lsh_bands = sa.Table(
    "lsh_bands",
    metadata,
    sa.Column("band_key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

backfill_runs = sa.Table(
    "backfill_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False, server_default="running"),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

backfill_items = sa.Table(
    "backfill_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("backfill_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("published_at", UTCDateTime),
    sa.Column("story", sa.Text),
    sa.Column("headline", sa.Text, nullable=False, server_default=""),
    sa.Column("matched", sa.Text, nullable=False, server_default="[]"),
    sa.Column("fired", sa.Text, nullable=False, server_default="[]"),  # [[rule, kind], ...]
    sa.Column("error", sa.Text),
    sa.Column("article_id", sa.Integer),  # a stored article
    sa.Column("page", sa.Text),  # a page new to the store, extracted (JSON)
    sa.Column("feed_id", sa.Integer),  # the feed that lists the page, if any
    sa.Column("recorded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("run_id", "key", name="uq_backfill_items_run_key"),
)


def utcnow() -> datetime:
    return datetime.now(UTC)
