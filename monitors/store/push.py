"""WebSub subscriptions: one row per feed whose hub is known, its state with the hub, and
the entries its pushes bring.

States: `new` (hub known, not asked yet), `subscribing` (asked, the hub is yet to check
the intent), `active` (checked; pushes come until `expires_at`), `unsubscribing`,
`unsubscribed`, `denied` (the hub said no), `failed` (the hub could not be asked),
`lapsed` (the lease ended unrenewed). `next_request_at` is when the hub may be asked
again (a renewal, a retry); taking it is a claim, so that two workers never both ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.models import Entry
from monitors.store.engine import from_row, insert_ignore
from monitors.store.feeds import Rereads, add_entries, new_count
from monitors.store.schema import feeds, push_subscriptions, utcnow

subs = push_subscriptions
UNCHECKED = "the hub did not check the last request"


@dataclass(frozen=True)
class Subscription:
    """A feed's subscription as stored, with the feed's URL."""

    id: int
    feed_id: int
    feed_url: str
    callback_id: str
    hub: str
    topic: str
    secret: str | None
    state: str
    requested: str | None
    expires_at: datetime | None
    next_request_at: datetime | None
    failures: int
    last_error: str | None
    last_push_at: datetime | None
    last_push_hash: str | None
    pushes: int

    def active(self, now: datetime) -> bool:
        """Whether pushes are due from the hub now: verified, lease running."""
        return self.state == "active" and self.expires_at is not None and self.expires_at > now


class PushQueries:
    """The WebSub part of a unit of work (see monitors.store.Tx)."""

    conn: Connection
    worker: str

    def note_hub(self, feed_id: int, hub: str, topic: str, callback_id: str) -> None:
        """The feed's hub and topic as last discovered: a new row (`new`, with this
        callback id), or a row made new again when the feed names another hub or topic."""
        now = utcnow()
        self.conn.execute(
            insert_ignore(self.conn, subs).values(
                feed_id=feed_id, callback_id=callback_id, hub=hub, topic=topic, updated_at=now
            )
        )
        self.conn.execute(
            subs.update()
            .where(subs.c.feed_id == feed_id, sa.or_(subs.c.hub != hub, subs.c.topic != topic))
            .values(
                hub=hub,
                topic=topic,
                state="new",
                requested=None,
                expires_at=None,
                next_request_at=None,
                updated_at=now,
            )
        )

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, by id."""
        return [_sub(r) for r in self.conn.execute(_select().order_by(subs.c.id))]

    def subscription(self, callback_id: str) -> Subscription | None:
        """The subscription with this callback id."""
        row = self.conn.execute(_select().where(subs.c.callback_id == callback_id)).first()
        return _sub(row) if row is not None else None

    def take_request(self, sub_id: int, mode: str, now: datetime, until: datetime) -> bool:
        """Claim the next request to the subscription's hub: whether it was due (no other
        worker took it); nobody else asks the hub before `until`. A first unsubscribe is
        due at once."""
        due = sa.or_(subs.c.next_request_at.is_(None), subs.c.next_request_at <= now)
        if mode == "unsubscribe":
            due = sa.or_(due, subs.c.state != "unsubscribing")
        taken = self.conn.execute(
            subs.update().where(subs.c.id == sub_id, due).values(next_request_at=until)
        )
        return bool(taken.rowcount)

    def request_sent(self, sub_id: int, mode: str, secret: str | None, now: datetime) -> None:
        """A request is about to go to the hub, which may check it at once: the mode it
        is to check, the secret given (a renewal keeps the one the hub has). A request
        the hub never checked counts as a failure."""
        unchecked = subs.c.requested.is_not(None)  # the hub never checked the last request
        values: dict[str, Any] = {
            "requested": mode,
            "updated_at": now,
            "failures": sa.case((unchecked, subs.c.failures + 1), else_=subs.c.failures),
            "last_error": sa.case((unchecked, UNCHECKED), else_=subs.c.last_error),
        }
        if secret is not None:
            values["secret"] = secret
        renewing = sa.and_(subs.c.state == "active", subs.c.expires_at > now)
        if mode == "subscribe":
            values["state"] = sa.case((renewing, "active"), else_="subscribing")
        else:
            values["state"] = "unsubscribing"
        self.conn.execute(subs.update().where(subs.c.id == sub_id).values(**values))

    def request_failed(self, sub_id: int, error: str, retry_at: datetime, now: datetime) -> None:
        """The hub could not be asked or refused: `failed` (an unsubscribe stays
        `unsubscribing`), asked again at `retry_at`."""
        self.conn.execute(
            subs.update()
            .where(subs.c.id == sub_id)
            .values(
                state=sa.case((subs.c.requested == "unsubscribe", "unsubscribing"), else_="failed"),
                requested=None,
                failures=subs.c.failures + 1,
                last_error=error,
                next_request_at=retry_at,
                updated_at=now,
            )
        )

    def verified(
        self, callback_id: str, mode: str, topic: str, lease: float, renew_before: float
    ) -> Subscription | None:
        """The hub checks a request: when it is the one this subscription awaits (same
        mode and topic), record it (`active` for `lease` seconds, renewed `renew_before`
        its end; or `unsubscribed`) and return the subscription; else None."""
        found = self.subscription(callback_id)
        if found is None or found.requested != mode or found.topic != topic:
            return None
        now = utcnow()
        if mode == "subscribe":
            expires = now + timedelta(seconds=lease)
            values: dict[str, Any] = {
                "state": "active",
                "expires_at": expires,
                "next_request_at": expires - timedelta(seconds=min(renew_before, lease / 2)),
                "failures": 0,
                "last_error": None,
            }
        else:
            values = {"state": "unsubscribed", "expires_at": None, "next_request_at": None}
        self.conn.execute(
            subs.update()
            .where(subs.c.id == found.id)
            .values(**values, requested=None, updated_at=now)
        )
        return found

    def denied(self, callback_id: str, topic: str, reason: str, retry_at: datetime) -> bool:
        """The hub refuses the subscription to `topic`: `denied`, asked again at
        `retry_at`; whether it was this subscription's."""
        done = self.conn.execute(
            subs.update()
            .where(subs.c.callback_id == callback_id, subs.c.topic == topic)
            .values(
                state="denied",
                requested=None,
                expires_at=None,
                failures=subs.c.failures + 1,
                last_error=f"denied by the hub: {reason}" if reason else "denied by the hub",
                next_request_at=retry_at,
                updated_at=utcnow(),
            )
        )
        return bool(done.rowcount)

    def lapse(self, now: datetime) -> list[int]:
        """Active subscriptions whose lease ended by `now` are `lapsed`, to be asked for
        again at once; their feeds' ids."""
        ended = sa.and_(subs.c.state == "active", subs.c.expires_at <= now)
        feed_ids = list(self.conn.scalars(sa.select(subs.c.feed_id).where(ended)))
        if feed_ids:
            self.conn.execute(
                subs.update()
                .where(ended, subs.c.feed_id.in_(feed_ids))
                .values(state="lapsed", next_request_at=None, updated_at=now)
            )
        return feed_ids

    def pushed_feeds(self, feed_ids: Iterable[int], now: datetime) -> set[int]:
        """Which of these feeds have an active subscription."""
        return set(
            self.conn.scalars(
                sa.select(subs.c.feed_id).where(
                    subs.c.feed_id.in_(list(feed_ids)),
                    subs.c.state == "active",
                    subs.c.expires_at > now,
                )
            )
        )

    def record_push(
        self,
        sub_id: int,
        feed_id: int,
        body_hash: str,
        new_entries: Sequence[Entry],
        rereads: Rereads | None = None,
    ) -> int | None:
        """Store a push: its new entries, seen `push` (deduplicated as a poll's are), and
        the known ones it changed read again as a poll's are (`rereads`); how many are
        pending, or None for a replay of the last push (nothing changes)."""
        now = utcnow()
        fresh = self.conn.execute(
            subs.update()
            .where(
                subs.c.id == sub_id,
                sa.or_(subs.c.last_push_hash.is_(None), subs.c.last_push_hash != body_hash),
            )
            .values(
                last_push_at=now, last_push_hash=body_hash, pushes=subs.c.pushes + 1, updated_at=now
            )
        )
        if not fresh.rowcount:
            return None
        added = add_entries(self.conn, feed_id, new_entries, now, "push", rereads)
        self.conn.execute(
            feeds.update()
            .where(feeds.c.id == feed_id)
            .values(entries_seen=feeds.c.entries_seen + new_count(added))
        )
        return len(added)


def _select() -> sa.Select[Any]:
    return sa.select(subs, feeds.c.url.label("feed_url")).join(feeds, feeds.c.id == subs.c.feed_id)


def _sub(row: Any) -> Subscription:
    return from_row(Subscription, row)
