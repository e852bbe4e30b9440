"""Delivery: from an alert to a message in a channel.

Owns the outbox's policies (`outbox`: which deliveries an alert gets, digests, storm
control, retries with backoff), rendering for each kind of channel (`render`: Slack,
email, markdown and text, every untrusted string escaped), sending through apprise with
channel secrets kept out of every message and log (`send`), and the loop that sends what
is due (`deliver`). It exposes `Outbox`, `Notifier`, `deliver_due`, `notifier_for`,
`render` and `Delivered`. Imports the bottom layer, `config`, `store`, `ingest`
(Retry-After) and `extract` (the unknown-language mark).
"""

from monitors.delivery.deliver import Delivered, SecretResolver, deliver_due, notifier_for
from monitors.delivery.outbox import PERIODS, Outbox, RulePolicy
from monitors.delivery.render import Message, render, render_alert
from monitors.delivery.send import Notifier, secrets_of

__all__ = [
    "PERIODS",
    "Delivered",
    "Message",
    "Notifier",
    "Outbox",
    "RulePolicy",
    "SecretResolver",
    "deliver_due",
    "notifier_for",
    "render",
    "render_alert",
    "secrets_of",
]
