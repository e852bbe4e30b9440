"""Builders of stored test data."""

from __future__ import annotations

from monitors.config import StoriesConfig
from monitors.delivery.outbox import Outbox
from monitors.models import Article, Entry, Match, Passage
from monitors.store import Store
from monitors.stories import StoryDesk, record_article

_SYLLABLES = ["ka", "lo", "mi", "ru", "te", "zan", "vor", "pel", "dus", "qui", "bex", "nor"]


def pseudo_word(n: int, salt: int) -> str:
    """A made-up word, distinct for each (n, salt), that shares nothing with real text."""
    value, parts = n * 7919 + salt * 104729 + 12345, []
    for _ in range(5):
        value, digit = divmod(value, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts).capitalize()


def seed(
    store: Store,
    outbox: Outbox,
    count: int,
    rule_id: str = "security-guarantees",
    title: str | None = None,
    start: int = 0,
) -> list[int]:
    """Record `count` unrelated articles (one story each), each matching `rule_id`;
    return their alert ids. Headlines are made-up words unless `title` is given."""
    with store.transaction() as tx:
        feed = tx.sync_feeds([("https://example.com/feed.xml", "Example")])[
            "https://example.com/feed.xml"
        ]
    numbers = range(start, start + count)
    made = [
        Entry(
            f"e{n}",
            f"https://example.com/{n}",
            f"https://example.com/{n}",
            title or " ".join(pseudo_word(n, s) for s in range(3)),
            "",
        )
        for n in numbers
    ]
    with store.transaction() as tx:
        tx.record_feed_ok(
            feed.id,
            status=200,
            etag=None,
            last_modified=None,
            body_hash=str(start),
            new_entries=made,
        )
        pending = tx.pending_entries()
    desk = StoryDesk(StoriesConfig())
    alert_ids: list[int] = []
    for item in pending:
        n = int(item.entry.key[1:])
        words = " ".join(pseudo_word(n, s) for s in range(3, 12))
        text = f"{words} weighs security guarantees."
        article = Article(
            item.entry.url,
            item.entry.canonical_url,
            item.entry.title,
            text,
            "example.com",
            "page",
            language="en",
            text_hash=f"h{n}",
        )
        at = text.index("security guarantees")
        match = Match(rule_id, ("security guarantees",), Passage(text, ((at, at + 19),)))
        recorded = record_article(store, desk, item.id, article, [match], outbox.enqueue)
        alert_ids += recorded.alert_ids
    return alert_ids
