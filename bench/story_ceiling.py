"""How far bag-of-words grouping can go on the WikiNews events, in hindsight: the ceiling
for the online placement measured by bench/stories.py.

Every article is compared with every other at once (no publication order, no window
read as the stream goes), each view's pairwise similarities are clustered by
hierarchical agglomeration (average, complete or single linkage: a story's mean,
farthest or closest member), and the threshold is the one best for the labels (an
oracle). Printed per timeline, view and linkage: the best pairwise precision at recall
>= 0.65, and the best recall at precision >= 0.93 (issue 16's goals for the dense
timeline). A view placement cannot beat here, it cannot beat online either.

Views: TF-IDF cosines (sublinear TF; IDF of the 196 texts, which no stream knows before
its end) of every term of headline and text (`all`), of newsmon's 40 body terms
weighed as placement weighs them (`body`) or only present (`body terms present`), each
also with the shipped IDF table in place of the texts' own, of its rare names and numbers
(`names`, the placement's keys), and the mean of `all` and `names`; each as it is, with
a time decay halved every 24, 48 or 96 h of the two articles' gap, or cut at a 36 h gap.

    python bench/story_ceiling.py [--corpora ../shared/corpora]

The figures go to bench/RESULTS.md, section "Stories from full text", by hand.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import stream  # noqa: E402
from bench.news_corpora import corpora_path  # noqa: E402
from monitors.extract.analysis import default_idf, features, terms  # noqa: E402

LINKAGES = ("average", "complete", "single")
RECALL_GOAL, PRECISION_GOAL = 0.65, 0.93
CUTS = np.arange(0.01, 1.0, 0.01)  # distance thresholds tried


def cosines(bags: Sequence[Mapping[str, float]], shipped: bool = False) -> np.ndarray:
    """Pairwise cosines of TF weight x IDF vectors: IDF over the bags themselves (the
    whole week's, known only in hindsight), or the shipped table's."""
    df = Counter(t for bag in bags for t in bag)
    vocab = {t: i for i, t in enumerate(df)}
    table = default_idf()
    idf = np.array(
        [table.idf(t) if shipped else math.log((1 + len(bags)) / (1 + df[t])) + 1.0 for t in vocab]
    )
    matrix = np.zeros((len(bags), len(vocab)))
    for row, bag in enumerate(bags):
        for t, n in bag.items():
            matrix[row, vocab[t]] = n * idf[vocab[t]]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = matrix / np.where(norms == 0, 1, norms)
    return unit @ unit.T


def views(pieces: Sequence[stream.Piece]) -> dict[str, np.ndarray]:
    """Each view's pairwise similarity matrix (see the module)."""
    every = [_sublinear(Counter(terms(p.title + "\n" + p.text))) for p in pieces]
    feats = [features(p.title, p.text) for p in pieces]
    body = [f.body for f in feats]  # weighed as placement weighs them
    present = [dict.fromkeys(f.body, 1.0) for f in feats]
    names = [dict.fromkeys(f.keys, 1.0) for f in feats]
    found = {"all": cosines(every), "body": cosines(body), "names": cosines(names)}
    found["body, shipped IDF"] = cosines(body, shipped=True)
    found["body terms present"] = cosines(present)
    found["body terms present, shipped IDF"] = cosines(present, shipped=True)
    found["all + names"] = (found["all"] + found["names"]) / 2
    return found


def _sublinear(counts: Counter[str]) -> dict[str, float]:
    return {t: 1.0 + math.log(n) for t, n in counts.items()}


def times(pieces: Sequence[stream.Piece]) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Each time treatment, applied to a similarity matrix (see the module)."""
    hours = np.array([p.published.timestamp() / 3600 for p in pieces])
    gap = np.abs(hours[:, None] - hours[None, :])
    treated: dict[str, Callable[[np.ndarray], np.ndarray]] = {"no time": lambda s: s}
    for half_life in (24, 48, 96):
        treated[f"decay {half_life} h"] = lambda s, h=half_life: s * 0.5 ** (gap / h)
    treated["cut at 36 h"] = lambda s: np.where(gap <= 36, s, 0.0)
    return treated


def frontier(similarity: np.ndarray, labels: Sequence[str], method: str) -> tuple[str, str]:
    """The best precision at the recall goal and the best recall at the precision goal
    over every threshold, for one linkage."""
    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method)
    scores = [stream.pair_scores(fcluster(tree, cut, "distance"), labels) for cut in CUTS]
    precise = max((s.precision for s in scores if s.recall >= RECALL_GOAL), default=None)
    recall = max((s.recall for s in scores if s.precision >= PRECISION_GOAL), default=None)
    return _fmt(precise), _fmt(recall)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(corpora: Path) -> Iterable[str]:
    """The ceiling's table, both timelines."""
    heads = [f"{m} P@R{RECALL_GOAL} / R@P{PRECISION_GOAL}" for m in LINKAGES]
    yield "| timeline | view | time | " + " | ".join(heads) + " |"
    yield "|---|---|---|" + "---|" * len(LINKAGES)
    for timeline in ("published", "published_real"):
        pieces = stream.wikinews(corpora, timeline)
        labels = [p.label for p in pieces]
        treated = times(pieces)
        for view, similarity in views(pieces).items():
            for name, treat in treated.items():
                cells = [" / ".join(frontier(treat(similarity), labels, m)) for m in LINKAGES]
                yield f"| {timeline} | {view} | {name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    args = parser.parse_args(argv)
    for line in table(corpora_path(args.corpora)):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
