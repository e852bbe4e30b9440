"""The `digest` flow: held alerts of a period sent as one message per channel.

Alert deliveries it sends emit `newsmon.alert.sent`; a failed run notifies the
config's `ops` channel, when it has one."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.report import alert_rows, emit_sent, notify_ops
from flows.secrets import prefect_secret
from monitors import config as config_mod
from monitors.delivery import Outbox, deliver_due, notifier_for
from monitors.store import Store


@flow(name="digest", on_failure=[notify_ops], on_crashed=[notify_ops])
def digest(period: str = "hourly", config_path: str | None = None) -> dict[str, Any]:
    """Gather the held alerts of `period` (hourly, daily) into digests and send them."""
    cfg = config_mod.load(config_path)
    store = Store.open(cfg.store)
    try:
        outbox = Outbox.of(cfg, store)
        made = outbox.make_digests([period])
        done = deliver_due(outbox, notifier_for(cfg, prefect_secret), cfg.labels())
        alerts = alert_rows(outbox, [d.alert_id for d in done if d.alert_id is not None])
    finally:
        store.close()
    emit_sent(done, alerts)
    summary = {"digests": len(made), "sent": sum(d.status == "sent" for d in done)}
    get_run_logger().info("digest %s: %s", period, summary)
    return summary
