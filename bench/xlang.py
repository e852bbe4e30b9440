"""One story across languages, measured through the pipeline (bench/stream.py): the
labelled pairs of tests/data/xlang_pairs.yaml (a Ukrainian or Russian write-up and an
English one, of the same event or of two events on one topic) streamed in publication
order through `Pipeline.process_entry` on one fresh store, all within one window.

A pair is "joined" when its two articles end in one story. Precision and recall of
"joined" against "same event", per split (`dev`: the pairs the thresholds were tuned on;
`held`: kept out until the end) and in all; and, over every cross-language pair of
articles of the stream (not only the labelled pairs), how many were put in one story and
how many of those wrongly.

    python bench/xlang.py [--pairs tests/data/xlang_pairs.yaml] [--show]

The figures go to bench/RESULTS.md, section "Languages", by hand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import stream  # noqa: E402

PAIRS = REPO / "tests" / "data" / "xlang_pairs.yaml"


@dataclass(frozen=True)
class Pair:
    """A labelled pair: its two pieces, whether they tell one event, its split."""

    key: str
    same: bool
    split: str
    a: stream.Piece
    b: stream.Piece


def load(path: Path = PAIRS) -> list[Pair]:
    """The labelled pairs of `path`, each article a piece timed from the set's start."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    start = datetime.fromisoformat(data["start"])

    def piece(key: str, side: dict[str, object]) -> stream.Piece:
        return stream.Piece(
            key,
            str(side["title"]),
            str(side["text"]).strip(),
            f"{side['lang']}.example",
            f"https://{side['lang']}.example/{key}",
            start + timedelta(hours=float(side["at"])),  # type: ignore[arg-type]
            str(side["event"]),
            str(side["lang"]),
        )

    return [
        Pair(
            p["id"],
            p["relation"] == "same",
            p["split"],
            piece(f"{p['id']}a", p["a"]),
            piece(f"{p['id']}b", p["b"]),
        )
        for p in data["pairs"]
    ]


def place(pairs: Sequence[Pair], store_url: str) -> dict[str, stream.Outcome]:
    """Every article of the pairs recorded in publication order; the outcome by key."""
    pieces = sorted(
        (p for pair in pairs for p in (pair.a, pair.b)), key=lambda p: (p.published, p.key)
    )
    return {done.piece.key: done for done in stream.record_all(pieces, store_url)}


@dataclass(frozen=True)
class Scores:
    """Precision and recall of "joined" against "same event"."""

    pairs: int
    same: int
    joined: int
    right: int

    @property
    def precision(self) -> float:
        return self.right / self.joined if self.joined else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.same if self.same else 1.0


def scores(pairs: Sequence[Pair], placed: dict[str, stream.Outcome]) -> Scores:
    joined = [_together(placed, p.a, p.b) for p in pairs]
    return Scores(
        len(pairs),
        sum(p.same for p in pairs),
        sum(joined),
        sum(p.same and j for p, j in zip(pairs, joined, strict=True)),
    )


def stray(placed: dict[str, stream.Outcome]) -> tuple[int, int]:
    """Over every two articles of the stream in different languages: how many share a
    story, and how many of those tell different events."""
    together = wrong = 0
    for x, y in combinations(placed.values(), 2):
        if x.piece.language != y.piece.language and x.story_id == y.story_id:
            together += 1
            wrong += x.piece.label != y.piece.label
    return together, wrong


def _together(placed: dict[str, stream.Outcome], a: stream.Piece, b: stream.Piece) -> bool:
    return placed[a.key].story_id == placed[b.key].story_id


def report(pairs: Sequence[Pair], placed: dict[str, stream.Outcome]) -> list[str]:
    lines = [
        "| pairs | count | same event | joined | joined rightly | precision | recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("dev", "held", "all"):
        chosen = [p for p in pairs if name in ("all", p.split)]
        s = scores(chosen, placed)
        lines.append(
            f"| {name} | {s.pairs} | {s.same} | {s.joined} | {s.right} | "
            f"{s.precision:.3f} | {s.recall:.3f} |"
        )
    together, wrong = stray(placed)
    lines += [
        "",
        f"Every two articles of the stream in different languages: {together} put in one "
        f"story, {wrong} of them of different events.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--show", action="store_true", help="each pair's outcome")
    args = parser.parse_args(argv)
    pairs = load(args.pairs)
    with tempfile.TemporaryDirectory() as folder:
        placed = place(pairs, f"sqlite:///{folder}/x.db")
    if args.show:
        for p in pairs:
            joined = _together(placed, p.a, p.b)
            flag = "" if joined == p.same else "  <-- wrong"
            print(f"{p.key} {p.split:4} {'same' if p.same else 'diff'} joined={joined}{flag}")
    for line in report(pairs, placed):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
