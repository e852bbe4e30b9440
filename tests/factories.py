"""Builders of stored test data."""

from __future__ import annotations

from dataclasses import dataclass

from monitors.config import StoriesConfig
from monitors.delivery.outbox import Outbox
from monitors.extract import text_hash
from monitors.models import Article, Entry, Match, Passage
from monitors.store import PendingEntry, Store
from monitors.stories import Recorded, StoryDesk, record_article

_SYLLABLES = ["ka", "lo", "mi", "ru", "te", "zan", "vor", "pel", "dus", "qui", "bex", "nor"]


def pseudo_word(n: int, salt: int) -> str:
    """A made-up word, distinct for each (n, salt), that shares nothing with real text."""
    value, parts = n * 7919 + salt * 104729 + 12345, []
    for _ in range(5):
        value, digit = divmod(value, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts).capitalize()


FEED = "https://example.com/feed.xml"
STORY = (  # a report for `record`: outlets that carry it join one story
    "Allies offered Kyiv security guarantees on Friday in a draft accord reached in Geneva. "
    "Envoy Ruth Calloway said the text names Article 5 and a verification mission of 67 "
    "observers, and that Senate leaders would see it next week."
)


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
    made = [
        Entry(
            f"e{n}",
            f"https://example.com/{n}",
            f"https://example.com/{n}",
            title or " ".join(pseudo_word(n, s) for s in range(3)),
            "",
        )
        for n in range(start, start + count)
    ]
    alert_ids: list[int] = []
    for item in _pending(store, made, str(start)):
        n = int(item.entry.key[1:])
        words = " ".join(pseudo_word(n, s) for s in range(3, 12))
        text = f"{words} weighs security guarantees."
        alert_ids += _record(store, outbox, item, text, "example.com", f"h{n}", rule_id).alert_ids
    return alert_ids


def record(
    store: Store,
    outbox: Outbox,
    url: str,
    site: str,
    text: str,
    rule_id: str = "security-guarantees",
) -> Recorded:
    """Record one page of `site` at `url` (its text's first sentence the headline),
    matching `rule_id` where the text says "security guarantees"."""
    entry = Entry(url, url, url, text.split(".")[0], "")
    [item] = _pending(store, [entry], url)
    return _record(store, outbox, item, text, site, f"h-{url}", rule_id)


def _pending(store: Store, made: list[Entry], body_hash: str) -> list[PendingEntry]:
    """These entries stored as new in the test feed, then claimed."""
    with store.transaction() as tx:
        feed = tx.sync_feeds([(FEED, "Example")])[FEED]
    with store.transaction() as tx:
        tx.record_feed_ok(
            feed.id,
            status=200,
            etag=None,
            last_modified=None,
            body_hash=body_hash,
            new_entries=made,
        )
        return tx.pending_entries()


def _record(
    store: Store,
    outbox: Outbox,
    item: PendingEntry,
    text: str,
    site: str,
    text_hash: str,
    rule_id: str,
) -> Recorded:
    entry = item.entry
    article = Article(
        entry.url,
        entry.canonical_url,
        entry.title,
        text,
        site,
        "page",
        language="en",
        text_hash=text_hash,
    )
    at = text.index("security guarantees")
    match = Match(rule_id, ("security guarantees",), Passage(text, ((at, at + 19),)))
    desk = StoryDesk(StoriesConfig())
    return record_article(store, desk, item.id, article, [match], outbox.enqueue)


@dataclass(frozen=True)
class Page:
    """An article to record: its URL path, headline, text, outlet and language; with
    `rule`, that rule matches it on "security guarantees" (which the text must hold)."""

    path: str
    title: str
    text: str
    site: str = "example.com"
    language: str | None = "en"
    rule: str | None = None
    url: str | None = None  # the article's URL as stored, when not https://example.com/PATH


def record_pages(
    store: Store, outbox: Outbox, pages: list[Page], feed: str = "https://example.com/feed.xml"
) -> list[Recorded]:
    """Record each page as an entry of `feed` through the pipeline's unit of work, in order."""
    with store.transaction() as tx:
        feed_id = tx.sync_feeds([(feed, "Example")])[feed].id
    desk = StoryDesk(StoriesConfig())
    done = []
    for page in pages:
        url = f"https://example.com/{page.path}"
        entry = Entry(page.path, url, url, page.title, "")
        with store.transaction() as tx:
            tx.record_feed_ok(
                feed_id,
                status=200,
                etag=None,
                last_modified=None,
                body_hash=page.path,
                new_entries=[entry],
            )
            [pending] = tx.pending_entries()
        article = Article(
            page.url or url,
            url,
            page.title,
            page.text,
            page.site,
            "page",
            language=page.language,
            text_hash=text_hash(page.text),
        )
        matches = []
        if page.rule is not None:
            at = page.text.index("security guarantees")
            passage = Passage(page.text, ((at, at + 19),))
            matches.append(Match(page.rule, ("security guarantees",), passage))
        done.append(record_article(store, desk, pending.id, article, matches, outbox.enqueue))
    return done
