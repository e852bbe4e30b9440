"""Language detection (monitors.extract.language): accuracy on headlines and article
texts in English, Ukrainian, Russian, German, French and Polish, and its cost.

The labelled samples are tests/data/languages/headlines.yaml (20 per language) and
texts.yaml (4 per language), and the Ukrainian and Russian watch-rule cases of
tests/data/rules (headline and text). Each is told three ways: from its words alone,
with its page's declared language right (`<html lang>` agreeing), and with it wrong
(declared "en", or "ru" for English). The cost is CPU time per call, on the samples and
on the seed write-ups (real pages, 3-10 KB).

With `--corpora DIR`, the headlines of the UCI news aggregator sample (English outlets)
are told, counting those given another language; and plain English (told without the
model) is checked on real pages nobody here labelled: the text trafilatura extracts
from the HTML pages of the trafilatura evaluation set (many languages), Mozilla's
readability test pages and the scrapinghub benchmark. For each text, the model's answer
is compared with the shortcut's where the shortcut is taken: a page it calls English
that the model does not is a miss.

    python bench/languages.py [--corpora ../shared/corpora]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from monitors.extract import language  # noqa: E402
from monitors.extract.language import detect_language  # noqa: E402

DATA = REPO / "tests" / "data"
SEEDS = REPO / "tests" / "data" / "seeds"
REPEATS = 20


def samples() -> dict[str, dict[str, list[str]]]:
    """Headlines, texts and rule cases by language."""
    load = lambda name: yaml.safe_load((DATA / "languages" / name).read_text("utf-8"))  # noqa: E731
    cases: dict[str, list[str]] = {}
    for lang in ("uk", "ru"):
        for name in (f"watches-{lang}.yaml", f"heldout-{lang}.yaml"):
            raw = yaml.safe_load((DATA / "rules" / name).read_text("utf-8"))
            cases.setdefault(lang, []).extend(f"{c['title']}\n{c['text']}" for c in raw)
    return {"headlines": load("headlines.yaml"), "texts": load("texts.yaml"), "rule cases": cases}


def wrong(lang: str) -> str:
    return "ru" if lang == "en" else "en"


def accuracy(by_lang: dict[str, list[str]], hint: str) -> tuple[Counter[str], Counter[str]]:
    """Per language: how many were told right, and how many there were."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for lang, items in by_lang.items():
        declared = {"none": None, "right": lang, "wrong": wrong(lang)}[hint]
        for item in items:
            right[lang] += detect_language(item, declared) == lang
            total[lang] += 1
    return right, total


def cost_ms(items: list[str]) -> float:
    """Mean CPU milliseconds per detection, best of `REPEATS` passes."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.process_time()
        for item in items:
            detect_language(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1000


def corpus_texts(corpora: Path) -> dict[str, list[str]]:
    """The texts trafilatura extracts from the corpora's HTML pages, by corpus."""
    import trafilatura

    folders = {
        "trafilatura eval": corpora / "trafilatura-eval" / "tests" / "cache",
        "readability": corpora / "mozilla-readability-test-pages" / "test-pages",
        "scrapinghub": corpora / "scrapinghub-article-extraction-benchmark" / "html",
    }
    texts: dict[str, list[str]] = {}
    for name, folder in folders.items():
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix not in (".html", ".gz"):
                continue
            if path.name.startswith("expected"):  # readability's answer, not a page
                continue
            raw = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                raw = gzip.decompress(raw)
            text = trafilatura.extract(raw.decode("utf-8", "replace")) or ""
            if text:
                texts.setdefault(name, []).append(text)
    return texts


def plain_english(corpora: Path) -> None:
    """How often plain English is told without the model, and whether the model agrees."""
    print("plain English without the model, on real pages (model's answer for comparison)")
    for name, texts in corpus_texts(corpora).items():
        taken, missed, english = 0, [], 0
        for text in texts:
            sample = text[: language.SAMPLE_CHARS]
            model = dict(language._identifier().rank(sample))
            best = max(model, key=model.__getitem__)
            english += best == "en"
            if language.plainly_english(sample):
                taken += 1
                if best != "en":
                    missed.append((best, sample[:80].replace("\n", " ")))
        print(
            f"  {name:<17} {len(texts):>4} texts, model says English for {english}; "
            f"plain English for {taken}, of which the model says otherwise for {len(missed)}"
        )
        for best, start in missed:
            print(f"    model: {best}: {start!r}")


def uci_headlines(corpora: Path) -> None:
    """How the English headlines of the UCI aggregator sample are told."""
    path = corpora / "uci-news-aggregator-sample" / "uci-news-aggregator-first6367.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        titles = [row["TITLE"] for row in csv.DictReader(handle)]
    told = Counter(detect_language(title) for title in titles)
    english, unknown = told.pop("en", 0), told.pop(language.UNKNOWN, 0)
    others = ", ".join(f"{lang} {n}" for lang, n in told.most_common(6))
    print(
        f"UCI headlines (English outlets): {len(titles):,}; English {english / len(titles):.1%}, "
        f"unknown {unknown / len(titles):.1%}, another language {sum(told.values())} ({others})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, help="check plain English on real pages")
    args = parser.parse_args()
    if args.corpora is not None:
        uci_headlines(args.corpora)
        plain_english(args.corpora)
        print()
    detect_language("warm up")
    sets = samples()
    langs = ["en", "uk", "ru", "de", "fr", "pl"]
    print("accuracy (right / samples)")
    print(f"{'set':<12} {'declared':<8} " + " ".join(f"{lang:>7}" for lang in langs) + "    all")
    for name, by_lang in sets.items():
        for hint in ("none", "right", "wrong"):
            right, total = accuracy(by_lang, hint)
            cells = [f"{right[g]:>3}/{total[g]:<3}" if total[g] else "      -" for g in langs]
            share = sum(right.values()) / sum(total.values())
            print(f"{name:<12} {hint:<8} " + " ".join(cells) + f"  {share:.3f}")
    seeds = [p.read_text("utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    headlines = [h for items in sets["headlines"].values() for h in items]
    texts = [t for items in sets["texts"].values() for t in items]
    print()
    print("cost (CPU ms per call, best of passes)")
    for name, items in (("headline", headlines), ("text", texts), ("seed page text", seeds)):
        mean = sum(map(len, items)) / len(items)
        print(f"  {name:<15} {cost_ms(items):.3f} ms  (mean {mean:,.0f} characters)")


if __name__ == "__main__":
    main()
