"""Readers for the news corpora in ../shared/corpora used by the dedup and story benchmarks.

- `uci_headlines`: the UCI News Aggregator sample, headlines with their story id and time.
- `sts_headline_pairs`: the STS benchmark's news-headline pairs with their 0-5 score.
- `article_texts`: the hand-annotated article bodies of the scrapinghub extraction benchmark.
- `web_page_texts`: the main text of the Mozilla Readability test pages (their expected
  output) and of the trafilatura evaluation pages (extracted with trafilatura).
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UCI_FILE = "uci-news-aggregator-sample/uci-news-aggregator-first6367.csv"
STS_FOLDER = "sts-benchmark-news-headlines/stsbenchmark"
ARTICLES_FILE = "scrapinghub-article-extraction-benchmark/ground-truth.json"
READABILITY_FOLDER = "mozilla-readability-test-pages/test-pages"
TRAFILATURA_FOLDERS = ("trafilatura-eval/tests/eval", "trafilatura-eval/tests/cache")


@dataclass(frozen=True)
class Headline:
    """A UCI headline: its text, the story it belongs to, and when it was seen."""

    title: str
    story: str
    published: datetime


@dataclass(frozen=True)
class HeadlinePair:
    """Two STS news headlines and their human similarity score (0 to 5)."""

    first: str
    second: str
    score: float


def corpora_path(path: Path) -> Path:
    """The corpora folder; a relative path is taken from the repo root."""
    return path if path.is_absolute() else (REPO / path).resolve()


def uci_headlines(corpora: Path) -> list[Headline]:
    """The complete rows of the UCI sample (the file's last row is cut short), oldest first."""
    with (corpora / UCI_FILE).open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r.get("TIMESTAMP") or "").isdigit()]
    headlines = [
        Headline(r["TITLE"], r["STORY"], datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, tz=UTC))
        for r in rows
    ]
    return sorted(headlines, key=lambda h: h.published)


def sts_headline_pairs(corpora: Path) -> list[HeadlinePair]:
    """The news-headline pairs of the STS benchmark's train, dev and test files."""
    pairs = []
    for name in ("sts-train.csv", "sts-dev.csv", "sts-test.csv"):
        for line in (corpora / STS_FOLDER / name).read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) >= 7 and fields[1] == "headlines":
                pairs.append(HeadlinePair(fields[5], fields[6], float(fields[4])))
    return pairs


def article_texts(corpora: Path) -> list[str]:
    """The article bodies of the extraction benchmark, in file order."""
    truth = json.loads((corpora / ARTICLES_FILE).read_text(encoding="utf-8"))
    return [item["articleBody"] for item in truth.values()]


def web_page_texts(corpora: Path) -> list[str]:
    """Readability's expected texts and trafilatura's extraction of its evaluation pages."""
    import lxml.html
    import trafilatura

    texts = [
        lxml.html.fromstring(path.read_bytes()).text_content()
        for path in sorted((corpora / READABILITY_FOLDER).glob("*/expected.html"))
    ]
    for folder in TRAFILATURA_FOLDERS:
        for path in sorted((corpora / folder).glob("*.html.gz")):
            texts.append(trafilatura.extract(gzip.decompress(path.read_bytes()), fast=True) or "")
    return [text for text in texts if text.strip()]
