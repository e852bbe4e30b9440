"""What the flows show outside the store: a run's markdown artifact, a Prefect event
per sent alert, and a note to the `ops` channel when a flow run fails or crashes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from prefect.artifacts import acreate_markdown_artifact
from prefect.client.schemas.objects import FlowRun, State
from prefect.events import emit_event

from flows.secrets import prefect_secret
from monitors import config as config_mod
from monitors.delivery import Delivered, Message, Outbox, notifier_for
from monitors.errors import NewsmonError
from monitors.pipeline import CycleReport
from monitors.pipeline.latency import Latency
from monitors.store import AlertRow

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
    every channel it reached, with its latency: published, seen, how, first sent);
    return how many."""
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
                "latency": _latency(alert, delivered),
            },
        )
    return len(sent)


def _latency(alert: AlertRow | None, delivered: list[Delivered]) -> dict[str, object]:
    """When the alert's article was published and seen (and how), when its first
    message of this run was sent, and the seconds between."""
    sent = min((d.sent_at for d in delivered if d.sent_at is not None), default=None)
    published = alert.published_at if alert else None
    seen = alert.seen_at if alert else None
    latency = Latency.of(published, seen, sent, alert.seen_via if alert else None)
    times = {"published": published, "seen": seen, "sent": sent}
    return {k: v.isoformat() if v else None for k, v in times.items()} | latency.payload()


def poll_markdown(report: CycleReport, alerts: dict[int, AlertRow]) -> str:
    """A poll run in markdown: feeds polled, new articles, stories, alerts with links."""
    new_ids = report.alert_ids
    stories = {alerts[i].story_id for i in new_ids if i in alerts}
    held = len(report.feeds) - report.polled
    lines = [
        "# newsmon poll",
        "",
        f"- **Feeds:** {report.polled} polled ({report.feeds_in('new')} with news, "
        f"{report.feeds_in('unchanged')} unchanged, {report.feeds_in('failed')} failed), "
        f"{held} not due, backing off or claimed by another worker",
        f"- **New entries:** {report.new_entries}; **articles:** "
        f"{report.count('article')} new, {report.count('duplicate')} duplicates, "
        f"{report.count('error')} errors, {report.count('deferred')} deferred to the next cycle",
        f"- **Alerts:** {len(new_ids)} new in {len(stories)} stories; "
        f"**deliveries:** {report.sent} sent, {report.failed} not sent",
    ]
    if new_ids:
        lines += ["", "## Alerts", "", "| alert | rule | story | headline |", "|---|---|---|---|"]
        lines += [_alert_line(i, alerts.get(i)) for i in new_ids]
    failed = [f for f in report.feeds if f.status == "failed"]
    if failed:
        lines += ["", "## Failed feeds", "", "| feed | error |", "|---|---|"]
        lines += [f"| {_md(f.name)} | {_md(f.error or '')} |" for f in failed]
    if report.matched_in_part:
        lines += ["", "## Articles matched in part", "", "| article | left out |", "|---|---|"]
        lines += [f"| {_md(e.url)} | {_md(e.matching_cut or '')} |" for e in report.matched_in_part]
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
