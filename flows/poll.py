"""The scheduled `poll` flow: one task per feed fetch, coarse tasks for the rest.

Only feeds whose next poll is due are fetched (`due_only`); a feed backing off
waits. Fetch tasks retry on timeouts, connection errors, 429 and 5xx; a feed that
still fails is recorded on its row and the others go on. Processing and delivery
run as one task each over the whole batch (a task call costs ~10 ms; an article a
few). Each run publishes a markdown artifact and a `newsmon.alert.sent` event per
sent alert; a failed run notifies the config's `ops` channel, when it has one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from flows.report import alert_rows, emit_sent, notify_ops, poll_markdown, publish_poll
from monitors import config as config_mod
from monitors.config import FeedConfig
from monitors.deliver import Delivered
from monitors.errors import FetchError
from monitors.fetch import Fetcher
from monitors.models import FetchResult
from monitors.pipeline import FeedOutcome, Pipeline, ProcessedEntry, fetch_limits, held_back
from monitors.schema import utcnow
from monitors.store import FeedState, Store
from newsmon.secrets import prefect_secret


def _transient(_task: Any, _run: TaskRun, state: State[Any]) -> bool:
    """Retry a fetch on timeouts, refused connections, 429 and 5xx."""
    exc = getattr(state.data, "result", state.data)
    return isinstance(exc, FetchError) and exc.transient


@task(
    name="fetch-feed",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
    task_run_name="fetch {feed.label}",
)
async def fetch_feed(pipeline: Pipeline, feed: FeedConfig, state: FeedState) -> FetchResult:
    """One conditional GET of a feed."""
    return await pipeline.fetch_feed(feed, state)


@task(name="process-entries", cache_policy=NO_CACHE)
async def process_entries(pipeline: Pipeline) -> list[ProcessedEntry]:
    """Fetch, extract, deduplicate, match and record every pending entry."""
    return await pipeline.process()


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_alerts(pipeline: Pipeline) -> list[Delivered]:
    """Send every due delivery."""
    return pipeline.deliver()


@flow(name="poll", log_prints=False, on_failure=[notify_ops])
async def poll(config_path: str | None = None, due_only: bool = True) -> dict[str, Any]:
    """Poll the feeds that are due (every feed with `due_only=False`), process new
    entries, deliver due alerts."""
    cfg = config_mod.load(config_path)
    store = Store.open(cfg.store)
    try:
        async with Fetcher(fetch_limits(cfg)) as fetcher:
            pipeline = Pipeline(cfg, store, fetcher, secrets=prefect_secret)
            outcomes = await _poll_feeds(pipeline, cfg.feeds, due_only)
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
    feeds = {s: 0 for s in ("new", "unchanged", "failed", "not due", "waiting")}
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


async def _poll_feeds(
    pipeline: Pipeline, feeds: list[FeedConfig], due_only: bool
) -> list[FeedOutcome]:
    """Fetch every feed that may be polled now in its own task, then ingest or record
    the failure."""
    states = pipeline.feed_states(feeds)
    now = utcnow()
    held = {f.url: held_back(f, states[f.url], now, due_only) for f in feeds}
    polled = [f for f in feeds if held[f.url] is None]
    runs = await asyncio.gather(
        *(fetch_feed(pipeline, f, states[f.url], return_state=True) for f in polled)
    )
    for feed, run in zip(polled, runs, strict=True):
        state = states[feed.url]
        try:
            result = await run.aresult()
        except FetchError as exc:
            held[feed.url] = pipeline.record_failure(feed, state, exc)
        else:
            held[feed.url] = pipeline.ingest(feed, state, result)
    return [outcome for outcome in held.values() if outcome is not None]
