"""Plain values passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitors.analysis import Analysis


@dataclass(frozen=True)
class FetchResult:
    """What an HTTP fetch gave: a body (status 200) or nothing new (status 304)."""

    url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Entry:
    """One item of a feed. `key` identifies it within its feed: the GUID, else the URL."""

    key: str
    url: str
    canonical_url: str
    title: str = ""
    summary: str = ""
    published: datetime | None = None


@dataclass(frozen=True)
class Article:
    """An entry's page, extracted. `source` is "page" or "summary" (the fallback).
    `analysis`, when given, is that of its title and text (see monitors.analysis)."""

    url: str
    canonical_url: str
    title: str
    text: str
    site: str
    source: str
    language: str | None = None
    published: datetime | None = None
    text_hash: str = ""
    analysis: Analysis | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Passage:
    """A stretch of an article with the matched terms' character spans in it."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()

    def marked(self, before: str = "**", after: str = "**") -> str:
        """The passage with every mark wrapped in `before`/`after` (no escaping)."""
        out, pos = [], 0
        for start, end in self.marks:
            out += [self.text[pos:start], before, self.text[start:end], after]
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


@dataclass(frozen=True)
class Match:
    """A rule that matched an article: the terms found and the best passage."""

    rule_id: str
    terms: tuple[str, ...]
    passage: Passage = field(default_factory=lambda: Passage(""))
