"""Aliases and rule queries in the config file: loaded, used, and reported with their key."""

from __future__ import annotations

import time
from typing import Any

import pytest

from monitors import config as config_mod
from monitors.errors import ConfigError


def load(**raw: Any) -> config_mod.Config:
    """The config of these keys, each rule notifying nobody unless it says whom."""
    if isinstance(raw.get("rules"), list):
        raw["rules"] = [{"notify": [], **r} if isinstance(r, dict) else r for r in raw["rules"]]
    return config_mod.from_dict(raw, "newsmon.yaml", env={})


def problems(**raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(**raw)
    return [str(problem) for problem in caught.value.problems]


def test_aliases_are_used_by_every_rule() -> None:
    cfg = load(
        aliases={"Kyiv": ["Kiev", "Київ", "Києв*"], "Zelensky": ["Zelenskyy"]},
        rules=[
            {"id": "a", "query": "Kyiv"},
            {"id": "b", "query": '"Zelensky in Kyiv"'},
        ],
    )
    ruleset = cfg.ruleset()
    assert [m.rule_id for m in ruleset.match("", "Zelenskyy in Kiev.")] == ["a", "b"]
    assert [m.rule_id for m in ruleset.match("", "У Києві.")] == ["a"]


def test_an_alias_cycle_is_reported_under_its_alias() -> None:
    assert problems(
        aliases={"Donbas": ["Donbass"], "Donbass": ["Donbas"]},
        rules=[{"id": "r", "query": "Donbas"}],
    ) == ["newsmon.yaml: aliases.Donbas: cycle Donbas → Donbass → Donbas"]


def test_a_bad_spelling_is_reported_under_its_alias() -> None:
    assert problems(aliases={"Kyiv": ["Ki*"]}) == [
        "newsmon.yaml: aliases.Kyiv: spelling 'Ki*': wildcard too broad at position 0: "
        "at least 3 letters before '*'"
    ]


def test_aliases_of_the_wrong_shape_fail_validation() -> None:
    assert problems(aliases={"Kyiv": "Kiev"}) == ["newsmon.yaml: aliases.Kyiv: should be a list"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty query"),
        ("(kyiv", "unbalanced parenthesis: '(' at position 0 is not closed"),
        (
            "kyiv author:x",
            "unknown field 'author:' at position 5 (fields: title:, text:, site:, lang:, rule:)",
        ),
        (
            "Senate NEAR ratify",
            "NEAR at position 7 needs a number of words, as in NEAR/5, "
            "or s for one sentence, as in NEAR/s or NEAR/15s",
        ),
    ],
)
def test_query_problems_name_the_rule_and_the_position(query: str, reason: str) -> None:
    assert problems(rules=[{"id": "ok", "query": "kyiv"}, {"id": "senate", "query": query}]) == [
        f"newsmon.yaml: rules[1].query: rule 'senate': {reason}"
    ]


def test_a_rule_may_refer_to_another_before_or_after_it() -> None:
    cfg = load(
        rules=[
            {"id": "ratified", "query": "Senate NEAR/8s ratif* AND rule:guarantees"},
            {"id": "guarantees", "query": "guarantee* NEAR/5 (Ukraine OR Kyiv)"},
        ]
    )
    ruleset = cfg.ruleset()
    found = ruleset.match("", "The Senate must ratify it. Guarantees for Kyiv were offered.")
    assert [m.rule_id for m in found] == ["ratified", "guarantees"]
    assert ruleset.match("", "The Senate must ratify it. Nothing else was said.") == []


@pytest.mark.parametrize(
    ("queries", "reason"),
    [
        (["x AND rule:nope"], "rule 'r0': 'rule:nope' at position 6: no rule 'nope' (rules: r0)"),
        (
            ["x OR rule:r1", "y OR rule:r0"],
            "rule 'r0': 'rule:r1' at position 5: rules refer to each other in a circle "
            "(r0 -> r1 -> r0)",
        ),
        (
            ["x AND rule:r1", "(y"],
            "rule 'r0': 'rule:r1' at position 6: rule 'r1' has an error of its own",
        ),
        (["title:(rule:r1)", "y"], "rule 'r0': 'rule:r1' at position 7 inside 'title:'"),
        (["x title:rule:r1", "y"], "rule 'r0': 'rule:r1' at position 8 inside 'title:'"),
        (["x AND rule:"], "rule 'r0': 'rule:' at position 6 names no rule: write rule:ID"),
    ],
)
def test_a_wrong_reference_is_reported_under_the_rule_that_makes_it(
    queries: list[str], reason: str
) -> None:
    rules = [{"id": f"r{i}", "query": query} for i, query in enumerate(queries)]
    assert f"newsmon.yaml: rules[0].query: {reason}" in problems(rules=rules)


def test_rules_referring_to_each_other_many_times_over_are_refused_at_once() -> None:
    """Each rule refers to the one before twice: written out, the last holds 2^40 terms."""
    rules = [{"id": "r0", "query": "kyiv OR donbas"}]
    rules += [{"id": f"r{i}", "query": f"rule:r{i - 1} OR rule:r{i - 1}"} for i in range(1, 41)]
    started = time.monotonic()
    found = problems(rules=rules)
    assert time.monotonic() - started < 20
    assert (
        "newsmon.yaml: rules[14].query: rule 'r14': query too large: more than 20,000 terms "
        "once the rules it refers to are written out"
    ) in found


def test_rules_nested_ever_deeper_through_references_are_refused() -> None:
    """A reference is a level of nesting, and the rule referred to brings its own: written
    out, at most 40 levels (not a RecursionError, however long the chain)."""
    deep = [{"id": "r0", "query": "kyiv"}]
    deep += [{"id": f"r{i}", "query": "(" * 30 + f"x AND rule:r{i - 1}" + ")" * 30} for i in (1, 2)]
    assert problems(rules=deep) == [
        "newsmon.yaml: rules[2].query: rule 'r2': 'rule:r1' at position 36: nested too deeply "
        "once the rules it refers to are written out (at most 40 levels)"
    ]
    long = [{"id": "r0", "query": "kyiv"}]
    long += [{"id": f"r{i}", "query": f"x AND rule:r{i - 1}"} for i in range(1, 201)]
    found = problems(rules=long)
    assert found[0] == (
        "newsmon.yaml: rules[41].query: rule 'r41': 'rule:r40' at position 6: nested too "
        "deeply once the rules it refers to are written out (at most 40 levels)"
    )
    assert len(found) == 160
