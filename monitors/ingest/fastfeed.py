"""A fast parser for well-formed RSS 2.0/0.9x, RSS 1.0 and Atom 1.0 feeds.

`parse` builds, with lxml, the values feedparser gives for the fields parse_feed
reads (feed title, ttl and links; each entry's title, link, links, guidislink, id,
summary and dates), by feedparser's own rules and helpers (encoding detection, date
parsing, URI joining). It returns None, so that feedparser parses the document
instead, for anything outside those rules: XML that is not well-formed, a DOCTYPE,
xml:base, an unknown root, an encoding the document and the HTTP header disagree
on, XHTML or base64 content, and elements whose handling it does not mirror.
"""

from __future__ import annotations

import re
from contextlib import suppress
from functools import lru_cache
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.exceptions import CharacterEncodingOverride, CharacterEncodingUnknown
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict
from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
_NAMESPACES = {uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()}
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_ATOM = "{http://www.w3.org/2005/Atom}"
_HANDLED = frozenset(
    name[7:] for name in dir(StrictFeedParser) if name.startswith(("_start_", "_end_"))
) | frozenset(name[5:] for name in dir(StrictFeedParser) if name.startswith("_end_"))
# handled elements that touch no field read here and on which feedparser does not fail
# (it can on GML, a chapter with no start, a licence below another: `_harmless` checks)
_HARMLESS = frozenset(
    {
        "author", "category", "cc_license", "cloud", "contributor", "copyright", "created",
        "dc_author", "dc_contributor", "dc_creator", "dc_language", "dc_publisher",
        "dc_rights", "dc_subject", "dcterms_created", "dcterms_valid", "email", "enclosure",
        "expirationdate", "feedburner_browserfriendly", "generator", "height", "homepage",
        "info", "itunes_author", "itunes_block", "itunes_category", "itunes_email",
        "itunes_explicit", "itunes_image", "itunes_keywords", "itunes_link", "itunes_name",
        "itunes_owner", "itunes_subtitle", "keywords", "language", "managingeditor",
        "media_category", "media_content", "media_credit", "media_group", "media_keywords",
        "media_license", "media_player", "media_rating", "media_restriction",
        "media_thumbnail", "name", "newlocation", "rights", "subtitle", "tagline", "tags",
        "uri", "url", "webmaster", "width", "georss_point", "georss_line", "georss_polygon",
        "georss_box", "georssgeom", "psc_chapters", "psc_chapter", "creativecommons_license",
    }
)  # fmt: skip
# elements that take markup within as text (an element there is not mirrored)
_TEXTS = frozenset(
    {
        "title", "description", "abstract", "info", "summary", "content", "content_encoded",
        "fullitem", "body", "xhtml_body", "subtitle", "tagline", "rights", "copyright",
        "dc_description", "dc_rights", "dc_title", "itunes_subtitle", "itunes_summary",
        "media_title", "media_description", "feedburner_browserfriendly",
    }
)  # fmt: skip
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_SUMMARIES = frozenset(
    {"description", "summary", "itunes_summary", "dc_description", "media_description"}
)
_DESCRIPTIONS = frozenset({"description", "dc_description", "media_description"})
_TITLES = frozenset({"title", "dc_title", "media_title"})
_CONTENTS = frozenset({"content", "content_encoded"})
# handled elements the feed may hold: they set fields of the feed this module does not read
_FEED_HARMLESS = (
    _HARMLESS
    | _PUBLISHED
    | _UPDATED
    | {"description", "summary", "abstract", "guid", "id", "dc_description", "itunes_summary"}
    | {"media_description"}
)
_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html"}
_KEYS = frozenset(
    {"links", "guidislink", "published_parsed", "updated_parsed", "ttl", "image", "textinput"}
)
_IMAGE_PARTS = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_PARTS = frozenset({"title", "link", "description", "name"})
_QUERY_REF = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")  # what feedparser maps to windows-1252's characters


@lru_cache(maxsize=8192)
def _date(text: str) -> Any:
    """feedparser's parse of a date (a pure function, slow: most items are read again
    at every change of their feed)."""
    return _parse_date(text)


class _Unsupported(Exception):
    """The document holds something this parser does not mirror."""


def parse(body: bytes, url: str, content_type: str | None) -> Any | None:
    """feedparser's result (the fields parse_feed reads) for a well-formed feed, or None."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    data = convert_to_utf8(headers, body, result)
    error = result.get("bozo_exception")
    if isinstance(error, (CharacterEncodingOverride, CharacterEncodingUnknown)):
        return None
    if not result.get("encoding") or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = etree.fromstring(data, _PARSER)
        reader = _Reader(_base(url))
        version, container, items = _layout(root)
        feed, starts = reader.feed(root, container, items)
        entries = [reader.entry(item, start) for item, start in zip(items, starts, strict=True)]
    except Exception:  # not well-formed, not mirrored, or unforeseen: feedparser reads it
        return None
    parsed = FeedParserDict(bozo=result["bozo"], entries=entries, feed=feed, version=version)
    if error is not None:
        parsed["bozo_exception"] = error
    return parsed


def _base(url: str) -> str:
    """The base URI feedparser resolves links against, for a body from `url`."""
    base = make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or ""
    if base:  # what every start tag without xml:base makes of it
        base = make_safe_absolute_uri(base, base) or base
        if (make_safe_absolute_uri(base, base) or base) != base:
            raise _Unsupported
    return base


def _layout(root: Any) -> tuple[str, Any, list[Any]]:
    """The feed's version, the element holding its metadata, and its items."""
    if root.tag == "rss":
        children = _elements(root)
        if len(children) != 1 or children[0].tag != "channel" or _has(root, "lastmod", "href"):
            raise _Unsupported
        version = str(root.get("version", ""))
        known = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
        container = children[0]
        version = known.get(version) or ("rss20" if version.startswith("2.") else "rss")
        return version, container, [el for el in _elements(container) if el.tag == "item"]
    if root.tag == f"{_ATOM}feed":
        return "atom10", root, [el for el in _elements(root) if el.tag == f"{_ATOM}entry"]
    if root.tag == f"{_RDF}RDF":
        namespaces = set(root.nsmap.values())
        space = (
            _RSS10 if _RSS10 in namespaces else _RSS090 if root.nsmap.get(None) == _RSS090 else ""
        )
        children = _elements(root)
        if not space or not children or children[0].tag != f"{{{space}}}channel":
            raise _Unsupported
        items = [el for el in children if el.tag == f"{{{space}}}item"]
        if any(_name(el) not in ("channel", "item", "image", "textinput") for el in children):
            raise _Unsupported
        return ("rss10" if space == _RSS10 else "rss090"), children[0], items
    raise _Unsupported


def _harmless(name: str, attrs: dict[str, str], direct: bool) -> None:
    """Refuses what feedparser fails on: a chapter with no start time, and in an item a
    Creative Commons licence that is not a child (it deletes a key it did not set)."""
    if (name == "psc_chapter" and "start" not in attrs) or (
        name == "creativecommons_license" and not direct
    ):
        raise _Unsupported(name)


def _elements(parent: Any) -> list[Any]:
    return [child for child in parent if isinstance(child.tag, str)]


def _has(element: Any, *names: str) -> bool:
    return any(_attr_name(key) in names for key in element.attrib)


def _name(element: Any) -> str:
    """feedparser's name for an element: `prefix_local` with its standard prefix."""
    tag = element.tag
    if tag[0] != "{":
        return str(tag).lower()
    return _qualified(tag, element.prefix)


@lru_cache(maxsize=1024)
def _qualified(tag: str, given: str | None) -> str:
    """feedparser's name for a tag `{namespace}local` written with prefix `given`."""
    space, local = tag[1:].split("}", 1)
    space = space.lower()
    if "backend.userland.com/rss" in space:
        space = "http://backend.userland.com/rss"
    prefix = _NAMESPACES.get(space)
    if prefix is None:
        prefix = given or ""
    return f"{prefix}_{local}".lower() if prefix else local.lower()


def _attr_name(key: str) -> str:
    if key[0] != "{":
        return key.lower()
    space, local = key[1:].split("}", 1)
    prefix = _NAMESPACES.get(space.lower(), "")
    return f"{prefix}:{local}".lower() if prefix else local.lower()


def _attrs(element: Any) -> dict[str, str]:
    """The attributes as feedparser sees them: names lowercased, rel and type too."""
    found: dict[str, str] = {}
    attributes = element.attrib
    if not attributes:
        return found
    for key, value in attributes.items():
        name = _attr_name(key)
        found[name] = value.lower() if name in ("rel", "type") else value
    if "base" in found or "xml:base" in found:
        raise _Unsupported
    return found


def _text(element: Any) -> str:
    """The element's text; elements, comments or instructions within are not mirrored."""
    if len(element):
        raise _Unsupported
    return element.text or ""


def _text_type(attrs: dict[str, str], default: str) -> None:
    """Refuses a text construct whose type is not plain text or HTML (xhtml, base64)."""
    kind = attrs.get("type", default)
    if "mode" in attrs or _TEXT_TYPES.get(kind, kind) not in ("text/plain", "text/html"):
        raise _Unsupported


class _Reader:
    """Reads the feed's and its items' fields as feedparser's strict parser does."""

    def __init__(self, base: str) -> None:
        self.base = base

    def finish(self, text: str, resolve: bool = False) -> str:
        """feedparser's treatment of an element's text (`pop`)."""
        output = text.strip()
        if resolve and output:
            output = _urljoin(self.base, output)
        if output.isascii():
            return output
        with suppress(UnicodeEncodeError, UnicodeDecodeError):  # UTF-8 read as ISO-8859-1
            output = output.encode("iso-8859-1").decode("utf-8")
        return output.translate(_cp1252) if _C1.search(output) else output

    def feed(self, root: Any, container: Any, items: list[Any]) -> tuple[Any, list[bool]]:
        """The feed's title, ttl and links, and for each item whether feedparser starts
        it as if content was seen (a feed-level description after a summary does that).

        Of the feed's titles (title, dc:title, media:title), one that follows a non-empty
        title or dc:title with no item, image or text input between is not kept."""
        feed = FeedParserDict()
        links: list[dict[str, str]] = []
        starts: list[bool] = []
        has_content = has_summary = blocked = False
        if "lastmod" in _attrs(container) or "href" in _attrs(root):
            raise _Unsupported
        for element, aside in _feed_elements(root, container, items):
            if aside is None:  # an item, which ends with no content seen
                starts.append(has_content)
                has_content = blocked = False
                continue
            name = _name(element)
            attrs = _attrs(element)
            if name in _TEXTS and len(element):
                raise _Unsupported(name)
            if name in _TITLES:
                if element.getparent() is container:
                    _text_type(attrs, "text/plain")
                    value = self.finish(_text(element))
                    if not blocked:  # a title after a title at this depth is not kept
                        feed["title"] = value
                    blocked = blocked or bool(value) and name != "media_title"
                elif not aside or name != "title":
                    raise _Unsupported(name)
            elif name == "link":
                if not aside:
                    links.append(self.feed_link(element, attrs))
            elif name == "ttl":
                if attrs or aside:
                    raise _Unsupported
                feed["ttl"] = self.finish(_text(element))
            elif name in ("image", "textinput"):
                self.check_aside(element, name, container)
                blocked = False
            elif name in _SUMMARIES and not aside:
                if has_summary and not has_content:
                    has_content = True  # read as content
                else:
                    has_summary = has_summary or name not in _DESCRIPTIONS
            elif name in _KEYS or (name in _HANDLED and name not in _FEED_HARMLESS):
                raise _Unsupported(name)
            else:
                _harmless(name, attrs, True)
        if links:
            feed["links"] = links
        return feed, starts

    @staticmethod
    def check_aside(element: Any, name: str, container: Any) -> None:
        """An image or text input box holds only what feedparser keeps in it."""
        parts = _IMAGE_PARTS if name == "image" else _TEXTINPUT_PARTS
        if element.getparent() not in (container, container.getparent()) or any(
            _name(inner) not in parts
            for inner in element.iterdescendants()
            if isinstance(inner.tag, str)
        ):
            raise _Unsupported

    def link(self, element: Any, attrs: dict[str, str]) -> dict[str, str]:
        """A <link>'s rel and href as feedparser lists it (the text is read by the caller)."""
        if "url" in attrs or "uri" in attrs:
            raise _Unsupported
        found = {"rel": attrs.get("rel", "alternate")}
        if "href" in attrs:
            found["href"] = _urljoin(self.base, attrs["href"])
        return found

    def feed_link(self, element: Any, attrs: dict[str, str]) -> dict[str, str]:
        """feedparser's `_start_link`/`_end_link` in the feed: a link's text is its href."""
        link = self.link(element, attrs)
        if "href" not in link:
            link["href"] = _QUERY_REF.sub(r"&\g<1>", self.finish(_text(element), resolve=True))
        return link

    def entry(self, item: Any, has_content: bool) -> dict[str, Any]:
        """An item's fields, element by element in document order."""
        entry: dict[str, Any] = {}
        links: list[dict[str, str]] = []
        seen_id = False
        titles = _Titles()
        attrs = _attrs(item)
        if "lastmod" in attrs or "href" in attrs:
            raise _Unsupported
        if attrs.get("rdf:about"):
            entry["id"] = attrs["rdf:about"]
        for element in item.iterdescendants():
            if not isinstance(element.tag, str):
                continue
            name = _name(element)
            attrs = _attrs(element)
            if name in _TEXTS and len(element):
                raise _Unsupported(name)
            direct = element.getparent() is item
            if name == "link":
                self.entry_link(entry, links, element, attrs)
            elif name in _PUBLISHED or name in _UPDATED:
                key = "published_parsed" if name in _PUBLISHED else "updated_parsed"
                entry[key] = _date(self.finish(_text(element)))
            elif name in _TITLES:
                _text_type(attrs, "text/plain")
                titles.read(entry, name, _depth(element, item), self.finish(_text(element)))
            elif not direct and name in ("guid", "id", *_SUMMARIES, *_CONTENTS):
                raise _Unsupported
            elif name in ("guid", "id"):
                if seen_id:
                    raise _Unsupported
                seen_id = self.guid(entry, element, attrs)
            elif name in _SUMMARIES or name in _CONTENTS:
                has_content = self.summary(entry, name, element, attrs, has_content)
            elif name in _KEYS or (name in _HANDLED and name not in _HARMLESS):
                raise _Unsupported(name)
            else:
                _harmless(name, attrs, direct)
        if links:
            entry["links"] = links
        return entry

    def entry_link(
        self,
        entry: dict[str, Any],
        links: list[dict[str, str]],
        element: Any,
        attrs: dict[str, str],
    ) -> None:
        """feedparser's `_start_link`/`_end_link` in an item."""
        link = self.link(element, attrs)
        links.append(link)
        if "href" in link:
            kind = attrs.get(
                "type", "application/atom+xml" if link["rel"] == "self" else "text/html"
            )
            if link["rel"] == "alternate" and kind in (
                "text/html",
                "html",
                "application/xhtml+xml",
                "xhtml",
            ):
                entry["link"] = link["href"]
            return
        output = self.finish(_text(element), resolve=True).replace("&amp;", "&")
        output = _QUERY_REF.sub(r"&\g<1>", output)
        entry["link"] = output
        if output:
            link["href"] = output

    def guid(self, entry: dict[str, Any], element: Any, attrs: dict[str, str]) -> bool:
        """feedparser's `_start_guid`/`_end_guid`: a permalink GUID is also the link."""
        is_link = attrs.get("ispermalink", "true") == "true"
        value = self.finish(_text(element), resolve=is_link)
        entry["id"] = value
        entry.setdefault("guidislink", is_link and "link" not in entry)
        if is_link:
            entry.setdefault("link", value)
        return True

    def summary(
        self,
        entry: dict[str, Any],
        name: str,
        element: Any,
        attrs: dict[str, str],
        has_content: bool,
    ) -> bool:
        """feedparser's summary rules: a description or summary is the summary unless one
        is there already and no content came before (it is then content); content fills
        an empty summary. Returns whether content was seen."""
        if name in _CONTENTS:
            if "src" in attrs:
                raise _Unsupported
            _text_type(attrs, "text/html" if name == "content_encoded" else "text/plain")
            entry.setdefault("summary", self.finish(_text(element)))
            return True
        if "summary" in entry and not has_content:
            _text_type(attrs, "text/plain")
            _text(element)
            return True
        _text_type(attrs, "text/html" if name in _DESCRIPTIONS else "text/plain")
        entry["summary"] = self.finish(_text(element))
        return has_content


class _Titles:
    """feedparser's choice among an item's titles: a title is not kept when one was
    read at its depth or above (`title_depth`), nor over one kept from higher up;
    media:title leaves `title_depth` as it was."""

    def __init__(self) -> None:
        self.title_depth = -1
        self.kept_depth: int | None = None

    def read(self, entry: dict[str, Any], name: str, depth: int, value: str) -> None:
        if not -1 < self.title_depth <= depth and (
            self.kept_depth is None or depth <= self.kept_depth
        ):
            self.kept_depth = depth
            entry["title"] = value
        if value and name != "media_title":
            self.title_depth = depth


def _depth(element: Any, item: Any) -> int:
    """How deep `element` is in `item` (1 for a child)."""
    depth = 1
    parent = element.getparent()
    while parent is not item:
        depth += 1
        parent = parent.getparent()
    return depth


def _feed_elements(root: Any, container: Any, items: list[Any]) -> Any:
    """The elements outside items, with whether each is inside an image or text input,
    and the items themselves (with None), in document order."""
    known = set(items)
    stack = [(child, False) for child in reversed(_elements(root))]
    while stack:
        element, aside = stack.pop()
        name = _name(element)
        if name in ("item", "entry"):
            if element not in known:
                raise _Unsupported
            yield element, None
            continue
        if name in ("channel", "feed", "rss", "source", "svg") and element is not container:
            raise _Unsupported
        if element is not container:
            yield element, aside
        inner = aside or name in ("image", "textinput")
        stack.extend((child, inner) for child in reversed(_elements(element)))
