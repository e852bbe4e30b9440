"""The scheduled `poll` flow: three coarse tasks, poll, process and deliver.

Only feeds whose next poll is due are fetched (`due_only`); a feed backing off
waits. Polling is the plain pipeline's: each feed is claimed before it is fetched
(so flows and `newsmon run` processes at once share the feeds), fetched concurrently
and retried within the cycle on connection errors, 429 and 5xx; a feed that still
fails is recorded on its row and the others go on. A task per feed would cost more
than the polling itself (~12 ms a task run: 12 s for 1,000 feeds that answer 304 in
5 s), so each feed's outcome is in the run's artifact instead. Each run publishes a
markdown artifact and a `newsmon.alert.sent` event per sent alert; a failed run
notifies the config's `ops` channel, when it has one.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.report import alert_rows, emit_sent, notify_ops, poll_markdown, publish_poll
from monitors import config as config_mod
from monitors.deliver import Delivered
from monitors.fetch import Fetcher
from monitors.pipeline import FeedOutcome, Pipeline, ProcessedEntry, fetch_limits
from monitors.store import Store
from newsmon.secrets import prefect_secret


@task(name="poll-feeds", cache_policy=NO_CACHE)
async def poll_feeds(pipeline: Pipeline, due_only: bool) -> list[FeedOutcome]:
    """Fetch the feeds that may be polled now and store their new entries."""
    return await pipeline.poll(pipeline.config.feeds, due_only)


@task(name="process-entries", cache_policy=NO_CACHE)
async def process_entries(pipeline: Pipeline) -> list[ProcessedEntry]:
    """Fetch, extract, deduplicate, match and record every pending entry."""
    return await pipeline.process()


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_alerts(pipeline: Pipeline) -> list[Delivered]:
    """Send every due delivery."""
    return pipeline.deliver()


@flow(name="poll", log_prints=False, on_failure=[notify_ops], on_crashed=[notify_ops])
async def poll(config_path: str | None = None, due_only: bool = True) -> dict[str, Any]:
    """Poll the feeds that are due (every feed with `due_only=False`), process new
    entries, deliver due alerts."""
    cfg = config_mod.load(config_path)
    store = Store.open(cfg.store)
    try:
        async with Fetcher(fetch_limits(cfg)) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher, secrets=prefect_secret)
            outcomes = await poll_feeds(pipeline, due_only)
            entries = await process_entries(pipeline)
            done = deliver_alerts(pipeline)
            ids = [i for e in entries for i in e.alert_ids] + [
                d.alert_id for d in done if d.alert_id is not None
            ]
            alerts = alert_rows(pipeline.outbox, ids)
    finally:
        store.close()
    emit_sent(done, alerts)
    await publish_poll(poll_markdown(outcomes, entries, alerts, done))
    summary = _summary(outcomes, entries, done)
    get_run_logger().info("poll: %s", summary)
    return summary


def _summary(
    outcomes: list[FeedOutcome], entries: list[ProcessedEntry], done: list[Delivered]
) -> dict[str, Any]:
    statuses = ("new", "unchanged", "failed", "not due", "waiting", "claimed elsewhere")
    feeds = dict.fromkeys(statuses, 0)
    for outcome in outcomes:
        feeds[outcome.status] += 1
    counts = {k: sum(e.outcome == k for e in entries) for k in ("article", "duplicate", "error")}
    sent = sum(d.status == "sent" for d in done)
    return {
        "feeds": feeds,
        **counts,
        "alerts": sum(len(e.alert_ids) for e in entries),
        "sent": sent,
        "failed": len(done) - sent,
    }
