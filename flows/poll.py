"""The scheduled `poll` flow: poll, process and deliver.

Only feeds whose next poll is due are fetched (`due_only`); a feed backing off
waits. Polling is the plain pipeline's: each feed is claimed before it is fetched
(so flows and `newsmon run` processes at once share the feeds) and fetched
concurrently; a feed that still fails is recorded on its row and the others go on.

Two ways to fetch: by default one coarse task polls every feed, retrying within the
cycle; with `feed_tasks`, each feed fetch is a Prefect task of its own, retried by
Prefect on timeouts, connection errors, 429 and 5xx and visible in the UI, at a cost: a
task run costs 12-40 ms here, so 200 feeds that answer 304 in 1.2 s took 8.7 s as tasks
(bench/RESULTS.md). Processing is one coarse task, run alongside polling: a feed's new
entries are processed while the other feeds poll; delivery is one coarse task. Each run
publishes a markdown artifact and a `newsmon.alert.sent` event per sent alert; a failed
or crashed run notifies the config's `ops` channel, when it has one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from flows.report import alert_rows, emit_sent, notify_ops, poll_markdown, publish_poll
from flows.secrets import prefect_secret
from monitors import config as config_mod
from monitors.config import FeedConfig
from monitors.delivery import Delivered
from monitors.errors import FetchError
from monitors.models import FetchResult
from monitors.pipeline import (
    CycleReport,
    Every,
    FeedOutcome,
    HubOutcome,
    PageQueue,
    Pipeline,
    ProcessedEntry,
    open_pipeline,
)
from monitors.store import FeedState


def _transient(_task: Any, _run: TaskRun, state: State[Any]) -> bool:
    """Retry a feed fetch on timeouts, refused connections, 429 and 5xx (the task's
    exception is the failed state's data)."""
    return isinstance(state.data, FetchError) and state.data.transient


@task(
    name="fetch-feed",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    task_run_name="fetch {feed.label}",
)
async def fetch_feed(pipeline: Pipeline, feed: FeedConfig, state: FeedState) -> FetchResult:
    """One conditional GET of a feed within fetch.timeout."""
    return await pipeline.fetch_feed(feed, state)


@task(name="poll-feeds", cache_policy=NO_CACHE)
async def poll_feeds(pipeline: Pipeline, due_only: bool, queue: PageQueue) -> list[FeedOutcome]:
    """Fetch the feeds that may be polled now and store their new entries, each feed's
    added to `queue` at once (closed at the end)."""
    return await pipeline.poll(pipeline.config.feeds, due_only, queue=queue)


async def poll_feeds_in_tasks(
    pipeline: Pipeline, due_only: bool, queue: PageQueue
) -> list[FeedOutcome]:
    """The same, each feed fetched in a `fetch-feed` task."""

    async def in_task(feed: FeedConfig, state: FeedState) -> FetchResult:
        return await fetch_feed(pipeline, feed, state)

    return await pipeline.poll(pipeline.config.feeds, due_only, fetch=in_task, queue=queue)


@task(name="keep-subscriptions", cache_policy=NO_CACHE)
async def keep_subscriptions(pipeline: Pipeline) -> list[HubOutcome]:
    """Ask the feeds' WebSub hubs what is due: subscriptions, renewals, unsubscriptions."""
    return await pipeline.push.maintain()


@task(name="process-entries", cache_policy=NO_CACHE)
async def process_entries(pipeline: Pipeline, queue: PageQueue) -> list[ProcessedEntry]:
    """Fetch, extract, deduplicate, match and record the pending entries, as the polls
    add them to `queue` (those beyond a host's page budget are reported deferred, left
    for the next run)."""
    return await pipeline.process(queue=queue)


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_alerts(pipeline: Pipeline) -> list[Delivered]:
    """Send every due delivery."""
    return pipeline.deliver()


@flow(name="poll", log_prints=False, on_failure=[notify_ops], on_crashed=[notify_ops])
async def poll(
    config_path: str | None = None, due_only: bool = True, feed_tasks: bool = False
) -> dict[str, Any]:
    """Poll the feeds that are due (every feed with `due_only=False`), keep their WebSub
    subscriptions, process new entries, deliver due alerts. `feed_tasks`: a task per
    feed fetch (see above)."""
    cfg = config_mod.load(config_path)
    async with open_pipeline(cfg, secrets=prefect_secret) as pipeline:
        pipeline.on_progress = Every(get_run_logger().info)  # a line every few seconds
        report = CycleReport()
        queue = pipeline.pages(adding=True)
        polling = (poll_feeds_in_tasks if feed_tasks else poll_feeds)(pipeline, due_only, queue)
        report.feeds, report.entries = await asyncio.gather(
            polling, process_entries(pipeline, queue)
        )
        if pipeline.push.enabled:
            report.hubs = await keep_subscriptions(pipeline)
        report.deliveries = deliver_alerts(pipeline)
        ids = report.alert_ids + [d.alert_id for d in report.deliveries if d.alert_id is not None]
        alerts = alert_rows(pipeline.outbox, ids)
    emit_sent(report.deliveries, alerts)
    await publish_poll(poll_markdown(report, alerts))
    summary = report.summary()
    get_run_logger().info("poll: %s", summary)
    return summary
