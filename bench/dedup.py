"""Near-duplicate index at scale: insert and look up synthetic articles in a fresh SQLite store.

Synthetic articles are built from the words of the 181 scrapinghub article bodies: an
original is 60 to 900 words taken as runs of 8 to 40 consecutive words from random places;
a tenth of the articles are planted copies of an earlier original (page chrome before and
after, a cut end, 0-4% of the words swapped, deleted, inserted or replaced). Every article
is deterministic from its number.

1. Signatures (`minhash.signature_of_words`) are computed first, in `--workers` processes.
   The full cost of `minhash.signature(text)` (tokenizing included) is timed separately.
2. Each article is then looked up (`near_duplicates`) and added (`add`) in its own
   transaction on a `Store.open` engine (WAL, synchronous=NORMAL), as the pipeline would;
   that is the timed per-article cost.
3. Found matches are checked against the planted copies: recall over the copies whose
   exact shingle Jaccard with their original is at least the threshold, precision over all
   matches reported.

Before that, the shingle size table: on the 181 texts, the exact Jaccard of edited copies
and of unrelated pairs for k = 1..8 words.

    python bench/dedup.py [--corpora ../shared/corpora] [--sizes 10000,100000,1000000]
                          [--layout without-rowid|rowid] [--write-results]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.news_corpora import article_texts, corpora_path  # noqa: E402
from bench.results import replace_section  # noqa: E402
from monitors.config import StoriesConfig  # noqa: E402
from monitors.store import Store  # noqa: E402
from monitors.stories import minhash  # noqa: E402
from monitors.stories.minhash import Signature, shingle_hashes, signature, signature_of_words  # noqa: E402
from monitors.text import tokenize  # noqa: E402

SEED = 20251125
DUP_RATE = 0.1
MIN_WORDS, MAX_WORDS = 60, 900
MAX_EDIT_RATE = 0.04
BATCH = 2000
SIGNATURE_SAMPLE = 2000
SECTION = "## Dedup"
READING = (
    "",
    "The median transaction barely grows with the index (p50), as B-tree range scans",
    "should. The mean and p99 are SQLite's automatic WAL checkpoints: with the default",
    "1,000-page auto-checkpoint one transaction in ~60 copies the WAL back and syncs, 10-20",
    "ms here; the `wal_autocheckpoint=10000` row is the same index with far fewer of them.",
    "WITHOUT ROWID stores each band row once instead of in a table and its primary key index.",
)
CHROME = (
    "Advertisement",
    "Share this article",
    "Sign up for our morning newsletter",
    "Read more",
    "Follow us on Twitter and Facebook",
    "Copyright 2025 The Associated Press. All rights reserved.",
    "This material may not be published, broadcast, rewritten or redistributed.",
    "Related coverage",
    "Most popular",
    "Skip to main content",
)


@dataclass(frozen=True)
class Corpus:
    """The words of the source texts as ids into `vocab`, and the page chrome phrases."""

    vocab: list[str]
    words: npt.NDArray[np.int32]
    chrome: list[npt.NDArray[np.int32]]


@dataclass(frozen=True)
class Plan:
    """Which articles are planted copies, and of which original."""

    root: npt.NDArray[np.int64]

    def is_copy(self, n: int) -> bool:
        return bool(self.root[n] != n)


@dataclass(frozen=True)
class Variant:
    """How the store is set up: the `lsh_bands` layout and SQLite's WAL auto-checkpoint."""

    name: str
    with_rowid: bool = False
    wal_autocheckpoint: int | None = None


STORE_AS_IS = Variant("store as is, WITHOUT ROWID")
VARIANTS = (
    Variant("rowid table + separate primary key index", with_rowid=True),
    Variant("wal_autocheckpoint=10000 (default 1000 pages)", wal_autocheckpoint=10_000),
)


@dataclass(frozen=True)
class SizeResult:
    """Everything measured for one size and variant."""

    size: int
    variant: str
    ms_mean: float
    ms_p50: float
    ms_p99: float
    ms_last: float
    insert_seconds: float
    signature_seconds: float
    store_mb: float
    table_mb: dict[str, float]
    copies: int
    copies_above: int
    found_above: int
    buckets: list[tuple[str, int, int]]
    matches: int
    correct_matches: int


def load_corpus(corpora: Path) -> Corpus:
    vocab: dict[str, int] = {}

    def ids(text: str) -> npt.NDArray[np.int32]:
        return np.array(
            [vocab.setdefault(t.norm, len(vocab)) for t in tokenize(text)], dtype=np.int32
        )

    words = np.concatenate([ids(text) for text in article_texts(corpora)])
    chrome = [ids(phrase) for phrase in CHROME]
    return Corpus(list(vocab), words, chrome)


def make_plan(size: int) -> Plan:
    """Article n is a copy of a random earlier article's original, with DUP_RATE chance."""
    rng = np.random.default_rng(SEED)
    copy = rng.random(size) < DUP_RATE
    sources = (rng.random(size) * np.arange(size)).astype(np.int64)
    root = np.arange(size, dtype=np.int64)
    for n in np.flatnonzero(copy):
        if n:
            root[n] = root[sources[n]]
    return Plan(root)


def original(corpus: Corpus, n: int) -> npt.NDArray[np.int32]:
    """Article n as an original: runs of consecutive corpus words from random places."""
    rng = np.random.default_rng([SEED, n])
    length = int(rng.integers(MIN_WORDS, MAX_WORDS + 1))
    runs, total = [], 0
    while total < length:
        run = int(rng.integers(8, 41))
        start = int(rng.integers(0, len(corpus.words) - run))
        runs.append(corpus.words[start : start + run])
        total += run
    return np.concatenate(runs)[:length]


def planted_copy(corpus: Corpus, words: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.int32]:
    """A republished copy of `words`: chrome around it, maybe cut short, a few word edits."""
    rng = np.random.default_rng([SEED, n, 1])
    out = list(words)
    if rng.random() < 0.3:
        out = out[: max(1, int(len(out) * rng.uniform(0.8, 1.0)))]
    for _ in range(int(len(out) * rng.uniform(0, MAX_EDIT_RATE))):
        i = int(rng.integers(0, len(out)))
        edit = rng.integers(0, 4)
        if edit == 0 and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
        elif edit == 1 and len(out) > 1:
            del out[i]
        elif edit == 2:
            out.insert(i, corpus.words[int(rng.integers(0, len(corpus.words)))])
        else:
            out[i] = corpus.words[int(rng.integers(0, len(corpus.words)))]
    before = [corpus.chrome[int(i)] for i in rng.choice(len(CHROME), int(rng.integers(0, 3)))]
    after = [corpus.chrome[int(i)] for i in rng.choice(len(CHROME), int(rng.integers(0, 4)))]
    return np.concatenate([*before, np.array(out, dtype=np.int32), *after])


def article(corpus: Corpus, plan: Plan, n: int) -> npt.NDArray[np.int32]:
    if not plan.is_copy(n):
        return original(corpus, n)
    return planted_copy(corpus, original(corpus, int(plan.root[n])), n)


def exact_jaccard(a: Sequence[str], b: Sequence[str], k: int = minhash.SHINGLE_WORDS) -> float:
    first, second = set(shingle_hashes(a, k).tolist()), set(shingle_hashes(b, k).tolist())
    return len(first & second) / len(first | second) if first | second else 1.0


_WORKER: tuple[Corpus, Plan] | None = None


def _init_worker(corpus: Corpus, plan: Plan) -> None:
    global _WORKER
    _WORKER = (corpus, plan)


def _signature_batch(
    bounds: tuple[int, int],
) -> tuple[int, npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
    """Signatures of articles [start, end), and each copy's exact Jaccard with its original."""
    assert _WORKER is not None
    corpus, plan = _WORKER
    start, end = bounds
    sigs = np.empty((end - start, minhash.NUM_PERM), dtype=np.uint32)
    truth = np.full(end - start, np.nan, dtype=np.float32)
    for n in range(start, end):
        words = [corpus.vocab[i] for i in article(corpus, plan, n)]
        sigs[n - start] = signature_of_words(words).values
        if plan.is_copy(n):
            source = [corpus.vocab[i] for i in original(corpus, int(plan.root[n]))]
            truth[n - start] = exact_jaccard(words, source)
    return start, sigs, truth


def signatures(
    corpus: Corpus, plan: Plan, workers: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float32], float]:
    """Every article's signature and true Jaccard (NaN for originals), and the seconds taken."""
    size = len(plan.root)
    sigs = np.empty((size, minhash.NUM_PERM), dtype=np.uint32)
    truth = np.empty(size, dtype=np.float32)
    batches = [(s, min(s + BATCH, size)) for s in range(0, size, BATCH)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (corpus, plan)) as pool:
        for start, batch, true in pool.imap_unordered(_signature_batch, batches):
            sigs[start : start + len(batch)] = batch
            truth[start : start + len(batch)] = true
    return sigs, truth, time.perf_counter() - started


def time_signature_of_text(corpus: Corpus, plan: Plan) -> tuple[float, float]:
    """(ms per `signature(text)` on rendered articles, their mean length in words)."""
    texts = [
        " ".join(corpus.vocab[i] for i in article(corpus, plan, n)) for n in range(SIGNATURE_SAMPLE)
    ]
    started = time.perf_counter()
    for text in texts:
        signature(text)
    elapsed = time.perf_counter() - started
    return elapsed / len(texts) * 1000, float(np.mean([len(t.split()) for t in texts]))


def insert_and_look_up(
    path: Path, sigs: npt.NDArray[np.uint32], threshold: float, variant: Variant
) -> tuple[npt.NDArray[np.float64], list[list[int]]]:
    """Per article: look up then add, one transaction each; the seconds and the matches."""
    minhash.lsh_bands.dialect_options["sqlite"]["with_rowid"] = variant.with_rowid
    try:
        store = Store.open(f"sqlite:///{path}")
    finally:
        minhash.lsh_bands.dialect_options["sqlite"]["with_rowid"] = False
    if variant.wal_autocheckpoint is not None:
        pragma = f"PRAGMA wal_autocheckpoint={variant.wal_autocheckpoint}"
        sa.event.listen(store.engine, "connect", lambda dbapi, _: dbapi.execute(pragma))
        store.engine.dispose()
    seconds = np.empty(len(sigs))
    found: list[list[int]] = []
    clock = time.perf_counter
    try:
        for n, values in enumerate(sigs):
            sig = Signature(values)
            started = clock()
            with store.engine.begin() as conn:
                matches = minhash.near_duplicates(conn, sig, threshold)
                minhash.add(conn, n + 1, sig)
            seconds[n] = clock() - started
            found.append([m.article_id - 1 for m in matches])
    finally:
        store.close()
    return seconds, found


def store_size(path: Path) -> tuple[float, dict[str, float]]:
    """The database file's size in MB after a checkpoint, and the MB of each index table
    (with its primary key index when that is separate)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = db.execute(
            "SELECT tbl_name, SUM(pgsize) FROM dbstat JOIN sqlite_schema USING (name) "
            "WHERE tbl_name IN ('article_minhash', 'lsh_bands') GROUP BY tbl_name"
        ).fetchall()
    return path.stat().st_size / 1e6, {name: size / 1e6 for name, size in rows}


def quality(
    plan: Plan, truth: npt.NDArray[np.float32], found: list[list[int]], threshold: float
) -> tuple[int, int, int, list[tuple[str, int, int]], int, int]:
    """Copies, copies at/above the threshold, of those found; per-band recall; matches, right."""
    copies = [n for n in range(len(found)) if plan.is_copy(n)]
    hit = {n for n in copies if any(plan.root[m] == plan.root[n] for m in found[n])}
    above = [n for n in copies if truth[n] >= threshold]
    buckets = []
    edges = (1.01, 0.9, threshold + 0.05, threshold, threshold - 0.1, 0.0)
    for high, low in itertools.pairwise(edges):
        members = [n for n in copies if low <= truth[n] < high]
        label = f"{low:.2f}-{min(high, 1.0):.2f}"
        buckets.append((label, len(members), sum(n in hit for n in members)))
    matches = sum(len(f) for f in found)
    right = sum(plan.root[m] == plan.root[n] for n, f in enumerate(found) for m in f)
    return len(copies), len(above), sum(n in hit for n in above), buckets, matches, int(right)


def run_size(corpus: Corpus, size: int, folder: Path, args: argparse.Namespace) -> list[SizeResult]:
    """Signatures for `size` articles, then the store as is, and the variants at --compare-at."""
    plan = make_plan(size)
    sigs, truth, sig_seconds = signatures(corpus, plan, args.workers)
    print(f"{size}: signatures in {sig_seconds:.0f} s", flush=True)
    variants = [STORE_AS_IS, *(VARIANTS if size == args.compare_at else ())]
    return [
        run_variant(folder / f"dedup-{size}-{i}.db", plan, sigs, truth, sig_seconds, v, args)
        for i, v in enumerate(variants)
    ]


def run_variant(
    path: Path,
    plan: Plan,
    sigs: npt.NDArray[np.uint32],
    truth: npt.NDArray[np.float32],
    sig_seconds: float,
    variant: Variant,
    args: argparse.Namespace,
) -> SizeResult:
    seconds, found = insert_and_look_up(path, sigs, args.threshold, variant)
    store_mb, table_mb = store_size(path)
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    copies, above, found_above, buckets, matches, right = quality(
        plan, truth, found, args.threshold
    )
    ms = seconds * 1000
    result = SizeResult(
        len(sigs),
        variant.name,
        float(ms.mean()),
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
        float(ms[-max(1, len(ms) // 10) :].mean()),
        float(seconds.sum()),
        sig_seconds,
        store_mb,
        table_mb,
        copies,
        above,
        found_above,
        buckets,
        matches,
        right,
    )
    print(
        f"{result.size} ({variant.name}): {result.ms_mean:.3f} ms/article "
        f"(p50 {result.ms_p50:.3f}, last 10%: {result.ms_last:.3f}), {store_mb:.0f} MB, "
        f"{result.insert_seconds:.0f} s, recall {found_above}/{above}, precision {right}/{matches}",
        flush=True,
    )
    return result


def shingle_table(corpora: Path) -> list[str]:
    """Exact Jaccard of edited copies and of unrelated pairs, per shingle size."""
    docs = [[t.norm for t in tokenize(text)] for text in article_texts(corpora)]
    rng = np.random.default_rng(SEED)
    vocab = [w for doc in docs for w in doc]
    rates = (0.01, 0.02, 0.03, 0.05)
    edited = {rate: [_scatter_edits(doc, rate, vocab, rng) for doc in docs] for rate in rates}
    lines = [
        "| k | unrelated pairs: p99.9 | max | "
        + " | ".join(f"{r:.0%} edits: median J, found at 0.8" for r in rates)
        + " |",
        "|---" * (3 + len(rates)) + "|",
    ]
    for k in (1, 2, 3, 4, 5, 6, 8):
        sets = [set(shingle_hashes(doc, k).tolist()) for doc in docs]
        unrelated = np.array([len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2)])
        cells = []
        for rate in rates:
            js = np.array([exact_jaccard(d, e, k) for d, e in zip(docs, edited[rate], strict=True)])
            cells.append(f"{np.median(js):.2f}, {np.mean(js >= 0.8):.0%}")
        lines.append(
            f"| {k} | {np.quantile(unrelated, 0.999):.3f} | {unrelated.max():.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _scatter_edits(
    doc: list[str], rate: float, vocab: list[str], rng: np.random.Generator
) -> list[str]:
    out = list(doc)
    for _ in range(max(1, round(rate * len(doc)))):
        i = int(rng.integers(0, len(out)))
        edit = rng.integers(0, 4)
        if edit == 0 and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
        elif edit == 1 and len(out) > 1:
            del out[i]
        elif edit == 2:
            out.insert(i, vocab[int(rng.integers(0, len(vocab)))])
        else:
            out[i] = vocab[int(rng.integers(0, len(vocab)))]
    return out


def report(
    args: argparse.Namespace,
    results: list[SizeResult],
    sig_ms: float,
    sig_words: float,
    k_table: list[str],
    seconds: float,
) -> list[str]:
    params = minhash.LSH
    sizes = ",".join(str(size) for size in args.sizes)
    lines = [
        SECTION,
        "",
        f"`python bench/dedup.py --sizes {sizes} --write-results` on "
        f"{platform.python_implementation()} {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} cores shared with other work (load "
        f"average {os.getloadavg()[0]:.1f} at the end); {seconds / 60:.0f} min in all.",
        f"Index: {minhash.NUM_PERM} permutations, {minhash.SHINGLE_WORDS}-word shingles, "
        f"{params.bands} bands x {params.rows} rows (a pair at Jaccard {args.threshold} shares "
        f"a band with probability {params.probability(args.threshold):.3f}, at 0.5: "
        f"{params.probability(0.5):.3f}, at 0.3: {params.probability(0.3):.4f}); "
        f"threshold {args.threshold}.",
        "Synthetic articles: 60-900 words of the scrapinghub texts; 10% planted copies of an",
        "earlier original (chrome before/after, 30% cut to 80-100%, 0-4% word edits). Each",
        "article is looked up then added in its own transaction on a `Store.open` engine (WAL,",
        "synchronous=NORMAL); the time is that transaction, commit included. Signatures were",
        f"computed beforehand in {args.workers} processes (their wall time is the last column).",
        "",
        "| articles | store | ms/article mean | p50 | p99 | mean over last 10% | insert+lookup s "
        "| store MB | article_minhash MB | lsh_bands MB | bytes/article | signatures s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.size:,} | {r.variant} | {r.ms_mean:.3f} | {r.ms_p50:.3f} | {r.ms_p99:.2f} | "
            f"{r.ms_last:.3f} | {r.insert_seconds:.0f} | {r.store_mb:.1f} | "
            f"{r.table_mb.get('article_minhash', 0):.1f} | {r.table_mb.get('lsh_bands', 0):.1f} | "
            f"{r.store_mb * 1e6 / r.size:.0f} | {r.signature_seconds:.0f} |"
        )
    lines += [
        *READING,
        "",
        f"`signature(text)` itself (tokenize + MinHash), one process: {sig_ms:.3f} ms per "
        f"article of {sig_words:.0f} words on average ({SIGNATURE_SAMPLE} rendered articles).",
        "",
        "Planted copies found (a match in the copy's family: its original or an earlier copy);",
        "exact J is the true Jaccard of the copy's shingles with its original's. Copies near",
        "the threshold are found or missed by the estimate's noise (standard deviation about",
        "0.035 at 128 permutations); a match outside the family would count against precision:",
        "",
        "| articles | copies | exact J >= threshold | found | recall | matches reported | "
        "precision | found by exact J |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.variant != STORE_AS_IS.name:
            continue
        bands = "; ".join(f"{label}: {hit}/{count}" for label, count, hit in r.buckets if count)
        lines.append(
            f"| {r.size:,} | {r.copies:,} | {r.copies_above:,} | {r.found_above:,} | "
            f"{r.found_above / max(r.copies_above, 1):.4f} | {r.matches:,} | "
            f"{r.correct_matches / max(r.matches, 1):.4f} | {bands} |"
        )
    lines += [
        "",
        "### Shingle size",
        "",
        "On the 181 scrapinghub texts: exact Jaccard between unrelated articles, and between",
        "each text and a copy with scattered word edits (swap, delete, insert, replace).",
        "",
        *k_table,
    ]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 100_000, 1_000_000],
    )
    parser.add_argument("--threshold", type=float, default=StoriesConfig().near_duplicate)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--compare-at",
        type=int,
        default=100_000,
        help="also measure the variants (rowid layout, larger WAL checkpoints) at this size",
    )
    parser.add_argument(
        "--folder", type=Path, help="where the SQLite files go (default: a temp dir)"
    )
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpora = corpora_path(args.corpora)
    corpus = load_corpus(corpora)
    k_table = shingle_table(corpora)
    print("\n".join(k_table), flush=True)
    sig_ms, sig_words = time_signature_of_text(corpus, make_plan(SIGNATURE_SAMPLE))
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="newsmon-dedup-", dir=args.folder) as tmp:
        for size in args.sizes:
            results += run_size(corpus, size, Path(tmp), args)
    lines = report(args, results, sig_ms, sig_words, k_table, time.perf_counter() - started)
    print("\n".join(lines))
    if args.write_results:
        replace_section(SECTION, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
