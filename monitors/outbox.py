"""The delivery side of the outbox: enqueue, claim, send-then-mark, retry, digest.

An alert and its deliveries (one per channel) are committed together before
anything is sent. A worker claims one due delivery at a time (`FOR UPDATE SKIP
LOCKED` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises claims), sends it,
then marks it sent. A crash between send and mark leaves the delivery claimed;
it is reclaimed when its lease expires or, on the same host, as soon as its
worker's process is gone, so it may be sent twice but is never lost.

Statuses: `pending` (due at `next_attempt_at`), `sending` (claimed), `sent`,
`failed` (dead-lettered after `max_attempts`), `held` (waiting for a digest),
`digested` (included in the digest delivery `digest_id`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.schema import alerts, articles, deliveries, utcnow
from monitors.store import Store, insert_ignore
from monitors.workers import dead_local_worker, worker_id

HOUR = timedelta(hours=1)
PERIODS = ("hourly", "daily")


@dataclass(frozen=True)
class RulePolicy:
    """How a rule's alerts are delivered."""

    channels: tuple[str, ...]
    delivery: str = "immediate"
    max_per_hour: int = 20


@dataclass(frozen=True)
class Settings:
    """Retry and lease settings (see DeliveryConfig)."""

    max_attempts: int = 8
    backoff: float = 30.0
    max_backoff: float = 6 * 3600.0
    lease: float = 600.0


@dataclass(frozen=True)
class AlertRow:
    """An alert as stored, with what a message needs."""

    id: int
    rule_id: str
    headline: str
    url: str
    site: str
    terms: tuple[str, ...]
    passage: str
    marks: tuple[tuple[int, int], ...]
    sources: tuple[tuple[str, str], ...]
    created_at: datetime
    kind: str = "new"
    new_facts: tuple[str, ...] = ()
    follows: int | None = None
    story_id: int | None = None


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


@dataclass
class AlertListing:
    """An alert with the state of each of its deliveries."""

    alert: AlertRow
    deliveries: list[DeliveryRow] = field(default_factory=list)


class Outbox:
    """Deliveries in the store, with the rules' delivery policies."""

    def __init__(
        self,
        store: Store,
        policies: Mapping[str, RulePolicy],
        settings: Settings = Settings(),
        worker: str | None = None,
    ) -> None:
        self.store = store
        self.policies = dict(policies)
        self.settings = settings
        self.worker = worker or worker_id()

    # enqueue (inside the transaction that records the alert)

    def enqueue(self, conn: Connection, alert_id: int, rule_id: str, now: datetime) -> None:
        """One delivery per channel of the rule: due now, or held for a digest
        when the rule is a digest rule or over its hourly limit."""
        policy = self.policies.get(rule_id, RulePolicy(()))
        for channel in policy.channels:
            status, period = "pending", None
            if policy.delivery in PERIODS:
                status, period = "held", policy.delivery
            elif self._sent_last_hour(conn, rule_id, channel, now) >= policy.max_per_hour:
                status, period = "held", "hourly"
                self._notice_once(conn, rule_id, channel, now)
            conn.execute(
                insert_ignore(conn, deliveries).values(
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

    def _sent_last_hour(self, conn: Connection, rule_id: str, channel: str, now: datetime) -> int:
        """Immediate alert deliveries of a rule to a channel created in the past hour."""
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.kind == "alert",
                    deliveries.c.rule_id == rule_id,
                    deliveries.c.channel == channel,
                    deliveries.c.created_at > now - HOUR,
                    deliveries.c.period.is_(None),
                )
            )
            or 0
        )

    def _notice_once(self, conn: Connection, rule_id: str, channel: str, now: datetime) -> None:
        """A "held for the digest" notice, at most one per rule and channel an hour."""
        recent = conn.scalar(
            sa.select(deliveries.c.id).where(
                deliveries.c.kind == "notice",
                deliveries.c.rule_id == rule_id,
                deliveries.c.channel == channel,
                deliveries.c.created_at > now - HOUR,
            )
        )
        if recent is None:
            conn.execute(
                deliveries.insert().values(
                    kind="notice",
                    rule_id=rule_id,
                    channel=channel,
                    next_attempt_at=now,
                    created_at=now,
                )
            )

    # claim, send, mark

    def reclaim(self) -> int:
        """Make claims due again whose lease expired or whose local worker is gone."""
        now = utcnow()
        with self.store.transaction() as conn:
            claims = conn.execute(
                sa.select(deliveries.c.id, deliveries.c.claimed_by, deliveries.c.claimed_at).where(
                    deliveries.c.status == "sending"
                )
            ).all()
            stale = [
                r.id
                for r in claims
                if r.claimed_at < now - timedelta(seconds=self.settings.lease)
                or dead_local_worker(r.claimed_by)
            ]
            if stale:
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(stale), deliveries.c.status == "sending")
                    .values(status="pending", claimed_by=None, claimed_at=None)
                )
        return len(stale)

    def claim(
        self, due_by: datetime | None = None, skip: Collection[int] = ()
    ) -> DeliveryRow | None:
        """Take the next delivery due by `due_by` (default now), not in `skip`, for this
        worker, or None."""
        now = utcnow()
        with self.store.transaction() as conn:
            delivery_id = conn.scalar(
                sa.select(deliveries.c.id)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at <= (due_by or now),
                    deliveries.c.id.not_in(list(skip)),
                )
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if delivery_id is None:
                return None
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(status="sending", claimed_by=self.worker, claimed_at=now)
            )
            return self._load(conn, delivery_id)

    def mark_sent(self, delivery_id: int, remote_id: str | None = None) -> None:
        """Mark a delivery sent, with the service's id of the message when it gave one."""
        with self.store.transaction() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="sent",
                    remote_id=remote_id,
                    sent_at=utcnow(),
                    attempts=deliveries.c.attempts + 1,
                    last_error=None,
                    claimed_by=None,
                )
            )

    def mark_failed(self, delivery: DeliveryRow, error: str, retry_after: float | None) -> str:
        """Count a failed attempt: due again after a backoff (at least `retry_after`, up to
        max_backoff), or dead-lettered as `failed` after max_attempts. Returns the new status."""
        attempts = delivery.attempts + 1
        dead = attempts >= self.settings.max_attempts
        delay = max(self.backoff(attempts), min(retry_after or 0.0, self.settings.max_backoff))
        with self.store.transaction() as conn:
            conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery.id)
                .values(
                    status="failed" if dead else "pending",
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    claimed_by=None,
                )
            )
        return "failed" if dead else "pending"

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: exponential, capped, with jitter in [½, 1]."""
        ceiling = min(self.settings.max_backoff, self.settings.backoff * 2.0 ** (attempts - 1))
        return ceiling * random.uniform(0.5, 1.0)

    # operators

    def retry(self, alert_ids: Iterable[int] | None = None) -> int:
        """Make the failed and waiting deliveries of these alerts (or of all) due now."""
        query = deliveries.update().where(deliveries.c.status.in_(("failed", "pending")))
        if alert_ids is not None:
            ids = list(alert_ids)
            digests = sa.select(deliveries.c.digest_id).where(deliveries.c.alert_id.in_(ids))
            query = query.where(
                sa.or_(deliveries.c.alert_id.in_(ids), deliveries.c.id.in_(digests))
            )
        with self.store.transaction() as conn:
            result = conn.execute(
                query.values(status="pending", attempts=0, next_attempt_at=utcnow())
            )
        return int(result.rowcount or 0)

    def listing(
        self, status: str | None = None, limit: int = 200, ids: Iterable[int] | None = None
    ) -> list[AlertListing]:
        """The newest alerts with their deliveries (only alerts with a delivery in `status`,
        only these `ids` when given). A delivery gathered into a digest is shown as that
        digest delivery."""
        query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if ids is not None:
            query = query.where(alerts.c.id.in_(list(ids)))
        if status:
            digests = sa.select(deliveries.c.id).where(
                deliveries.c.kind == "digest", deliveries.c.status == status
            )
            with_status = sa.select(deliveries.c.alert_id).where(
                sa.or_(deliveries.c.status == status, deliveries.c.digest_id.in_(digests))
            )
            query = query.where(alerts.c.id.in_(with_status))
        with self.store.transaction() as conn:
            rows = {r.id: AlertListing(_alert(r)) for r in conn.execute(query)}
            own = conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.alert_id.in_(list(rows)))
                .order_by(deliveries.c.id)
            ).all()
            wanted = {d.digest_id for d in own if d.digest_id is not None}
            digest_rows = conn.execute(sa.select(deliveries).where(deliveries.c.id.in_(wanted)))
            by_id = {d.id: d for d in digest_rows}
            for d in own:
                rows[d.alert_id].deliveries.append(_delivery(by_id.get(d.digest_id, d)))
        return list(rows.values())

    # digests

    def make_digests(self, periods: Iterable[str] = PERIODS) -> list[int]:
        """Gather held deliveries of these periods into one digest delivery per channel.
        Rows another worker is gathering are skipped (locked on PostgreSQL)."""
        now = utcnow()
        created = []
        with self.store.transaction() as conn:
            held = conn.execute(
                sa.select(deliveries.c.id, deliveries.c.channel)
                .where(deliveries.c.status == "held", deliveries.c.period.in_(list(periods)))
                .with_for_update(skip_locked=True)
            ).all()
            by_channel: dict[str, list[int]] = {}
            for row in held:
                by_channel.setdefault(row.channel, []).append(row.id)
            for channel, ids in sorted(by_channel.items()):
                digest_id = conn.scalar(
                    deliveries.insert()
                    .values(kind="digest", channel=channel, next_attempt_at=now, created_at=now)
                    .returning(deliveries.c.id)
                )
                conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(ids))
                    .values(status="digested", digest_id=digest_id)
                )
                created.append(int(digest_id))
        return created

    # loading

    def _load(self, conn: Connection, delivery_id: int) -> DeliveryRow:
        row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()
        if row.kind == "alert":
            alert = _alert(conn.execute(sa.select(alerts).where(alerts.c.id == row.alert_id)).one())
            if alert.story_id is not None:
                alert = replace(alert, sources=_story_sources(conn, alert.story_id))
            return _delivery(row, alert=alert, thread=_thread(conn, alert.follows, row.channel))
        if row.kind == "digest":
            included = conn.execute(
                sa.select(alerts)
                .join(deliveries, deliveries.c.alert_id == alerts.c.id)
                .where(deliveries.c.digest_id == delivery_id)
                .order_by(alerts.c.rule_id, alerts.c.id)
            )
            return _delivery(row, digest=tuple(_alert(a) for a in included))
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


def _thread(conn: Connection, follows: int | None, channel: str) -> str | None:
    """The remote id of the followed alert's message on this channel, if sent and known."""
    if follows is None:
        return None
    return conn.scalar(
        sa.select(deliveries.c.remote_id).where(
            deliveries.c.alert_id == follows,
            deliveries.c.channel == channel,
            deliveries.c.status == "sent",
        )
    )


def _story_sources(conn: Connection, story_id: int) -> tuple[tuple[str, str], ...]:
    """Every (site, URL) that carried the story, first seen first."""
    rows = conn.execute(
        sa.select(articles.c.site, articles.c.canonical_url)
        .where(articles.c.story_id == story_id)
        .order_by(articles.c.id)
    )
    return tuple(dict.fromkeys((site, url) for site, url in rows))


def _alert(row: Any) -> AlertRow:
    return AlertRow(
        id=row.id,
        rule_id=row.rule_id,
        headline=row.headline,
        url=row.url,
        site=row.site,
        terms=tuple(json.loads(row.terms)),
        passage=row.passage,
        marks=tuple((a, b) for a, b in json.loads(row.marks)),
        sources=tuple((site, url) for site, url in json.loads(row.sources)),
        created_at=row.created_at,
        kind=row.kind,
        new_facts=tuple(json.loads(row.new_facts)),
        follows=row.follows,
        story_id=row.story_id,
    )


def _delivery(row: Any, **content: Any) -> DeliveryRow:
    return DeliveryRow(
        id=row.id,
        kind=row.kind,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        rule_id=row.rule_id,
        period=row.period,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        **content,
    )
