"""Rule sets compiled once: the same rules again, or the config's rules validated then
used, are not compiled again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitors import config as config_mod
from monitors.errors import ConfigError
from monitors.rules import ruleset
from monitors.rules.limits import Limits
from monitors.rules.ruleset import COMPILED_KEPT, RuleSet

RULES = [("kyiv", 'Kyiv AND "security guarantee*"'), ("donbas", "Donbas NEAR/5 withdraw*")]
ALIASES = {"Kyiv": ["Kiev", "Київ*"]}
TEXT = ("Kiev talks", "The security guarantees for Kiev were agreed.")


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The rule lists compiled from here on (none kept from before)."""
    monkeypatch.setattr(ruleset, "_COMPILED", type(ruleset._COMPILED)())
    done: list[Any] = []
    compile_ = RuleSet._compile.__func__  # type: ignore[attr-defined]

    def counted(cls: type[RuleSet], rules: Any, *args: Any) -> RuleSet:
        done.append([rule_id for rule_id, _ in rules])
        return compile_(cls, rules, *args)

    monkeypatch.setattr(RuleSet, "_compile", classmethod(counted))
    yield done


def matched(rules: RuleSet) -> list[str]:
    return [m.rule_id for m in rules.match(*TEXT)]


def test_the_same_rules_are_compiled_once(compiles: list[Any]) -> None:
    first = RuleSet.compile(RULES, aliases=ALIASES)
    again = RuleSet.compile(list(RULES), aliases=dict(ALIASES))  # equal, not the same objects
    assert again is first and compiles == [["kyiv", "donbas"]]
    assert matched(again) == ["kyiv"]


def test_other_rules_or_aliases_are_compiled_afresh(compiles: list[Any]) -> None:
    with_aliases = RuleSet.compile(RULES, aliases=ALIASES)
    without = RuleSet.compile(RULES)
    one = RuleSet.compile(RULES[:1], aliases=ALIASES)
    assert len(compiles) == 3
    assert matched(with_aliases) == matched(one) == ["kyiv"] and matched(without) == []


def test_limits_share_the_compiled_rules_and_keep_their_own(compiles: list[Any]) -> None:
    free = RuleSet.compile(RULES, aliases=ALIASES)
    short = RuleSet.compile(RULES, aliases=ALIASES, limits=Limits(max_chars=10))
    assert len(compiles) == 1 and free.limits == Limits() and short.limits.max_chars == 10
    assert matched(free) == ["kyiv"] and matched(short) == []  # "Kiev talks" alone is read
    assert short.select(["kyiv"]).limits == short.limits
    again = RuleSet.compile(RULES, aliases=ALIASES, limits=Limits(max_chars=10))
    assert again is short and again.select(["kyiv"]) is short.select(["kyiv"])


def test_only_the_last_ones_are_kept(compiles: list[Any]) -> None:
    for n in range(COMPILED_KEPT + 1):
        RuleSet.compile([("r", f"word{n}")])
    RuleSet.compile([("r", f"word{COMPILED_KEPT}")])  # the newest: kept
    RuleSet.compile([("r", "word0")])  # the oldest: compiled again
    assert len(compiles) == COMPILED_KEPT + 2


def write(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "newsmon.yaml"
    path.write_text(
        "store: sqlite:///n.db\nfeeds: [{url: 'https://example.com/feed.xml'}]\n"
        "channels: {desk: 'json://127.0.0.1:9/'}\naliases: {Kyiv: [Kiev]}\n" + rules,
        encoding="utf-8",
    )
    return path


def test_a_config_validated_then_used_compiles_its_rules_once(
    tmp_path: Path, compiles: list[Any]
) -> None:
    rules = (
        "rules:\n"
        "  - {id: kyiv, query: 'Kyiv AND \"security guarantee*\"', notify: [desk]}\n"
        "  - {id: both, query: 'rule:kyiv AND Donbas', notify: [desk]}\n"
    )
    cfg = config_mod.load(write(tmp_path, rules), env={})
    assert [m.rule_id for m in cfg.ruleset().match(*TEXT)] == ["kyiv"]
    assert compiles == [["kyiv", "both"]]


def test_a_config_with_bad_queries_names_each(tmp_path: Path, compiles: list[Any]) -> None:
    rules = (
        "rules:\n"
        "  - {id: fine, query: Kyiv, notify: [desk]}\n"
        "  - {id: open, query: '(Kyiv AND', notify: [desk]}\n"
        "  - {id: lost, query: 'rule:nowhere', notify: [desk]}\n"
    )
    with pytest.raises(ConfigError) as info:
        config_mod.load(write(tmp_path, rules), env={})
    assert [p.path for p in info.value.problems] == ["rules[1].query", "rules[2].query"]
