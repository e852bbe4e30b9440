"""Kin words (monitors.rules.kin): the plain alternatives of a rule's OR groups, found in
a text with the words that make them; a NEAR/s context and built alternatives are none."""

from __future__ import annotations

from monitors.rules import RuleSet
from monitors.rules.kin import Kin
from monitors.rules.parse import parse_query


def test_the_plain_alternatives_of_an_or_group_are_kin() -> None:
    kin = Kin.of(parse_query('Donbas NEAR/12 (cede OR ceding OR (giv* NEAR/2 up) OR "hand over")'))
    assert len(kin.groups) == 1
    assert kin.found("Kyiv would be giving it up") == {0: {"giving", "up"}}
    assert kin.found("ceding the region") == {0: {"ceding"}}
    assert kin.found("Kyiv gave nothing up at all") == {}  # farther apart than NEAR/2


def test_exclusions_count_as_their_word_and_built_alternatives_do_not() -> None:
    kin = Kin.of(parse_query("(ratif* OR (approv* -budget) OR ((send OR submit) NEAR/6 Senate))"))
    outer, inner = kin.groups
    assert [form[0][0].word for form in outer] == ["ratif", "approv"]
    assert [form[0][0].word for form in inner] == ["send", "submit"]
    assert kin.found("the Senate approved it") == {0: {"approved"}}


def test_a_sentence_context_is_no_kin() -> None:
    kin = Kin.of(parse_query("(Donbas NEAR/12 withdraw) NEAR/s (peace OR deal OR referendum)"))
    assert kin.groups == ()


def test_a_match_carries_its_rule_kin() -> None:
    rules = RuleSet.compile([("r", "(troops OR forces) NEAR/3 Donbas")])
    (match,) = rules.match("", "Ukrainian forces would leave the Donbas")
    assert match.kin is not None
    assert match.kin.found("troops") == {0: {"troops"}}
