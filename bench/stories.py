"""Same-story clustering on real headlines: UCI News Aggregator stories and STS headline pairs.

UCI: every headline, in time order, joins the story that scores best against it
(`similarity.story_score`: the best of the story's first members sharing an anchor with it
that is not topical), when `similarity.decide` says join (score at least the threshold,
within the window and the maximum span); otherwise it starts a story: what `StoryDesk`
does. Pairwise and B-cubed precision/recall/F1 are measured against the STORY labels, and
against the same labels with aliases merged: the aggregator split some stories in two, and
identical headlines are more often in different STORY ids than in the same one.

STS: the score of each news-headline pair against the human 0-5 score (Pearson, Spearman),
and, over the pairs scored >= 4 (same) or <= 2 (different), the precision and recall of
"score >= threshold".

    python bench/stories.py [--corpora ../shared/corpora] [--write-results]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.build_idf import document_frequencies, documents  # noqa: E402
from bench.news_corpora import (  # noqa: E402
    Headline,
    corpora_path,
    sts_headline_pairs,
    uci_headlines,
)
from bench.results import replace_section  # noqa: E402
from monitors.config import StoriesConfig  # noqa: E402
from monitors.extract import analysis  # noqa: E402
from monitors.extract.analysis import IdfTable  # noqa: E402
from monitors.models import StoryFeatures  # noqa: E402
from monitors.stories import similarity  # noqa: E402
from monitors.stories.similarity import Story  # noqa: E402
from monitors.text import tokenize  # noqa: E402

SETTINGS = StoriesConfig()
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
TARGET_PRECISION = 0.95
SECTION = "## Stories"


@dataclass(frozen=True)
class Scores:
    """Pairwise and B-cubed precision and recall of a clustering against labels."""

    pair_p: float
    pair_r: float
    b3_p: float
    b3_r: float

    @property
    def pair_f1(self) -> float:
        return _f1(self.pair_p, self.pair_r)

    @property
    def b3_f1(self) -> float:
        return _f1(self.b3_p, self.b3_r)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def cluster(feats: Sequence[StoryFeatures], threshold: float) -> tuple[list[int], dict[int, str]]:
    """Greedy online clustering in the given order: each item's story, and each join's reason.

    Candidates are the stories sharing a term with the item and within the window; the best
    scoring one is joined when `decide` says so. Topical terms are counted over the stories
    so far (the headlines span less than the window).
    """
    stories: list[Story] = []
    by_term: defaultdict[str, set[int]] = defaultdict(set)
    assigned: list[int] = []
    reasons: dict[int, str] = {}
    for i, article in enumerate(feats):
        candidates = set().union(*(by_term[t] for t in article.weights))
        held = {t: len(by_term[t]) for t in article.salient}
        topical = similarity.topical(held, len(stories))
        scored = [
            (similarity.story_score(stories[k], article, topical), -k)
            for k in candidates
            if similarity.within(stories[k], article, SETTINGS.window)
            and similarity.within_span(stories[k], article, SETTINGS.max_span)
        ]
        best = -max(scored)[1] if scored else -1
        settings = SETTINGS.model_copy(update={"same_story": threshold})
        decision = (
            similarity.decide(stories[best], article, settings, topical)
            if scored
            else None
        )
        if decision is not None and decision.join:
            reasons[i] = decision.reason
            stories[best] = similarity.merge(stories[best], article)
        else:
            best = len(stories)
            stories.append(Story.of(article))
        for term in stories[best].index_terms:
            by_term[term].add(best)
        assigned.append(best)
    return assigned, reasons


def scores(predicted: Sequence[int], gold: Sequence[int]) -> Scores:
    """Pairwise precision/recall over item pairs, and B-cubed averaged over items."""
    both = Counter(zip(predicted, gold, strict=True))
    pred, true = Counter(predicted), Counter(gold)

    def pairs(counts: Counter[int] | Counter[tuple[int, int]]) -> float:
        return sum(n * (n - 1) / 2 for n in counts.values())

    together, pred_pairs, true_pairs = pairs(both), pairs(pred), pairs(true)
    n = len(predicted)
    b3_p = sum(both[(p, g)] / pred[p] for p, g in zip(predicted, gold, strict=True)) / n
    b3_r = sum(both[(p, g)] / true[g] for p, g in zip(predicted, gold, strict=True)) / n
    return Scores(together / pred_pairs if pred_pairs else 1.0, together / true_pairs, b3_p, b3_r)


def gold_labels(headlines: Sequence[Headline]) -> tuple[list[int], list[int]]:
    """STORY ids as ints, and the same with stories sharing an identical headline merged."""
    ids = {story: i for i, story in enumerate(dict.fromkeys(h.story for h in headlines))}
    raw = [ids[h.story] for h in headlines]
    parent = list(range(len(ids)))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    first: dict[str, int] = {}
    for h, story in zip(headlines, raw, strict=True):
        key = _normalized(h.title)
        if key in first:
            parent[root(story)] = root(first[key])
        first.setdefault(key, story)
    return raw, [root(s) for s in raw]


def identical_headline_agreement(headlines: Sequence[Headline]) -> tuple[int, int]:
    """Pairs of identical headlines in the same STORY, and in different ones."""
    by_title: defaultdict[str, list[str]] = defaultdict(list)
    for h in headlines:
        by_title[_normalized(h.title)].append(h.story)
    same = different = 0
    for stories in by_title.values():
        for i, a in enumerate(stories):
            for b in stories[:i]:
                same += a == b
                different += a != b
    return same, different


def _normalized(title: str) -> str:
    return " ".join(t.norm for t in tokenize(title))


def sts_figures(corpora: Path, threshold: float) -> dict[str, float]:
    """Correlation with human scores, and precision/recall of the threshold on clear pairs."""
    pairs = sts_headline_pairs(corpora)
    ours = np.array(
        [
            similarity.same_story_score(
                analysis.features(p.first, ""), analysis.features(p.second, "")
            )
            for p in pairs
        ]
    )
    human = np.array([p.score for p in pairs])
    clear = (human >= 4) | (human <= 2)
    said_same = clear & (ours >= threshold)
    same = human >= 4
    return {
        "pairs": len(pairs),
        "pearson": float(np.corrcoef(ours, human)[0, 1]),
        "spearman": float(np.corrcoef(_ranks(ours), _ranks(human))[0, 1]),
        "clear": int(clear.sum()),
        "same": int(same.sum()),
        "precision": float(same[said_same].mean()) if said_same.any() else 1.0,
        "recall": float((said_same & same).sum() / same.sum()),
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank."""
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    inverse = np.unique(values, return_inverse=True)[1]
    return (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]


def run(args: argparse.Namespace) -> list[str]:
    """The sweep, the chosen threshold, STS figures, the IDF comparison and wrong joins."""
    corpora = corpora_path(args.corpora)
    headlines = uci_headlines(corpora)
    raw, merged = gold_labels(headlines)
    started = time.perf_counter()
    feats = [analysis.features(h.title, "", h.published) for h in headlines]
    per_headline = (time.perf_counter() - started) / len(feats) * 1000
    rows, results = [], {}
    for threshold in args.thresholds:
        started = time.perf_counter()
        predicted, _ = cluster(feats, threshold)
        elapsed = time.perf_counter() - started
        results[threshold] = (scores(predicted, raw), scores(predicted, merged))
        rows.append(_row(threshold, *results[threshold], len(set(predicted)), elapsed))
        print(rows[-1], flush=True)
    chosen = SETTINGS.same_story
    examples = wrong_joins(headlines, feats, merged, chosen)
    same, different = identical_headline_agreement(headlines)
    sts = sts_figures(corpora, chosen)
    with_uci = _with_uci_idf(corpora, headlines, raw, merged, chosen)
    lines = _report(
        headlines, per_headline, rows, results, chosen, (same, different), sts, with_uci, raw
    )
    heading = (
        f"At {chosen:.2f}, {len(examples)} headlines joined a story whose most common label "
        "(aliases merged) was another. A sample, with `decide`'s reason:"
    )
    step = max(1, len(examples) // 12)
    return [*lines, "", heading, ""] + [
        f"- {story!r} + {joining!r}: {reason}" for story, joining, reason in examples[::step]
    ]


def wrong_joins(
    headlines: Sequence[Headline],
    feats: Sequence[StoryFeatures],
    gold: Sequence[int],
    threshold: float,
) -> list[tuple[str, str, str]]:
    """The joins whose headline's label is not the most common label of the story so far:
    the story's first headline, the joining one, and `decide`'s reason."""
    predicted, reasons = cluster(feats, threshold)
    first: dict[int, int] = {}
    labels: defaultdict[int, Counter[int]] = defaultdict(Counter)
    wrong = []
    for i, story in enumerate(predicted):
        start = first.setdefault(story, i)
        if start != i and labels[story].most_common(1)[0][0] != gold[i]:
            wrong.append((headlines[start].title, headlines[i].title, reasons[i]))
        labels[story][gold[i]] += 1
    return wrong


def _with_uci_idf(
    corpora: Path,
    headlines: Sequence[Headline],
    raw: list[int],
    merged: list[int],
    threshold: float,
) -> tuple[Scores, Scores]:
    """The chosen threshold's scores with the UCI headlines counted in the IDF table."""
    docs = documents(corpora, with_uci=True)
    idf = IdfTable(len(docs), document_frequencies(docs, 2))
    feats = [analysis.features(h.title, "", h.published, idf) for h in headlines]
    predicted, _ = cluster(feats, threshold)
    return scores(predicted, raw), scores(predicted, merged)


def _row(threshold: float, raw: Scores, merged: Scores, stories: int, seconds: float) -> str:
    return (
        f"| {threshold:.2f} | {raw.pair_p:.3f} | {raw.pair_r:.3f} | {raw.pair_f1:.3f} "
        f"| {raw.b3_p:.3f} | {raw.b3_r:.3f} | {raw.b3_f1:.3f} "
        f"| {merged.pair_p:.3f} | {merged.pair_r:.3f} | {merged.b3_p:.3f} | {merged.b3_r:.3f} "
        f"| {stories} | {seconds:.1f} |"
    )


def _report(
    headlines: Sequence[Headline],
    per_headline: float,
    rows: list[str],
    results: dict[float, tuple[Scores, Scores]],
    chosen: float,
    identical: tuple[int, int],
    sts: dict[str, float],
    with_uci: tuple[Scores, Scores],
    raw: list[int],
) -> list[str]:
    reached = [t for t, (r, _) in sorted(results.items()) if r.pair_p >= TARGET_PRECISION]
    best_raw = max(r.pair_p for r, _ in results.values())
    target = (
        f"raw pairwise precision reaches {TARGET_PRECISION} from threshold {reached[0]:.2f}"
        if reached
        else f"raw pairwise precision never reaches {TARGET_PRECISION} (best {best_raw:.3f})"
    )
    same, different = identical
    lines = [
        SECTION,
        "",
        "`python bench/stories.py --write-results` (corpora: `../shared/corpora`). Features are",
        "`analysis.features(headline, '', timestamp)` with the shipped IDF table",
        "(`monitors/data/idf.json.gz`, from `bench/build_idf.py`: scrapinghub, Readability and",
        "trafilatura evaluation page texts, no UCI headline).",
        "",
        f"### UCI News Aggregator sample: {len(headlines)} headlines, {len(set(raw))} stories, "
        "greedy online clustering",
        "",
        "Each headline, in time order, joins the story that `decide` lets it join with the",
        "best score (the best of the story's first 20 members sharing a non-topical anchor",
        "with it), within 72 h of the story's articles and 7 days of its first, or starts a",
        "new story, as `StoryDesk` does. *raw*: against the STORY labels. *aliases merged*:",
        "stories sharing an identical (normalized) headline count as one, because the",
        f"aggregator split stories: of the pairs of identical headlines, {same} are in the same",
        f"STORY and {different} in different ones, which caps raw pairwise precision whatever",
        "the scorer does.",
        "",
        "| threshold | raw pair P | raw pair R | raw pair F1 | raw B3 P | raw B3 R | raw B3 F1 "
        "| merged pair P | merged pair R | merged B3 P | merged B3 R | stories | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Features: {per_headline:.2f} ms per headline. The headlines span 36 hours, so the",
        "window never splits a story here.",
        "",
        f"Chosen threshold: **{chosen:.2f}** (`stories.same_story`); {target}.",
    ]
    if chosen in results:
        r, m = results[chosen]
        above = [t for t in sorted(results) if t > chosen]
        lines += [
            f"At {chosen:.2f}: raw pairwise P {r.pair_p:.3f} R {r.pair_r:.3f}, raw B-cubed "
            f"P {r.b3_p:.3f} R {r.b3_r:.3f}; aliases merged: pairwise P {m.pair_p:.3f} "
            f"R {m.pair_r:.3f}, B-cubed P {m.b3_p:.3f} R {m.b3_r:.3f}.",
            "",
            f"Why {chosen:.2f}: it is where precision against the merged labels stops rising;",
            "above it only recall falls (merged pairwise R "
            + ", ".join(f"{results[t][1].pair_r:.3f} at {t:.2f}" for t in above)
            + "). Raw precision still rises because a higher threshold also stops",
            "joining the halves of the stories the aggregator split. A desk that would rather",
            "miss a join than risk a wrong one can pass a higher threshold to `decide`.",
            "",
            "When a story was the sum of its articles' vectors (before members, anchors and",
            "topical terms), 0.40 gave raw pairwise P 0.875 R 0.315, B-cubed P 0.928 R 0.327;",
            "aliases merged pairwise P 0.990 R 0.256, B-cubed P 0.984 R 0.302: comparing with",
            "members keeps precision and costs recall, the price of not snowballing.",
        ]
    r, m = with_uci
    lines += [
        "",
        "The shipped IDF table counts no UCI headline. Counting them too (`build_idf.py",
        "--with-uci`: the sample's stories repeat their own words, which then look common)",
        f"gives at the chosen threshold raw pairwise P {r.pair_p:.3f} R {r.pair_r:.3f}, B-cubed P "
        f"{r.b3_p:.3f} R {r.b3_r:.3f}; aliases merged: pairwise P {m.pair_p:.3f} "
        f"R {m.pair_r:.3f}.",
        "",
        f"### STS benchmark, news headlines: {sts['pairs']} pairs",
        "",
        f"- Correlation of `same_story_score` with the human 0-5 score: Pearson "
        f"{sts['pearson']:.3f}, Spearman {sts['spearman']:.3f}.",
        f"- Pairs scored >= 4 (same) or <= 2 (different): {sts['clear']}, of which "
        f"{sts['same']} same. Score >= {chosen:.2f} calls same with precision "
        f"{sts['precision']:.3f} and recall {sts['recall']:.3f}.",
        "- The pairs have no timestamps, so the 72 h window cannot reject pairs from",
        '  different days ("Rupee down 8 paise vs dollar" / "Rupee up 22 paise against',
        '  dollar"), and pairs scored <= 2 include reports of one event on different points:',
        "  this precision is a floor for the pipeline's.",
    ]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument(
        "--thresholds",
        type=lambda s: [float(x) for x in s.split(",")],
        default=list(THRESHOLDS),
    )
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lines = run(args)
    print("\n".join(lines))
    if args.write_results:
        replace_section(SECTION, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
