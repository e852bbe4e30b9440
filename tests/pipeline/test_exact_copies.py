"""An exact copy of a stored text (the same wire story on another site) is recorded
without rule matching nor a MinHash signature: it joins its original's story and alerts on
nothing. When the store only seemed to hold its text, it is matched and recorded as any
article, and its alert is not lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitors.config import StoriesConfig
from monitors.extract.page import text_hash
from monitors.models import Article, Entry
from monitors.pipeline import Pipeline
from monitors.store import Store
from monitors.stories import NotACopy, StoryDesk, record_article
from tests.replay import pipeline, record_page, shipped_config

FEED = "https://news.example/feed"
WIRE = (
    "Washington was now willing to submit a security package for Senate ratification, "
    "officials said on Tuesday, as talks on security guarantees for Ukraine resumed in "
    "Geneva with negotiators from Kyiv, Washington and European capitals present."
)


def entry(n: int) -> Entry:
    url = f"https://outlet{n}.example/wire-story"
    return Entry(f"k{n}", url, url, "US ready to send Ukraine guarantees to the Senate", "")


def news_feed(store: Store) -> int:
    """The id of the one feed the tests' entries come from."""
    with store.transaction() as tx:
        return tx.sync_feeds([(FEED, "News")])[FEED].id


def counting(line: Pipeline) -> list[str]:
    """The titles `line` matches its rules against, from now on."""
    seen: list[str] = []
    match = line.ruleset.matching

    def spy(title: str, text: str, **kwargs: object) -> object:
        seen.append(title)
        return match(title, text, **kwargs)  # type: ignore[arg-type]

    line.ruleset.matching = spy  # type: ignore[method-assign]
    return seen


def test_a_copy_of_a_stored_text_is_neither_matched_nor_alerted(tmp_path: Path) -> None:
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'n.db'}")) as line:
        feed_id = news_feed(line.store)
        first = record_page(line, feed_id, entry(1), "outlet1.example", WIRE)
        matched = counting(line)
        copy = record_page(line, feed_id, entry(2), "outlet2.example", WIRE)
    assert first.outcome == "article" and first.alert_ids
    assert copy.outcome == "duplicate" and copy.alert_ids == ()
    assert matched == []  # the copy was never matched


def test_a_text_the_store_only_seemed_to_hold_is_matched_and_alerted(tmp_path: Path) -> None:
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'n.db'}")) as line:
        feed_id = news_feed(line.store)
        line.store.holds_text("")  # the fingerprints are read, then one is wrongly known
        line.store.remember_text(text_hash(WIRE))
        matched = counting(line)
        done = record_page(line, feed_id, entry(1), "outlet1.example", WIRE)
    assert done.outcome == "article" and done.alert_ids
    assert matched == [entry(1).title]


def test_recording_an_unmatched_copy_that_is_none_stores_nothing(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        feed_id = news_feed(store)
        with store.transaction() as tx:
            entry_id = tx.entry_for_page(feed_id, entry(1))
        url = entry(1).url
        article = Article(url, url, "t", WIRE, "outlet1.example", "page", text_hash=text_hash(WIRE))
        desk = StoryDesk(StoriesConfig())
        with pytest.raises(NotACopy):
            record_article(store, desk, entry_id, article, None, lambda *_: None)
        with store.transaction() as tx:
            assert tx.stored_article_by_url(url) is None
            [pending] = tx.pending_entries()
        assert pending.id == entry_id
    finally:
        store.close()
