"""Where backfill candidates come from: the configured feeds and their RFC 5005 archive
pages, a file of URLs, or a news sitemap (index). Each source yields the pages it lists
(`Candidate`), each once, those dated outside the window left out; a listing that cannot
be read is yielded as `Unread`, and the source goes on. Stored articles, the fourth
source, are read from the store by the pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import lxml.etree

from monitors.backfill.request import Request, Window
from monitors.config import FeedConfig, parse_moment
from monitors.errors import FeedError, FetchError, TooLarge
from monitors.ingest import Polite, canonical_url, decode_body, parse_feed
from monitors.models import Entry

MAX_ARCHIVE_PAGES = 100
MAX_SITEMAPS = 1000
XML_ACCEPT = "application/xml,text/xml;q=0.9,*/*;q=0.5"
GZIP_MAGIC = b"\x1f\x8b"
_XML = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"


@dataclass(frozen=True)
class Candidate:
    """A page to backfill; `feed_id` is the feed its entry belongs to, if any."""

    entry: Entry
    feed_id: int | None = None


@dataclass(frozen=True)
class Unread:
    """A feed, archive or sitemap page that could not be read: its pages are missing."""

    url: str
    reason: str


async def candidates(
    request: Request,
    polite: Polite,
    feeds: Sequence[tuple[FeedConfig, int]],
    max_bytes: int,
) -> AsyncIterator[Candidate | Unread]:
    """The request's network source: its pages not known to be outside the window, each
    once (`feeds` are the chosen feeds with their ids)."""
    seen: set[str] = set()
    async for found in _source(request, polite, feeds, max_bytes):
        if isinstance(found, Candidate):
            entry = found.entry
            if entry.canonical_url in seen:
                continue
            if entry.published is not None and entry.published not in request.window:
                continue
            seen.add(entry.canonical_url)
        yield found


def _source(
    request: Request, polite: Polite, feeds: Sequence[tuple[FeedConfig, int]], max_bytes: int
) -> AsyncIterator[Candidate | Unread]:
    target = request.target or ""
    if request.source == "feeds":
        return _feed_candidates(polite, feeds, request.window)
    if request.source == "urls":
        return _plain(read_url_file(target))
    if request.source == "sitemap":
        return _sitemap_candidates(polite, target, request.window, max_bytes)
    raise ValueError(f"{request.source!r} is not a network source")


async def _feed_candidates(
    polite: Polite, feeds: Sequence[tuple[FeedConfig, int]], window: Window
) -> AsyncIterator[Candidate | Unread]:
    """Each feed's entries, then its archives' (RFC 5005), back to the window's start."""
    for feed, feed_id in feeds:
        url: str | None = feed.url
        visited: set[str] = set()
        while url and url not in visited and len(visited) < MAX_ARCHIVE_PAGES:
            visited.add(url)
            try:
                page = await polite.fetch(url, XML_ACCEPT)
                parsed = parse_feed(page.body, page.url, page.content_type)
            except (FetchError, FeedError) as exc:
                yield Unread(url, _reason(exc))
                break
            for entry in parsed.entries:
                yield Candidate(entry, feed_id)
            dates = [e.published for e in parsed.entries if e.published is not None]
            if dates and min(dates) < window.since:
                break  # archives only go further back
            url = archive_link(page.body, page.url)


async def _sitemap_candidates(
    polite: Polite, url: str, window: Window, max_bytes: int
) -> AsyncIterator[Candidate | Unread]:
    """The pages of a sitemap and of the child sitemaps an index lists (by lastmod)."""
    queue, visited = [url], set[str]()
    while queue and len(visited) < MAX_SITEMAPS:
        current = queue.pop(0)
        if current in visited:
            continue
        visited.add(current)
        try:
            page = await polite.fetch(current, XML_ACCEPT)
            pages, children = sitemap_entries(gunzipped(page.body, max_bytes))
        except (FetchError, FeedError) as exc:
            yield Unread(current, _reason(exc))
            continue
        for entry in pages:
            yield Candidate(entry)
        queue += [c for c, when in children if when is None or when >= window.since]


async def _plain(found: Iterable[Entry]) -> AsyncIterator[Candidate | Unread]:
    for entry in found:
        yield Candidate(entry)


def _reason(exc: FetchError | FeedError) -> str:
    return exc.reason if isinstance(exc, FetchError) else str(exc)


def read_url_file(path: str | Path) -> list[Entry]:
    """The URLs of a file, one a line (blank lines and `#` comments skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        url = line.strip()
        if url and not url.startswith("#"):
            out.append(Entry(key=canonical_url(url), url=url, canonical_url=canonical_url(url)))
    return out


def archive_link(body: bytes, base: str) -> str | None:
    """The RFC 5005 `prev-archive` link of a feed document, absolute, if it has one."""
    try:
        root = lxml.etree.fromstring(body, _XML)
    except lxml.etree.XMLSyntaxError:
        return None
    for link in root.iter(_ATOM_LINK, "link"):
        rels = (link.get("rel") or "").split()
        href = link.get("href")
        if "prev-archive" in rels and href:
            return urljoin(base, str(href).strip())
    return None


def sitemap_entries(body: bytes) -> tuple[list[Entry], list[tuple[str, datetime | None]]]:
    """A sitemap's pages (news title and publication date, else lastmod) and, for a
    sitemap index, its child sitemaps with their lastmod."""
    try:
        root = lxml.etree.fromstring(body, _XML)
    except lxml.etree.XMLSyntaxError as exc:
        raise FeedError(f"not a sitemap: {exc}") from None
    pages, children = [], []
    for node in root:
        name = lxml.etree.QName(node).localname if isinstance(node.tag, str) else ""
        fields = _leaf_texts(node)
        loc = fields.get("loc", "").strip()
        if not loc.startswith(("http://", "https://")):
            continue
        when = _xml_date(fields.get("publication_date") or fields.get("lastmod"))
        if name == "sitemap":
            children.append((loc, when))
        elif name == "url":
            pages.append(
                Entry(
                    canonical_url(loc),
                    loc,
                    canonical_url(loc),
                    title=fields.get("title", "").strip(),
                    published=when,
                )
            )
    return pages, children


def gunzipped(body: bytes, max_bytes: int) -> bytes:
    """A sitemap body, gunzipped when it is a .gz file (served as is, not as a
    Content-Encoding), within `max_bytes` decoded; FeedError when it is broken or too big."""
    if not body.startswith(GZIP_MAGIC):
        return body
    try:
        return decode_body("sitemap", "gzip", body, max_bytes)
    except TooLarge:
        raise FeedError(f"the gzipped sitemap holds over {max_bytes} bytes") from None
    except FetchError as exc:
        raise FeedError(f"not a gzipped sitemap: {exc.reason}") from None


def page_date(body: bytes, url: str) -> datetime | None:
    """A page's publication date from its markup (meta tags, JSON-LD, <time>, URL), UTC
    midnight of that day; None when it gives none."""
    from htmldate import find_date

    try:
        found = find_date(body, url=url, original_date=True, extensive_search=False)
    except Exception:  # a page htmldate chokes on just has no date
        return None
    if not found:
        return None
    return datetime.fromisoformat(found).replace(tzinfo=UTC)


def _leaf_texts(node: Any) -> dict[str, str]:
    """The text of each leaf under `node`, by local name (the first of each name)."""
    out: dict[str, str] = {}
    for leaf in node.iter():
        if isinstance(leaf.tag, str) and len(leaf) == 0 and leaf.text:
            out.setdefault(lxml.etree.QName(leaf).localname, leaf.text)
    return out


def _xml_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        return None
