"""Turn a fetched page into an article with trafilatura, or fall back to the feed entry.

1. Parse the HTML once with lxml (through trafilatura's loader).
2. Extract the main text, favouring precision so page chrome stays out: first without
   trafilatura's fallback extractors, and with them only when that finds under
   FULL_BELOW characters (most pages are done in two thirds of the time, with the
   same result; bench/extraction.py). trafilatura keeps the links to other stories that
   sites set inside the body ("Read also: …", "Читайте також: …"): those lines go
   (`without_links_out`), so that another story's headline is not read as this one's news.
3. Take the page's own headline: its og:title, else its <title> without a trailing
   " - Site" or " | Site" that names the site, else its only <h1>; the site from
   og:site_name or application-name, else the host; the language it declares
   (<html lang>). These few meta tags are read directly: trafilatura's metadata pass
   (dates, authors, categories) cost a quarter of each extraction, for nothing we use.
4. The article's headline is the page's own, over the feed entry's title (a feed may
   list another outlet's page under a headline of its own); but when the page yields
   less than `min_chars` and less than the entry's summary (a paywall, a consent
   page), the article is the entry's title and summary, marked `source="summary"`.
   Its language is told from the words of its headline and text, the page's declared
   language a hint (monitors.extract.language), in the process that records it: only
   that process loads the language model (59 MB), not each extraction worker.

Pages come from anyone, and trafilatura spends seconds to minutes on some (a few MiB
of bare paragraphs or links): the pipeline runs steps 1-3 in worker processes
(monitors.extract.workers). trafilatura is imported on the first page extracted, so the
recording process, which extracts none, never loads it (3.6 MB there); with it, the
compact stop words of its justext fallback (monitors.extract.stopwords).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

from lxml.html import HtmlElement

from monitors.extract.language import detect_language, primary_tag
from monitors.ingest.urls import site_of
from monitors.models import Analysis, Article, Entry
from monitors.text import safe_text, words

FULL_BELOW = 1000  # characters: a shorter fast extraction is done again with fallbacks
OUT_OF_MEMORY = "extraction ran out of memory"
NEAR_CAP = 1 / 16  # share of a capped address space left when a failure is taken for want of it
_LAST_PART = re.compile(r"(.*\S)\s+[-|–—·]\s+(\S.*)")  # a title and its part after the last " - "
LINK_OUT_WORDS = 30  # a line longer than this after its marker is the article's own
LINKS_LISTED = 10  # lines under a marker standing alone ("Most read") taken for its list
_MARKER = (
    r"(?:read (?:also|more|next)|also read|see also|related(?: stories| articles| coverage)?"
    r"|more on this(?: story)?|recommended|you may also like|most (?:read|popular)"
    r"|читайте (?:також|также|еще|ещё)|також читайте|также читайте|читати також"
    r"|дивіться також|смотрите также|по теме|на тему|більше на тему|найпопулярніше"
    r"|самое популярное|популярне|популярное|(?:episode )?tags|теги|тэги)"
    r"(?:\s*[:：]|\s+[—–-]\s|\s+on\s+\S+\s*[:：]?\s*$|\s*$)"  # a hyphen joins a word
)
# a marker at a line's start, after any bullets: tried at line starts only, a page's text
# is searched in 0.03 ms rather than the 1 ms of trying the marker at every character
_LINK_OUT = re.compile(f"^[ \t•*>»\\-–—]*{_MARKER}", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class PageText:
    """What a page gave; `problem` says why it gave nothing (a failure or a timeout).
    `declared` is the language its `<html lang>` names.
    `text_hash` is the text's fingerprint; a worker also gives the analysis of the text
    under the article's headline, unless told the text is a copy."""

    text: str = ""
    title: str = ""
    site: str = ""
    problem: str | None = None
    declared: str | None = None
    text_hash: str = ""
    analysis: Analysis | None = field(default=None, compare=False)


def extract_article(page: bytes | None, entry: Entry, url: str, min_chars: int) -> Article:
    """The entry's article from its page, extracted in this process without a time
    bound; the entry's own text when the page gives too little."""
    return article_from(page_text(page, url) if page else PageText(), entry, url, min_chars)


def article_from(found: PageText, entry: Entry, url: str, min_chars: int) -> Article:
    """The entry's article from what its page gave (step 4)."""
    text, summary = found.text, entry.summary
    if len(text) < min_chars and len(text) < len(summary):
        text = summary
        source = "summary"
    else:
        source = "page" if text else "summary"
    if source == "page" and found.title:
        headline = found.title
    else:
        headline = entry.title or found.title or summary[:120]
    analysis = found.analysis
    if analysis is not None and not analysis.fits(headline, text):
        analysis = None
    digest = found.text_hash if text and text == found.text else ""
    return Article(
        url=url or entry.url,
        canonical_url=entry.canonical_url,
        title=headline,
        text=text,
        site=found.site or site_of(url or entry.url),
        source=source,
        language=detect_language(f"{headline}\n{text}", found.declared),
        published=entry.published,
        text_hash=digest or text_hash(text or headline),
        analysis=analysis,
    )


def page_text(page: bytes, url: str) -> PageText:
    """Steps 1-3 for one page; any failure is reported in `problem`, never raised."""
    try:
        return _page_text(page, url)
    except MemoryError:  # raised again while the failure was told: the memory still held
        pass  # by the failed extraction's frames is let go on leaving this handler
    return PageText(problem=OUT_OF_MEMORY)


def _page_text(page: bytes, url: str) -> PageText:
    """`page_text`, which may raise MemoryError when a failure happens at the memory cap."""
    try:
        trafilatura = _trafilatura()
        tree = trafilatura.load_html(page)
        if tree is None:
            return PageText()
        title, site = _meta(tree, "og:title"), _meta(tree, "og:site_name", "application-name")
        declared = _declared(tree)
        text = _main_text(tree, url, fast=True)
        if len(text) < FULL_BELOW:
            text = _main_text(trafilatura.load_html(page), url, fast=False)
        text = without_links_out(text)
    except Exception as exc:  # trafilatura raises many kinds on odd pages
        return PageText(problem=_failure(exc))
    site = site_of(site) if "://" in site else site  # some give their URL
    title = safe_text(title or _title(tree, site, url) or _only_h1(tree))
    return PageText(
        text,
        title,
        safe_text(site),
        declared=declared,
        text_hash=text_hash(text) if text else "",
    )


@cache
def _trafilatura() -> ModuleType:
    """trafilatura, imported on first use, its justext fallback given compact stop words."""
    import trafilatura

    from monitors.extract import stopwords

    stopwords.install()
    return trafilatura


def _failure(exc: Exception) -> str:
    """The problem a failed extraction reports: `OUT_OF_MEMORY` for a MemoryError, or for
    any failure while the process's address space is within `NEAR_CAP` of its cap (lxml
    reports some failed allocations as its own errors, e.g. an XPath "unknown error")."""
    if isinstance(exc, MemoryError) or _near_memory_cap():
        return OUT_OF_MEMORY
    return f"extraction failed ({type(exc).__name__}: {exc})"[:300]


def _near_memory_cap() -> bool:
    """Whether this process's address space is capped and within `NEAR_CAP` of the cap."""
    try:
        import resource

        cap = resource.getrlimit(resource.RLIMIT_AS)[0]
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (ImportError, OSError, ValueError):  # not Linux
        return False
    if cap == resource.RLIM_INFINITY:
        return False
    return pages * resource.getpagesize() >= cap * (1 - NEAR_CAP)


def _main_text(tree: HtmlElement | None, url: str, fast: bool) -> str:
    """The page's main text; `fast` skips trafilatura's fallback extractors."""
    doc = _trafilatura().bare_extraction(
        tree,
        url=url,
        fast=fast,
        with_metadata=False,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
    )
    return safe_text(getattr(doc, "text", None) or "").strip() if doc is not None else ""


def without_links_out(text: str) -> str:
    """`text` without its lines that point to other stories or list tags: a marker such as
    "Read also:", "Читайте також:", "Most read" or "Tags:" opening a line of at most
    LINK_OUT_WORDS words after it; a marker alone on its line takes the short lines under
    it too (at most LINKS_LISTED, up to a longer line): its list of headlines. Stripped."""
    if not _LINK_OUT.search(text):
        return text.strip()
    kept: list[str] = []
    listed = 0  # lines still taken as the list under a marker standing alone
    for line in text.split("\n"):
        short = len(line.split()) <= LINK_OUT_WORDS
        if listed and short and line.strip():
            listed -= 1
            continue
        listed = 0
        marker = _LINK_OUT.match(line)
        if marker is None or not short:
            kept.append(line)
        elif not line[marker.end() :].strip():
            listed = LINKS_LISTED
    return "\n".join(kept).strip()


def _meta(tree: HtmlElement, *names: str) -> str:
    """The content of the first <meta property|name=NAME> present, of the first name."""
    for name in names:
        for found in tree.iterfind(f".//meta[@property='{name}']"):
            if content := (found.get("content") or "").strip():
                return content
        for found in tree.iterfind(f".//meta[@name='{name}']"):
            if content := (found.get("content") or "").strip():
                return content
    return ""


def _title(tree: HtmlElement, site: str, url: str) -> str:
    """The page's <title>, without a trailing " - Site" (or " | Site", " – Site"…) where
    Site is the site's name (`site`) or its host's."""
    found = tree.find(".//title")
    title = " ".join((found.text_content() if found is not None else "").split())
    found = _LAST_PART.fullmatch(title)
    return found.group(1) if found and _names_site(found.group(2), site, url) else title


def _names_site(tail: str, site: str, url: str) -> bool:
    """Whether a title's last part names the site: its name, or a name of its host
    ("Reuters" on reuters.com, "BBC News" on bbc.co.uk, "The Guardian" on theguardian.com)."""
    name = _key(tail)
    if not name:
        return False
    if site and name == _key(site):
        return True
    labels = [_key(label) for label in site_of(url).split(".")[:-1]]
    return any(len(label) >= 3 and name.startswith(label) for label in labels)


def _key(name: str) -> str:
    """A name's letters and digits, lower-cased, without a leading "the"."""
    return "".join(c for c in name.casefold() if c.isalnum()).removeprefix("the")


def _only_h1(tree: HtmlElement) -> str:
    """The text of the page's <h1> when it has one and only one."""
    found = tree.findall(".//h1")
    return " ".join(found[0].text_content().split()) if len(found) == 1 else ""


def _declared(tree: HtmlElement) -> str | None:
    """The primary subtag of the page's `<html lang>`, if it has one."""
    return primary_tag(
        tree.get("lang")
        or tree.get("xml:lang")  # the HTML parser keeps the prefix in the name
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    )


def text_hash(text: str) -> str:
    """A fingerprint of the words of a text, blind to case, accents, spacing and punctuation."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()
