"""Deliver: claim each due delivery, render it for its channel, send it, mark it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from monitors.config import Config, SecretChannel
from monitors.delivery.outbox import Outbox
from monitors.delivery.render import render
from monitors.delivery.send import ChannelURL, Notifier
from monitors.errors import DeliveryError
from monitors.store import DeliveryRow, utcnow

log = logging.getLogger(__name__)

SecretResolver = Callable[[str], str]


@dataclass(frozen=True)
class Delivered:
    """One delivery attempt and how it ended: `sent`, `pending` (will retry) or `failed`."""

    delivery_id: int
    kind: str
    channel: str
    rule_id: str | None
    alert_id: int | None
    headline: str
    status: str
    error: str | None = None
    sent_at: datetime | None = None


def notifier_for(config: Config, secrets: SecretResolver | None = None) -> Notifier:
    """A notifier for the config's channels; secret channels are resolved when first used."""
    return Notifier(
        {name: _channel_url(name, value, secrets) for name, value in config.channels.items()}
    )


def _channel_url(
    name: str, value: str | SecretChannel, secrets: SecretResolver | None
) -> ChannelURL:
    if isinstance(value, str):
        return value

    def resolve() -> str:
        if secrets is None:
            raise DeliveryError(f"channel {name!r} needs the secret store, which is not available")
        return secrets(value.secret)

    return resolve


def deliver_due(
    outbox: Outbox,
    notifier: Notifier,
    labels: Mapping[str, str],
    skip: Collection[int] = (),
) -> list[Delivered]:
    """Send every delivery due now but those in `skip`, each at most once in this call."""
    outbox.reclaim()
    started = utcnow()
    results = []
    while (delivery := outbox.claim(due_by=started, skip=skip)) is not None:
        results.append(_send(outbox, notifier, labels, delivery))
    return results


def _send(
    outbox: Outbox, notifier: Notifier, labels: Mapping[str, str], delivery: DeliveryRow
) -> Delivered:
    alert = delivery.alert
    headline = alert.headline if alert else delivery.kind
    done = Delivered(
        delivery.id,
        delivery.kind,
        delivery.channel,
        delivery.rule_id,
        alert.id if alert else None,
        headline,
        "sent",
    )
    try:
        message = render(delivery, labels, notifier.format(delivery.channel), outbox.web)
        remote_id = notifier.send(delivery.channel, message, delivery.thread)
    except DeliveryError as exc:
        status = outbox.mark_failed(delivery, str(exc), exc.retry_after)
        log.warning("delivery %s to %s failed (%s): %s", delivery.id, delivery.channel, status, exc)
        return Delivered(**{**done.__dict__, "status": status, "error": str(exc)})
    sent_at = utcnow()
    outbox.mark_sent(delivery.id, remote_id, sent_at)
    return replace(done, sent_at=sent_at)
