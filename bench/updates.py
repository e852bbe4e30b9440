"""Is a later article an update for a rule? The novelty decision of monitors.stories on
labelled cases, and on the seed coverage as a stream.

Each case (tests/data/updates/*.yaml) is one story and one rule: the earlier articles
that alerted for the rule, a later article, and whether it brings a development
(`update`), with what a desk should read as new. The shipped rules decide the matches,
or the case's own rule when it gives one (`query`, and `aliases` if any: any topic);
the decision is monitors.stories.novelty's, the update gap left out. Prints precision,
recall and F1 of "update" per case file, per rule and overall, every miss with what
the decision said, and the seed stream 000..004 as one story.

The cases are split once for all. Every case of a held_*.yaml file is held out, each
file its own part (held_fresh.yaml: "held-out, new cases"; held_fresh2.yaml: "held-out,
new cases 2"; held_fresh3.yaml: "held-out, new cases 3"; held_fresh4.yaml: "held-out,
new cases 4"; held_fresh5.yaml: "held-out, new cases 5"; held_fresh6.yaml: "held-out,
new cases 6"; held_fresh7.yaml: "held-out, new cases 7"; held_fresh8.yaml: "held-out,
new cases 8"), for measuring only: their figures print as totals, their misses only with
--show-held, when the work is done.
Of the others, a third (the SHA-1 of the case id is 0 mod 3) was held out until the
second round of changes and is now used for development ("old third"); it still prints
as its own part. Figures per rule print for each part.

    python bench/updates.py [--cases DIR] [--seeds DIR] [-v] [--show-held]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitors import config as config_mod  # noqa: E402
from monitors.models import Article, Match  # noqa: E402
from monitors.rules import RuleSet  # noqa: E402
from monitors.store import PriorAlert  # noqa: E402
from monitors.stories.novelty import novelty  # noqa: E402

ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://u:p@smtp.example.com?to=d@example.com",
}
T0 = datetime(2025, 12, 15, 9, tzinfo=UTC)


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, got: bool) -> None:
        if expected and got:
            self.tp += 1
        elif got:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    def line(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        n = self.tp + self.fp + self.fn + self.tn
        counts = f"TP {self.tp} FP {self.fp} FN {self.fn}"
        return f"{n:4d} cases  P {p:.2f}  R {r:.2f}  F1 {f:.2f}  ({counts})"


def shipped() -> RuleSet:
    return config_mod.load(REPO / "config" / "newsmon.yaml", env=ENV).ruleset()


def rules_for(case: dict[str, Any], shipped: RuleSet) -> RuleSet:
    """The case's own rule when it has a `query` (any topic), else the shipped rules."""
    if "query" not in case:
        return shipped
    return RuleSet.compile([(case["rule"], case["query"])], aliases=case.get("aliases"))


def article(title: str, text: str, at: datetime) -> Article:
    url = f"https://example.com/{abs(hash((title, text)))}"
    return Article(url, url, title, text, "example.com", "page", "en", at, "h")


def rule_match(rules: RuleSet, rule_id: str, title: str, text: str) -> Match | None:
    return next((m for m in rules.select([rule_id]).match(title, text)), None)


def decide(
    rules: RuleSet, rule_id: str, earlier: list[dict[str, Any]], later: dict[str, Any]
) -> Any:
    """What the novelty decision says of `later` after `earlier` alerted, or None when an
    article does not match the rule."""
    prior = []
    for i, item in enumerate(earlier):
        found = rule_match(rules, rule_id, item["title"], item["text"])
        if found is None:
            return None
        at = T0 + timedelta(hours=i)
        prior.append(PriorAlert(i + 1, found.terms, item["title"], item["text"], at, at))
    found = rule_match(rules, rule_id, later["title"], later["text"])
    if found is None:
        return None
    new = article(later["title"], later["text"], T0 + timedelta(days=1))
    return novelty(prior, found, new, timedelta(0))


def load(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["cases"] if isinstance(data, dict) else data
    return cases


HELD = {
    "held_fresh.yaml": "held-out, new cases",
    "held_fresh2.yaml": "held-out, new cases 2",
    "held_fresh3.yaml": "held-out, new cases 3",
    "held_fresh4.yaml": "held-out, new cases 4",
    "held_fresh5.yaml": "held-out, new cases 5",
    "held_fresh6.yaml": "held-out, new cases 6",
    "held_fresh7.yaml": "held-out, new cases 7",
    "held_fresh8.yaml": "held-out, new cases 8",
}
PARTS = ("dev", "old third", *HELD.values())


def part_of(path: Path, case: dict[str, Any]) -> str:
    """The part a case is in: its held_*.yaml file's, or by the SHA-1 of its id."""
    if path.name.startswith("held_"):
        return HELD.get(path.name, "held-out, new cases")
    digest = int(hashlib.sha1(case["id"].encode()).hexdigest(), 16)
    return "old third" if digest % 3 == 0 else "dev"


def held_out(part: str) -> bool:
    return part not in ("dev", "old third")


def run_cases(rules: RuleSet, paths: Iterable[Path], verbose: bool, show_held: bool) -> None:
    total = Tally()
    parts = {name: Tally() for name in PARTS}
    by_rule: dict[str, Tally] = {}
    by_part_rule: dict[tuple[str, str], Tally] = {}
    for path in paths:
        tally, misses, skipped = Tally(), [], 0
        for case in load(path):
            verdict = decide(rules_for(case, rules), case["rule"], case["earlier"], case["article"])
            if verdict is None:
                skipped += 1
                continue
            got = not isinstance(verdict, str)
            name = part_of(path, case)
            rule = case["rule"]
            for t in (
                tally,
                total,
                parts[name],
                by_rule.setdefault(rule, Tally()),
                by_part_rule.setdefault((name, rule), Tally()),
            ):
                t.add(case["update"], got)
            said = verdict if isinstance(verdict, str) else "; ".join(verdict[2])
            if held_out(name) and not show_held:
                continue
            if got != case["update"] or verbose:
                mark = "ok  " if got == case["update"] else "MISS"
                misses.append(f"  {mark} {case['id']} (update: {case['update']}): {said[:240]}")
        extra = f", {skipped} with a text the rule does not match" if skipped else ""
        if show_held or not path.name.startswith("held_"):
            print(f"{path.name}: {tally.line()}{extra}")
            print("\n".join(misses))
    for rule_id, tally in sorted(by_rule.items()):
        print(f"{rule_id}: {tally.line()}")
    for name, tally in parts.items():
        print(f"{name}: {tally.line()}")
        for (part, rule_id), by in sorted(by_part_rule.items()):
            if part == name:
                print(f"  {rule_id}: {by.line()}")
    print(f"all: {total.line()}")


def seed_stream(rules: RuleSet, folder: Path) -> None:
    """The seeds 000..004, one story, as a desk would receive them, per rule."""
    from tests.rules.test_rules_seeds import seed  # the seeds' title/text split

    files = sorted(folder.glob("0*.txt"))
    texts = [seed(path) for path in files]
    print("seed stream (000..004, one story):")
    for rule in rules.rules:
        alerted: list[dict[str, str]] = []
        line = []
        for path, (title, text) in zip(files, texts, strict=True):
            if rule_match(rules, rule.rule_id, title, text) is None:
                line.append(f"{path.stem[:3]} -")
                continue
            if not alerted:
                line.append(f"{path.stem[:3]} ALERT")
            else:
                verdict = decide(rules, rule.rule_id, alerted, {"title": title, "text": text})
                line.append(
                    f"{path.stem[:3]} no update"
                    if isinstance(verdict, str)
                    else f"{path.stem[:3]} UPDATE: {'; '.join(verdict[2])[:200]}"
                )
            alerted.append({"title": title, "text": text})
        print(f"  {rule.rule_id}:")
        print("\n".join(f"    {part}" for part in line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=REPO / "tests" / "data" / "updates")
    parser.add_argument("--seeds", type=Path, default=REPO / "tests" / "data" / "seeds")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--show-held", action="store_true", help="the held-out cases' misses")
    args = parser.parse_args()
    rules = shipped()
    run_cases(rules, sorted(args.cases.glob("*.yaml")), args.verbose, args.show_held)
    seed_stream(rules, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
