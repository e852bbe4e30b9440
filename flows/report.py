"""What the flows show outside the store: a run's markdown artifact, a Prefect event
per sent alert, and a note to the `ops` channel when a flow run fails or crashes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from prefect.artifacts import acreate_markdown_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.events import emit_event
from prefect.states import State

from monitors import config as config_mod
from monitors.deliver import Delivered, notifier_for
from monitors.errors import NewsmonError
from monitors.notify import Message
from monitors.outbox import AlertRow, Outbox
from monitors.pipeline import FeedOutcome, ProcessedEntry
from newsmon.secrets import prefect_secret

log = logging.getLogger(__name__)

ALERT_SENT = "newsmon.alert.sent"
OPS_CHANNEL = "ops"
ARTIFACT_KEY = "newsmon-poll"
_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|#"} | {"\n": " ", "\r": " "})


def alert_rows(outbox: Outbox, ids: Iterable[int]) -> dict[int, AlertRow]:
    """The stored alerts with these ids."""
    wanted = set(ids)
    if not wanted:
        return {}
    listing = outbox.listing(limit=len(wanted), ids=wanted)
    return {item.alert.id: item.alert for item in listing}


def emit_sent(done: Sequence[Delivered], alerts: dict[int, AlertRow]) -> int:
    """Emit one `newsmon.alert.sent` per alert with a delivery sent in this run (naming
    every channel it reached); return how many."""
    sent: dict[int, list[Delivered]] = {}
    for d in done:
        if d.status == "sent" and d.alert_id is not None:
            sent.setdefault(d.alert_id, []).append(d)
    for alert_id, delivered in sent.items():
        first, alert = delivered[0], alerts.get(alert_id)
        channels = sorted({d.channel for d in delivered})
        emit_event(
            ALERT_SENT,
            resource={
                "prefect.resource.id": f"newsmon.alert.{alert_id}",
                "prefect.resource.name": first.headline[:200],
                "newsmon.rule": first.rule_id or "",
                "newsmon.channels": ",".join(channels),
            },
            payload={
                "alert_id": alert_id,
                "delivery_ids": [d.delivery_id for d in delivered],
                "rule": first.rule_id,
                "channels": channels,
                "headline": first.headline,
                "url": alert.url if alert else None,
                "story_id": alert.story_id if alert else None,
                "kind": alert.kind if alert else None,
            },
        )
    return len(sent)


def poll_markdown(
    feeds: Sequence[FeedOutcome],
    entries: Sequence[ProcessedEntry],
    alerts: dict[int, AlertRow],
    done: Sequence[Delivered],
) -> str:
    """A poll run in markdown: feeds polled, new articles, stories, alerts with links."""
    states = [f.status for f in feeds]
    skipped = states.count("waiting") + states.count("not due")
    new_ids = [i for e in entries for i in e.alert_ids]
    stories = {alerts[i].story_id for i in new_ids if i in alerts}
    sent = sum(d.status == "sent" for d in done)
    lines = [
        "# newsmon poll",
        "",
        f"- **Feeds:** {len(feeds) - skipped} polled ({states.count('new')} with news, "
        f"{states.count('unchanged')} unchanged, {states.count('failed')} failed), "
        f"{skipped} not due or backing off",
        f"- **New entries:** {sum(f.new_entries for f in feeds)}; **articles:** "
        f"{sum(e.outcome == 'article' for e in entries)} new, "
        f"{sum(e.outcome == 'duplicate' for e in entries)} duplicates, "
        f"{sum(e.outcome == 'error' for e in entries)} errors",
        f"- **Alerts:** {len(new_ids)} new in {len(stories)} stories; "
        f"**deliveries:** {sent} sent, {len(done) - sent} not sent",
    ]
    if new_ids:
        lines += ["", "## Alerts", "", "| alert | rule | story | headline |", "|---|---|---|---|"]
        lines += [_alert_line(i, alerts.get(i)) for i in new_ids]
    failed = [f for f in feeds if f.status == "failed"]
    if failed:
        lines += ["", "## Failed feeds", "", "| feed | error |", "|---|---|"]
        lines += [f"| {_md(f.name)} | {_md(f.error or '')} |" for f in failed]
    return "\n".join(lines) + "\n"


async def publish_poll(markdown: str) -> None:
    """Attach the run's markdown to it (and to the `newsmon-poll` artifact key)."""
    await acreate_markdown_artifact(markdown, key=ARTIFACT_KEY, description="newsmon poll run")


def _alert_line(alert_id: int, alert: AlertRow | None) -> str:
    if alert is None:
        return f"| {alert_id} | | | |"
    return f"| {alert_id} | {_md(alert.rule_id)} | {alert.story_id or ''} | {_link(alert)} |"


def _link(alert: AlertRow) -> str:
    if not alert.url.startswith(("http://", "https://")):
        return _md(alert.headline)
    url = alert.url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{_md(alert.headline)}]({url})"


def _md(text: str) -> str:
    """Untrusted text made inert in a markdown table cell."""
    return text.translate(_MD_SPECIAL)


def notify_ops(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
    """Tell the config's `ops` channel that a flow run failed or crashed, when it has one."""
    try:
        cfg = config_mod.load(flow_run.parameters.get("config_path"))
    except NewsmonError as exc:
        log.warning("flow run %s failed; no ops notice (config: %s)", flow_run.name, exc)
        return
    if OPS_CHANNEL not in cfg.channels:
        return
    message = Message(
        title=f"newsmon: flow {flow.name} failed ({flow_run.name})",
        body=f"Flow run {flow_run.name} ({flow_run.id}) ended {state.type.value}: "
        f"{state.message or 'no message'}",
        body_format="text",
    )
    try:
        notifier_for(cfg, prefect_secret).send(OPS_CHANNEL, message)
    except NewsmonError as exc:
        log.warning("ops notice for flow run %s not sent: %s", flow_run.name, exc)
