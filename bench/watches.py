"""How well the shipped watch rules agree with the labelled cases: per rule, true and false
positives and negatives, precision and recall, and every miss by id.

Three sets are counted:

- the seeds: the real write-ups of `--seeds` (default /work/shared/seeds), against the
  table of its README.md (what a desk reader says each text reports). Each text is split
  into title and text as tests/data/seeds/README.md says (a file it does not name: the
  first line is the title, as `newsmon rules test` reads a text file);
- all labelled cases: every case of the `--cases` files (default the golden, watches and
  held-out files of tests/data/rules) and the seeds;
- the held-out cases: those of each `--heldout` file that is one of `--cases` (default
  tests/data/rules/heldout.yaml, written before the rules were tuned, heldout2.yaml to
  heldout53.yaml but heldout51.yaml (a page's boilerplate kept, which extraction takes out
  first), each written after a round of tuning and committed before the rules ran on it,
  and heldout-uk.yaml and heldout-ru.yaml, written before the rules were tuned on
  Ukrainian and Russian), each file apart. The cases tuned on (all the others, and the
  seeds) are counted apart too;
- per language: every labelled case and the held-out ones alone, by the language
  `monitors.extract.language` tells from the case's headline and text.

A case file is a YAML list of `{id, title, text, expect: {rule id: true/false}}`.

    python bench/watches.py
    python bench/watches.py --cases tests/data/rules/heldout.yaml --config other.yaml

It prints figures and makes no assertions; tests/test_rules_golden.py and
tests/test_rules_seeds.py hold the rules to them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from monitors import config as config_mod  # noqa: E402
from monitors.extract.language import detect_language  # noqa: E402
from monitors.rules import RuleSet  # noqa: E402

CASES = REPO / "tests" / "data" / "rules"
HELDOUT = [
    CASES / "heldout.yaml",
    CASES / "heldout2.yaml",
    CASES / "heldout3.yaml",
    CASES / "heldout4.yaml",
    CASES / "heldout5.yaml",
    CASES / "heldout6.yaml",
    CASES / "heldout7.yaml",
    CASES / "heldout8.yaml",
    CASES / "heldout9.yaml",
    CASES / "heldout10.yaml",
    CASES / "heldout11.yaml",
    CASES / "heldout12.yaml",
    CASES / "heldout13.yaml",
    CASES / "heldout14.yaml",
    CASES / "heldout15.yaml",
    CASES / "heldout16.yaml",
    CASES / "heldout17.yaml",
    CASES / "heldout18.yaml",
    CASES / "heldout19.yaml",
    CASES / "heldout20.yaml",
    CASES / "heldout21.yaml",
    CASES / "heldout22.yaml",
    CASES / "heldout23.yaml",
    CASES / "heldout24.yaml",
    CASES / "heldout25.yaml",
    CASES / "heldout26.yaml",
    CASES / "heldout27.yaml",
    CASES / "heldout28.yaml",
    CASES / "heldout29.yaml",
    CASES / "heldout30.yaml",
    CASES / "heldout31.yaml",
    CASES / "heldout32.yaml",
    CASES / "heldout33.yaml",
    CASES / "heldout34.yaml",
    CASES / "heldout35.yaml",
    CASES / "heldout36.yaml",
    CASES / "heldout37.yaml",
    CASES / "heldout38.yaml",
    CASES / "heldout39.yaml",
    CASES / "heldout40.yaml",
    CASES / "heldout41.yaml",
    CASES / "heldout42.yaml",
    CASES / "heldout43.yaml",
    CASES / "heldout44.yaml",
    CASES / "heldout45.yaml",
    CASES / "heldout46.yaml",
    CASES / "heldout47.yaml",
    CASES / "heldout48.yaml",
    CASES / "heldout49.yaml",
    CASES / "heldout50.yaml",
    CASES / "heldout52.yaml",
    CASES / "heldout53.yaml",
    CASES / "heldout-uk.yaml",
    CASES / "heldout-ru.yaml",
]
TUNED = [CASES / "golden.yaml", CASES / "watches.yaml", CASES / "watches-uk.yaml"]
DEFAULT_CASES = [*TUNED, CASES / "watches-ru.yaml", *HELDOUT]
SPLITS = REPO / "tests" / "data" / "seeds" / "README.md"
ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://user:pass@smtp.example.com?to=desk@example.com",
}


@dataclass(frozen=True)
class Case:
    """A labelled text: where it comes from, its id, and what each rule must say."""

    source: str
    id: str
    title: str
    text: str
    expect: dict[str, bool]


@dataclass
class Tally:
    """One rule's verdicts on one set of cases."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    def add(self, case_id: str, expected: bool, found: bool) -> None:
        if expected and found:
            self.tp += 1
        elif expected:
            self.fn += 1
            self.missed.append(case_id)
        elif found:
            self.fp += 1
            self.false_alarms.append(case_id)
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, nargs="+", default=DEFAULT_CASES)
    parser.add_argument("--seeds", type=Path, default=Path("/work/shared/seeds"))
    parser.add_argument("--heldout", type=Path, nargs="+", default=HELDOUT)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "newsmon.yaml")
    return parser.parse_args(argv)


def load_cases(path: Path) -> list[Case]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Case(path.name, c["id"], c["title"], c["text"], c["expect"]) for c in raw]


def markdown_table(markdown: str, header: list[str]) -> list[list[str]]:
    """The body rows of the markdown table whose header cells are `header`."""
    rows: list[list[str]] = []
    inside = False
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            inside = False
        elif cells == header:
            inside = True
        elif inside and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


def load_seeds(folder: Path, rules: list[str]) -> list[Case]:
    """The seed texts of `folder` with the verdicts of its README's table."""
    readme = (folder / "README.md").read_text(encoding="utf-8")
    verdicts = {row[0]: row[1:] for row in markdown_table(readme, ["file", *rules])}
    splits = {}
    if SPLITS.exists():
        split_table = markdown_table(SPLITS.read_text(encoding="utf-8"), ["file", "title", "text"])
        splits = {row[0]: row[1] for row in split_table}
    seeds = []
    for path in sorted(folder.glob("*.txt")):
        cells = verdicts.get(path.name[:3]) or verdicts.get(path.name)
        if cells is None:
            continue
        expect = {
            rule: cell.split()[0].lower() == "yes" for rule, cell in zip(rules, cells, strict=True)
        }
        lines = path.read_text(encoding="utf-8").split("\n")
        found = re.fullmatch(r"line (\d+)", splits.get(path.name, "line 1"))
        if found is None:
            title, text = "", "\n".join(lines)
        else:
            headline = int(found.group(1)) - 1
            title, text = lines[headline], "\n".join(lines[headline + 1 :])
        seeds.append(Case("seeds", f"seed-{path.name[:3]}", title, text, expect))
    return seeds


def tally(ruleset: RuleSet, cases: list[Case], rules: list[str]) -> dict[str, Tally]:
    tallies = {rule: Tally() for rule in rules}
    for case in cases:
        found = {m.rule_id for m in ruleset.match(case.title, case.text)}
        for rule in rules:
            if rule in case.expect:
                tallies[rule].add(case.id, case.expect[rule], rule in found)
    return tallies


def _ratio(value: float | None) -> str:
    return "   -" if value is None else f"{value:.3f}"


def report(name: str, cases: list[Case], tallies: dict[str, Tally]) -> list[str]:
    lines = [
        f"{name} ({len(cases)} cases)",
        f"  {'rule':<22} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'precision':>9} {'recall':>7}",
    ]
    for rule, t in tallies.items():
        lines.append(
            f"  {rule:<22} {t.tp:>4} {t.fp:>4} {t.fn:>4} {t.tn:>4} "
            f"{_ratio(t.precision):>9} {_ratio(t.recall):>7}"
        )
    for rule, t in tallies.items():
        for case_id in t.missed:
            lines.append(f"  miss  {rule}: {case_id} (expected a match)")
        for case_id in t.false_alarms:
            lines.append(f"  miss  {rule}: {case_id} (expected no match)")
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ruleset = config_mod.load(args.config, env=ENV).ruleset()
    rules = [rule.rule_id for rule in ruleset.rules]
    seeds = load_seeds(args.seeds, rules) if (args.seeds / "README.md").exists() else []
    by_file = {path: load_cases(path) for path in args.cases if path.exists()}
    labelled = [case for cases in by_file.values() for case in cases]
    heldout_paths = {path.resolve() for path in args.heldout}
    heldout = {path: cases for path, cases in by_file.items() if path.resolve() in heldout_paths}
    held = {case.id for cases in heldout.values() for case in cases}
    tuned = [case for case in labelled if case.id not in held]
    print(f"rules of {args.config}; seeds from {args.seeds}")
    print("cases: " + ", ".join(f"{path} ({len(cases)})" for path, cases in by_file.items()))
    sets = [
        ("(a) seeds", seeds),
        ("(b) all labelled cases (case files and seeds)", labelled + seeds),
        *((f"(c) held-out ({path.name})", cases) for path, cases in heldout.items()),
        ("    tuned on (case files but the held-out ones, and seeds)", tuned + seeds),
    ]
    for name, cases in sets:
        print()
        print("\n".join(report(name, cases, tally(ruleset, cases, rules))))
    held_cases = [case for cases in heldout.values() for case in cases]
    for name, cases in (("all labelled", labelled + seeds), ("held-out", held_cases)):
        for lang, own in by_language(cases).items():
            print()
            print("\n".join(report(f"(d) {name}, {lang}", own, tally(ruleset, own, rules))))


def by_language(cases: list[Case]) -> dict[str, list[Case]]:
    """`cases` by the language of their headline and text, most cases first."""
    found: dict[str, list[Case]] = {}
    for case in cases:
        found.setdefault(detect_language(f"{case.title}\n{case.text}"), []).append(case)
    return dict(sorted(found.items(), key=lambda item: -len(item[1])))


if __name__ == "__main__":
    main()
