"""The outbox's policies: which deliveries an alert gets, and when a failed one is tried again.

An alert and its deliveries (one per channel of its rule) are committed together before
anything is sent: due now, or held for a digest when the rule is a digest rule or over
its hourly limit (with one notice an hour saying so). A worker claims one due delivery
at a time, sends it, then marks it sent. A crash between send and mark leaves the
delivery claimed; it is reclaimed when its lease expires or, on the same host, as soon as
its worker's process is gone, so it may be sent twice but is never lost. A failure is
tried again after an exponential backoff with jitter, and dead-lettered (`failed`) after
`max_attempts`.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitors.config import Config, DeliveryConfig, WebConfig
from monitors.store import AlertListing, DeliveryRow, Store, Tx, utcnow
from monitors.store.claims import dead_local_worker

HOUR = timedelta(hours=1)
PERIODS = ("hourly", "daily")


@dataclass(frozen=True)
class RulePolicy:
    """How a rule's alerts are delivered: to which channels, at once or in digests, and
    how many an hour at most before the rest wait for the hourly digest."""

    channels: tuple[str, ...]
    delivery: str
    max_per_hour: int


class Outbox:
    """Deliveries in the store, with the rules' delivery policies."""

    def __init__(
        self,
        store: Store,
        policies: Mapping[str, RulePolicy],
        settings: DeliveryConfig,
        web: WebConfig | None = None,
    ) -> None:
        self.store = store
        self.policies = dict(policies)
        self.settings = settings
        self.web = web or WebConfig()  # where messages link to their story

    @classmethod
    def of(cls, config: Config, store: Store) -> Outbox:
        """The outbox with the config's rule policies and retry settings."""
        policies = {
            r.id: RulePolicy(
                channels=tuple(r.notify),
                delivery=r.delivery,
                max_per_hour=r.max_alerts_per_hour or config.delivery.max_alerts_per_hour,
            )
            for r in config.rules
        }
        return cls(store, policies, config.delivery, config.web)

    def enqueue(self, tx: Tx, alert_id: int, rule_id: str, now: datetime) -> None:
        """One delivery per channel of the rule, in the unit of work that adds the alert:
        due now, or held for a digest when the rule is a digest rule or over its hourly
        limit."""
        policy = self.policies.get(rule_id)
        if policy is None:
            return
        for channel in policy.channels:
            status, period = "pending", None
            if policy.delivery in PERIODS:
                status, period = "held", policy.delivery
            elif tx.alert_deliveries_since(rule_id, channel, now - HOUR) >= policy.max_per_hour:
                status, period = "held", "hourly"
                tx.add_notice_once(rule_id, channel, now, now - HOUR)
            tx.add_delivery(alert_id, rule_id, channel, status, period, now)

    def reclaim(self) -> int:
        """Make claims due again whose lease expired or whose local worker is gone."""
        expired = utcnow() - timedelta(seconds=self.settings.lease)

        def stale(claimed_at: datetime, claimed_by: str | None) -> bool:
            return claimed_at < expired or dead_local_worker(claimed_by)

        with self.store.transaction() as tx:
            return tx.reclaim_deliveries(stale)

    def claim(
        self, due_by: datetime | None = None, skip: Collection[int] = ()
    ) -> DeliveryRow | None:
        """Take the next delivery due by `due_by` (default now), not in `skip`, or None."""
        with self.store.transaction() as tx:
            return tx.claim_delivery(due_by or utcnow(), skip)

    def mark_sent(
        self, delivery_id: int, remote_id: str | None = None, sent_at: datetime | None = None
    ) -> None:
        with self.store.transaction() as tx:
            tx.mark_sent(delivery_id, remote_id, sent_at)

    def mark_failed(self, delivery: DeliveryRow, error: str, retry_after: float | None) -> str:
        """Count a failed attempt: due again after a backoff (at least `retry_after`, up to
        max_backoff), or dead-lettered as `failed` after max_attempts. Returns the new status."""
        attempts = delivery.attempts + 1
        status = "failed" if attempts >= self.settings.max_attempts else "pending"
        delay = max(self.backoff(attempts), min(retry_after or 0.0, self.settings.max_backoff))
        with self.store.transaction() as tx:
            tx.mark_failed(
                delivery.id, status, attempts, error, utcnow() + timedelta(seconds=delay)
            )
        return status

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: exponential, capped, with jitter in [½, 1]."""
        ceiling = min(self.settings.max_backoff, self.settings.backoff * 2.0 ** (attempts - 1))
        return ceiling * random.uniform(0.5, 1.0)

    def retry(self, alert_ids: Iterable[int] | None = None) -> int:
        """Make the failed and waiting deliveries of these alerts (or of all) due now."""
        with self.store.transaction() as tx:
            return tx.retry_deliveries(alert_ids)

    def listing(
        self, status: str | None = None, limit: int = 200, ids: Iterable[int] | None = None
    ) -> list[AlertListing]:
        """The newest alerts with their deliveries (see Tx.alert_listing)."""
        with self.store.transaction() as tx:
            return tx.alert_listing(status, limit, ids)

    def make_digests(self, periods: Iterable[str] = PERIODS) -> list[int]:
        """Gather held deliveries of these periods into one digest delivery per channel."""
        with self.store.transaction() as tx:
            return tx.make_digests(periods)
