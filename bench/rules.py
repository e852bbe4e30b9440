"""Rule matching speed: articles/s with 10, 100, 1,000 and 10,000 generated rules.

The 181 news pages of the extraction benchmark are extracted once with
`monitors.extract.extract_article`, before any timing. Rules are generated, seeded, in
five shapes modelled on real watch rules: two concepts (OR-lists of words, phrases and
prefixes) joined by AND or NEAR, with field scopes, proximity phrases and NOT. Their
words come from real news subjects: the headlines of uci-news-aggregator-sample, keeping
the words found in at most 3 of the articles (as a watch rule's subject is), adjacent
pairs of them, and six-letter prefixes as rare. Each rule count uses the first N rules of
one list of 10,000.

Generated rules rarely match, so a "hot topic" workload stands beside them: 300 variants
of the three shipped rules (with their aliases), as a desk following one story keeps many
close rules: other NEAR distances, an extra concept, a site or language excluded. It runs
on the benchmark articles, then on the on-topic texts of tests/data/rules/golden.yaml,
where most rules are evaluated and many match (the cost of evaluating and explaining).

Each figure is the best of `--repeats` timed passes over every article, in one process
(one core), timed in the process's CPU time so that others' work on a shared machine
counts less; the passes of all rule counts alternate, so a busy machine slows them alike.
`RuleSet.match` is what is timed: tokenizing, the prefilter pass, evaluating the rules it
lets through, and explaining the matches.

    python bench/rules.py                      # print the figures
    python bench/rules.py --write-results      # and update the "## Rules" section of RESULTS.md
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import platform
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from bench.results import replace_section  # noqa: E402
from monitors.config import ExtractConfig  # noqa: E402
from monitors.extract import extract_article  # noqa: E402
from monitors.models import Article, Entry  # noqa: E402
from monitors.rules import Document, RuleSet  # noqa: E402
from monitors.text import words  # noqa: E402

MIN_CHARS = ExtractConfig().min_chars

SECTION = "## Rules"
SHIPPED = REPO / "config" / "newsmon.yaml"
GOLDEN = REPO / "tests" / "data" / "rules" / "golden.yaml"
PAGES = "scrapinghub-article-extraction-benchmark/html"
HEADLINES = "uci-news-aggregator-sample/uci-news-aggregator-first6367.csv"
COUNTS = (10, 100, 1_000, 10_000)
SEED = 20260101
HOT_TOPIC = 300
EXTRA_CONCEPTS = (
    "(Russia OR Moscow OR Kremlin OR Putin)",
    "(Trump OR Witkoff OR Rubio OR Washington)",
    "(Europe* OR EU OR NATO)",
    "(talks OR negotiat* OR summit)",
)
EXCLUSIONS = ("-site:rt.com", "-lang:ru", '-"opinion"', "-sport*")
PREFIX = 6
SPECIFIC = 3


@dataclass(frozen=True)
class Figures:
    """One rule count's measurements."""

    rules: int
    compile_seconds: float
    articles_per_second: float
    candidates: float
    matches: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per rule count")
    parser.add_argument("--write-results", action="store_true", help="update RESULTS.md")
    return parser.parse_args(argv)


def load_headlines(corpora: Path) -> list[str]:
    """The headlines of the news aggregator sample (its last, truncated row left out)."""
    with (corpora / HEADLINES).open(encoding="utf-8", newline="") as f:
        return [row["TITLE"] for row in csv.DictReader(f)][:-1]


def load_articles(corpora: Path) -> list[Article]:
    """The benchmark pages, extracted."""
    files = sorted((corpora / PAGES).glob("*.html.gz"))
    if not files:
        raise SystemExit(f"no *.html.gz pages in {corpora / PAGES}")
    articles = []
    for path in files:
        url = f"https://bench.example/{path.name.removesuffix('.html.gz')}"
        entry = Entry(key=url, url=url, canonical_url=url)
        articles.append(extract_article(gzip.decompress(path.read_bytes()), entry, url, MIN_CHARS))
    return articles


def load_golden() -> list[Article]:
    """The texts of the shipped rules' golden file, as articles."""
    cases = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    return [
        Article(f"golden:{c['id']}", f"golden:{c['id']}", c["title"], c["text"], "", "page")
        for c in cases
    ]


class RuleMaker:
    """Generates queries from specific words of real headlines and adjacent pairs of them.

    A word is specific when it is found in at most one of the articles (most headline
    words are, as watch rules' subjects are); a prefix is the first six letters of one,
    when at most one article holds a word starting with them.
    """

    def __init__(self, headlines: list[str], articles: list[Article], seed: int) -> None:
        self.random = random.Random(seed)
        texts = [set(words(f"{a.title}\n{a.text}")) for a in articles]
        df = Counter(w for text in texts for w in text)
        starts = Counter(s for text in texts for s in {w[:PREFIX] for w in text})
        titles = [words(headline) for headline in headlines]
        vocabulary = {w for title in titles for w in title}
        self.words = sorted(w for w in vocabulary if df[w] <= SPECIFIC and _plain(w))
        known = set(self.words)
        pairs = {(a, b) for title in titles for a, b in zip(title, title[1:], strict=False)}
        self.pairs = sorted(p for p in pairs if p[0] in known and p[1] in known)
        self.prefixes = sorted(
            {
                w[:PREFIX]
                for w in self.words
                if len(w) > PREFIX + 1 and starts[w[:PREFIX]] <= SPECIFIC
            }
        )
        self.shapes = (self._concepts, self._phrases, self._near, self._fields, self._mixed)

    def queries(self, count: int) -> list[tuple[str, str]]:
        return [(f"r{i}", self.shapes[i % len(self.shapes)]()) for i in range(count)]

    def _word(self) -> str:
        return self.random.choice(self.words)

    def _prefix(self) -> str:
        return self.random.choice(self.prefixes) + "*"

    def _phrase(self) -> str:
        return '"{} {}"'.format(*self.random.choice(self.pairs))

    def _any(self, size: int) -> str:
        makers = (self._word, self._word, self._phrase, self._prefix)
        return "(" + " OR ".join(self.random.choice(makers)() for _ in range(size)) + ")"

    def _concepts(self) -> str:
        return f"{self._any(3)} AND {self._any(4)}"

    def _phrases(self) -> str:
        return f"{self._phrase()} AND ({self._prefix()} OR {self._word()})"

    def _near(self) -> str:
        return f"{self._any(3)} NEAR/10 {self._any(2)}"

    def _fields(self) -> str:
        return f"title:{self._any(2)} AND ({self._word()} OR {self._word()}) -{self._word()}"

    def _mixed(self) -> str:
        first, second = self.random.choice(self.pairs)
        return f'("{first} {second}"~5 OR {self._word()}) AND {self._any(3)} AND NOT {self._word()}'


def hot_topic_queries(
    shipped: list[tuple[str, str]], count: int, seed: int
) -> list[tuple[str, str]]:
    """`count` variants of the shipped rules: each NEAR's distance moved by up to a third,
    and maybe a concept ANDed on or something excluded; a `rule:ID` reference names the
    variant of that rule in the same round of variants."""
    rng = random.Random(seed)
    at = {rule_id: j for j, (rule_id, _) in enumerate(shipped)}
    out = []
    for i in range(count):
        rule_id, query = shipped[i % len(shipped)]
        first = i - i % len(shipped)
        query = _REFERENCE.sub(lambda m, first=first: f"rule:{m[1]}-{first + at[m[1]]}", query)
        query = _NEAR_DISTANCE.sub(lambda m: _moved(m, rng), query)
        if rng.random() < 0.5:
            query = f"({query}) AND {rng.choice(EXTRA_CONCEPTS)}"
        if rng.random() < 0.3:
            query = f"({query}) {rng.choice(EXCLUSIONS)}"
        out.append((f"{rule_id}-{i}", query))
    return out


_NEAR_DISTANCE = re.compile(r"NEAR/(\d+)")
_REFERENCE = re.compile(r"\brule:([\w-]+)")


def _moved(found: re.Match[str], rng: random.Random) -> str:
    distance = int(found.group(1))
    return f"NEAR/{max(1, distance + rng.randint(-distance // 3, distance // 3))}"


def _plain(word: str) -> bool:
    return len(word) >= 4 and word.isalpha()


def measure(
    works: list[Callable[[Article], object]], articles: list[Article], repeats: int
) -> list[float]:
    """The best articles/s of each of `works` over `repeats` rounds; each round times one
    pass of each, so a busy spell on the machine slows them all alike."""
    best = [float("inf")] * len(works)
    for _ in range(repeats):
        for i, work in enumerate(works):
            started = time.process_time()
            for a in articles:
                work(a)
            best[i] = min(best[i], time.process_time() - started)
    return [len(articles) / seconds for seconds in best]


def matcher(ruleset: RuleSet) -> Callable[[Article], object]:
    return lambda a: ruleset.match(a.title, a.text, site=a.site, lang=a.language)


def tokenizer(a: Article) -> object:
    return Document(a.title, a.text, a.site, a.language)


def compiled(queries: list[tuple[str, str]]) -> tuple[RuleSet, float]:
    """The rule set of `queries` and the seconds it took to compile."""
    started = time.perf_counter()
    ruleset = RuleSet.compile(queries)
    return ruleset, time.perf_counter() - started


def figures(ruleset: RuleSet, seconds: float, rate: float, articles: list[Article]) -> Figures:
    candidates = matches = 0
    for a in articles:
        candidates += len(ruleset.candidates(a.title, a.text, site=a.site, lang=a.language))
        matches += len(ruleset.match(a.title, a.text, site=a.site, lang=a.language))
    n = len(articles)
    return Figures(len(ruleset), seconds, rate, candidates / n, matches / n)


def shipped_queries() -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The rules and aliases of config/newsmon.yaml."""
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return [(rule["id"], rule["query"]) for rule in raw["rules"]], raw["aliases"]


def table(rows: list[Figures]) -> list[str]:
    lines = [
        "| rules | articles/s | vs 10 rules | compile (s) | rules evaluated / article "
        "| matches / article |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    base = rows[0].articles_per_second
    for f in rows:
        lines.append(
            f"| {f.rules:,} | {f.articles_per_second:,.0f} | {f.articles_per_second / base:.2f} "
            f"| {f.compile_seconds:.2f} | {f.candidates:.1f} | {f.matches:.2f} |"
        )
    return lines


def report(
    rows: list[Figures],
    hot_rows: tuple[Figures, Figures],
    shipped: Figures,
    tokenized: float,
    articles: list[Article],
    maker: RuleMaker,
    repeats: int,
    load: tuple[float, float],
) -> list[str]:
    chars = sum(len(a.title) + len(a.text) for a in articles) / len(articles)
    hot, on_topic = hot_rows
    golden_texts = load_golden()
    golden_words = sum(len(words(f"{a.title} {a.text}")) for a in golden_texts) / len(golden_texts)
    return [
        SECTION,
        "",
        f"`python bench/rules.py`, {date.today().isoformat()}, one process (one core), "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} before, {load[1]:.2f} after.",
        "",
        f"{len(articles)} articles of the extraction benchmark (mean {chars:,.0f} characters "
        f"of title and text), extracted once beforehand. Rules generated (seeded) in five "
        "shapes of two concepts joined by AND or NEAR (OR-lists of words, phrases and "
        "prefixes; field scopes, proximity phrases, NOT) from the 6,366 headlines of "
        f"uci-news-aggregator-sample: {len(maker.words):,} words found in at most {SPECIFIC} "
        f"of the articles, {len(maker.pairs):,} adjacent pairs of them and "
        f"{len(maker.prefixes):,} six-letter prefixes. Rates are the best of "
        f"{repeats} timed passes (CPU time) over all the articles, the rule counts taking turns.",
        "",
        *table(rows),
        "",
        "Targets: at least 2,000 articles/s at 1,000 rules; the 10,000-rule rate at least a "
        "third of the 10-rule rate.",
        "",
        f"Hot topic: {hot.rules} variants of the shipped rules (aliases, nested NEAR and "
        "NEAR/s; other distances, an extra concept, an exclusion), compiled in "
        f"{hot.compile_seconds:.2f} s. On the benchmark articles: "
        f"{hot.articles_per_second:,.0f} articles/s, {hot.candidates:.1f} rules evaluated and "
        f"{hot.matches:.2f} matches per article. On the {len(golden_texts)} on-topic texts "
        f"of the golden file (~{golden_words:.0f} words each): "
        f"{on_topic.articles_per_second:,.0f} articles/s, {on_topic.candidates:.1f} rules "
        f"evaluated and {on_topic.matches:.1f} matches per article.",
        "",
        f"The {shipped.rules} shipped rules of `config/newsmon.yaml` (aliases, nested NEAR, "
        "NEAR/s): "
        f"{shipped.articles_per_second:,.0f} articles/s, {shipped.matches:.2f} matches per "
        f"article. Tokenizing alone (`Document`) runs at {tokenized:,.0f} articles/s: it is "
        "most of the cost at any rule count.",
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    articles = load_articles(args.corpora)
    maker = RuleMaker(load_headlines(args.corpora), articles, SEED)
    queries = maker.queries(max(COUNTS))
    before = os.getloadavg()[0]
    sets = [compiled(queries[:count]) for count in COUNTS]
    shipped_rules, aliases = shipped_queries()
    shipped = RuleSet.compile(shipped_rules, aliases=aliases)
    hot = hot_topic_queries(shipped_rules, HOT_TOPIC, SEED)
    started = time.perf_counter()
    hot_set = RuleSet.compile(hot, aliases=aliases)
    hot_seconds = time.perf_counter() - started
    works = [
        *(matcher(ruleset) for ruleset, _ in sets),
        matcher(hot_set),
        matcher(shipped),
        tokenizer,
    ]
    rates = measure(works, articles, args.repeats)
    golden = load_golden()
    (on_topic,) = measure([matcher(hot_set)], golden, args.repeats)
    load = (before, os.getloadavg()[0])
    rows = [figures(rs, sec, rate, articles) for (rs, sec), rate in zip(sets, rates, strict=False)]
    hot_row = figures(hot_set, hot_seconds, rates[-3], articles)
    golden_row = figures(hot_set, hot_seconds, on_topic, golden)
    shipped_row = figures(shipped, 0.0, rates[-2], articles)
    hot_rows = (hot_row, golden_row)
    section = report(rows, hot_rows, shipped_row, rates[-1], articles, maker, args.repeats, load)
    print("\n".join(section))
    if args.write_results:
        replace_section(SECTION, section)


if __name__ == "__main__":
    main()
