"""Parse a fetched feed body into entries: a well-formed RSS/Atom feed with lxml
(`fastfeed`), any other with feedparser (which never fetches here).

Feeds come from anyone, so the body is bounded before feedparser sees it: at most
`max_items` items and MAX_MARKUP tags and attributes (feedparser spends ~12 µs a tag,
so a 10 MiB body of nested tags would take half a minute), and no tag with more than
MAX_ATTRIBUTES attributes (feedparser's time grows with the square of their number: a
tag of 40,000 took 15 s). Entity declarations are not
expanded (feedparser drops the DOCTYPE's; expat refuses amplification) and nothing
is read from disk or the network. Every string is freed of control characters and
lone surrogates, and keys and links are bounded, so any store can hold them.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
import lxml.html
import lxml.html.defs

from monitors.errors import FeedError
from monitors.ingest import fastfeed
from monitors.ingest.urls import canonical_url
from monitors.models import Entry
from monitors.text import safe_text

MAX_ITEMS = 1000
MAX_MARKUP = 100_000  # tags and attributes outside CDATA; real feeds have a few thousand
MAX_ATTRIBUTES = 256  # in one tag
MAX_KEY_BYTES = 512  # a longer GUID is stored as its hash
MAX_URL_BYTES = 2048  # PostgreSQL cannot index much more than 2,700 bytes
MAX_TITLE = 1000
MAX_SUMMARY = 100_000
FUTURE_SLACK = timedelta(days=1)
FEED_RELS = ("hub", "self")  # the feed-level links kept (WebSub discovery)
_SPACES = re.compile(r"\s+")
_URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_UNPARSED_START = re.compile(rb"<!\[CDATA\[|<!--")
_TAIL_WINDOW = 64 * 1024
_WIDE_TAG = re.compile(rb"<(?:[^<>=]*=){%d}" % (MAX_ATTRIBUTES + 1))
# elements that separate words in text: lxml's block tags (less <del>/<ins>), HTML5's, <br>
_BLOCKS = (lxml.html.defs.block_tags - {"del", "ins"}) | {
    "article",
    "aside",
    "br",
    "figcaption",
    "figure",
    "footer",
    "header",
    "section",
}
_HIDDEN = ("script", "style", "applet", "template")


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title, its usable entries, and why any others were skipped."""

    title: str
    entries: tuple[Entry, ...]
    skipped: tuple[str, ...] = ()
    bozo: str | None = None
    ttl: float | None = None  # RSS <ttl>, in seconds
    links: tuple[tuple[str, str], ...] = ()  # the feed's own (rel, href): hub, self


# expat's errors at a body's early end (a cut between tags, inside one, inside CDATA)
_BROKEN_OFF = frozenset({"no element found", "unclosed token", "unclosed CDATA section"})


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    max_items: int = MAX_ITEMS,
    max_markup: int = MAX_MARKUP,
    fast: bool = True,
) -> ParsedFeed:
    """Entries of an RSS/Atom document. A malformed feed still yields what it holds;
    a document that is no feed at all (an HTML page, say) raises FeedError.

    A well-formed feed is read by `fastfeed` (with `fast`), any other by feedparser;
    both give the same result."""
    bounded, capped = bound_items(body, max_items, max_markup)
    parsed = (fast and fastfeed.parse(bounded, url, content_type)) or _feedparser(
        bounded, url, content_type
    )
    bozo = safe_text(str(parsed.get("bozo_exception") or "")) or None
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(_not_a_feed(body, bozo))
    entries: list[Entry] = []
    skipped: list[str] = []
    for i, item in enumerate(parsed.entries):
        if i >= max_items:
            skipped.append(f"{len(parsed.entries) - max_items} items past the cap of {max_items}")
            break
        entry, reason = _entry(item, url)
        if entry is None:
            skipped.append(reason)
        else:
            entries.append(entry)
    if entries and not capped and (broken := _broken_off(parsed.get("bozo_exception"))):
        skipped.append(f"the body breaks off at {broken}: items past it may be missing")
    title = clean_text(parsed.feed.get("title", ""), MAX_TITLE)
    ttl = _ttl(parsed.feed.get("ttl"))
    links = _feed_links(parsed.feed.get("links", []))
    return ParsedFeed(title, tuple(entries), tuple(skipped + capped), bozo, ttl, links)


def _feed_links(links: Any) -> tuple[tuple[str, str], ...]:
    """The feed's `hub` and `self` links (Atom's, or atom:link in RSS), as (rel, href)."""
    found = []
    for link in links if isinstance(links, list) else []:
        rel, href = link.get("rel"), link.get("href")
        if rel in FEED_RELS and isinstance(href, str) and href.strip():
            found.append((rel, safe_text(href.strip())[:MAX_URL_BYTES]))
    return tuple(found)


def _ttl(value: object) -> float | None:
    """RSS <ttl> (minutes) in seconds; None unless a plausible whole number."""
    text = str(value or "").strip()
    return float(text) * 60 if text.isdigit() and 0 < int(text) <= 10080 else None


def bound_items(body: bytes, max_items: int, max_markup: int) -> tuple[bytes, list[str]]:
    """The body cut down to its first items: at most `max_items` of them, and only as
    many as fit in `max_markup` tags and attributes, none holding a tag of more than
    MAX_ATTRIBUTES attributes. Returns the body and why items were cut, if any.

    The items past the cut are spliced out, so what follows the last item (the
    closing tags) stays and the document stays well-formed. Raises FeedError when
    even the part before the first item is over the markup budget.
    """
    starts = [m.start() for m in islice(_ITEM_START.finditer(body), max_items + 1)]
    if len(starts) <= max_items and _markup(body, max_markup) <= max_markup:
        return body, []
    bounds = [*starts, _tail(body, starts[-1] if starts else len(body))]
    used = _markup(body[: bounds[0]], max_markup)
    if used > max_markup:
        raise FeedError(f"not a usable feed: over {_budget(max_markup)} before the first item")
    kept = 0
    while kept < min(max_items, len(starts)):
        used += _markup(body[bounds[kept] : bounds[kept + 1]], max_markup)
        if used > max_markup:
            break
        kept += 1
    total = len(starts) if len(starts) <= max_items else max_items + _count_items(body, starts)
    if kept == total:
        return body, []
    why = f"the cap of {max_items}" if kept == max_items else f"the budget of {_budget(max_markup)}"
    return body[: bounds[kept]] + body[bounds[-1] :], [f"{total - kept} items past {why}"]


def _budget(max_markup: int) -> str:
    return f"{max_markup} tags and attributes ({MAX_ATTRIBUTES} in a tag)"


def _count_items(body: bytes, starts: list[int]) -> int:
    """How many items start at or after the last of `starts`."""
    return len(_ITEM_START.findall(body, starts[-1]))


def _markup(data: bytes, budget: int) -> int:
    """How many tags and attributes `data` holds outside CDATA sections and comments,
    in linear time; over `budget` when a tag has more than MAX_ATTRIBUTES attributes.
    Every "=" counts as an attribute: text holds few."""
    count = 0
    for start, end in _parsed_spans(data):
        if _WIDE_TAG.search(data, start, end):
            return budget + 1
        count += data.count(b"<", start, end) + data.count(b"=", start, end)
    return count


def _parsed_spans(data: bytes) -> Iterator[tuple[int, int]]:
    """The spans of `data` outside CDATA sections and comments."""
    pos = 0
    while (opener := _UNPARSED_START.search(data, pos)) is not None:
        yield pos, opener.start()
        end = data.find(b"]]>" if opener.group() == b"<![CDATA[" else b"-->", opener.end())
        if end < 0:  # unclosed: a lenient parser reads on as markup
            yield opener.end(), len(data)
            return
        pos = end + 3
    yield pos, len(data)


def _tail(body: bytes, after: int) -> int:
    """Where the text after the last item's end tag begins (the body's end if none)."""
    ends = list(_ITEM_END.finditer(body, max(after, len(body) - _TAIL_WINDOW)))
    return ends[-1].end() if ends else len(body)


def _feedparser(body: bytes, url: str, content_type: str | None) -> Any:
    """feedparser's result for a body, which is always read as data, never as a path.

    A parse that trips over a character reference (to a surrogate, which feedparser's
    lenient parser cannot encode, or too long to convert) is retried with every
    invalid reference replaced.
    """
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type

    def parse(data: bytes) -> Any:
        return feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,  # clean_text keeps text only, itself
            resolve_relative_uris=False,
        )

    try:
        try:
            return parse(body)
        except ValueError:  # a reference to a surrogate, or a number too long to convert
            return parse(_CHAR_REF.sub(_valid_char_ref, body))
    except Exception as exc:  # feedparser's lenient parser has no error contract
        raise FeedError(f"not a usable feed: the parser failed ({type(exc).__name__})") from None


def _valid_char_ref(match: re.Match[bytes]) -> bytes:
    """A numeric character reference, replaced by U+FFFD unless it names a valid character."""
    digits = match.group(1)
    if len(digits) > 10:
        return b"&#xFFFD;"
    code = int(digits[1:], 16) if digits[:1] in b"xX" else int(digits)
    valid = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
    return match.group(0) if valid else b"&#xFFFD;"


def _entry(item: Any, feed_url: str) -> tuple[Entry | None, str]:
    title = clean_text(item.get("title", ""), MAX_TITLE)
    link, problem = _link(item, feed_url)
    if link is None:
        return None, f"item {title[:60]!r} {problem}"
    return (
        Entry(
            key=_key(item.get("id"), link),
            url=link,
            canonical_url=canonical_url(link),
            title=title,
            summary=clean_text(item.get("summary", ""), MAX_SUMMARY),
            published=_date(item),
        ),
        "",
    )


def _key(guid: Any, link: str) -> str:
    """The entry's key: its GUID (hashed when very long), else its canonical link."""
    text = safe_text(guid).strip() if isinstance(guid, str) else ""
    if len(text.encode("utf-8")) > MAX_KEY_BYTES:
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text or canonical_url(link)


def _link(item: Any, feed_url: str) -> tuple[str | None, str]:
    """The item's article link, absolute (a permalink GUID when there is no link), or
    None and why there is none. A link to the feed itself (what an empty `<link>`
    resolves to) is no article."""
    candidates = [item.get("link")]
    candidates += [
        link.get("href") for link in item.get("links", []) if link.get("rel") == "alternate"
    ]
    if item.get("guidislink"):
        candidates.append(item.get("id"))
    problem = "has no http(s) link"
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip() or "\\" in candidate:
            continue
        absolute = urljoin(feed_url, candidate.strip())
        if absolute == feed_url:
            continue
        if _URL_CONTROLS.search(absolute):
            problem = "has a link with control characters"
        elif len(absolute.encode("utf-8", "replace")) > MAX_URL_BYTES:
            problem = f"has a link longer than {MAX_URL_BYTES} bytes"
        elif _is_http(absolute):
            return absolute, ""
    return None, problem


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _date(item: Any) -> datetime | None:
    """Publication (else update) time in UTC; None when missing or implausibly future."""
    for key in ("published_parsed", "updated_parsed"):
        value = item.get(key)
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
            return None if when > datetime.now(UTC) + FUTURE_SLACK else when
    return None


def clean_text(value: str, limit: int | None = None) -> str:
    """Plain text of a feed field that may hold HTML or entities; block elements and
    line breaks separate words ("<p>Kyiv</p><p>Talks</p>" -> "Kyiv Talks"). Scripts
    and styles are dropped; with `limit`, only that many characters are read."""
    if not value or not isinstance(value, str):
        return ""
    text = safe_text(value[:limit] if limit else value)
    if "<" in text:
        text = _html_text(text)
    return _SPACES.sub(" ", safe_text(html.unescape(text))).strip()


def _html_text(value: str) -> str:
    try:
        root = lxml.html.fromstring(f"<div>{value}</div>")
    except (ValueError, lxml.etree.ParserError):
        return re.sub(r"<[^>]*>", " ", value)
    lxml.etree.strip_elements(root, *_HIDDEN, with_tail=False)
    for element in root.iter():
        if element.tag in _BLOCKS:
            element.text = " " + (element.text or "")
            element.tail = " " + (element.tail or "")
    return str(root.text_content())


def _broken_off(fault: object) -> str | None:
    """Where the XML parser met the body's end too early (not a stray declaration or
    entity, which leave the rest read), or None."""
    if isinstance(fault, SAXParseException) and fault.getMessage() in _BROKEN_OFF:
        return f"line {fault.getLineNumber()}, column {fault.getColumnNumber()}"
    return None


def _not_a_feed(body: bytes, bozo: str | None) -> str:
    head = body[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "not an RSS/Atom feed: the server sent an HTML page"
    if not body.strip():
        return "not an RSS/Atom feed: the body is empty"
    return f"not an RSS/Atom feed ({bozo or 'no feed elements found'})"
