"""The fast feed parser: taken for well-formed RSS/Atom, left for feedparser otherwise,
and always the same ParsedFeed as feedparser's."""

from __future__ import annotations

import pytest

from monitors.ingest import fastfeed
from monitors.ingest.feeds import ParsedFeed, parse_feed
from tests.conftest import DATA

FEEDS = DATA / "feeds"
URL = "https://news.example.com/feed.xml"
RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:media="http://search.yahoo.com/mrss/"'
    ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
    "<channel><title>Wire</title><ttl>15</ttl>{channel}{items}</channel></rss>"
)
ATOM = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Wire</title>{items}</feed>"
)


def rss(*items: str, channel: str = "") -> bytes:
    return RSS.format(channel=channel, items="".join(f"<item>{i}</item>" for i in items)).encode()


def atom(*entries: str) -> bytes:
    return ATOM.format(items="".join(f"<entry>{e}</entry>" for e in entries)).encode()


def both(body: bytes, content_type: str | None = "application/rss+xml") -> ParsedFeed:
    """parse_feed's result, after checking the fast path takes the body and agrees."""
    assert fastfeed.parse(body, URL, content_type) is not None
    fast = parse_feed(body, URL, content_type)
    assert fast == parse_feed(body, URL, content_type, fast=False)
    return fast


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ((FEEDS / "rss2.xml").read_bytes(), "application/rss+xml"),
        ((FEEDS / "rdf.xml").read_bytes(), None),
        (
            atom('<title>A</title><link href="https://a.example/1"/><id>1</id>'),
            "application/atom+xml",
        ),
    ],
    ids=["rss2", "rdf", "atom"],
)
def test_fast_path_taken_for_plain_feeds(body: bytes, content_type: str | None) -> None:
    feed = both(body, content_type)
    assert feed.entries


def test_atom_with_xhtml_content_is_left_to_feedparser() -> None:
    body = (FEEDS / "atom.xml").read_bytes()
    assert fastfeed.parse(body, URL, "application/atom+xml") is None
    assert parse_feed(body, URL, "application/atom+xml").entries


@pytest.mark.parametrize(
    "body",
    [
        rss("<title>A</title><link>https://a.example/1</link>").replace(b"</rss>", b""),
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "b">]>'
        + rss("<title>&a;</title><link>https://a.example/1</link>").split(b"\n", 1)[1],
        rss('<title xml:base="https://b.example/">A</title><link>1</link>'),
        atom(
            '<title>A</title><link href="https://a.example/1"/><id>x</id>'
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">B</div></content>'
        ),
        b'<?xml version="1.0"?><feed xmlns="http://purl.org/atom/ns#"><title>0.3</title></feed>',
        rss("<title>A</title><link>https://a.example/1</link><source url='s'>S</source>"),
    ],
    ids=["ill-formed", "doctype", "xml-base", "xhtml", "atom-0.3", "source"],
)
def test_fallback_to_feedparser(body: bytes) -> None:
    assert fastfeed.parse(body, URL, "application/rss+xml") is None
    feed = parse_feed(body, URL, "application/rss+xml")
    assert feed == parse_feed(body, URL, "application/rss+xml", fast=False)
    assert feed.title


def test_encoding_disagreement_falls_back() -> None:
    body = rss("<title>Café</title><link>https://a.example/1</link>")
    assert fastfeed.parse(body, URL, "application/rss+xml; charset=iso-8859-1") is not None
    assert fastfeed.parse(body.replace(b"utf-8", b"us-ascii"), URL, None) is None


def test_guid_and_link() -> None:
    feed = both(
        rss(
            "<title>Link and guid</title><link>https://a.example/1</link><guid>g-1</guid>",
            "<title>Permalink guid</title><guid>https://a.example/2</guid>",
            '<title>Not a permalink</title><guid isPermaLink="false">https://a.example/3</guid>',
            "<title>Relative</title><link>/4?a=1&amp;amp;b=2</link>",
            "<title>Permalink first</title><guid>https://a.example/g5</guid>"
            "<link>https://a.example/5</link>",
        )
    )
    urls = {e.title: (e.url, e.key) for e in feed.entries}
    assert urls["Link and guid"] == ("https://a.example/1", "https://news.example.com/g-1")
    assert urls["Permalink guid"] == ("https://a.example/2", "https://a.example/2")
    assert urls["Relative"][0] == "https://news.example.com/4?a=1&b=2"
    assert urls["Permalink first"][0] == "https://a.example/5"
    assert "Not a permalink" not in urls
    assert len(feed.skipped) == 1


def test_atom_links_and_ids() -> None:
    feed = both(
        atom(
            '<title>Default rel</title><link href="https://a.example/1"/><id>tag:a,1</id>',
            '<title>Alternate last</title><link rel="enclosure" href="https://a.example/x.mp3"/>'
            '<link rel="alternate" type="text/html" href="/2"/><id>tag:a,2</id>',
            "<title>Id only</title><id>https://a.example/3</id>",
        ),
        "application/atom+xml",
    )
    assert [(e.url, e.key) for e in feed.entries] == [
        ("https://a.example/1", "tag:a,1"),
        ("https://news.example.com/2", "tag:a,2"),
        ("https://a.example/3", "https://a.example/3"),
    ]


def test_dates() -> None:
    feed = both(
        rss(
            "<title>pubDate</title><link>https://a.example/1</link>"
            "<pubDate>Tue, 03 Jun 2025 09:39:21 GMT</pubDate>",
            "<title>dc:date</title><link>https://a.example/2</link>"
            "<dc:date>2025-06-03T09:39:21+02:00</dc:date>",
            "<title>empty pubDate last</title><link>https://a.example/3</link>"
            "<pubDate>Tue, 03 Jun 2025 09:39:21 GMT</pubDate><pubDate></pubDate>"
            "<dc:date>2025-06-01T00:00:00Z</dc:date>",
            "<title>bad</title><link>https://a.example/4</link><pubDate>soon</pubDate>",
        )
    )
    dates = {e.title: e.published for e in feed.entries}
    assert dates["pubDate"] is not None and dates["bad"] is None
    assert dates["dc:date"] is not None and dates["dc:date"].hour == 7
    assert dates["empty pubDate last"] is not None and dates["empty pubDate last"].day == 1


def test_summaries() -> None:
    feed = both(
        rss(
            "<title>Description</title><link>https://a.example/1</link>"
            "<description><![CDATA[<p>One</p>]]></description>",
            "<title>Content only</title><link>https://a.example/2</link>"
            "<content:encoded>&lt;p&gt;Two&lt;/p&gt;</content:encoded>",
            "<title>Content first</title><link>https://a.example/3</link>"
            "<content:encoded>Full</content:encoded><description>Short</description>",
            "<title>Two summaries</title><link>https://a.example/4</link>"
            "<description>First</description><itunes:summary>Second</itunes:summary>",
            channel="<description>About</description>",
        )
    )
    summaries = {e.title: e.summary for e in feed.entries}
    assert summaries == {
        "Description": "One",
        "Content only": "Two",
        "Content first": "Short",
        "Two summaries": "First",
    }


def test_titles() -> None:
    feed = both(
        rss(
            "<title>Tom &amp; Jerry</title><link>https://a.example/1</link>"
            "<media:content url='https://a.example/v'><media:title>Clip</media:title></media:content>",
            "<dc:title>Dublin</dc:title><link>https://a.example/2</link>",
            "<title><![CDATA[<b>Bold</b> move]]></title><link>https://a.example/3</link>",
            "<title>CafÃ© au lait</title><link>https://a.example/4</link>",
            "<title>\u0096 dash</title><link>https://a.example/5</link>",
        )
    )
    titles = ["Tom & Jerry", "Dublin", "Bold move", "Café au lait", "– dash"]
    assert [e.title for e in feed.entries] == titles
    assert feed.title == "Wire" and feed.ttl == 900


def test_atom_text_constructs() -> None:
    feed = both(
        atom(
            '<title type="html">A &lt;em&gt;B&lt;/em&gt;</title><link href="https://a.example/1"/>'
            '<id>1</id><summary>Sum</summary><content type="html">&lt;p&gt;Body&lt;/p&gt;</content>'
            "<updated>2025-06-03T09:39:21Z</updated><published>2025-06-02T09:39:21Z</published>",
            '<title>C</title><link href="https://a.example/2"/><id>2</id>'
            '<content type="html">Body only</content><updated>2025-06-03T09:39:21Z</updated>',
        ),
        "application/atom+xml",
    )
    assert [(e.title, e.summary, e.published and e.published.day) for e in feed.entries] == [
        ("A B", "Sum", 2),
        ("C", "Body only", 3),
    ]


def test_feed_links() -> None:
    channel = (
        '<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="https://hub.example/"/>'
        '<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="/feed.xml"/>'
        "<image><title>Logo</title><url>https://a.example/l.png</url><link>https://a.example/</link></image>"
    )
    feed = both(rss("<title>A</title><link>https://a.example/1</link>", channel=channel))
    assert feed.title == "Wire"
    assert feed.links == (("hub", "https://hub.example/"), ("self", URL))


def test_feed_title_among_title_and_dc_title() -> None:
    item = "<item><title>A</title><link>https://a.example/1</link></item>"

    def feed(titles: str) -> bytes:
        return RSS.replace("<title>Wire</title>", titles).format(channel="", items=item).encode()

    assert both(feed("<title>Wire</title><dc:title>Dc</dc:title>")).title == "Wire"
    assert both(feed("<dc:title>Dc</dc:title><title>Wire</title>")).title == "Dc"
    assert both(feed("<title></title><dc:title>Dc</dc:title>")).title == "Dc"
