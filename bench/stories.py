"""Stories from full text, measured through the pipeline (bench/stream.py): every article
recorded one at a time by `Pipeline.process_entry` on a fresh store, in publication order.

1. Grouping: pairwise precision and recall of the stories against the labels, on the
   WikiNews events (196 full-text articles, 61 events) on their dense timeline
   (`published`) and their real dates (`published_real`), the UCI headlines (6,366, 87
   stories; headline only), and the seeds (one story): per `--thresholds`. The UCI rows
   are also scored with the aggregator's aliases merged (`aliases_merged`). `--halves`:
   the WikiNews events and the UCI stories split in two by a hash of their id, each half
   its own stream (to tune on one half and check on the other); `--only WORD`: the
   streams named so.
2. `--replay`: a desk's view. The seeds with the shipped rules, and the WikiNews events
   with a rule each (its title's two rarest words, both required), streamed in order;
   per story label and rule, the alerts sent (new and updates) against the ideal: one,
   plus one update per real development (the seeds: where 004 brings new terms, per
   ../shared/seeds/README.md; the WikiNews events have no development labels: ideal 1).
3. `--scale N`: placement cost (ms per article, `StoryDesk.place` with its SQL) over the
   last 1,000 of N synthetic full-text articles, all in the window, and the process's
   peak RSS. All but the last 2,000 are stored in bulk, in the stories of their labels
   (the store a long run leaves, without placing each); the last 2,000 are recorded
   through the pipeline, the first 1,000 of them untimed. `--save FILE` stores the bulk
   in a SQLite file and stops; `--saved FILE` starts from a copy of it instead (a run at
   100,000 then takes minutes, not 40). Printed with the wall times: the CPU time of a
   placement and of its parts (SQL, scoring, MinHash signature), measured in the same run.

    python bench/stories.py [--corpora ../shared/corpora] [--thresholds 0.18,0.22]
                            [--halves] [--only WORD] [--replay]
                            [--scale 100000 [--save FILE | --saved FILE]]

The figures go to bench/RESULTS.md, section "Stories from full text", by hand.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import stream  # noqa: E402
from bench.news_corpora import corpora_path, web_page_texts  # noqa: E402
from monitors.config import StoriesConfig  # noqa: E402
from monitors.extract.analysis import analyse, default_idf, terms  # noqa: E402
from monitors.extract.page import text_hash  # noqa: E402
from monitors.models import Article, Entry  # noqa: E402
from monitors.pipeline import Pipeline  # noqa: E402
from monitors.store.schema import alerts  # noqa: E402
from monitors.stories import minhash  # noqa: E402
from monitors.stories.index import dump  # noqa: E402
from monitors.stories.placement import Placement, record  # noqa: E402
from tests.replay import pipeline, shipped_config  # noqa: E402

SEEDS = REPO / "tests" / "data" / "seeds"
TIMED = 1000  # placements timed by --scale
WARM = 1000  # placements recorded before them
SEED_IDEAL = {"security-guarantees": 2, "donbas-withdrawal": 1, "senate-ratification": 2}


def grouping(corpora: Path, threshold: float, split: bool = False, only: str = "") -> list[str]:
    """One table row per labelled stream at `threshold` (`split`: the WikiNews events'
    and the UCI stories' two halves, see `halves`; `only`: the streams whose name has
    this word); a UCI stream has a second row, its aliases merged."""
    sets = {
        "seeds (5, one story)": stream.seeds(SEEDS),
        "WikiNews, dense timeline": stream.wikinews(corpora, "published"),
        "WikiNews, real dates": stream.wikinews(corpora, "published_real"),
        "UCI headlines": stream.uci(corpora),
    }
    if split:
        sets = {
            f"{name}, half {half}": part
            for name, pieces in list(sets.items())[1:]
            for half, part in halves(pieces).items()
        }
    sets = {name: pieces for name, pieces in sets.items() if only.lower() in name.lower()}
    rows = []
    for name, pieces in sets.items():
        with tempfile.TemporaryDirectory() as folder:
            done = stream.record_all(
                pieces, f"sqlite:///{folder}/s.db", stories={"same_story": threshold}
            )
        found = [d.story_id for d in done]
        labels = {name: [p.label for p in pieces]}
        if name.startswith("UCI"):
            labels[f"{name}, aliases merged"] = aliases_merged(pieces)
        ms = statistics.mean(d.place_ms for d in done[1:])
        for named, gold in labels.items():
            s = stream.pair_scores(found, gold)
            rows.append(
                f"| {threshold:.2f} | {named} | {len(pieces)} | {len(set(found))} "
                f"| {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {ms:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


def aliases_merged(pieces: Sequence[stream.Piece]) -> list[str]:
    """The pieces' labels, those of stories sharing an identical headline (up to case
    and spacing) merged into one: the aggregator files one headline under several
    stories, which caps raw precision whatever the grouping."""
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            label = parent[label]
        return label

    first: dict[str, str] = {}
    for piece in pieces:
        headline = " ".join(piece.title.casefold().split())
        if headline in first:
            parent[root(piece.label)] = root(first[headline])
        else:
            first[headline] = piece.label
    return [root(p.label) for p in pieces]


def halves(pieces: Sequence[stream.Piece]) -> dict[str, list[stream.Piece]]:
    """The pieces of the stories whose label hashes even (half A) and odd (half B), in
    order: a split to tune on one half and check on the other."""
    return {
        half: [p for p in pieces if zlib.crc32(p.label.encode()) % 2 == rest]
        for rest, half in enumerate("AB")
    }


def event_rules(corpora: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """A rule per WikiNews event: its title's two rarest words (by the shipped IDF), both
    required; and the rule of each event."""
    items = json.loads((corpora / stream.WIKINEWS_FILE).read_text(encoding="utf-8"))
    titles = dict((i["event"], i["event_title"]) for i in items)
    idf, rules, of = default_idf(), [], {}
    for event, title in sorted(titles.items()):
        words = [w for w in dict.fromkeys(title.replace("'", " ").split()) if w.isalpha()]
        rare = sorted(words, key=lambda w: -max((idf.idf(t) for t in terms(w)), default=0))[:2]
        rules.append({"id": f"event-{event}", "query": " AND ".join(rare)})
        of[event] = f"event-{event}"
    return rules, of


def replay(corpora: Path) -> list[str]:
    """The seeds and the WikiNews events streamed as a desk gets them: alerts per label
    and rule against the ideal."""
    lines = ["### Replay: alerts sent against the ideal", ""]
    seeds = stream.seeds(SEEDS)
    sent = _replayed(seeds, None)
    lines += [
        "Seeds (000..004 at 0, 6, 20, 30 and 51 h; shipped rules). Ideal: one alert per rule, "
        "plus one update where 004 brings new terms.",
        "",
        "| rule | stories | new | updates | sent | ideal |",
        "|---|---|---|---|---|---|",
    ]
    for rule, ideal in SEED_IDEAL.items():
        kinds = sent.get(("seeds", rule), Counter())
        stories = len(kinds.get("stories", set()))  # type: ignore[arg-type]
        new, updates = kinds["new"], kinds["update"]
        lines.append(f"| {rule} | {stories} | {new} | {updates} | {new + updates} | {ideal} |")
    rules, of = event_rules(corpora)
    for timeline in ("published", "published_real"):
        pieces = stream.wikinews(corpora, timeline)
        got = _replayed(pieces, rules)
        rows = [(label, rule) for label, rule in got if of.get(label) == rule]
        new = sum(got[k]["new"] for k in rows)
        updates = sum(got[k]["update"] for k in rows)
        extra = Counter(got[k]["new"] + got[k]["update"] - 1 for k in rows)
        over = sorted((label, got[(label, rule)]) for label, rule in rows)
        lines += [
            "",
            f"WikiNews, {timeline}: {len(rows)} events whose rule matched one of their "
            f"articles; ideal {len(rows)} alerts (no development labelled). Sent: {new} new, "
            f"{updates} updates; events by alerts beyond one: "
            + ", ".join(f"{n}: {c}" for n, c in sorted(extra.items())),
            "Events sent more than one (new + updates): "
            + ", ".join(
                f"{label} {k['new']}+{k['update']}"
                for label, k in over
                if k["new"] + k["update"] > 1
            ),
        ]
    for line in lines:
        print(line)
    return lines


def _replayed(
    pieces: Sequence[stream.Piece], rules: list[dict[str, str]] | None
) -> dict[tuple[str, str], Counter[str]]:
    """Per (label, rule): alerts by kind, and (under "stories") the stories alerted."""
    import sqlalchemy as sa

    label_of = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/s.db"
        done = stream.record_all(pieces, url, rules=rules)
        for d in done:
            for alert_id in d.alert_ids:
                label_of[alert_id] = d.piece.label
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            columns = (alerts.c.id, alerts.c.rule_id, alerts.c.kind, alerts.c.story_id)
            rows = conn.execute(sa.select(*columns)).all()
        engine.dispose()
    got: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    stories: dict[tuple[str, str], set[int]] = defaultdict(set)
    for alert_id, rule, kind, story in rows:
        key = (label_of[alert_id], rule)
        got[key][kind] += 1
        stories[key].add(story)
    for key, held in stories.items():
        got[key]["stories"] = held  # type: ignore[assignment]
    return got


def scale(
    corpora: Path, count: int, save: Path | None = None, saved: Path | None = None
) -> list[str]:
    """Placement cost at `count` stored articles and peak RSS: synthetic stories of 1 to 8
    write-ups, each a mix of the story's own sentences and names and of the day's other
    sentences, from real page texts. All but the last TIMED + WARM are stored in bulk
    (`preload`); the WARM next are recorded through the pipeline untimed (the first reads
    the window), the last TIMED timed. `save`: only store the bulk in this SQLite file;
    `saved`: start from a copy of such a file instead of storing the bulk."""
    pieces, stories = synthetic(corpora, count)
    bulk = max(0, count - TIMED - WARM)
    if save is not None:
        return [_save(save, pieces[:bulk])]
    tail: list[float] = []
    cpu: list[float] = []  # CPU ms of each timed placement
    parts: defaultdict[str, float] = defaultdict(float)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        if saved is not None:
            for suffix in ("", "-wal"):
                if Path(f"{saved}{suffix}").exists():
                    shutil.copy(f"{saved}{suffix}", f"{folder}/s.db{suffix}")
        with pipeline(shipped_config(f"sqlite:///{folder}/s.db")) as line:
            recorder = stream.Recorder(line)
            if saved is None:
                preload(line, recorder.feed_id, pieces[:bulk])
            loaded = time.perf_counter() - started
            print(f"{bulk:,} stored in bulk, {loaded:.0f} s", flush=True)
            with Parts(line) as timer:
                for n, piece in enumerate(pieces[bulk:], bulk):
                    timer.clear()
                    done = recorder.record(piece, analyse(piece.title, piece.text))
                    if n == bulk:
                        first = done.place_ms
                    if n >= count - TIMED:
                        tail.append(done.place_ms)
                        cpu.append(timer.ms["place cpu"])
                        for part, ms in timer.ms.items():
                            parts[part] += ms
            held = line.desk.recent.held
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tail.sort()
    cpu.sort()
    how = f"copied from {saved}" if saved else f"stored in bulk in {loaded:.0f} s"
    each = ", ".join(f"{part} {ms / len(tail):.2f}" for part, ms in sorted(parts.items()))
    lines = [
        f"- {count:,} synthetic articles ({stories:,} stories, all within the window; "
        f"{held:,} held for placement; the first {bulk:,} {how}, "
        f"the next {min(WARM, count - bulk):,} recorded through the pipeline, the first of "
        f"them reading the window in {first:.0f} ms); placement (`StoryDesk.place`, its SQL "
        f"included) over the last {len(tail):,}: mean {statistics.mean(tail):.2f} ms, median "
        f"{tail[len(tail) // 2]:.2f} ms, p99 {tail[int(len(tail) * 0.99)]:.2f} ms (wall); "
        f"per placement, mean CPU ms: {each}; CPU of a placement: median {cpu[len(cpu) // 2]:.2f}, "
        f"p99 {cpu[int(len(cpu) * 0.99)]:.2f} ms; peak RSS "
        f"of the process {rss:,.0f} MiB; {time.perf_counter() - started:.0f} s in all.",
    ]
    print("\n".join(lines))
    return lines


class Parts:
    """Where a recording's CPU time goes (the machine is shared: wall time says more of
    the others), in ms since `clear` (`ms`): "place cpu" (`StoryDesk.place`), "sql" (its
    statements, from compiling to the rows read), "scoring" (`candidates` without its
    SQL) and "signature" (the MinHash signature, wherever computed)."""

    def __init__(self, line: Pipeline) -> None:
        self.line = line
        self.ms: defaultdict[str, float] = defaultdict(float)
        self._inside: list[str] = []
        self._sql_started = 0.0

    def clear(self) -> None:
        self.ms = defaultdict(float)

    def __enter__(self) -> Parts:
        desk = self.line.desk
        self._patched = [
            (desk, "place", desk.place, "place cpu"),
            (desk, "candidates", desk.candidates, "scoring"),
            (minhash, "signature", minhash.signature, "signature"),
        ]
        for owner, name, function, part in self._patched:
            setattr(owner, name, self._timed(function, part))
        engine = self.line.store.engine
        sa.event.listen(engine, "before_execute", self._before)
        sa.event.listen(engine, "after_execute", self._after)
        return self

    def __exit__(self, *_: object) -> None:
        for owner, name, function, _part in self._patched:
            setattr(owner, name, function)
        engine = self.line.store.engine
        sa.event.remove(engine, "before_execute", self._before)
        sa.event.remove(engine, "after_execute", self._after)

    def _timed(self, function: Any, part: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            self._inside.append(part)
            sql = self.ms["sql"]
            try:
                return function(*args, **kwargs)
            finally:
                self._inside.pop()
                spent = (time.thread_time() - started) * 1000
                self.ms[part] += spent - (self.ms["sql"] - sql if part == "scoring" else 0)

        return timed

    def _before(self, *_: object) -> None:
        self._sql_started = time.thread_time()

    def _after(self, *_: object) -> None:
        if "place cpu" in self._inside:
            self.ms["sql"] += (time.thread_time() - self._sql_started) * 1000


def _save(path: Path, pieces: Sequence[stream.Piece]) -> str:
    """`pieces` stored in bulk (`preload`) in a new SQLite file at `path`."""
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    with pipeline(shipped_config(f"sqlite:///{path.resolve()}")) as line:
        preload(line, stream.Recorder(line).feed_id, pieces)
    said = f"{len(pieces):,} stored in bulk in {path} in {time.perf_counter() - started:.0f} s"
    print(said)
    return said


def synthetic(corpora: Path, count: int) -> tuple[list[stream.Piece], int]:
    """`count` synthetic full-text articles in publication order, and their stories."""
    rng = random.Random(16)
    sentences = [s for text in web_page_texts(corpora) for s in text.split(". ") if len(s) > 60]
    start = datetime(2026, 1, 5, tzinfo=UTC)
    pieces, story, made = [], 0, 0
    while made < count:
        own = rng.sample(sentences, 8)
        names = [f"{_name(rng)} {_name(rng)}" for _ in range(3)]
        for _ in range(rng.randint(1, 8)):
            body = rng.sample(own, 5) + rng.sample(sentences, 5)
            body.insert(2, f"{names[0]} met {names[1]} on the {rng.randint(10, 999)} plan")
            rng.shuffle(body)
            at = start + timedelta(seconds=made * 2)
            pieces.append(
                stream.Piece(
                    f"s{made}",
                    f"{names[2]}: {own[0][:60]}",
                    ". ".join(body),
                    "synth.example",
                    f"https://synth.example/{made}",
                    at,
                    f"s{story}",
                )
            )
            made += 1
        story += 1
    return pieces[:count], story


def preload(line: Pipeline, feed_id: int, pieces: Sequence[stream.Piece]) -> None:
    """Store `pieces` in one transaction as placement leaves them, each in the story of
    its label instead of the one placement would choose: the article, its terms and
    MinHash signature, its story and the decision (saying it was preloaded)."""
    desk, now = line.desk, datetime.now(UTC)
    story_of: dict[str, tuple[int, datetime | None]] = {}
    with line.store.transaction() as tx:
        for piece in pieces:
            feats = analyse(piece.title, piece.text).features_at(piece.published)
            entry = Entry(piece.key, piece.url, piece.url, piece.title, "", piece.published)
            article = Article(
                piece.url,
                piece.url,
                piece.title,
                piece.text,
                piece.site,
                source="page",
                language="en",
                published=piece.published,
                text_hash=text_hash(piece.text),
            )
            article_id = tx.insert_article(tx.entry_for_page(feed_id, entry), article, None, now)
            if article_id is None:
                raise RuntimeError(f"{piece.url} stored twice")
            story, started = story_of.get(piece.label, (None, piece.published))
            span = json.dumps({"started": _iso(started), "latest": _iso(piece.published)})
            if story is None:
                story = tx.new_story(piece.title, now, piece.published, span)
                story_of[piece.label] = (story, piece.published)
                kind = "new story"
            else:
                tx.grow_story(story, span, now, piece.published)
                kind = "same story"
            tx.add_article_terms(article_id, dump(feats))
            sig = minhash.signature(piece.text)
            tx.add_signature(article_id, sig.to_bytes(), sig.bands(desk.lsh))
            record(tx, article_id, Placement(story, kind, None, "preloaded by the bench"), now)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _name(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3)).title()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument(
        "--thresholds",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[StoriesConfig().same_story],
    )
    parser.add_argument(
        "--halves", action="store_true", help="the WikiNews events and UCI stories halved"
    )
    parser.add_argument("--only", default="", help="the streams whose name has this word")
    parser.add_argument("--replay", action="store_true", help="alerts sent against the ideal")
    parser.add_argument("--scale", type=int, default=0, help="placement cost at N articles")
    parser.add_argument("--save", type=Path, help="--scale: store the bulk in this file, only")
    parser.add_argument(
        "--saved", type=Path, help="--scale: start from a copy of this file (saved at the same N)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpora = corpora_path(args.corpora)
    if args.replay:
        replay(corpora)
    elif args.scale:
        scale(corpora, args.scale, args.save, args.saved)
    else:
        print("| threshold | stream | articles | stories | pair P | pair R | pair F1 | place ms |")
        print("|---|---|---|---|---|---|---|---|")
        for threshold in args.thresholds:
            grouping(corpora, threshold, args.halves, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
