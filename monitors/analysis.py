"""What story placement needs from an article's text, computed once.

An extraction worker analyses the text it extracted, unless it copies a stored article
(see monitors.extract), so that the main process, which records articles one at a time,
does not: the story features are a pure function of headline and text. (The MinHash
signature costs a tenth as much, and the library computing it takes half a second to
import: the recording process computes it.) An analysis crosses the worker's pipe as
plain values (`plain`, `from_plain`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from monitors import similarity
from monitors.models import Article
from monitors.similarity import Fact, StoryFeatures


@dataclass(frozen=True)
class Analysis:
    """The analysis of `text` under the headline `title`; its features have no time."""

    title: str
    text: str
    features: StoryFeatures

    def fits(self, title: str, text: str) -> bool:
        """Whether this is the analysis of that headline and text."""
        return title == self.title and text == self.text

    def features_at(self, published: datetime | None) -> StoryFeatures:
        """The story features, published at `published`."""
        return replace(self.features, published=published)

    def plain(self) -> tuple[Any, ...]:
        """The analysis as marshallable values (the text is not sent back)."""
        f = self.features
        return (
            self.title,
            dict(f.weights),
            dict(f.idf),
            dict(f.headline),
            [tuple(fact) for fact in f.facts],
            f.terms,
            f.salient,
        )

    @classmethod
    def from_plain(cls, values: tuple[Any, ...], text: str) -> Analysis:
        """The analysis `plain` gave, of `text`."""
        title, weights, idf, headline, facts, terms, salient = values
        features = StoryFeatures(
            weights=weights,
            idf=idf,
            headline=headline,
            facts=tuple(Fact(*fact) for fact in facts),
            terms=frozenset(terms),
            salient=frozenset(salient),
        )
        return cls(title, text, features)


def analyse(title: str, text: str) -> Analysis:
    """The analysis of an article's headline and text."""
    return Analysis(title=title, text=text, features=similarity.features(title, text))


def features_of(article: Article, published: datetime | None) -> StoryFeatures:
    """The article's story features, published at `published`: from its analysis when
    it has one, else computed now."""
    if article.analysis is not None:
        return article.analysis.features_at(published)
    return similarity.features(article.title, article.text, published)
