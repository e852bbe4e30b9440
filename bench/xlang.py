"""One story across languages, measured through the pipeline (bench/stream.py): the
labelled pairs of tests/data/xlang_pairs.yaml (a Ukrainian or Russian write-up and an
English one, of the same event or of two events on one topic) recorded by
`Pipeline.process_entry` on fresh stores, two ways:

1. Alone: each pair on a store of its own, its Ukrainian or Russian write-up first. No
   other article weighs the marks (every one is rare), so the anchor does the work.
2. Stream: every article of the pairs in publication order on one store, all within one
   window (two days): the window's IDF weighs the marks, and the other events of a topic
   compete. Besides the pairs, every join decided across languages is judged: right when
   the story it joined held only articles of the same event until then.
3. `--corpora`: the same stream among the 196 English WikiNews articles of other events
   (their dense timeline, the pairs moved to its start): a pair's article joining a
   WikiNews story is a wrong join, and the WikiNews grouping must not change.

A pair is "joined" when its two articles end in one story: precision and recall of
"joined" against "same event", per split (`dev`: the pairs the thresholds were tuned on;
`held`: kept out until the end; `--split` picks which are shown).

    python bench/xlang.py [--pairs tests/data/xlang_pairs.yaml] [--split dev|held|all]
                          [--show] [--corpora ../shared/corpora]

The figures go to bench/RESULTS.md, section "Languages", by hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import stream  # noqa: E402
from bench.news_corpora import corpora_path  # noqa: E402
from monitors.store.schema import articles, decisions  # noqa: E402

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


def place(
    pairs: Sequence[Pair], store_url: str, others: Sequence[stream.Piece] = ()
) -> dict[str, stream.Outcome]:
    """Every article of the pairs (and `others`) recorded in publication order; the
    outcome by key, in that order."""
    pieces = sorted(
        [*others, *(p for pair in pairs for p in (pair.a, pair.b))],
        key=lambda p: (p.published, p.key),
    )
    return {done.piece.key: done for done in stream.record_all(pieces, store_url)}


def among_wikinews(
    pairs: Sequence[Pair], corpora: Path, store_url: str
) -> tuple[dict[str, stream.Outcome], list[stream.Piece]]:
    """The pairs recorded among the WikiNews articles, moved to their timeline's start;
    the outcomes, and the WikiNews pieces."""
    wiki = stream.wikinews(corpora, "published")
    shift = _at(wiki[0]) - min(_at(p.a) for p in pairs)

    def moved(piece: stream.Piece) -> stream.Piece:
        return dataclasses.replace(piece, published=_at(piece) + shift)

    pairs = [dataclasses.replace(p, a=moved(p.a), b=moved(p.b)) for p in pairs]
    return place(pairs, store_url, wiki), wiki


def alone(pairs: Sequence[Pair], folder: str) -> dict[str, stream.Outcome]:
    """Each pair recorded on a store of its own; the outcomes by key."""
    placed: dict[str, stream.Outcome] = {}
    for pair in pairs:
        placed |= place([pair], f"sqlite:///{folder}/{pair.key}.db")
    return placed


def across(placed: dict[str, stream.Outcome], store_url: str) -> tuple[int, int]:
    """The joins decided across languages in a stream, and how many were wrong: the
    story held an article of another event when it was joined."""
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(articles.c.url, decisions.c.reason)
            .join(decisions, decisions.c.article_id == articles.c.id)
            .where(decisions.c.kind == "same story")
        ).all()
    engine.dispose()
    crossed = {url for url, reason in rows if "across languages" in reason}
    joins = wrong = 0
    seen: dict[int | None, set[str]] = {}
    for done in placed.values():  # in the order recorded
        labels = seen.setdefault(done.story_id, set())
        if done.piece.url in crossed:
            joins += 1
            wrong += bool(labels - {done.piece.label})
        labels.add(done.piece.label)
    return joins, wrong


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


def _at(piece: stream.Piece) -> datetime:
    assert piece.published is not None, "every labelled piece has a time"
    return piece.published


def _together(placed: dict[str, stream.Outcome], a: stream.Piece, b: stream.Piece) -> bool:
    return placed[a.key].story_id == placed[b.key].story_id


def rows(mode: str, pairs: Sequence[Pair], placed: dict[str, stream.Outcome]) -> list[str]:
    """A table row per split of `pairs` (those of one split, or all with both)."""
    splits = sorted({p.split for p in pairs})
    out = []
    for name in [*splits, "all"] if len(splits) > 1 else splits:
        chosen = [p for p in pairs if name in ("all", p.split)]
        s = scores(chosen, placed)
        out.append(
            f"| {mode} | {name} | {s.pairs} | {s.same} | {s.joined} | {s.right} | "
            f"{s.precision:.3f} | {s.recall:.3f} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--split", choices=("dev", "held", "all"), default="all")
    parser.add_argument("--show", action="store_true", help="each pair's outcome")
    parser.add_argument("--corpora", type=Path, help="also among the WikiNews articles")
    args = parser.parse_args(argv)
    pairs = [p for p in load(args.pairs) if args.split in ("all", p.split)]
    with tempfile.TemporaryDirectory() as folder:
        single = alone(pairs, folder)
        url = f"sqlite:///{folder}/stream.db"
        streamed = place(pairs, url)
        joins, wrong = across(streamed, url)
    if args.show:
        for p in pairs:
            got = [_together(placed, p.a, p.b) for placed in (single, streamed)]
            flags = ["ok" if g == p.same else "WRONG" for g in got]
            relation = "same" if p.same else "diff"
            print(f"{p.key} {p.split:4} {relation} alone {flags[0]:5} stream {flags[1]}")
    print("| mode | pairs | count | same event | joined | joined rightly | precision | recall |")
    print("|---|---|---|---|---|---|---|---|")
    for line in rows("alone", pairs, single) + rows("stream", pairs, streamed):
        print(line)
    print(f"\nStream: {joins} joins decided across languages, {wrong} of them wrong.")
    if args.corpora:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/among.db"
            mixed, wiki = among_wikinews(pairs, corpora_path(args.corpora), url)
            joins, wrong = across(mixed, url)
        for line in rows("among WikiNews", pairs, mixed):
            print(line)
        done = [mixed[p.key] for p in wiki]
        s = stream.pair_scores([d.story_id for d in done], [p.label for p in wiki])
        print(
            f"Among WikiNews: {joins} joins decided across languages, {wrong} of them wrong; "
            f"the WikiNews articles' grouping: pair P {s.precision:.3f}, R {s.recall:.3f}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
