"""How precise inflection-aware matching is on look-alike words, against the prefix a rule
writer would otherwise have written.

Each entry of tests/data/rules/lookalikes.yaml has a query word, the prefix a writer
would use instead (its stem and '*'), forms of the word that must match and look-alike
words of other lemmas that must not. Each word is matched alone, as an article's text,
by a one-rule set of the word, then of the prefix.

    python bench/lookalikes.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from monitors.rules import RuleSet  # noqa: E402

CASES = REPO / "tests" / "data" / "rules" / "lookalikes.yaml"


def verdicts(query: str, words: list[str]) -> list[bool]:
    rules = RuleSet.compile([("r", query)])
    return [bool(rules.match("", word)) for word in words]


def main() -> None:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    totals = {"inflection": [0, 0, 0], "prefix": [0, 0, 0]}  # true pos, false pos, forms
    header = f"{'query':<16} {'forms found':>12} {'look-alikes found':>18}"
    print(header + "   (prefix: forms, look-alikes)")
    for case in cases:
        forms, others = case["forms"], case["others"]
        rows = {}
        for kind, query in (("inflection", case["query"]), ("prefix", case["prefix"])):
            tp = sum(verdicts(query, forms))
            fp = sum(verdicts(query, others))
            rows[kind] = (tp, fp)
            totals[kind][0] += tp
            totals[kind][1] += fp
            totals[kind][2] += len(forms)
        (tp, fp), (ptp, pfp) = rows["inflection"], rows["prefix"]
        print(
            f"{case['query']:<16} {tp:>5}/{len(forms):<6} {fp:>8}/{len(others):<9}"
            f"   ({ptp}/{len(forms)}, {pfp}/{len(others)} with {case['prefix']})"
        )
    for kind, (tp, fp, forms) in totals.items():
        print(
            f"{kind}: recall {tp / forms:.3f} ({tp}/{forms}), "
            f"precision {tp / (tp + fp):.3f} ({fp} look-alikes matched)"
        )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
