"""WebSub push wired to the pipeline (see docs/push.md).

- `lapse()`, as a cycle starts: active subscriptions whose lease ended lapse, and their
  feeds are due at once (polling takes over again).
- `maintain()`, after a cycle polls: subscribe where a hub is known and no lease runs,
  renew a lease `push.renew_before` its end, unsubscribe feeds gone from the config. A
  hub that cannot be asked or refuses leaves its feed polled as usual from now on, and is
  asked again after a backoff.
- `verify(callback_id, query)`: the hub checks an intent; the challenge is echoed only
  for the request this subscription awaits (same mode and topic).
- `receive(callback_id, signature, body, content_type)`: a push. Unless signed with the
  subscription's secret it is ignored (logged, nothing stored); a replay of the last one
  changes nothing; otherwise its entries are stored as a poll's would be (seen `push`)
  and processed at once, through the same stages as polled ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitors.config import Config
from monitors.delivery import Delivered
from monitors.errors import FeedError, FetchError
from monitors.ingest import (
    Fetcher,
    Hub,
    ask_hub,
    backoff_until,
    new_secret,
    parse_feed,
    request_form,
    signature_ok,
)
from monitors.models import Entry
from monitors.pipeline.report import HubOutcome, ProcessedEntry
from monitors.pipeline.sender import Sender
from monitors.store import Rereads, Store, Subscription, utcnow

log = logging.getLogger(__name__)

FRESH_SECRET = ("new", "unsubscribed", "lapsed", "denied")  # states asked with a new secret
GONE = 410  # a push to no subscription: the hub may drop it


@dataclass(frozen=True)
class PushAnswer:
    """What a push came to: the HTTP status for the hub, what was done, entries added.
    `outcome`: accepted, replay, unsigned (no valid signature), not a feed, unknown."""

    status: int
    outcome: str
    added: int = 0


def rereads_of(config: Config) -> Rereads:
    """When an entry changed in its feed is read again (poll.reread, poll.reread_after,
    within stories.window)."""
    poll = config.poll
    return Rereads(poll.reread, poll.reread_after, config.stories.window)


class Stages(Protocol):
    """What push needs of the pipeline (monitors.pipeline.cycle.Pipeline)."""

    config: Config
    store: Store
    fetcher: Fetcher

    async def process(
        self, feed_ids: Iterable[int] | None = None, on_alert: Callable[[], None] | None = None
    ) -> list[ProcessedEntry]: ...

    def deliver(self, skip: Collection[int] = ()) -> list[Delivered]: ...


class Push:
    """The pipeline's WebSub subscriber: its subscriptions, checks and pushes."""

    def __init__(self, pipeline: Stages) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.config.push
        self._waiting: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # during a cycle

    def lapse(self, now: datetime | None = None) -> list[int]:
        """Lapse the subscriptions whose lease ended by `now`; their feeds are due now."""
        now = now or utcnow()
        with self.pipeline.store.transaction() as tx:
            feed_ids = tx.lapse(now)
            tx.due_now(feed_ids)
        if feed_ids:
            log.info("%d push subscriptions lapsed: their feeds are polled again", len(feed_ids))
        return feed_ids

    async def maintain(self, now: datetime | None = None) -> list[HubOutcome]:
        """Ask the hubs what is due by `now` (default: now): subscriptions, renewals,
        unsubscriptions."""
        if not self.enabled:
            return []
        now = now or utcnow()
        configured = {f.url for f in self.pipeline.config.feeds}
        with self.pipeline.store.reading() as tx:
            due = [(s, a) for s in tx.subscriptions() if (a := wanted(s, configured, now))]
        limit = asyncio.Semaphore(self.pipeline.config.fetch.concurrency)

        async def ask(sub: Subscription, action: str) -> HubOutcome | None:
            async with limit:
                return await self._ask(sub, action, now)

        done = await asyncio.gather(*(ask(s, a) for s, a in due))
        return [o for o in done if o is not None]

    async def _ask(self, sub: Subscription, action: str, now: datetime) -> HubOutcome | None:
        """One request to the hub, claimed first (None when another worker took it)."""
        mode = "unsubscribe" if action == "unsubscribe" else "subscribe"
        retry_at = backoff_until(sub.failures + 1, None, now, self.pipeline.config.poll)
        secret = None
        if mode == "subscribe":
            secret = new_secret() if sub.state in FRESH_SECRET or not sub.secret else sub.secret
        with self.pipeline.store.transaction() as tx:
            if not tx.take_request(sub.id, mode, now, retry_at):
                return None
            tx.request_sent(sub.id, mode, secret, now)
        hub = Hub(sub.hub, sub.topic)
        callback = self.settings.callback_url(sub.callback_id)
        form = request_form(mode, hub, callback, self.settings.lease, secret)
        try:
            await ask_hub(self.pipeline.fetcher, hub, form)
        except FetchError as exc:
            log.warning("hub %s: %s of %s failed: %s", sub.hub, action, sub.topic, exc.reason)
            with self.pipeline.store.transaction() as tx:
                tx.request_failed(sub.id, exc.reason, retry_at, now)
                tx.due_now([sub.feed_id])
            return HubOutcome(sub.feed_url, sub.hub, action, "failed", exc.reason)
        return HubOutcome(sub.feed_url, sub.hub, action, "requested")

    def pushed(self, feed_id: int, now: datetime) -> bool:
        """Whether the feed's subscription is active (it is then polled only every
        push.safety_interval)."""
        if not self.enabled:
            return False
        with self.pipeline.store.reading() as tx:
            return feed_id in tx.pushed_feeds([feed_id], now)

    # the callback

    def verify(self, callback_id: str, query: Mapping[str, str]) -> tuple[int, str]:
        """The answer to a hub's check of intent: (200, the challenge) for the request
        this subscription awaits, (200, "") for a denial taken note of, else (404, "")."""
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        if mode == "denied":
            return (200, "") if self._denied(callback_id, topic, query) else (404, "")
        challenge = query.get("hub.challenge", "")
        if mode not in ("subscribe", "unsubscribe") or not topic or not challenge:
            return 404, ""
        lease = _lease(query.get("hub.lease_seconds"), self.settings.lease)
        with self.pipeline.store.transaction() as tx:
            found = tx.verified(callback_id, mode, topic, lease, self.settings.renew_before)
            if found is not None and mode == "subscribe":
                later = utcnow() + timedelta(seconds=self.settings.safety_interval)
                tx.poll_later(found.feed_id, later)
        if found is None:
            log.warning("a check of intent to %s %s matches no request: refused", mode, topic)
            return 404, ""
        log.info("hub %s checked the %s of %s (lease %g s)", found.hub, mode, topic, lease)
        return 200, challenge

    def _denied(self, callback_id: str, topic: str, query: Mapping[str, str]) -> bool:
        reason = query.get("hub.reason", "")[:500]
        now = utcnow()
        with self.pipeline.store.transaction() as tx:
            sub = tx.subscription(callback_id)
            if sub is None:
                return False
            retry_at = backoff_until(sub.failures + 1, None, now, self.pipeline.config.poll)
            if not tx.denied(callback_id, topic, reason, retry_at):
                return False
            tx.due_now([sub.feed_id])
        log.warning("hub %s denied the subscription to %s: %s", sub.hub, topic, reason or "-")
        return True

    async def receive(
        self, callback_id: str, signature: str | None, body: bytes, content_type: str | None
    ) -> PushAnswer:
        """Take a push: check its signature, store its new entries, process them soon."""
        sub = await asyncio.to_thread(self._subscription, callback_id)
        if sub is None or sub.state == "unsubscribed":
            return PushAnswer(GONE, "unknown")
        if sub.secret is None or not signature_ok(sub.secret, signature, body):
            log.warning("push for %s ignored: no valid X-Hub-Signature", sub.topic)
            return PushAnswer(202, "unsigned")
        try:
            parsed = await asyncio.to_thread(parse_feed, body, sub.topic, content_type)
        except FeedError as exc:
            log.warning("push for %s ignored: %s", sub.topic, exc)
            return PushAnswer(202, "not a feed")
        digest = hashlib.sha256(body).hexdigest()
        added = await asyncio.to_thread(self._record, sub, digest, parsed.entries)
        if added is None:
            log.info("push for %s is a replay of the last one: nothing done", sub.topic)
            return PushAnswer(202, "replay")
        if added:
            self._process_soon(sub.feed_id)
        return PushAnswer(202, "accepted", added)

    def _subscription(self, callback_id: str) -> Subscription | None:
        with self.pipeline.store.reading() as tx:
            return tx.subscription(callback_id)

    def _record(self, sub: Subscription, digest: str, entries: Sequence[Entry]) -> int | None:
        with self.pipeline.store.transaction() as tx:
            rereads = rereads_of(self.pipeline.config)
            return tx.record_push(sub.id, sub.feed_id, digest, entries, rereads)

    def _process_soon(self, feed_id: int) -> None:
        """Process the feed's pending entries in the background, after those under way."""
        self._waiting.add(feed_id)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._waiting:
            feed_ids = set(self._waiting)
            self._waiting.clear()
            sender = Sender(self.pipeline.deliver)
            try:
                await self.pipeline.process(feed_ids, on_alert=sender.wake)
                await sender.finish()
            except Exception:  # the entries stay pending: the next cycle processes them
                log.exception("pushed entries of feeds %s not processed", sorted(feed_ids))

    async def settled(self) -> None:
        """Wait until every pushed entry taken so far is processed."""
        while self._task is not None and not self._task.done():
            await self._task


def wanted(sub: Subscription, configured: set[str], now: datetime) -> str | None:
    """The request due to the subscription's hub now: `subscribe`, `renew`,
    `unsubscribe` (a feed gone from the config whose lease may still run), or None."""
    waiting = sub.next_request_at is not None and sub.next_request_at > now
    if sub.feed_url not in configured:
        running = sub.expires_at is not None and sub.expires_at > now
        unchecked = sub.state == "subscribing" and sub.expires_at is None
        if not (running or unchecked) or sub.state == "unsubscribing" and waiting:
            return None
        return "unsubscribe"
    if waiting:
        return None
    if sub.state == "active":
        return "renew"
    return "subscribe"


def _lease(given: str | None, asked: float) -> float:
    """The lease a hub grants, in seconds; what was asked when it says none usable."""
    try:
        seconds = float(given or "")
    except ValueError:
        return asked
    return seconds if 0 < seconds < 10 * 365 * 86400 else asked


def safety_due(started: datetime, interval: float, safety: float) -> datetime:
    """When a pushed feed is polled next: at the safety interval, or later."""
    return started + timedelta(seconds=max(interval, safety))
