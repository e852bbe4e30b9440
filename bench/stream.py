"""A labelled stream of articles recorded through newsmon's pipeline, one at a time.

Each `Piece` (a headline, a text, an outlet, a time and the label of the story it belongs
to) becomes a pending entry of one feed in a fresh store, and is processed by
`Pipeline.process_entry` as a polled page would be: the article built from the page's
text (`article_from`), its analysis computed as an extraction worker computes it, the
rules matched, and the article recorded (`record_article`: stored, placed in a story, its
alerts decided). Only fetching and trafilatura are left out. The time of each placement
(`StoryDesk.place`) is kept.

Readers give the labelled streams: the WikiNews events (`wikinews`, either timeline), the
UCI headlines (`uci`) and the seed coverage (`seeds`).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.news_corpora import UCI_FILE
from monitors.models import Entry
from monitors.pipeline.cycle import Pipeline
from tests.replay import pipeline, record_page, shipped_config

WIKINEWS_FILE = "wikinews-events-dev/articles.json"
SEED_HOURS = (0, 6, 20, 30, 51)  # 000..004: three days, the FT report 51 h after the first
SEED_START = datetime(2025, 12, 14, 8, tzinfo=UTC)
FEED = "https://bench.example/feed.xml"


@dataclass(frozen=True)
class Piece:
    """One article of a labelled stream: `label` names the story it belongs to, `language`
    the language its page is in."""

    key: str
    title: str
    text: str
    site: str
    url: str
    published: datetime | None
    label: str
    language: str = "en"


@dataclass
class Outcome:
    """What recording a piece did: its story, its alerts, how long placement took."""

    piece: Piece
    story_id: int | None
    outcome: str
    alert_ids: tuple[int, ...]
    place_ms: float


def wikinews(corpora: Path, timeline: str = "published") -> list[Piece]:
    """The WikiNews events' articles in order of `timeline` ("published": the dense week;
    "published_real": the events' real dates), labelled by event."""
    items = json.loads((corpora / WIKINEWS_FILE).read_text(encoding="utf-8"))
    pieces = [
        Piece(
            item["id"],
            item["title"],
            item["text"],
            item["outlet"],
            item["url"],
            datetime.fromisoformat(item[timeline]),
            item["event"],
        )
        for item in items
    ]
    return sorted(pieces, key=lambda p: (p.published, p.key))


def uci(corpora: Path) -> list[Piece]:
    """The UCI headlines (no text: the headline is all an aggregator gives) in time order,
    labelled by STORY."""
    with (corpora / UCI_FILE).open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r.get("TIMESTAMP") or "").isdigit()]
    pieces = [
        Piece(
            r["ID"],
            r["TITLE"],
            "",
            r["HOSTNAME"] or r["PUBLISHER"],
            r["URL"],
            datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, tz=UTC),
            r["STORY"],
        )
        for r in rows
    ]
    return sorted(pieces, key=lambda p: (p.published, int(p.key)))


def seeds(folder: Path) -> list[Piece]:
    """The five seed write-ups, one story, published over three days (SEED_HOURS)."""
    from tests.rules.test_rules_seeds import seed  # how each file splits into title and text

    files = sorted(folder.glob("0*.txt"))
    return [
        Piece(
            path.stem[:3],
            *seed(path),
            f"seed{path.stem[:3]}.example",
            f"https://seed{path.stem[:3]}.example/story",
            SEED_START + timedelta(hours=hours),
            "seeds",
        )
        for path, hours in zip(files, SEED_HOURS, strict=True)
    ]


class Recorder:
    """Records pieces through a pipeline, timing each placement."""

    def __init__(self, line: Pipeline) -> None:
        self.line = line
        with line.store.transaction() as tx:
            self.feed_id = tx.sync_feeds([(FEED, "bench")])[FEED].id
        self.place_ms = 0.0
        desk = line.desk
        place = desk.place

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return place(*args, **kwargs)
            finally:
                self.place_ms = (time.perf_counter() - started) * 1000

        desk.place = timed  # type: ignore[method-assign]

    def record(self, piece: Piece, analysis: Any = None) -> Outcome:
        """Process one piece as a polled page (`analysis`: its precomputed analysis)."""
        entry = Entry(piece.key, piece.url, piece.url, piece.title, "", piece.published)
        self.place_ms = 0.0
        done = record_page(
            self.line, self.feed_id, entry, piece.site, piece.text, analysis, piece.language
        )
        if done.outcome == "error":
            raise RuntimeError(f"{piece.key}: {done.error}")
        with self.line.store.transaction() as tx:
            story_id = tx.story_of(tx.article_with_url(piece.url)[0])
        return Outcome(piece, story_id, done.outcome, done.alert_ids, self.place_ms)


def record_all(
    pieces: Iterable[Piece],
    store_url: str,
    rules: Sequence[dict[str, Any]] | None = None,
    stories: dict[str, Any] | None = None,
    on_each: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every piece in the given order through a pipeline on a fresh store at `store_url`
    (`stories`: settings changed from the shipped ones)."""
    done = []
    with pipeline(shipped_config(store_url, rules, stories)) as line:
        recorder = Recorder(line)
        for piece in pieces:
            done.append(outcome := recorder.record(piece))
            if on_each is not None:
                on_each(outcome)
    return done


@dataclass(frozen=True)
class PairScores:
    """Pairwise precision, recall and F1 of a clustering against labels."""

    precision: float
    recall: float
    predicted_pairs: int
    true_pairs: int
    found_pairs: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pair_scores(predicted: Sequence[Any], gold: Sequence[Any]) -> PairScores:
    """Pairwise precision and recall: pairs put in one story, pairs of one label."""
    from collections import Counter

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    together = pairs(Counter(zip(predicted, gold, strict=True)))
    said, true = pairs(Counter(predicted)), pairs(Counter(gold))
    return PairScores(
        together / said if said else 1.0, together / true if true else 1.0, said, true, together
    )


@dataclass
class Clock:
    """Wall time of a block, in seconds."""

    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    def __enter__(self) -> Clock:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._started
