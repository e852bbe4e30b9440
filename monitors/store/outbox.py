"""Alerts and their deliveries: the outbox's rows, claims and digests.

An alert and its deliveries (one per channel) are written in the transaction that
records the article, with the sources the story had then: what every send of the alert
says. A delivery is claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
SQLite's `BEGIN IMMEDIATE` serialises claims), sent, then marked. Statuses: `pending`
(due at `next_attempt_at`), `sending` (claimed), `sent`, `failed` (dead-lettered),
`held` (waiting for a digest), `digested` (included in the digest delivery `digest_id`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.models import Article, Match
from monitors.store.engine import from_row, insert_ignore
from monitors.store.schema import (
    alerts,
    article_revisions,
    articles,
    decisions,
    deliveries,
    entries,
    feeds,
    utcnow,
)


@dataclass(frozen=True)
class AlertRow:
    """An alert as stored, with what a message needs (its article's `language` too, and
    the `languages` of its story's articles when read)."""

    id: int
    rule_id: str
    headline: str
    url: str
    site: str
    terms: tuple[str, ...]
    passage: str
    marks: tuple[tuple[int, int], ...]
    sources: tuple[tuple[str, str], ...]  # (site, URL) of the story when it was decided
    created_at: datetime
    kind: str = "new"
    new_facts: tuple[str, ...] = ()
    follows: int | None = None
    story_id: int | None = None
    language: str | None = None
    published_at: datetime | None = None  # as its article says
    seen_at: datetime | None = None  # when its entry was first seen (its change, read again)
    seen_via: str | None = None  # poll, push or backfill
    languages: tuple[str, ...] = ()  # of its story's articles, sorted


@dataclass(frozen=True)
class DeliveryRow:
    """One message to one channel: an alert, a digest of alerts, or a notice."""

    id: int
    kind: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    rule_id: str | None
    period: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    alert: AlertRow | None = None
    digest: tuple[AlertRow, ...] = ()
    held: int = 0
    thread: str | None = None  # the service's id of the message an update follows
    sent_at: datetime | None = None


@dataclass(frozen=True)
class AlertLatency:
    """When an alert's article (at `url`) was published, first seen (and how: poll,
    push, backfill) and first sent at once (None when not sent, or only in a digest),
    with the feed it came from."""

    alert_id: int
    url: str
    feed: str
    seen_via: str | None
    published_at: datetime | None
    seen_at: datetime | None
    sent_at: datetime | None


@dataclass
class AlertListing:
    """An alert with the state of each of its deliveries."""

    alert: AlertRow
    deliveries: list[DeliveryRow] = field(default_factory=list)


@dataclass(frozen=True)
class PriorAlert:
    """An earlier alert of a rule in a story, with its article's text."""

    id: int
    terms: tuple[str, ...]
    title: str
    text: str
    published_at: datetime | None
    fetched_at: datetime


class OutboxQueries:
    """The alerts and deliveries part of a unit of work (see monitors.store.Tx)."""

    conn: Connection
    worker: str

    # alerts

    def prior_alerts(self, rule_id: str, story_id: int) -> list[PriorAlert]:
        """The rule's alerts in the story, first first."""
        earlier = sa.and_(  # the text an alert was made on, when its article was revised since
            article_revisions.c.article_id == alerts.c.article_id,
            article_revisions.c.revision == alerts.c.revision,
        )
        rows = self.conn.execute(
            sa.select(
                alerts.c.id,
                alerts.c.terms,
                *_TEXT_THEN,
                _REVISED_WHEN_MADE,
                articles.c.fetched_at,
            )
            .join(articles, articles.c.id == alerts.c.article_id)
            .outerjoin(article_revisions, earlier)
            .where(alerts.c.rule_id == rule_id, alerts.c.story_id == story_id)
            .order_by(alerts.c.id)
        )
        return [
            PriorAlert(
                r.id, tuple(json.loads(r.terms)), r.title, r.text, r.published_at, r.fetched_at
            )
            for r in rows
        ]

    def silent_matches(
        self, rule_id: str, story_id: int, but: int | None = None
    ) -> list[tuple[str, str]]:
        """The title and text of the story's articles the rule matched that made no alert
        because they brought nothing new (decision "no update"), first first; article
        `but` left out (one being decided again on a revised text: what its earlier text
        said was known already). Each as it was when so decided: an article revised
        since says what its earlier text said (its later text may hold news held back)."""
        later = article_revisions.alias("later")
        then = (  # the earliest text replaced after the decision, if any
            sa.select(later.c.revision)
            .where(
                later.c.article_id == decisions.c.article_id,
                later.c.revised_at > decisions.c.created_at,
            )
            .order_by(later.c.revision)
            .limit(1)
            .scalar_subquery()
        )
        earlier = sa.and_(
            article_revisions.c.article_id == decisions.c.article_id,
            article_revisions.c.revision == then,
        )
        rows = self.conn.execute(
            sa.select(*_TEXT_THEN)
            .select_from(decisions)
            .join(articles, articles.c.id == decisions.c.article_id)
            .outerjoin(article_revisions, earlier)
            .where(
                decisions.c.story_id == story_id,
                decisions.c.rule_id == rule_id,
                decisions.c.kind == "no update",
                decisions.c.article_id != (but or 0),
            )
            .order_by(decisions.c.article_id, decisions.c.id)
        )
        return [(r.title, r.text) for r in rows]

    def add_alert(
        self,
        article_id: int,
        article: Article,
        match: Match,
        story_id: int,
        kind: str,
        follows: int | None,
        news: list[str],
        now: datetime,
    ) -> int | None:
        """Insert an alert; None when the rule already alerted on this article or (a new
        one) on this story."""
        alert_id = self.conn.scalar(
            insert_ignore(self.conn, alerts)
            .values(
                rule_id=match.rule_id,
                article_id=article_id,
                story_id=story_id,
                kind=kind,
                follows=follows,
                new_facts=json.dumps(news, ensure_ascii=False),
                headline=article.title,
                url=article.canonical_url,
                site=article.site,
                terms=json.dumps(list(match.terms), ensure_ascii=False),
                passage=match.passage.text,
                marks=json.dumps([list(m) for m in match.passage.marks]),
                sources=json.dumps(self._sources(story_id, article), ensure_ascii=False),
                created_at=now,
                published_at=article.published,
                seen_at=_of_entry(_SEEN, article_id),
                seen_via=_of_entry(entries.c.seen_via, article_id),
                revision=_of_article(articles.c.revision, article_id),
            )
            .returning(alerts.c.id)
        )
        return int(alert_id) if alert_id is not None else None

    def _sources(self, story_id: int, article: Article) -> list[tuple[str, str]]:
        """Every (site, URL) that carried the story so far, first seen first: what the
        alert's message says, however many more come before it is sent."""
        own = (article.site, article.canonical_url)
        return list(dict.fromkeys([*self._story_sources(story_id), own]))

    def alert_kinds(self, alert_ids: Collection[int]) -> list[tuple[str, str]]:
        """(rule, kind) of each of these alerts, by id."""
        rows = self.conn.execute(
            sa.select(alerts.c.rule_id, alerts.c.kind)
            .where(alerts.c.id.in_(list(alert_ids)))
            .order_by(alerts.c.id)
        )
        return [(rule, kind) for rule, kind in rows]

    def last_alert_id(self) -> int:
        return int(self.conn.scalar(sa.select(sa.func.max(alerts.c.id))) or 0)

    # deliveries

    def alert_deliveries_since(self, rule_id: str, channel: str, since: datetime) -> int:
        """Immediate alert deliveries of a rule to a channel created after `since`."""
        return int(
            self.conn.scalar(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.kind == "alert",
                    deliveries.c.rule_id == rule_id,
                    deliveries.c.channel == channel,
                    deliveries.c.created_at > since,
                    deliveries.c.period.is_(None),
                )
            )
            or 0
        )

    def add_delivery(
        self,
        alert_id: int,
        rule_id: str,
        channel: str,
        status: str,
        period: str | None,
        now: datetime,
    ) -> None:
        """An alert's delivery to a channel, due now (or held for a digest)."""
        self.conn.execute(
            insert_ignore(self.conn, deliveries).values(
                kind="alert",
                alert_id=alert_id,
                rule_id=rule_id,
                channel=channel,
                status=status,
                period=period,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def add_notice_once(self, rule_id: str, channel: str, now: datetime, since: datetime) -> None:
        """A "held for the digest" notice, unless the rule and channel had one since `since`."""
        recent = self.conn.scalar(
            sa.select(deliveries.c.id).where(
                deliveries.c.kind == "notice",
                deliveries.c.rule_id == rule_id,
                deliveries.c.channel == channel,
                deliveries.c.created_at > since,
            )
        )
        if recent is None:
            self.conn.execute(
                deliveries.insert().values(
                    kind="notice",
                    rule_id=rule_id,
                    channel=channel,
                    next_attempt_at=now,
                    created_at=now,
                )
            )

    def held_since(self, last_alert: int) -> int:
        """Deliveries of alerts newer than `last_alert` held for a digest."""
        held = sa.select(sa.func.count()).where(
            deliveries.c.alert_id > last_alert, deliveries.c.status == "held"
        )
        return int(self.conn.scalar(held) or 0)

    def reclaim_deliveries(self, stale: Callable[[datetime, str | None], bool]) -> int:
        """Make due again the claims that `stale(claimed_at, claimed_by)` calls stale."""
        claims = self.conn.execute(
            sa.select(deliveries.c.id, deliveries.c.claimed_by, deliveries.c.claimed_at).where(
                deliveries.c.status == "sending"
            )
        ).all()
        ids = [r.id for r in claims if stale(r.claimed_at, r.claimed_by)]
        if ids:
            self.conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(ids), deliveries.c.status == "sending")
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
        return len(ids)

    def claim_delivery(self, due_by: datetime, skip: Collection[int] = ()) -> DeliveryRow | None:
        """Take the next delivery due by `due_by`, not in `skip`, for this worker, or None."""
        delivery_id = self.conn.scalar(
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.next_attempt_at <= due_by,
                deliveries.c.id.not_in(list(skip)),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if delivery_id is None:
            return None
        self.conn.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(status="sending", claimed_by=self.worker, claimed_at=utcnow())
        )
        return self._load(delivery_id)

    def mark_sent(
        self, delivery_id: int, remote_id: str | None = None, sent_at: datetime | None = None
    ) -> None:
        """Mark a delivery sent (at `sent_at`, default now), with the service's id of the
        message when it gave one."""
        self.conn.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(
                status="sent",
                remote_id=remote_id,
                sent_at=sent_at or utcnow(),
                attempts=deliveries.c.attempts + 1,
                last_error=None,
                claimed_by=None,
            )
        )

    def mark_failed(
        self, delivery_id: int, status: str, attempts: int, error: str, next_attempt: datetime
    ) -> None:
        """Record a failed attempt: due again at `next_attempt` (`pending`), or `failed`."""
        self.conn.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(
                status=status,
                attempts=attempts,
                last_error=error,
                next_attempt_at=next_attempt,
                claimed_by=None,
            )
        )

    def retry_deliveries(self, alert_ids: Iterable[int] | None = None) -> int:
        """Make the failed and waiting deliveries of these alerts (or of all) due now."""
        query = deliveries.update().where(deliveries.c.status.in_(("failed", "pending")))
        if alert_ids is not None:
            ids = list(alert_ids)
            digests = sa.select(deliveries.c.digest_id).where(deliveries.c.alert_id.in_(ids))
            query = query.where(
                sa.or_(deliveries.c.alert_id.in_(ids), deliveries.c.id.in_(digests))
            )
        result = self.conn.execute(
            query.values(status="pending", attempts=0, next_attempt_at=utcnow())
        )
        return int(result.rowcount or 0)

    def alert_listing(
        self,
        status: str | None = None,
        limit: int = 200,
        ids: Iterable[int] | None = None,
        before: int | None = None,
        story_id: int | None = None,
    ) -> list[AlertListing]:
        """The newest alerts with their deliveries (only alerts with a delivery in `status`,
        only these `ids`, only those older than alert `before`, only a story's, when
        given). A delivery gathered into a digest is shown as that digest delivery."""
        query = _alerts().order_by(alerts.c.id.desc()).limit(limit)
        if ids is not None:
            query = query.where(alerts.c.id.in_(list(ids)))
        if before is not None:
            query = query.where(alerts.c.id < before)
        if story_id is not None:
            query = query.where(alerts.c.story_id == story_id)
        if status:
            digests = sa.select(deliveries.c.id).where(
                deliveries.c.kind == "digest", deliveries.c.status == status
            )
            with_status = sa.select(deliveries.c.alert_id).where(
                sa.or_(deliveries.c.status == status, deliveries.c.digest_id.in_(digests))
            )
            query = query.where(alerts.c.id.in_(with_status))
        found = self.conn.execute(query).all()
        languages = self.story_languages(r.story_id for r in found)
        rows = {r.id: AlertListing(_alert(r, languages)) for r in found}
        own = self.conn.execute(
            sa.select(deliveries)
            .where(deliveries.c.alert_id.in_(list(rows)))
            .order_by(deliveries.c.id)
        ).all()
        wanted = {d.digest_id for d in own if d.digest_id is not None}
        digest_rows = self.conn.execute(sa.select(deliveries).where(deliveries.c.id.in_(wanted)))
        by_id = {d.id: d for d in digest_rows}
        for d in own:
            rows[d.alert_id].deliveries.append(_delivery(by_id.get(d.digest_id, d)))
        return list(rows.values())

    def alert_latencies(self, since: datetime) -> list[AlertLatency]:
        """The times of every alert made since `since`, oldest first."""
        sent = (
            sa.select(sa.func.min(deliveries.c.sent_at))
            .where(
                deliveries.c.alert_id == alerts.c.id,
                deliveries.c.status == "sent",
                deliveries.c.kind == "alert",
            )
            .scalar_subquery()
        )
        rows = self.conn.execute(
            sa.select(
                alerts.c.id.label("alert_id"),
                alerts.c.url,
                sa.func.coalesce(feeds.c.name, feeds.c.url).label("feed"),
                alerts.c.seen_via,
                alerts.c.published_at,
                alerts.c.seen_at,
                sent.label("sent_at"),
            )
            .join(articles, articles.c.id == alerts.c.article_id)
            .join(entries, entries.c.id == articles.c.entry_id)
            .join(feeds, feeds.c.id == entries.c.feed_id)
            .where(alerts.c.created_at >= since)
            .order_by(alerts.c.id)
        )
        return [from_row(AlertLatency, r) for r in rows]

    def make_digests(self, periods: Iterable[str]) -> list[int]:
        """Gather held deliveries of these periods into one digest delivery per channel.
        Rows another worker is gathering are skipped (locked on PostgreSQL)."""
        now = utcnow()
        created = []
        held = self.conn.execute(
            sa.select(deliveries.c.id, deliveries.c.channel)
            .where(deliveries.c.status == "held", deliveries.c.period.in_(list(periods)))
            .with_for_update(skip_locked=True)
        ).all()
        by_channel: dict[str, list[int]] = {}
        for row in held:
            by_channel.setdefault(row.channel, []).append(row.id)
        for channel, ids in sorted(by_channel.items()):
            digest_id = self.conn.scalar(
                deliveries.insert()
                .values(kind="digest", channel=channel, next_attempt_at=now, created_at=now)
                .returning(deliveries.c.id)
            )
            self.conn.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(ids))
                .values(status="digested", digest_id=digest_id)
            )
            created.append(int(digest_id))
        return created

    def _load(self, delivery_id: int) -> DeliveryRow:
        conn = self.conn
        row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()
        if row.kind == "alert":
            one = conn.execute(_alerts().where(alerts.c.id == row.alert_id)).one()
            alert = _alert(one, self.story_languages([one.story_id]))
            return _delivery(row, alert=alert, thread=self._thread(alert.follows, row.channel))
        if row.kind == "digest":
            included = conn.execute(
                _alerts()
                .join(deliveries, deliveries.c.alert_id == alerts.c.id)
                .where(deliveries.c.digest_id == delivery_id)
                .order_by(alerts.c.rule_id, alerts.c.id)
            ).all()
            languages = self.story_languages(a.story_id for a in included)
            return _delivery(row, digest=tuple(_alert(a, languages) for a in included))
        held = conn.scalar(
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(
                deliveries.c.kind == "alert",
                deliveries.c.rule_id == row.rule_id,
                deliveries.c.channel == row.channel,
                deliveries.c.status.in_(("held", "digested")),
                deliveries.c.created_at >= row.created_at,
            )
        )
        return _delivery(row, held=int(held or 0))

    def _thread(self, follows: int | None, channel: str) -> str | None:
        """The remote id of the followed alert's message on this channel, if sent and known."""
        if follows is None:
            return None
        return self.conn.scalar(
            sa.select(deliveries.c.remote_id).where(
                deliveries.c.alert_id == follows,
                deliveries.c.channel == channel,
                deliveries.c.status == "sent",
            )
        )

    def story_languages(self, story_ids: Iterable[int | None]) -> dict[int, tuple[str, ...]]:
        """The languages of the articles of each of these stories, sorted."""
        wanted = {s for s in story_ids if s is not None}
        rows = self.conn.execute(
            sa.select(articles.c.story_id, articles.c.language)
            .where(articles.c.story_id.in_(wanted), articles.c.language.is_not(None))
            .distinct()
        )
        found: dict[int, list[str]] = {}
        for story_id, language in rows:
            found.setdefault(story_id, []).append(language)
        return {story: tuple(sorted(held)) for story, held in found.items()}

    def _story_sources(self, story_id: int) -> tuple[tuple[str, str], ...]:
        """Every (site, URL) that carried the story, first seen first."""
        rows = self.conn.execute(
            sa.select(articles.c.site, articles.c.canonical_url)
            .where(articles.c.story_id == story_id)
            .order_by(articles.c.id)
        )
        return tuple(dict.fromkeys((site, url) for site, url in rows))


# an article's title and text as the joined earlier revision has them, else its current
_TEXT_THEN = (
    sa.func.coalesce(article_revisions.c.title, articles.c.title).label("title"),
    sa.func.coalesce(article_revisions.c.text, articles.c.text).label("text"),
)

# when an alert's article was published: the page's date, unless the alert was made on
# a revised text (read again later, of the time the alert was made)
_REVISED_WHEN_MADE = sa.case(
    (alerts.c.revision > 0, alerts.c.created_at), else_=articles.c.published_at
).label("published_at")

# when what an alert is made on was seen: its entry's first sighting, or the last change
# its feed made to it that had its page read again
_SEEN = sa.func.coalesce(entries.c.reread_at, entries.c.first_seen_at)


def _of_entry(column: sa.ColumnElement[Any], article_id: int) -> sa.ScalarSelect[Any]:
    """A column of the entry an article was made from."""
    return (
        sa.select(column)
        .join(articles, articles.c.entry_id == entries.c.id)
        .where(articles.c.id == article_id)
        .scalar_subquery()
    )


def _of_article(column: sa.Column[Any], article_id: int) -> sa.ScalarSelect[Any]:
    """A column of an article."""
    return sa.select(column).where(articles.c.id == article_id).scalar_subquery()


def _alerts() -> sa.Select[Any]:
    """Alerts with the language of their article."""
    return sa.select(alerts, articles.c.language).join(
        articles, articles.c.id == alerts.c.article_id
    )


def _alert(row: Any, languages: Mapping[int, tuple[str, ...]]) -> AlertRow:
    return from_row(
        AlertRow,
        row,
        languages=languages.get(row.story_id, ()),
        terms=tuple(json.loads(row.terms)),
        marks=tuple((a, b) for a, b in json.loads(row.marks)),
        sources=tuple((site, url) for site, url in json.loads(row.sources)),
        new_facts=tuple(json.loads(row.new_facts)),
    )


def _delivery(row: Any, **content: Any) -> DeliveryRow:
    return from_row(DeliveryRow, row, **content)
