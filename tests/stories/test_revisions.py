"""Recording a page read again because its feed entry changed: the article takes the
new text in its story (a near duplicate too, not placed again), its alerts are decided
there, an unchanged text changes nothing, and a new text that came unmatched must be
matched first."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from monitors.config import StoriesConfig
from monitors.delivery import Outbox
from monitors.models import Article, Entry, Match
from monitors.store import Store
from monitors.store.schema import alerts, article_revisions, articles, decisions
from monitors.stories import NotACopy, StoryDesk, record_article
from tests.conftest import make_config
from tests.factories import STORY, _pending, record

REVISED = (
    "Allies offered Kyiv security guarantees on Friday in a draft accord that the Senate "
    "ratified on Monday by 81 votes to 17. Envoy Ruth Calloway said the text names "
    "Article 5 and a verification mission of 67 observers."
)

DEVELOPED = (
    "Britain and France said on Monday they would also provide Kyiv security guarantees, "
    "pledging up to 30,000 troops to a reassurance force. " + STORY
)


def outbox(store: Store, store_url: str) -> Outbox:
    return Outbox.of(make_config(store_url, [], "json://127.0.0.1:9/"), store)


def matched(text: str) -> list[Match]:
    """The test rules' matches of a Harbour Gazette text headlined by its first sentence."""
    ruleset = make_config("sqlite://", [], "json://127.0.0.1:9/").ruleset()
    found = ruleset.matching(text.split(".")[0], text, site="harbour.example", lang="en")
    return list(found.matches)


def stored(store: Store, article_id: int) -> sa.Row:  # type: ignore[type-arg]
    with store.engine.connect() as conn:
        return conn.execute(sa.select(articles).where(articles.c.id == article_id)).one()


def kinds(store: Store, article_id: int) -> list[str]:
    with store.engine.connect() as conn:
        found = sa.select(decisions.c.kind).where(decisions.c.article_id == article_id)
        return list(conn.scalars(found.order_by(decisions.c.id)))


def test_a_near_duplicate_read_again_is_revised_in_its_story_not_placed_again(
    store: Store, store_url: str
) -> None:
    box = outbox(store, store_url)
    original = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    copy = record(store, box, "https://coast.example/b", "Coast", STORY)
    assert copy.duplicate_of == original.article_id
    row = stored(store, copy.article_id)
    desk = StoryDesk(StoriesConfig())
    article = replace(_article(row), text=REVISED, text_hash="revised")
    again = record_article(store, desk, row.entry_id, article, matched(REVISED), box.enqueue)
    assert (again.article_id, again.story_id) == (copy.article_id, original.story_id)
    revised = stored(store, copy.article_id)
    assert (revised.text, revised.revision, revised.story_id) == (REVISED, 1, original.story_id)
    assert "revised" in kinds(store, copy.article_id)
    placed = {"new story", "same story", "exact copy", "near duplicate"}
    assert len(placed & set(kinds(store, copy.article_id))) == 1  # placed once, not again
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(article_revisions.c.text)) == STORY


def test_an_unchanged_text_read_again_changes_nothing(store: Store, store_url: str) -> None:
    box = outbox(store, store_url)
    first = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    row = stored(store, first.article_id)
    desk = StoryDesk(StoriesConfig())
    again = record_article(store, desk, row.entry_id, _article(row), None, box.enqueue)
    assert (again.article_id, again.alert_ids) == (first.article_id, ())
    assert stored(store, first.article_id).revision == 0
    assert kinds(store, first.article_id)[-1] == "unchanged"


def test_a_new_text_read_again_unmatched_must_be_matched(store: Store, store_url: str) -> None:
    box = outbox(store, store_url)
    first = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    row = stored(store, first.article_id)
    desk = StoryDesk(StoriesConfig())
    article = replace(_article(row), text=REVISED, text_hash="revised")
    with pytest.raises(NotACopy):
        record_article(store, desk, row.entry_id, article, None, box.enqueue)
    assert stored(store, first.article_id).text == STORY  # nothing stored


def _article(row: sa.Row) -> Article:  # type: ignore[type-arg]
    """The stored article as recording takes it."""
    return Article(
        row.url,
        row.canonical_url,
        row.title,
        row.text,
        row.site,
        row.source,
        language=row.language,
        published=row.published_at,
        text_hash=row.text_hash,
    )


def test_earlier_alerts_are_read_with_the_text_they_were_made_on(
    store: Store, store_url: str
) -> None:
    box = outbox(store, store_url)
    first = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    assert first.alert_ids and first.story_id is not None
    row = stored(store, first.article_id)
    desk = StoryDesk(StoriesConfig(update_gap=0.001))  # its first alert was just made
    article = replace(_article(row), text=DEVELOPED, text_hash="developed")
    again = record_article(store, desk, row.entry_id, article, matched(DEVELOPED), box.enqueue)
    with store.transaction() as tx:
        prior = tx.prior_alerts("security-guarantees", first.story_id)
    with store.engine.connect() as conn:
        made = dict(conn.execute(sa.select(alerts.c.id, alerts.c.created_at)).tuples().all())
    assert prior[0].text == STORY  # not the article's text now
    assert prior[0].published_at == row.published_at
    assert again.alert_ids  # Britain and France: an update
    assert [a.id for a in prior[1:]] == list(again.alert_ids)
    for alert in prior[1:]:
        assert alert.text == DEVELOPED
        assert alert.published_at == made[alert.id]  # of when it was made


def test_a_page_not_read_again_keeps_its_text_not_the_feeds_summary(
    store: Store, store_url: str
) -> None:
    """A page that could not be fetched again (a time-out, an extraction problem) leaves
    the feed's summary standing in for it: that must not replace the page's text."""
    box = outbox(store, store_url)
    first = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    row = stored(store, first.article_id)
    assert row.source == "page"
    summary = "Senate ratifies security guarantees for Kyiv. 41 comments"
    fallback = replace(_article(row), text=summary, text_hash="summary", source="summary")
    desk = StoryDesk(StoriesConfig(update_gap=0.001))
    again = record_article(store, desk, row.entry_id, fallback, matched(summary), box.enqueue)
    assert again.alert_ids == ()
    kept = stored(store, first.article_id)
    assert (kept.text, kept.revision, kept.source) == (STORY, 0, "page")
    assert kinds(store, first.article_id)[-1] == "unchanged"


RESTATED = (
    "Envoy Ruth Calloway said allies offered Kyiv security guarantees on Friday in a draft "
    "accord reached in Geneva. The text names Article 5 and a verification mission of 67 "
    "observers, and Senate leaders would see it next week."
)


def test_a_restatement_revised_with_held_news_leaves_that_news_new(
    store: Store, store_url: str
) -> None:
    """An article that restated the story ("no update"), then read again with a
    development held for the update gap: the development stays new for the next
    write-up (what the article said when it made no alert is what counts as known)."""
    box = outbox(store, store_url)
    first = record(store, box, "https://harbour.example/a", "Harbour Gazette", STORY)
    second = record(store, box, "https://coast.example/b", "Coast", RESTATED)
    assert first.alert_ids and not second.alert_ids
    assert "no update" in kinds(store, second.article_id)
    row = stored(store, second.article_id)
    held = StoryDesk(StoriesConfig(update_gap=86400.0))
    article = replace(_article(row), text=DEVELOPED, text_hash="developed")
    again = record_article(store, held, row.entry_id, article, matched(DEVELOPED), box.enqueue)
    assert again.alert_ids == ()
    assert kinds(store, second.article_id)[-1] == "update held"
    url = "https://bay.example/c"
    [item] = _pending(store, [Entry(url, url, url, DEVELOPED.split(".")[0], "")], url)
    third = replace(_article(row), url=url, canonical_url=url, text_hash="third")
    third = replace(third, title=item.entry.title, site="Bay Times")
    after_gap = StoryDesk(StoriesConfig(update_gap=0.001))
    made = record_article(store, after_gap, item.id, third, matched(DEVELOPED), box.enqueue)
    assert made.alert_ids  # Britain and France: still news
