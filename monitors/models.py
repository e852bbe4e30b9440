"""Plain values passed between pipeline stages: a fetch's result, a feed's entry, an
article with the analysis of its text, a rule's match."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple, Protocol


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
    links: tuple[str, ...] = ()  # the answer's Link headers, as sent

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


class Fact(NamedTuple):
    """A salient fact: its kind ("name", "number", "quote"), its key, and how it was written."""

    kind: str
    key: str
    text: str


@dataclass(frozen=True)
class StoryFeatures:
    """What same-story decisions need from an article.

    `body` holds its most telling terms (headline and full text) with their term
    weights (not yet weighted by IDF: that is the store's recent window's); `keys` the
    terms that name its names and numbers; `published` when it was published; `marks`
    its names, places and numbers as language-neutral keys, each with how it was
    written (monitors.extract.marks).
    """

    body: Mapping[str, float]
    keys: frozenset[str] = frozenset()
    published: datetime | None = None
    marks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """The analysis of `text` under the headline `title` (see monitors.extract.analysis);
    its features have no time."""

    title: str
    text: str
    features: StoryFeatures

    def fits(self, title: str, text: str) -> bool:
        """Whether this is the analysis of that headline and text."""
        return title == self.title and text == self.text

    def features_at(self, published: datetime | None) -> StoryFeatures:
        """The story features, published at `published`."""
        return replace(self.features, published=published)


@dataclass(frozen=True)
class Article:
    """An entry's page, extracted. `source` is "page" or "summary" (the fallback).
    `analysis`, when given, is that of its title and text."""

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


class Kin(Protocol):
    """The words a rule treats as one (monitors.rules.kin)."""

    def found(self, text: str) -> Mapping[int, set[str]]:
        """The groups of kin words `text` holds, each with the words that make them."""
        ...


@dataclass(frozen=True)
class Match:
    """A rule that matched an article: the terms found, the best passage, where the
    rule's hits are (character spans in the text, and whether the title holds one), and
    the rule's kin words."""

    rule_id: str
    terms: tuple[str, ...]
    passage: Passage = field(default_factory=lambda: Passage(""))
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    in_title: bool = field(default=False, compare=False)
    kin: Kin | None = field(default=None, compare=False, repr=False)
