"""Feed parsing: RSS 2.0, Atom 1.0 and RSS 1.0 bodies (tests/data/feeds) into entries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from monitors.config import FetchConfig
from monitors.errors import FeedError
from monitors.ingest.feeds import ParsedFeed, clean_text, parse_feed
from monitors.ingest.fetch import Fetcher
from monitors.models import Entry, FetchResult
from tests.conftest import DATA
from tests.httpserver import LoopbackServer

FEEDS = DATA / "feeds"
LOOPBACK = FetchConfig(allow_private_networks="127.0.0.1/32", timeout=5)


def parse(name: str, url: str, content_type: str | None = None, **kw: int) -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), url, content_type, **kw)


def by_title(feed: ParsedFeed) -> dict[str, Entry]:
    return {e.title: e for e in feed.entries}


def fetch(url: str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(LOOPBACK) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- RSS 2.0 --------------------------------------------------------------------------

RSS_URL = "https://news.example.org/feeds/world.rss"


@pytest.fixture(scope="module")
def rss() -> ParsedFeed:
    return parse("rss2.xml", RSS_URL, "application/rss+xml")


def test_rss2_title_and_usable_entries(rss: ParsedFeed) -> None:
    assert rss.title == "Harbour Gazette \u2013 World"
    assert rss.bozo is None
    assert [e.title for e in rss.entries] == [
        "Ministers meet in Vienna over grain corridor",
        "Port strike ends after 11 days",
        "Floods close mountain pass",
        "Court rules on fishing quotas",
        "Exclusive: Talks & tensions at the summit",
        "Schedule: the week ahead",
    ]


def test_rss2_guid_is_the_key_and_the_link_is_canonicalised(rss: ParsedFeed) -> None:
    grain = by_title(rss)["Ministers meet in Vienna over grain corridor"]
    assert grain.key == "hg-world-20417"
    assert grain.url == (
        "https://news.example.org/world/2026/11/grain-corridor?utm_source=rss&utm_medium=feed"
    )
    assert grain.canonical_url == "https://news.example.org/world/2026/11/grain-corridor"
    assert grain.summary == "Talks on the Black Sea grain corridor resumed on Saturday."


def test_rss2_without_guid_the_canonical_link_is_the_key(rss: ParsedFeed) -> None:
    strike = by_title(rss)["Port strike ends after 11 days"]
    assert strike.url.startswith("https://News.Example.org:443/world/2026/11/port-strike?")
    assert strike.canonical_url == "https://news.example.org/world/2026/11/port-strike?page=2"
    assert strike.key == strike.canonical_url


def test_rss2_relative_link_is_resolved_against_the_feed_url(rss: ParsedFeed) -> None:
    floods = by_title(rss)["Floods close mountain pass"]
    assert floods.url == "https://news.example.org/world/2026/11/floods-pass.html"
    assert floods.key == "hg-world-20419"


def test_rss2_permalink_guid_alone_gives_the_link(rss: ParsedFeed) -> None:
    quotas = by_title(rss)["Court rules on fishing quotas"]
    assert quotas.url == "https://news.example.org/world/2026/11/fishing-quotas"
    assert quotas.key == quotas.url == quotas.canonical_url


def test_rss2_entries_without_an_http_link_are_skipped_with_a_reason(rss: ParsedFeed) -> None:
    assert rss.skipped == (
        "item 'Share this story' has no http(s) link",
        "item 'Archived bulletin' has no http(s) link",
        'item "Editor\'s note without a link" has no http(s) link',
    )
    urls = [e.url for e in rss.entries]
    assert not [u for u in urls if not u.startswith("https://")]


def test_rss2_html_in_title_and_summary_becomes_plain_text(rss: ParsedFeed) -> None:
    summit = by_title(rss)["Exclusive: Talks & tensions at the summit"]
    assert summit.summary == (
        "Leaders met in Geneva \u2014 the first meeting since March. "
        "Aides said \u201cprogress\u201d was made\u2026"
    )
    assert "<" not in summit.summary and "&" not in summit.summary


def test_rss2_dates_are_aware_utc(rss: ParsedFeed) -> None:
    dates = {e.title: e.published for e in rss.entries}
    assert dates["Ministers meet in Vienna over grain corridor"] == utc(2026, 11, 21, 13, 30)
    assert dates["Port strike ends after 11 days"] == utc(2026, 11, 21, 9, 5)
    # dc:date with a -05:00 offset
    assert dates["Exclusive: Talks & tensions at the summit"] == utc(2026, 11, 20, 21, 45)
    for when in dates.values():
        assert when is None or when.utcoffset() == UTC.utcoffset(None)


def test_rss2_far_future_date_is_dropped(rss: ParsedFeed) -> None:
    assert by_title(rss)["Schedule: the week ahead"].published is None


def test_max_items_cap_leaves_a_reason() -> None:
    feed = parse("rss2.xml", RSS_URL, max_items=2)
    assert [e.key for e in feed.entries] == [
        "hg-world-20417",
        "https://news.example.org/world/2026/11/port-strike?page=2",
    ]
    assert feed.skipped == ("7 items past the cap of 2",)


def test_max_items_cap_counts_skipped_items_too() -> None:
    feed = parse("rss2.xml", RSS_URL, max_items=8)
    assert len(feed.entries) == 6
    assert feed.skipped[-1] == "1 items past the cap of 8"
    assert len(feed.skipped) == 3  # two link-less items before the cap, then the cap


# -- Atom 1.0 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def atom() -> ParsedFeed:
    return parse("atom.xml", "https://courier.example.net/atom.xml", "application/atom+xml")


def test_atom_entries(atom: ParsedFeed) -> None:
    assert atom.title == "Coastline Courier"
    assert atom.skipped == ()
    assert [(e.key, e.url) for e in atom.entries] == [
        (
            "tag:courier.example.net,2026:entry-881",
            "https://courier.example.net/2026/11/lighthouse",
        ),
        (
            "tag:courier.example.net,2026:entry-882",
            "https://courier.example.net/2026/11/ferry-timetable",
        ),
        (
            "tag:courier.example.net,2026:entry-883",
            "https://courier.example.net/2026/11/sea-wall?mc_cid=4f2a9c&mc_eid=77aa01",
        ),
    ]
    assert atom.entries[2].canonical_url == "https://courier.example.net/2026/11/sea-wall"


def test_atom_html_and_xhtml_text_is_plain(atom: ParsedFeed) -> None:
    lighthouse, _, sea_wall = atom.entries
    assert lighthouse.title == "Lighthouse restored after storm"
    assert lighthouse.summary == "Volunteers & engineers finished the work on Friday."
    assert sea_wall.title == "Council votes yes on sea wall"
    assert sea_wall.summary == "The vote was 9 to 4."


def test_atom_published_else_updated(atom: ParsedFeed) -> None:
    lighthouse, ferry, _ = atom.entries
    assert lighthouse.published == utc(2026, 11, 21, 6, 30)  # published, +02:00
    assert ferry.published == utc(2026, 11, 20, 17, 15)  # only <updated>


# -- RSS 1.0 / RDF -------------------------------------------------------------------


def test_rdf_entries() -> None:
    feed = parse("rdf.xml", "https://valley.example.com/rss")
    assert feed.title == "Valley Herald"
    bridge, budget = feed.entries
    assert bridge.title == "Old bridge reopens to traffic"
    assert bridge.url == "https://valley.example.com/news/bridge-reopens"
    assert bridge.published == utc(2026, 11, 19, 6, 0)
    assert budget.canonical_url == "https://valley.example.com/news/school-budget?ref=home"
    assert budget.key == "https://valley.example.com/news/school-budget"  # rdf:about
    assert budget.summary == "The district adds two teachers."


# -- malformed and misdeclared feeds --------------------------------------------------


def test_bozo_feed_still_yields_its_entries() -> None:
    feed = parse("bozo.xml", "https://quayside.example.com/rss")
    assert feed.bozo and "undefined entity" in feed.bozo
    assert [(e.key, e.title) for e in feed.entries] == [
        ("qd-501", "Market hall to close for repairs"),
        ("qd-502", "Fish & chips shop wins award"),
        ("qd-503", "Tram line extension approved"),
    ]
    assert feed.entries[0].summary == "The hall will close in January for six weeks."
    assert feed.entries[2].url == "https://quayside.example.com/news/tram-line"


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
def test_legacy_encodings_declared_in_the_prolog(content_type: str | None) -> None:
    russian = parse("cp1251.xml", "https://vestnik.example.ru/rss", content_type)
    assert russian.title == "Вечерний вестник"
    assert [e.title for e in russian.entries] == ["Мэрия открыла новый мост через реку"]
    assert russian.entries[0].summary == "Движение по мосту начнётся в понедельник."
    greek = parse("iso-8859-7.xml", "https://nea.example.gr/rss", content_type)
    assert greek.title == "Νέα της Ημέρας"
    assert [e.title for e in greek.entries] == ["Νέο λιμάνι στη Θεσσαλονίκη"]
    assert greek.entries[0].published == utc(2026, 11, 21, 9, 0)


def test_legacy_encodings_fetched_from_a_server() -> None:
    with LoopbackServer() as server:
        server.serve_dir("/feeds", FEEDS)
        greek_body = (FEEDS / "iso-8859-7.xml").read_bytes()
        server.add("/plain.xml", greek_body, headers={"Content-Type": "text/xml"})
        ru = fetch(server.url("/feeds/cp1251.xml"))
        el = fetch(server.url("/plain.xml"))
    assert ru.content_type and "xml" in ru.content_type
    russian = parse_feed(ru.body, ru.url, ru.content_type)
    greek = parse_feed(el.body, el.url, el.content_type)
    assert russian.entries[0].title == "Мэрия открыла новый мост через реку"
    assert greek.entries[0].title == "Νέο λιμάνι στη Θεσσαλονίκη"


def test_html_page_served_as_a_feed() -> None:
    with LoopbackServer() as server:
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        server.add("/feeds/world.rss", (FEEDS / "page.html").read_bytes(), headers=html_type)
        page = fetch(server.url("/feeds/world.rss"))
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(page.body, page.url, page.content_type)
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(page.body, page.url)  # no content type: the body alone says so


@pytest.mark.parametrize("body", [b"", b"  \n\t "])
def test_empty_body_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty"):
        parse_feed(body, RSS_URL, "application/rss+xml")


def test_text_that_is_no_feed_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="not an RSS/Atom feed"):
        parse_feed(b"Service temporarily unavailable", RSS_URL, "text/plain")


def test_feed_without_items() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(body, RSS_URL, "application/rss+xml") == ParsedFeed("Quiet", ())


# -- clean_text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<p>Kyiv talks</p><p>Allies meet</p>", "Kyiv talks Allies meet"),
        ("first line<br>second line", "first line second line"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("<b>Ex</b>clusive: <i>now</i>", "Exclusive: now"),
        ("Tom &amp; Jerry &eacute;t&eacute; &#8220;q&#8221;", "Tom & Jerry été \u201cq\u201d"),
        ("  spaced\n\tout\u00a0text ", "spaced out text"),
        ("a < b and c > d", "a < b and c > d"),
        ("", ""),
    ],
)
def test_clean_text(value: str, expected: str) -> None:
    assert clean_text(value) == expected


def test_an_empty_link_is_not_the_feed_itself() -> None:
    body = (
        b'<rss version="2.0"><channel><title>x</title>'
        b"<item><title>t</title><link></link></item></channel></rss>"
    )
    parsed = parse_feed(body, "https://example.com/news/feed.xml")
    assert parsed.entries == () and parsed.skipped == ("item 't' has no http(s) link",)


TWO_ITEMS = (
    b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>T</title>\n'
    b"<item><title>A</title><link>https://x.example/a</link></item>\n"
    b"<item><title>B</title><link>https://x.example/b</link></item>\n"
    b"</channel></rss>\n"
)


def test_a_body_that_breaks_off_says_items_past_it_may_be_missing() -> None:
    in_cdata = TWO_ITEMS.replace(b"</item>\n<item>", b"<description><![CDATA[Cut", 1)
    in_cdata = in_cdata[: in_cdata.index(b"Cut") + 3]
    assert parse_feed(in_cdata, "https://x.example/f").skipped[-1].startswith("the body breaks")
    cut = TWO_ITEMS[: TWO_ITEMS.index(b"<item><title>B")]
    parsed = parse_feed(cut, "https://x.example/feed")
    assert [e.title for e in parsed.entries] == ["A"]  # what it holds is still read
    assert parsed.skipped == (
        "the body breaks off at line 4, column 0: items past it may be missing",
    )


@pytest.mark.parametrize(
    "body",
    [
        TWO_ITEMS,
        b"\n  " + TWO_ITEMS,  # a declaration after whitespace: not well-formed, not cut
        TWO_ITEMS.replace(b"<title>A", b"<title>A &nbsp;"),  # an undefined entity
    ],
)
def test_a_whole_body_however_malformed_says_nothing_is_missing(body: bytes) -> None:
    parsed = parse_feed(body, "https://x.example/feed")
    assert len(parsed.entries) == 2 and parsed.skipped == ()
