"""The analysis an extraction worker sends back is the one the recording process would
compute, crosses the pipe intact, and is used only for the headline and text it was
made of."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.config import ExtractConfig
from monitors.extract import (
    Extractor,
    PageText,
    analysis,
    article_from,
    page_text,
    text_hash,
    workers,
)
from monitors.extract.analysis import analyse, features_of
from monitors.models import Analysis, Entry
from monitors.store import Store
from monitors.store.schema import decisions, stories
from tests.conftest import DATA
from tests.stories.test_story_alerts import KHARKIV, ODESA, T0, TOLL, Desk

MIN_CHARS = ExtractConfig().min_chars

PAGES = DATA / "pages"
URL = "https://news.example.com/story"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
TEXT = (
    "Ukraine's President Volodymyr Zelensky said on Tuesday that 30 European countries "
    'had offered "Article 5-like" security guarantees. The Kremlin rejected the offer.'
)


@pytest.fixture(scope="module")
def extractor() -> Iterator[Extractor]:
    pool = Extractor(ExtractConfig(workers=1, timeout=10.0))
    yield pool
    pool.close()


def assert_same(got: Analysis, expected: Analysis) -> None:
    assert (got.title, got.text, got.features) == (expected.title, expected.text, expected.features)


def test_analysis_is_what_the_recording_process_computes() -> None:
    found = analyse("Kyiv offered guarantees", TEXT)
    assert found.features_at(AT) == analysis.features("Kyiv offered guarantees", TEXT, AT)


def test_analysis_crosses_the_pipe_intact() -> None:
    import marshal

    found = analyse("Kyiv offered guarantees", TEXT)
    assert found.features.keys and found.features.marks, "the example has keys and marks"
    sent = marshal.loads(marshal.dumps(workers._plain(found)))
    assert_same(workers._from_plain(sent, TEXT), found)


def test_worker_analyses_the_page_under_its_own_title(extractor: Extractor) -> None:
    page = (PAGES / "chrome.html").read_bytes()
    found = extractor.page_text(page, URL, "Headline from the feed")
    assert found.analysis is not None and found.title == "Neue Fähre verbindet die Inseln"
    assert_same(found.analysis, analyse(found.title, page_text(page, URL).text))


def test_worker_leaves_a_copy_unanalysed(extractor: Extractor) -> None:
    """Told that a text's fingerprint is stored already, the worker gives the text only."""
    page = (PAGES / "chrome.html").read_bytes()
    asked: list[str] = []

    def analyse_new(digest: str) -> bool:
        asked.append(digest)
        return False

    found = extractor.page_text(page, URL, "Headline", analyse=analyse_new)
    assert found == page_text(page, URL) and found.analysis is None
    assert asked == [text_hash(found.text)] == [found.text_hash]
    again = extractor.page_text(page, URL, "Headline", analyse=lambda digest: True)
    assert again.analysis is not None and again.analysis.title == found.title


def test_worker_falls_back_to_the_entry_headline(extractor: Extractor) -> None:
    """A page without a title of its own is analysed under the feed entry's headline."""
    page = re.sub(
        rb"<title>.*?</title>|<h1>.*?</h1>|<meta property=\"og:title\"[^>]*>",
        b"",
        (PAGES / "chrome.html").read_bytes(),
    )
    found = extractor.page_text(page, URL, "Headline from the feed")
    assert found.title == "" and found.analysis is not None
    assert found.analysis.title == "Headline from the feed"


def test_worker_sends_no_analysis_for_a_page_without_text(extractor: Extractor) -> None:
    found = extractor.page_text(b"<html><head><title>Empty</title></head></html>", URL, "x")
    assert (found.text, found.analysis) == ("", None)


def test_article_keeps_the_analysis_of_its_own_headline_and_text() -> None:
    entry = Entry("k", URL, URL, title="Feed headline", summary="Short.")
    found = PageText(
        TEXT,
        "Kyiv offered guarantees",
        text_hash="worker's",
        analysis=analyse("Kyiv offered guarantees", TEXT),
    )
    article = article_from(found, entry, URL, MIN_CHARS)
    assert article.title == "Kyiv offered guarantees"  # the page's own, over the feed's
    assert article.analysis is found.analysis
    assert article.text_hash == "worker's"  # the worker's fingerprint of the page text


@pytest.mark.parametrize(
    "found, entry_title",
    [
        # analysed under the feed's headline, while the page has a title of its own
        (PageText(TEXT, "Page title", analysis=analyse("Feed headline", TEXT)), "Feed headline"),
        # the page gave too little: the article is the feed's summary
        (
            PageText("Too short.", "Page", analysis=analyse("Feed headline", "Too short.")),
            "Feed headline",
        ),
    ],
)
def test_article_drops_an_analysis_of_something_else(found: PageText, entry_title: str) -> None:
    entry = Entry("k", URL, URL, title=entry_title, summary=TEXT + " A longer summary.")
    article = article_from(found, entry, URL, MIN_CHARS)
    assert article.analysis is None
    assert article.text_hash == text_hash(article.text)
    assert features_of(article, AT) == analysis.features(article.title, article.text, AT)


def test_stories_and_alerts_are_the_same_with_worker_analyses(tmp_path: Path) -> None:
    """The story-alerts scenario recorded twice, with and without analyses, decides alike."""
    outcomes = []
    for analysed in (False, True):
        store = Store.open(f"sqlite:///{tmp_path / f'{analysed}.db'}")
        desk = Desk(store, analysed=analysed)
        title = "Russian missiles hit Odesa port, killing 8"
        desk.record("wire.example", title, ODESA, T0)
        desk.record("herald.example", title, [*ODESA, "By the herald desk."], T0 + HOUR)
        desk.record("wire.example", title + "; toll rises to 14", [*ODESA, TOLL], T0 + 3 * HOUR)
        desk.record("kyiv.example", "Drone strike on Kharkiv power plant", KHARKIV, T0 + 4 * HOUR)
        with store.engine.begin() as conn:
            placed = conn.execute(
                sa.select(decisions.c.article_id, decisions.c.story_id, decisions.c.kind).order_by(
                    decisions.c.id
                )
            ).all()
            told = conn.execute(sa.select(stories.c.features).order_by(stories.c.id)).all()
        outcomes.append((placed, told, [tuple(a) for a in desk.alerts()]))
        store.close()
    assert outcomes[0] == outcomes[1]
    assert len({story for _, story, _ in outcomes[1][0]}) == 2


def test_the_store_knows_the_texts_of_its_articles(store: Store) -> None:
    desk = Desk(store)
    desk.record("wire.example", "Russian missiles hit Odesa port", ODESA, T0)
    assert store.holds_text(text_hash("\n".join(ODESA)))
    assert not store.holds_text(text_hash("\n".join(KHARKIV)))
    desk.record("kyiv.example", "Drone strike on Kharkiv power plant", KHARKIV, T0 + HOUR)
    assert store.holds_text(text_hash("\n".join(KHARKIV)))  # kept up to date, not re-read
    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    assert other.holds_text(text_hash("\n".join(KHARKIV)))  # read from the store
    other.close()
