"""Speed and quality of trafilatura extraction settings on real pages with ground truth.

`shipped` is `monitors.extract.page_text` itself (trafilatura without its metadata pass,
the title and site read from meta tags, the fallback extractors run only when the fast
pass finds under FULL_BELOW characters); the others call `trafilatura.load_html(page)`
then `trafilatura.bare_extraction(tree, url=url, ...)` with other options, `metadata pass`
being what page_text did before. Load and extraction are timed together (CPU via
`time.process_time`, wall via `time.perf_counter`). Two timing passes run in one process,
page by page with the configurations interleaved, and each page keeps its faster pass per
configuration. Logging is off, as in the pipeline's workers.

Quality on the scrapinghub article extraction benchmark (CORPUS): bag-of-words precision,
recall and F1 of the extracted text against the annotated `articleBody` (lowercased `\\w+`
tokens, counted with multiplicity), macro-averaged over pages; a page that gives no text
scores 0 on all three. With `--also` on trafilatura's own evaluation corpus: its
"with"/"without" snippet test (whitespace-normalised substring match), micro-averaged over
all snippets as upstream does. `title` and `site` count pages that gave them.

    python bench/extraction.py [CORPUS] [--also ../shared/corpora/trafilatura-eval]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import logging
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trafilatura

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitors.extract import page_text  # noqa: E402

BEFORE: dict[str, Any] = {
    "with_metadata": True,
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
}
PASSES = 2
WORD = re.compile(r"\w+")

Scorer = Callable[[Sequence[str]], tuple[float, float, float]]


@dataclass(frozen=True)
class Page:
    url: str
    html: bytes


@dataclass(frozen=True)
class Corpus:
    name: str
    metric: str
    pages: list[Page]
    score: Scorer  # (precision, recall, F1) of the texts extracted from `pages`, in order


@dataclass(frozen=True)
class Output:
    text: str
    title: bool
    site: bool


Extract = Callable[[Page], Output]


@dataclass
class Run:
    """One configuration's outputs and its per-page best times, in seconds."""

    outputs: list[Output]
    cpu: list[float]
    wall: list[float]


def read_gzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def scrapinghub(root: Path) -> Corpus:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    html = root / "html"
    pages = [Page(item["url"], read_gzip(html / f"{key}.html.gz")) for key, item in truth.items()]
    bodies = [item["articleBody"] for item in truth.values()]
    return Corpus(root.name, "bag-of-words, macro over pages", pages, bag_of_words(bodies))


def trafilatura_eval(root: Path) -> Corpus:
    items = json.loads((root / "tests" / "evaldata.json").read_text(encoding="utf-8"))
    pages = [Page(url, read_gzip(eval_file(root, item["file"]))) for url, item in items.items()]
    return Corpus(root.name, "snippets, micro", pages, snippets(list(items.values())))


def eval_file(root: Path, name: str) -> Path:
    """The page's file, looked up in tests/cache then tests/eval, as upstream does."""
    paths = [root / "tests" / folder / f"{name}.gz" for folder in ("cache", "eval")]
    return next((path for path in paths if path.is_file()), paths[-1])


def bag_of_words(bodies: Sequence[str]) -> Scorer:
    truths = [words(body) for body in bodies]

    def score(texts: Sequence[str]) -> tuple[float, float, float]:
        found = [words(text) for text in texts]
        scores = [overlap(got, want) for got, want in zip(found, truths, strict=True)]
        precision, recall, f1 = (statistics.fmean(column) for column in zip(*scores, strict=True))
        return precision, recall, f1

    return score


def words(text: str) -> Counter[str]:
    return Counter(WORD.findall(text.lower()))


def overlap(got: Counter[str], want: Counter[str]) -> tuple[float, float, float]:
    common = (got & want).total()
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / got.total(), common / want.total()
    return precision, recall, 2 * precision * recall / (precision + recall)


def snippets(items: Sequence[dict[str, Any]]) -> Scorer:
    def score(texts: Sequence[str]) -> tuple[float, float, float]:
        tp = fp = fn = 0
        for raw, item in zip(texts, items, strict=True):
            text = norm(raw)
            found = sum(norm(s) in text for s in item["with"])
            tp, fn = tp + found, fn + len(item["with"]) - found
            fp += sum(norm(s) in text for s in item["without"])
        return tp / ((tp + fp) or 1), tp / ((tp + fn) or 1), 2 * tp / ((2 * tp + fp + fn) or 1)

    return score


def norm(text: str) -> str:
    return " ".join(text.split())


def with_options(**options: Any) -> Extract:
    """Extraction with these trafilatura options; failures give nothing."""

    def extract(page: Page) -> Output:
        try:
            tree = trafilatura.load_html(page.html)
            doc = (
                None if tree is None else trafilatura.bare_extraction(tree, url=page.url, **options)
            )
        except Exception:
            doc = None
        return Output(
            (getattr(doc, "text", None) or "").strip(),
            bool((getattr(doc, "title", None) or "").strip()),
            bool((getattr(doc, "sitename", None) or "").strip()),
        )

    return extract


def shipped(page: Page) -> Output:
    found = page_text(page.html, page.url)
    return Output(found.text, bool(found.title), bool(found.site))


CONFIGS: dict[str, Extract] = {
    "metadata pass (before)": with_options(**BEFORE),
    "shipped": shipped,
    "fast": with_options(**BEFORE, fast=True),
    "fast, no favor_precision": with_options(**{**BEFORE, "favor_precision": False}, fast=True),
    "fast, no metadata": with_options(**{**BEFORE, "with_metadata": False}, fast=True),
}


def timed(page: Page, extract: Extract) -> tuple[Output, float, float]:
    """The page's output, CPU seconds and wall seconds with this extraction."""
    cpu, wall = time.process_time(), time.perf_counter()
    output = extract(page)
    return output, time.process_time() - cpu, time.perf_counter() - wall


def measure(pages: Sequence[Page]) -> dict[str, Run]:
    """Every configuration on every page, interleaved, best of PASSES per page."""
    runs = {name: Run([], [], []) for name in CONFIGS}
    for page in pages:
        passes = [
            {name: timed(page, opts) for name, opts in CONFIGS.items()} for _ in range(PASSES)
        ]
        for name, run in runs.items():
            outputs, cpu, wall = zip(*(found[name] for found in passes), strict=True)
            run.outputs.append(outputs[0])
            run.cpu.append(min(cpu))
            run.wall.append(min(wall))
    return runs


def p95(seconds: Sequence[float]) -> float:
    return statistics.quantiles(seconds, n=20, method="inclusive")[-1]


def table(corpus: Corpus, runs: dict[str, Run]) -> str:
    lines = [
        f"{corpus.name}: {len(corpus.pages)} pages; quality = {corpus.metric}; times in ms, "
        f"best of {PASSES} per page",
        "",
        "| config | pages | empty | title | site | CPU mean | CPU p95 | wall mean | wall p95 "
        "| P | R | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        precision, recall, f1 = corpus.score([o.text for o in run.outputs])
        cells = [
            name,
            len(run.outputs),
            sum(not o.text for o in run.outputs),
            sum(o.title for o in run.outputs),
            sum(o.site for o in run.outputs),
            *(f"{1000 * f(t):.1f}" for t in (run.cpu, run.wall) for f in (statistics.fmean, p95)),
            *(f"{x:.3f}" for x in (precision, recall, f1)),
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def header() -> str:
    return (
        f"{datetime.date.today()}, {len(os.sched_getaffinity(0))} cores (`nproc`), "
        f"trafilatura {trafilatura.__version__}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=Path("../shared/corpora/scrapinghub-article-extraction-benchmark"),
        help="scrapinghub benchmark: html/<id>.html.gz and ground-truth.json",
    )
    parser.add_argument(
        "--also", type=Path, help="trafilatura's evaluation corpus: tests/evaldata.json + pages"
    )
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    corpora = [scrapinghub(args.corpus)]
    if args.also:
        corpora.append(trafilatura_eval(args.also))
    print(header())
    for corpus in corpora:
        print()
        print(table(corpus, measure(corpus.pages)))


if __name__ == "__main__":
    main()
