"""Pipeline: the stages run in order, the one way a cycle or a backfill is run.

`open_pipeline(config)` wires the stages to a config: the store, a fetcher, the
extraction workers, the rules, the story desk, the outbox and the channels.
`run_cycle(pipeline)` polls the feeds, keeps their WebSub subscriptions (`push`),
processes the pending entries while the feeds poll (page, text, story, rules, alerts;
pages fetched fairly across hosts from a `PageQueue` the polls add to, `pages`) and
delivers what is due, returning one `CycleReport`; a push
(`Pipeline.push`) goes through the same stages at once;
`run_backfill(pipeline, request)` replays history through the same stages
(`backfill`). The CLI, the Prefect flows, the demo and the benches all run cycles
through these and only render the report (and their progress, `progress`); the
process's allocator is tuned for them (`memory`). Imports every stage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from monitors.backfill import Request
from monitors.config import Config, FeedConfig
from monitors.delivery import Delivered, Notifier, SecretResolver
from monitors.ingest import Fetcher
from monitors.pipeline.backfill import Backfill, Fired, Outcome
from monitors.pipeline.cycle import Pipeline, held_back
from monitors.pipeline.memory import tune_allocator
from monitors.pipeline.pages import PageQueue
from monitors.pipeline.progress import CycleHook, CycleProgress, Every, Progress, ProgressHook
from monitors.pipeline.push import Push, PushAnswer
from monitors.pipeline.report import CycleReport, FeedOutcome, HubOutcome, ProcessedEntry
from monitors.store import Store

__all__ = [
    "Backfill",
    "CycleHook",
    "CycleProgress",
    "CycleReport",
    "Every",
    "FeedOutcome",
    "Fired",
    "HubOutcome",
    "Outcome",
    "PageQueue",
    "Pipeline",
    "ProcessedEntry",
    "Progress",
    "ProgressHook",
    "Push",
    "PushAnswer",
    "held_back",
    "open_pipeline",
    "run_backfill",
    "run_cycle",
]


@asynccontextmanager
async def open_pipeline(
    config: Config,
    store: Store | None = None,
    secrets: SecretResolver | None = None,
    notifier: Notifier | None = None,
    retry_wait: float = 1.0,
) -> AsyncIterator[Pipeline]:
    """The stages wired to `config`: on `store` (else the config's, opened here and closed
    at the end), with a fetcher and extraction workers that live as long as the block.
    The process's allocator is tuned to hand page bodies back (`memory`)."""
    tune_allocator()
    own = store is None
    store = Store.open(config.store) if store is None else store
    try:
        async with Fetcher(config.fetch) as fetcher:
            yield Pipeline(config, store, fetcher, notifier, retry_wait, secrets)
    finally:
        if own:
            store.close()


async def run_cycle(
    pipeline: Pipeline,
    feeds: Sequence[FeedConfig] | None = None,
    due_only: bool = False,
    progress: CycleHook | None = None,
    since: datetime | None = None,
) -> CycleReport:
    """One cycle: poll the feeds (all, or these; with `due_only`, those due; not those
    another worker polled since `since`, default: the cycle's start), process the
    pending entries (within each host's page budget: the rest are deferred), deliver
    every due alert; `progress` is told how far it is."""
    return await pipeline.run_cycle(feeds, due_only, progress, since)


async def run_backfill(
    pipeline: Pipeline, request: Request, progress: ProgressHook | None = None
) -> tuple[Outcome, list[Delivered] | None]:
    """A backfill; when notifying, the deliveries it made are sent (the outcome then
    counts those held for a digest)."""
    with pipeline.store.transaction() as tx:
        last_alert = tx.last_alert_id()
    outcome = await Backfill(pipeline, request, progress).execute()
    if not request.notify:
        return outcome, None
    delivered = await asyncio.to_thread(pipeline.deliver)
    with pipeline.store.transaction() as tx:
        outcome.held = tx.held_since(last_alert)
    return outcome, delivered
