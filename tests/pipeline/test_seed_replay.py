"""The seed coverage (tests/data/seeds) streamed through the pipeline as a desk gets it:
five write-ups of one story over three days, each processed as a polled page with the
shipped rules. Per the seeds' README: one story, one alert per rule, and an update only
where 004 (the FT report) brings new terms: the guarantees' document "100% ready" and
ratification by the Ukrainian parliament and the U.S. Congress. 003 and 004 restate the
Donbas withdrawal 002 had already reported (silently, as nothing new), so no update."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import yaml

from monitors import config as config_mod
from monitors.extract.analysis import analyse
from monitors.extract.page import PageText, text_hash
from monitors.ingest.fetch import Fetcher
from monitors.models import Entry
from monitors.pipeline import Pipeline
from monitors.store import PendingEntry, Store
from monitors.store.schema import alerts, decisions
from tests.conftest import ROOT
from tests.rules.test_rules_seeds import FILES, seed

HOURS = (0, 6, 20, 30, 51)  # 000..004: the FT report 51 h after the first
START = datetime(2025, 12, 14, 8, tzinfo=UTC)
FEED = "https://seeds.example/feed.xml"


@pytest.fixture
def line(store_url: str) -> Iterator[Pipeline]:
    """A pipeline with the shipped rules and stories settings, notifying one channel."""
    shipped = yaml.safe_load((ROOT / "config" / "newsmon.yaml").read_text(encoding="utf-8"))
    raw = {
        "store": store_url,
        "channels": {"desk": "json://127.0.0.1:9/x"},
        "rules": [{**rule, "notify": ["desk"]} for rule in shipped["rules"]],
        "aliases": shipped.get("aliases", {}),
        "stories": shipped.get("stories", {}),
    }
    cfg = config_mod.from_dict(raw, "seeds", {})
    store = Store.open(cfg.store)
    fetcher = Fetcher(cfg.fetch)
    try:
        yield Pipeline(cfg, store, fetcher)
    finally:
        asyncio.run(fetcher.__aexit__(None, None, None))
        store.close()


def replay(line: Pipeline) -> None:
    """Each seed as a polled page of one feed, in publication order."""
    with line.store.transaction() as tx:
        feed_id = tx.sync_feeds([(FEED, "seeds")])[FEED].id
    for path, hours in zip(FILES, HOURS, strict=True):
        title, text = seed(path)
        url = f"https://seed{path.name[:3]}.example/story"
        entry = Entry(path.name[:3], url, url, title, "", START + timedelta(hours=hours))
        with line.store.transaction() as tx:
            entry_id = tx.entry_for_page(feed_id, entry)
        page = PageText(
            text=text,
            title=title,
            site=f"seed{path.name[:3]}.example",
            language="en",
            text_hash=text_hash(text),
            analysis=analyse(title, text),
        )
        done = line.process_entry(PendingEntry(entry_id, feed_id, 0, entry), None, page)
        assert done.outcome == "article", (path.name, done.error)


def test_the_seeds_make_one_alert_per_rule_and_an_update_where_004_brings_new_terms(
    line: Pipeline,
) -> None:
    replay(line)
    with line.store.engine.begin() as conn:
        sent = conn.execute(
            sa.select(alerts.c.rule_id, alerts.c.kind, alerts.c.story_id, alerts.c.article_id)
        ).all()
        silent = conn.execute(
            sa.select(decisions.c.article_id, decisions.c.rule_id, decisions.c.kind).where(
                decisions.c.rule_id.is_not(None)
            )
        ).all()
    assert len({row.story_id for row in sent}) == 1
    assert sorted((row.rule_id, row.kind, row.article_id) for row in sent) == [
        ("donbas-withdrawal", "new", 1),
        ("security-guarantees", "new", 1),
        ("security-guarantees", "update", 5),
        ("senate-ratification", "new", 1),
        ("senate-ratification", "update", 5),
    ]
    donbas = sorted(
        (row.article_id, row.kind) for row in silent if row.rule_id == "donbas-withdrawal"
    )
    assert donbas == [(3, "no update"), (4, "no update"), (5, "no update")]
