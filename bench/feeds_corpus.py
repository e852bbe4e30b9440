"""Real feeds and article pages from ../shared/corpora, prepared for a loopback server.

`feed_files` picks the feed documents; `LinkRewriter` copies a feed's bytes with
every item's article link pointing at a loopback page; `load_pages` reads the
article pages those links are served from.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

FEED_FOLDERS = (
    "rss-parser-fixtures",
    "feed-rs-fixtures",
    "feedjira-sample-feeds",
    "miniflux-testdata",
    "prof18-rss-parser-fixtures",
)
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
PAGES_FOLDER = "scrapinghub-article-extraction-benchmark/html"

# Ten well-known news outlets, with the charsets that make feeds hard.
WELL_KNOWN = (
    ("The Guardian (US)", "rss-parser-fixtures/test/input/guardian.rss"),
    ("heise developer (Atom)", "rss-parser-fixtures/test/input/heise.atom"),
    ("heise online (RDF)", "miniflux-testdata/internal/reader/parser/testdata/rdf_UTF8.xml"),
    (
        "Golem.de (ISO-8859-1)",
        "miniflux-testdata/internal/reader/parser/testdata/encoding_ISO-8859-1.xml",
    ),
    ("Der Spiegel", "feed-rs-fixtures/feed-rs/fixture/rss2/rss_2.0_spiegel.xml"),
    ("TechCrunch", "feedjira-sample-feeds/spec/sample_feeds/TechCrunch.xml"),
    ("BBC News Urdu", "miniflux-testdata/internal/reader/parser/testdata/urdu_UTF8.xml"),
    (
        "iBash.org.ru (windows-1251)",
        "miniflux-testdata/internal/reader/parser/testdata/encoding_WINDOWS-1251.xml",
    ),
    (
        "Liberal.gr (ISO-8859-7)",
        "prof18-rss-parser-fixtures/rssparser/src/commonTest/resources/feed-test-greek.xml",
    ),
    ("UOL Noticias (Latin-1, no declaration)", "rss-parser-fixtures/test/input/uolNoticias.rss"),
)

_PREFIX = rb"(?:[\w.-]+:)?"
_ITEM = re.compile(rb"<(" + _PREFIX + rb"(?:item|entry))\b[^>]*>.*?</\1\s*>", re.S | re.I)
_HREF_LINK = re.compile(rb"<" + _PREFIX + rb"link\b[^>]*?\bhref\s*=\s*([\"'])(.*?)\1[^>]*>", re.S)
_TEXT_LINK = re.compile(
    rb"(<" + _PREFIX + rb"link\b(?:(?!href)[^>])*(?<!/)>)"
    rb"(\s*(?:<!\[CDATA\[.*?\]\]>|[^<]*?)\s*)"
    rb"(</" + _PREFIX + rb"link\s*>)",
    re.S,
)
_PERMALINK_GUID = re.compile(
    rb"(<" + _PREFIX + rb"guid\b[^>]*\bisPermaLink\s*=\s*[\"']true[\"'][^>]*>)(.*?)"
    rb"(</" + _PREFIX + rb"guid\s*>)",
    re.S | re.I,
)
_URL_ID = re.compile(
    rb"(<" + _PREFIX + rb"(?:guid|id)\b(?![^>]*\bisPermaLink\s*=\s*[\"']false)[^>]*>)"
    rb"(\s*(?:<!\[CDATA\[)?\s*https?://[^<\]]*?\s*(?:\]\]>)?\s*)"
    rb"(</" + _PREFIX + rb"(?:guid|id)\s*>)",
    re.S | re.I,
)
_REL = re.compile(rb"\brel\s*=\s*[\"']([^\"']*)[\"']")
_CDATA = re.compile(rb"^<!\[CDATA\[(.*)\]\]>$", re.S)
_FEED_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml\b|<rss\b|<feed\b|<rdf:RDF\b|<(?:[\w-]+:)?RDF\b)", re.I
)


@dataclass(frozen=True)
class FeedFile:
    """One feed document: a display name, its file, and its path under the corpora folder."""

    name: str
    path: Path
    relative: str

    @property
    def content_type(self) -> str:
        """A Content-Type from the root element, with no charset (the bytes declare it)."""
        head = self.path.read_bytes()[:4096]
        if re.search(rb"<rss\b", head):
            return "application/rss+xml"
        if re.search(rb"<(?:[\w-]+:)?feed\b", head):
            return "application/atom+xml"
        if re.search(rb"<(?:[\w-]+:)?RDF\b", head):
            return "application/rdf+xml"
        return "application/xml"


def well_known_feeds(corpora: Path, count: int) -> list[FeedFile]:
    """The first `count` of the well-known news feeds; ValueError if a file is missing."""
    if not 1 <= count <= len(WELL_KNOWN):
        raise ValueError(f"--feeds takes 1 to {len(WELL_KNOWN)}")
    picked = []
    for name, relative in WELL_KNOWN[:count]:
        path = corpora / relative
        if not path.is_file():
            raise ValueError(f"missing feed file {path}")
        picked.append(FeedFile(name, path, relative))
    return picked


def all_feeds(corpora: Path) -> list[FeedFile]:
    """Every feed-like file in the real-feed folders, in path order."""
    found = []
    for folder in FEED_FOLDERS:
        for path in sorted((corpora / folder).rglob("*")):
            if path.is_file() and looks_like_feed(path):
                relative = path.relative_to(corpora).as_posix()
                found.append(FeedFile(relative, path, relative))
    return found


def looks_like_feed(path: Path) -> bool:
    """A feed suffix, or content that starts like an XML feed."""
    if path.suffix.lower() in FEED_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return bool(_FEED_START.match(handle.read(512)))


def load_pages(corpora: Path) -> list[bytes]:
    """The article pages of the extraction benchmark, decompressed, in file-name order."""
    files = sorted((corpora / PAGES_FOLDER).glob("*.html.gz"))
    if not files:
        raise ValueError(f"no *.html.gz pages in {corpora / PAGES_FOLDER}")
    return [gzip.decompress(f.read_bytes()) for f in files]


class LinkRewriter:
    """Points each item's article links at `{base}/page/<n>.html`, keeping every other byte.

    Within each <item>/<entry>, RSS `<link>URL</link>`, Atom `<link href>` (no rel or
    rel="alternate") and `<guid isPermaLink="true">` are rewritten. An item with none of
    these has its URL-valued `<guid>` (permalink by default) or Atom `<id>` rewritten
    instead, as feed readers take that for the link. The same original link gets the
    same page number in every feed, so cross-feed copies stay copies.
    """

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.numbers: dict[bytes, int] = {}
        self.rewritten = 0
        self.from_ids = 0

    def rewrite(self, body: bytes) -> bytes:
        """A copy of a feed's bytes with its items' links rewritten."""
        return _ITEM.sub(self._item, body)

    def page_url(self, number: int) -> str:
        """The loopback URL of page `number`."""
        return f"{self.base}/page/{number}.html"

    def _item(self, match: re.Match[bytes]) -> bytes:
        block = match.group(0)
        original = _first_link(block)
        if original is not None:
            out, changed = _rewrite_links(block, self._url_for(original))
        else:
            found = _URL_ID.search(block)
            if found is None:
                return block
            url = self._url_for(_unwrap(found.group(2)))
            out, changed = _URL_ID.sub(lambda m: m.group(1) + url + m.group(3), block, 1), 1
            self.from_ids += 1
        self.rewritten += changed
        return out

    def _url_for(self, original: bytes) -> bytes:
        number = self.numbers.setdefault(original, len(self.numbers))
        return self.page_url(number).encode("ascii")


def _first_link(block: bytes) -> bytes | None:
    """The item's first article link as written, or None."""
    candidates: list[tuple[int, bytes]] = []
    for m in _HREF_LINK.finditer(block):
        if _is_alternate(m.group(0)):
            candidates.append((m.start(), m.group(2).strip()))
    for m in _TEXT_LINK.finditer(block):
        candidates.append((m.start(), _unwrap(m.group(2))))
    for m in _PERMALINK_GUID.finditer(block):
        candidates.append((m.start(), _unwrap(m.group(2))))
    links = [link for _, link in sorted(candidates) if link]
    return links[0] if links else None


def _rewrite_links(block: bytes, url: bytes) -> tuple[bytes, int]:
    """The block with every article link replaced by `url`, and how many were replaced."""
    count = 0

    def href(m: re.Match[bytes]) -> bytes:
        nonlocal count
        if not _is_alternate(m.group(0)) or not m.group(2).strip():
            return m.group(0)
        count += 1
        tag, start, end = m.group(0), m.start(2) - m.start(0), m.end(2) - m.start(0)
        return tag[:start] + url + tag[end:]

    def text(m: re.Match[bytes]) -> bytes:
        nonlocal count
        if not _unwrap(m.group(2)):
            return m.group(0)
        count += 1
        return m.group(1) + url + m.group(3)

    block = _HREF_LINK.sub(href, block)
    block = _TEXT_LINK.sub(text, block)
    block = _PERMALINK_GUID.sub(text, block)
    return block, count


def _is_alternate(tag: bytes) -> bool:
    rel = _REL.search(tag)
    return rel is None or rel.group(1).strip().lower() in (b"", b"alternate")


def _unwrap(value: bytes) -> bytes:
    value = value.strip()
    cdata = _CDATA.match(value)
    return (cdata.group(1) if cdata else value).strip()
