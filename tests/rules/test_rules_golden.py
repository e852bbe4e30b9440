"""The shipped rules of config/newsmon.yaml against the golden texts of tests/data/rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from monitors import config as config_mod
from monitors.rules import RuleSet
from monitors.text import words
from tests.conftest import DATA, ROOT

GOLDEN = DATA / "rules" / "golden.yaml"
ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://user:pass@smtp.example.com?to=desk@example.com",
}
CASES: list[dict[str, Any]] = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
SENATE_WORDS = {
    "senate",
    "senators",
    "congress",
    "congressional",
    "lawmakers",
    "legislators",
}


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return config_mod.load(ROOT / "config" / "newsmon.yaml", env=ENV).ruleset()


def test_golden_cases_cover_every_rule_with_positives_and_negatives(shipped: RuleSet) -> None:
    ids = [rule.rule_id for rule in shipped.rules]
    assert ids == ["security-guarantees", "donbas-withdrawal", "senate-ratification"]
    assert len({case["id"] for case in CASES}) == len(CASES)
    for rule_id in ids:
        verdicts = [case["expect"][rule_id] for case in CASES]
        assert verdicts.count(True) >= 5 and verdicts.count(False) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_golden_case(shipped: RuleSet, case: dict[str, Any]) -> None:
    found = {m.rule_id: m for m in shipped.match(case["title"], case["text"])}
    assert {rule: rule in found for rule in case["expect"]} == case["expect"]
    for match in found.values():
        assert match.terms and match.passage.marks


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case["expect"]["senate-ratification"]],
    ids=lambda case: case["id"],
)
def test_senate_passages_name_the_senate(shipped: RuleSet, case: dict[str, Any]) -> None:
    match = next(
        m for m in shipped.match(case["title"], case["text"]) if m.rule_id == "senate-ratification"
    )
    marked = [match.passage.text[start:end] for start, end in match.passage.marks]
    named = {word for mark in marked for word in words(mark)}
    assert named & SENATE_WORDS or any(w.startswith(("сенат", "конгрес")) for w in named)
