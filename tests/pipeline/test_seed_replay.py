"""The seed coverage (tests/data/seeds) streamed through the pipeline as a desk gets it:
five write-ups of one story over three days, each processed as a polled page with the
shipped rules. Per the seeds' README: one story, one alert per rule, and an update only
where 004 (the FT report) brings new terms: the guarantees' document "100% ready" and
ratification by the Ukrainian parliament and the U.S. Congress. 003 and 004 restate the
Donbas withdrawal 002 had already reported (silently, as nothing new), so no update."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitors.models import Entry
from monitors.pipeline import Pipeline
from monitors.store.schema import alerts, decisions
from tests.replay import pipeline, record_page, shipped_config
from tests.rules.test_rules_seeds import FILES, seed

HOURS = (0, 6, 20, 30, 51)  # 000..004: the FT report 51 h after the first
START = datetime(2025, 12, 14, 8, tzinfo=UTC)
FEED = "https://seeds.example/feed.xml"


@pytest.fixture
def line(store_url: str) -> Iterator[Pipeline]:
    """A pipeline with the shipped rules and stories settings, notifying one channel."""
    with pipeline(shipped_config(store_url)) as line:
        yield line


def replay(line: Pipeline) -> None:
    """Each seed as a polled page of one feed, in publication order."""
    with line.store.transaction() as tx:
        feed_id = tx.sync_feeds([(FEED, "seeds")])[FEED].id
    for path, hours in zip(FILES, HOURS, strict=True):
        title, text = seed(path)
        url = f"https://seed{path.name[:3]}.example/story"
        entry = Entry(path.name[:3], url, url, title, "", START + timedelta(hours=hours))
        done = record_page(line, feed_id, entry, f"seed{path.name[:3]}.example", text)
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
