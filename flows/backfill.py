"""The `backfill` flow: a long window of stored articles cut into chunks, one task each.

Each chunk is a backfill of its own (its own progress, resumed when the flow runs
again with the same arguments), run one after the other: matching stored articles is
work for the CPU, and a dry run's scratch store holds the store's write lock on SQLite
while it records. Alerts of a notifying backfill are delivered once, after every chunk
is done. A network source (feeds, URLs, sitemap) is one chunk: its listing is read
once, and its pages are already fetched concurrently within the per-host limits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.report import notify_ops
from flows.secrets import prefect_secret
from monitors import config as config_mod
from monitors.backfill import Request, Window
from monitors.config import parse_moment
from monitors.ingest import Polite
from monitors.pipeline import Backfill, Every, Outcome, Pipeline, open_pipeline


@task(
    name="backfill-chunk",
    cache_policy=NO_CACHE,
    task_run_name="backfill {request.window.since:%Y-%m-%d %H:%M}",
)
async def backfill_chunk(pipeline: Pipeline, request: Request, polite: Polite) -> Outcome:
    """Backfill one chunk of the window, logging its progress every few seconds."""
    progress = Every(get_run_logger().info)
    return await Backfill(pipeline, request, progress, polite).execute()


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_alerts(pipeline: Pipeline) -> int:
    """Send every due delivery; how many were sent."""
    return sum(d.status == "sent" for d in pipeline.deliver())


@flow(name="backfill", log_prints=False, on_failure=[notify_ops], on_crashed=[notify_ops])
async def backfill(
    since: str,
    until: str | None = None,
    chunk: str = "1d",
    source: str = "stored",
    target: str | None = None,
    feeds: list[str] | None = None,
    rules: list[str] | None = None,
    notify: bool = False,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Backfill [since, until) in chunks of `chunk` (a duration: 6h, 1d...)."""
    logger = get_run_logger()
    cfg = config_mod.load(config_path)
    end = parse_moment(until, end=True) if until else None
    size = timedelta(seconds=config_mod.parse_duration(chunk))
    window = Window(parse_moment(since), end)
    windows = window.chunks(size) if source == "stored" else [window]
    requests = [
        Request(w, source, target, tuple(feeds or ()), tuple(rules or ()), notify) for w in windows
    ]
    async with open_pipeline(cfg, secrets=prefect_secret) as pipeline:
        polite = Polite(pipeline.fetcher, cfg.backfill)
        outcomes = [await backfill_chunk(pipeline, r, polite) for r in requests]
        sent = deliver_alerts(pipeline) if notify else 0
    summary = {
        "chunks": len(outcomes),
        "items": sum(o.progress.done for o in outcomes),
        "errors": sum(o.progress.errors for o in outcomes),
        "alerts": sum(len(o.fired) for o in outcomes),
        "sent": sent,
    }
    logger.info("backfill: %s", summary)
    return summary
