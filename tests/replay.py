"""Articles recorded through the pipeline as polled pages, without fetching or trafilatura:
a page's text goes to `Pipeline.process_entry` with its analysis computed as an extraction
worker computes it (the seeds' replay test and bench/stream use it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import yaml

from monitors import config as config_mod
from monitors.config import Config
from monitors.extract.analysis import analyse
from monitors.extract.page import PageText, text_hash
from monitors.ingest.fetch import Fetcher
from monitors.models import Analysis, Entry
from monitors.pipeline import Pipeline, ProcessedEntry
from monitors.store import PendingEntry, Store
from tests.conftest import ROOT


def shipped_config(
    store_url: str,
    rules: Sequence[dict[str, Any]] | None = None,
    stories: dict[str, Any] | None = None,
) -> Config:
    """The shipped rules (or `rules`) notifying one channel that is never sent to, on
    `store_url`; the shipped stories settings, or those `stories` changes."""
    shipped = yaml.safe_load((ROOT / "config" / "newsmon.yaml").read_text(encoding="utf-8"))
    chosen = [{**r, "notify": ["desk"]} for r in (rules or shipped["rules"])]
    raw = {
        "store": store_url,
        "channels": {"desk": "json://127.0.0.1:9/x"},
        "rules": chosen,
        "aliases": shipped.get("aliases", {}) if rules is None else {},
        "stories": {**shipped.get("stories", {}), **(stories or {})},
    }
    return config_mod.from_dict(raw, "replay", {})


@contextmanager
def pipeline(cfg: Config) -> Iterator[Pipeline]:
    """A pipeline on the config's store (its fetcher never used)."""
    store = Store.open(cfg.store)
    fetcher = Fetcher(cfg.fetch)
    try:
        yield Pipeline(cfg, store, fetcher)
    finally:
        asyncio.run(fetcher.__aexit__(None, None, None))
        store.close()


def record_page(
    line: Pipeline,
    feed_id: int,
    entry: Entry,
    site: str,
    text: str,
    analysis: Analysis | None = None,
    language: str = "en",
) -> ProcessedEntry:
    """`entry` of feed `feed_id` processed as a polled page of `text` from `site`, in
    `language` as the page declares (`analysis`: its precomputed analysis)."""
    with line.store.transaction() as tx:
        entry_id = tx.entry_for_page(feed_id, entry)
    page = PageText(
        text=text,
        title=entry.title,
        site=site,
        declared=language,
        text_hash=text_hash(text or entry.title),
        analysis=analysis or analyse(entry.title, text),
    )
    return line.process_entry(PendingEntry(entry_id, feed_id, 0, entry), None, page)
