"""Article extraction: the story's paragraphs without the page's chrome, else the summary."""

from __future__ import annotations

import pytest

from monitors.config import ExtractConfig
from monitors.extract import extract_article, page_text, text_hash
from monitors.extract.page import without_links_out
from monitors.ingest.urls import canonical_url
from monitors.models import Entry
from tests.conftest import DATA

MIN_CHARS = ExtractConfig().min_chars

PAGES = DATA / "pages"
FERRY_URL = "https://www.nordkueste.example.de/inseln/neue-faehre?utm_source=rss"


def entry(url: str, title: str = "", summary: str = "") -> Entry:
    return Entry(key=url, url=url, canonical_url=canonical_url(url), title=title, summary=summary)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


FERRY = entry(
    FERRY_URL,
    "Neue Fähre verbindet die Inseln",
    "Eine Elektrofähre fährt seit Samstag zwischen Festland und Inseln.",
)


def test_heavy_chrome_page_gives_the_article_paragraphs_only() -> None:
    article = extract_article(page("chrome.html"), FERRY, FERRY_URL, MIN_CHARS)
    assert article.source == "page"
    paragraphs = article.text.split("\n")
    assert paragraphs == [
        "Seit Samstag verkehrt zwischen dem Festland und den drei nördlichen Inseln eine neue "
        "Elektrofähre, die bis zu vierhundert Fahrgäste und sechzig Autos aufnehmen kann.",
        "Die Reederei teilte mit, die Überfahrt dauere nun nur noch fünfundzwanzig Minuten "
        "statt wie bisher fast einer Stunde. Die Batterien werden im Hafen während des "
        "Anlegens geladen.",
        "Bürgermeisterin Hanna Petersen sprach bei der Einweihung von einem Wendepunkt für die "
        "Inseln, deren Bewohner jahrelang über verspätete und überfüllte Schiffe geklagt "
        "hatten.",
        "Im kommenden Frühjahr soll eine zweite, baugleiche Fähre folgen. Die Kosten von "
        "zusammen rund achtzig Millionen Euro tragen Land und Bund gemeinsam.",
    ]
    chrome = [
        "Cookies",  # cookie banner
        "akzeptieren",
        "Startseite",  # navigation
        "Abonnieren",
        "teilen",  # share bar
        "Newsletter",  # newsletter box
        "Anmelden",
        "Kommentare",  # reactions
        "Wie finden Sie",
        "Mehr zum Thema",  # related links
        "Hafenausbau",
        "Impressum",  # footer
        "Alle Rechte vorbehalten",
        "dataLayer",  # script
        "position: fixed",  # style
    ]
    assert [c for c in chrome if c.lower() in article.text.lower()] == []


def test_page_metadata() -> None:
    article = extract_article(page("chrome.html"), FERRY, FERRY_URL, MIN_CHARS)
    assert article.site == "Nordküste Nachrichten"  # og:site_name
    assert article.language == "de"  # <html lang="de-DE">
    assert article.title == "Neue Fähre verbindet die Inseln"
    assert article.url == FERRY_URL
    assert article.canonical_url == "https://www.nordkueste.example.de/inseln/neue-faehre"
    assert article.text_hash == text_hash(article.text)


def test_site_is_the_host_without_www_when_the_page_names_none() -> None:
    url = "https://www.riverside-post.example.com/local/library"
    article = extract_article(page("no-sitename.html"), entry(url), url, MIN_CHARS)
    assert article.site == "riverside-post.example.com"
    assert article.language == "en"
    assert article.source == "page"
    assert article.title == "Library extends opening hours"  # the page's, as the entry has none
    assert "until nine in the evening" in article.text
    assert "All rights reserved" not in article.text
    assert "Contact" not in article.text


def test_a_site_name_given_as_a_url_is_its_host_and_og_title_names_the_page() -> None:
    html = page("no-sitename.html").replace(
        b"<head>",
        b'<head><meta property="og:site_name" content="https://www.newsnation.example/">'
        b'<meta property="og:title" content="Library open late">',
        1,
    )
    url = "https://www.riverside-post.example.com/local/library"
    article = extract_article(html, entry(url), url, MIN_CHARS)
    assert article.site == "newsnation.example"
    assert article.title == "Library open late"


@pytest.mark.parametrize(
    ("attribute", "declared"),
    [
        ('lang="de-DE"', "de"),
        ('lang="EN-gb"', "en"),
        ('lang="pt_BR"', "pt"),
        ('lang=" fr "', "fr"),
        ('xml:lang="uk-UA"', "uk"),
        ('lang=""', None),
        ('lang="&lt;x&gt;"', None),
        ("", None),
    ],
)
def test_language_is_the_texts_whatever_html_lang_declares(
    attribute: str, declared: str | None
) -> None:
    body = page("no-sitename.html").replace(b'<html lang="en">', f"<html {attribute}>".encode())
    url = "https://riverside-post.example.com/local/library"
    assert page_text(body, url).declared == declared
    assert extract_article(body, entry(url), url, MIN_CHARS).language == "en"


def test_thin_page_falls_back_to_the_summary() -> None:
    url = "https://www.ledger.example.com/politics/budget-vote"
    item = entry(
        url,
        "Budget vote delayed to January",
        "The council postponed its budget vote after a row over school funding.",
    )
    article = extract_article(page("thin.html"), item, url, MIN_CHARS)
    assert article.source == "summary"
    assert article.text == item.summary
    assert article.title == "Budget vote delayed to January"
    assert article.site == "The Evening Ledger"  # the page still names its site
    assert article.language == "en"
    assert article.text_hash == text_hash(item.summary)


def test_no_page_gives_the_summary() -> None:
    url = "https://www.ledger.example.com/politics/budget-vote"
    item = entry(url, "Budget vote delayed", "The council postponed its budget vote.")
    article = extract_article(None, item, url, MIN_CHARS)
    assert (article.source, article.text) == ("summary", item.summary)
    assert article.site == "ledger.example.com"
    assert article.language == "en"  # told from the headline and summary


def test_no_page_and_no_summary_hashes_the_headline() -> None:
    url = "https://www.ledger.example.com/x"
    article = extract_article(None, entry(url, "Budget vote delayed"), url, MIN_CHARS)
    assert (article.source, article.text) == ("summary", "")
    assert article.text_hash == text_hash("Budget vote delayed")


def test_not_html_at_all_gives_the_summary() -> None:
    url = "https://www.ledger.example.com/x"
    item = entry(url, "T", "A summary long enough to stand in for the page.")
    article = extract_article(b"\x00\x01\x02 binary", item, url, MIN_CHARS)
    assert (article.source, article.text) == ("summary", item.summary)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Allies offer Kyiv security guarantees.", "allies   offer\nKYIV security guarantees"),
        ("NATO-style guarantees, they said!", "nato style guarantees they said"),
        ("Ukraine’s allies", "Ukraine's allies"),
        ("Crème brûlée café", "creme brulee cafe"),
        ("  leading and trailing  ", "leading and trailing"),
    ],
)
def test_text_hash_ignores_spacing_punctuation_case_and_accents(a: str, b: str) -> None:
    assert text_hash(a) == text_hash(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Allies offer Kyiv security guarantees", "Allies offer Kyiv security assurances"),
        ("Allies offer Kyiv security guarantees", "Kyiv offer Allies security guarantees"),
        ("Allies offer Kyiv security guarantees", "Allies offer Kyiv security"),
        ("a b", "ab"),
    ],
)
def test_text_hash_differs_for_different_words(a: str, b: str) -> None:
    assert text_hash(a) != text_hash(b)


def test_the_pages_own_title_is_the_headline_over_the_feeds() -> None:
    """Another outlet's feed lists the page under a headline of its own."""
    relisted = entry(FERRY_URL, "Ferry row: islanders furious", FERRY.summary)
    article = extract_article(page("chrome.html"), relisted, FERRY_URL, MIN_CHARS)
    assert article.title == "Neue Fähre verbindet die Inseln"  # its og:title


ARTICLE = "<html><head>{head}</head><body>{h1}<article><p>{text}</p></article></body></html>"
TEXT = "The council voted to keep the library open until nine in the evening. " * 10


@pytest.mark.parametrize(
    ("head", "url", "title"),
    [
        ("<title>Library open late - BBC News</title>", "https://www.bbc.co.uk/news/1", ""),
        ("<title>Library open late | Reuters</title>", "https://www.reuters.com/x", ""),
        ("<title>Library – open late – The Guardian</title>", "https://theguardian.com/x", ""),
        (
            '<title>Library open late · Riverside Post</title><meta property="og:site_name" '
            'content="Riverside Post">',
            "http://127.0.0.1:8000/x",
            "",
        ),
        # a last part that does not name the site is the headline's
        (
            "<title>Library open late - live updates</title>",
            "https://www.reuters.com/x",
            "Library open late - live updates",
        ),
        ("<title>- Reuters</title>", "https://www.reuters.com/x", "- Reuters"),
    ],
)
def test_a_title_loses_a_trailing_site_name(head: str, url: str, title: str) -> None:
    html = ARTICLE.format(head=head, h1="", text=TEXT).encode()
    expected = title or ("Library – open late" if "–" in head else "Library open late")
    assert page_text(html, url).title == expected


@pytest.mark.parametrize(
    ("head", "h1", "title"),
    [
        (
            '<meta property="og:title" content="From og:title"><title>From title</title>',
            "",
            "From og:title",
        ),
        ("<title>From title</title>", "<h1>From h1</h1>", "From title"),
        ("", "<h1>From h1</h1>", "From h1"),
        ("", "<h1>Site logo</h1><h1>From h1</h1>", ""),  # which one? none: the feed's
    ],
)
def test_og_title_then_title_then_the_only_h1(head: str, h1: str, title: str) -> None:
    url = "https://riverside-post.example.com/local/library"
    html = ARTICLE.format(head=head, h1=h1, text=TEXT).encode()
    assert page_text(html, url).title == title
    headline = extract_article(html, entry(url, "From the feed"), url, MIN_CHARS).title
    assert headline == (title or "From the feed")


READ_ALSO_BODY = (
    "Power engineers kept restoring the grid after the overnight strikes on generation in "
    "several regions, the operator said, adding that schedules would stay in force. "
) * 3


def test_links_to_other_stories_inside_the_body_are_not_the_articles_text() -> None:
    html = f"""<html><head><title>Outage schedules stay</title></head><body><article>
    <h1>Outage schedules stay in force on Friday</h1><p>{READ_ALSO_BODY}</p>
    <p><strong>Читайте також:</strong> <a href="/a">Сенат США проголосує за гарантії</a></p>
    <p>{READ_ALSO_BODY}</p><p>Read also: <a href="/b">Putin demands Kyiv leave Donbas</a></p>
    <p>{READ_ALSO_BODY}</p></article></body></html>"""
    text = page_text(html.encode(), "https://example.com/news/1").text
    assert "Power engineers kept restoring" in text
    assert "Сенат" not in text and "Donbas" not in text and "Read also" not in text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("A.\nREAD MORE: Senate to vote on the pact\nB.", "A.\nB."),
        ("A.\n• Related stories — Putin says Kyiv must leave\nB.", "A.\nB."),
        ("A.\nЧитайте также: Песков о переговорах\nB.", "A.\nB."),
        ("A.\nПо теме: Рада ратифицировала соглашение", "A."),
        # not a marker at the start of the line, or a long line: the article's own words
        ("The related question: would the Senate vote on it?", None),
        ("Related-party deals were cleared by the board.\nRecommended-reading lists grew.", None),
        ("See also: " + "the envoy said more about the plan " * 5 + "today.", None),
        ("No links here.\nNone at all.", None),
        # a marker alone takes the short lines under it: its list of headlines
        (
            "A.\nЧитайте також:\nСенат проголосує\nПутін про Донбас\nB" + " слово" * 30,
            "A.\nB" + " слово" * 30,
        ),
        ("A.\nMOST READ ON POLITICO\n1. Senate to vote\n2. Kyiv to leave Donbas", "A."),
        ("A.\nTags: Ukraine, Senate, guarantees\nB.", "A.\nB."),
        # stripped, with a marker or without
        ("\nA, as recommended: B.\n", "A, as recommended: B."),
        (" No links here.\n", "No links here."),
    ],
)
def test_without_links_out(text: str, kept: str | None) -> None:
    assert without_links_out(text) == (text if kept is None else kept)
