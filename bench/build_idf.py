"""Build the IDF table shipped as monitors/extract/data/idf.json.gz.

Documents are the main texts of news and web pages: the 181 article bodies of the
scrapinghub benchmark, the expected texts of the 130 Mozilla Readability test pages and the
990 trafilatura evaluation pages (extracted with trafilatura; 44% German), and with
`--with-uci` the distinct UCI headlines too. Terms are `monitors.analysis.terms` (stemmed
content words, numbers as "#value"). Only terms in at least `--min-df` documents are kept:
a term missing from the table counts as seen once, so dropping those loses nothing.

    python bench/build_idf.py [--corpora ../shared/corpora]
                              [--out monitors/extract/data/idf.json.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.news_corpora import (  # noqa: E402
    article_texts,
    corpora_path,
    uci_headlines,
    web_page_texts,
)
from monitors.extract.analysis import terms  # noqa: E402

OUT = REPO / "monitors" / "extract" / "data" / "idf.json.gz"


def documents(corpora: Path, with_uci: bool = False) -> list[str]:
    """The page texts, and the distinct UCI headlines when `with_uci`."""
    headlines = dict.fromkeys(h.title for h in uci_headlines(corpora)) if with_uci else {}
    return [*article_texts(corpora), *web_page_texts(corpora), *headlines]


def document_frequencies(docs: list[str], min_df: int) -> dict[str, int]:
    """How many documents each term occurs in, for terms in at least `min_df` of them."""
    counts: Counter[str] = Counter()
    for doc in docs:
        counts.update(set(terms(doc)))
    return {t: n for t, n in sorted(counts.items()) if n >= min_df}


def write_table(path: Path, docs: int, df: dict[str, int]) -> None:
    """Write {"docs": N, "df": {term: count}} as gzipped JSON, byte-identical for equal input."""
    data = json.dumps({"docs": docs, "df": df}, ensure_ascii=False, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--with-uci", action="store_true", help="count the UCI headlines too")
    args = parser.parse_args(argv)
    docs = documents(corpora_path(args.corpora), args.with_uci)
    df = document_frequencies(docs, args.min_df)
    write_table(args.out, len(docs), df)
    print(f"{len(docs)} documents, {len(df)} terms, {args.out.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
