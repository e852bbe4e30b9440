"""Rule inputs that could crash or hang the matcher: caps on queries, words and phrases,
aliases and distances (query errors that name the rule and the cap), and the bounds on
one article's matching (characters read, CPU time), the cut always said; fuzzed."""

from __future__ import annotations

import contextlib
import random
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors import config as config_mod
from monitors.errors import QueryError
from monitors.rules import (
    AliasError,
    Aliases,
    Limits,
    Near,
    RuleError,
    RuleSet,
    parse_query,
)
from monitors.rules.limits import cut
from monitors.rules.parse import MAX_DEPTH
from monitors.rules.translit import MAX_SPELLINGS, transliterations
from monitors.text import words
from tests.conftest import ROOT
from tests.rules.adversarial import adversarial_text, literals

ENV = {
    "SLACK_WEBHOOK_URL": "slack://T000/B000/XXXX",
    "ALERT_EMAIL_URL": "mailtos://user:pass@smtp.example.com?to=desk@example.com",
}
CHAIN = " NEAR/1000 ".join(["(alpha OR beta OR gamma)"] * MAX_DEPTH)  # 39 NEARs
SLACK = 0.5  # CPU seconds past the time limit allowed for tokenizing and the last check


def chain_text(words: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    return " ".join(rnd.choice(("alpha", "beta", "gamma")) for _ in range(words))


def cpu_seconds(ruleset: RuleSet, title: str, text: str) -> float:
    started = time.thread_time()
    ruleset.matching(title, text)
    return time.thread_time() - started


# -- caps on queries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["Kyiv NEAR/" + "9" * 5000 + " peace", '"Kyiv peace"~' + "1" * 5000]
)
def test_a_distance_of_thousands_of_digits_is_a_query_error(query: str) -> None:
    with pytest.raises(RuleError, match=r"rule 'r': distance \d+… \(5,000 digits\) at position"):
        RuleSet.compile([("r", query)])


def test_leading_zeros_do_not_make_a_distance_large() -> None:
    node = parse_query("Kyiv NEAR/" + "0" * 5000 + "7 peace")
    assert isinstance(node, Near) and node.slop == 7


def test_a_query_over_50000_characters_is_refused_naming_the_rule_and_the_cap() -> None:
    with pytest.raises(
        RuleError, match=r"rule 'long': query of 50,010 characters \(at most 50,000\)"
    ):
        RuleSet.compile([("long", "Kyiv" + " " * 50_001 + "peace")])


@pytest.mark.parametrize("query", ["a" * 201, '"' + "word " * 41 + '"', "x AND " + "é" * 300 + "*"])
def test_a_word_or_phrase_over_200_characters_is_refused(query: str) -> None:
    with pytest.raises(
        RuleError,
        match=r"rule 'r': a word or phrase of \d+ characters at position \d+ \(at most 200\)",
    ):
        RuleSet.compile([("r", query)])


def test_an_alias_name_or_spelling_over_200_characters_is_refused() -> None:
    with pytest.raises(
        AliasError, match=r"alias 'Big': spelling 'b{40}'…: a word or phrase of 600,000 characters"
    ):
        RuleSet.compile([("r", "Big")], aliases={"Big": ["b" * 600_000]})
    with pytest.raises(
        AliasError,
        match=r"alias 'n{40}'…: a word or phrase of 300 characters at position 0 \(at most 200\)",
    ):
        RuleSet.compile([("r", "Big")], aliases={"n" * 300: ["Big"]})


@pytest.mark.parametrize("spelling", [" ".join(["Witkoff"] * 12), "щ" * 190])
def test_a_long_alias_spelling_is_transliterated_quickly(spelling: str) -> None:
    """Its words' choices were multiplied (12 words: hours) and each word's second
    choices all listed (190 letters: a minute); the 24 likeliest are found directly."""
    started = time.monotonic()
    assert len(transliterations(spelling)) == MAX_SPELLINGS
    RuleSet.compile([("r", "Name")], aliases={"Name": [spelling]})
    assert time.monotonic() - started < 2


def test_a_transliteration_over_200_characters_is_left_out() -> None:
    aliases = Aliases.compile({"Name": ["щ" * 190, "Щука"]})
    spellings = {" ".join(w.word for w in words) for words in aliases.variants[("name",)]}
    assert "щ" * 190 in spellings and "shchuka" in spellings
    assert not any(len(spelling) > 200 for spelling in spellings)


def test_a_phrase_of_aliases_over_1000_characters_once_expanded_is_refused() -> None:
    aliases = {"2024": ["9" * 199]}
    with pytest.raises(RuleError, match=r"1,200 characters long once aliases are expanded"):
        RuleSet.compile([("r", '"2024 2024 2024 2024 2024 2024"')], aliases=aliases)


# -- the text read -----------------------------------------------------------------------


def test_cut_falls_between_two_words() -> None:
    assert cut("short", 100) == "short"
    assert cut("alpha withdrawal", 12) == "alpha"
    assert cut("alpha withdrawal", 6) == "alpha"
    assert cut("x" * 500, 300) == "x" * 300  # no space within reach: cut where it falls
    assert cut("alpha withdrawal", 100_000) == "alpha withdrawal"


def test_text_past_the_cap_is_not_read_and_the_cut_is_said() -> None:
    rules = RuleSet.compile(
        [("guarantees", '"security guarantees" Kyiv'), ("donbas", "Donbas withdraw*")],
        limits=Limits(max_chars=2_000),
    )
    text = "Kyiv was offered security guarantees. " + "Talks went on. " * 200 + "Donbas withdrawal."
    found = rules.matching("Talks", text)
    assert [m.rule_id for m in found.matches] == ["guarantees"]
    assert found.unevaluated == ()
    assert found.cut == f"text cut at character 1,998 of {len(text):,}"
    assert rules.matching("Talks", text[:1_500]).cut is None
    assert [m.rule_id for m in RuleSet.compile(rules_of(rules)).match("", text)] == [
        "guarantees",
        "donbas",
    ]


def test_a_headline_past_the_cap_is_cut_too() -> None:
    rules = RuleSet.compile([("r", "Kyiv")], limits=Limits(max_chars=1_000))
    found = rules.matching("Kyiv " + "talks " * 300, "")
    assert [m.rule_id for m in found.matches] == ["r"]
    assert found.cut is not None and found.cut == "headline cut at character 1,000 of 1,805"


def test_matching_gives_the_texts_words_only_when_it_read_all_of_it() -> None:
    text = "U.S. envoys met in Kyiv.\nTalks on the Donbas went on " + "for hours " * 150
    whole = RuleSet.compile([("r", "Kyiv")]).matching("Talks", text)
    assert whole.text_words == words(text) and whole.text_words[:4] == ["us", "envoys", "met", "in"]
    capped = RuleSet.compile([("r", "Kyiv")], limits=Limits(max_chars=1_000))
    assert capped.matching("Talks", text[:900]).text_words == words(text[:900])
    assert capped.matching("Talks", text).text_words is None


def rules_of(ruleset: RuleSet) -> list[tuple[str, str]]:
    return [(rule.rule_id, rule.query) for rule in ruleset.rules]


# -- the time limit ----------------------------------------------------------------------


def test_the_time_limit_stops_a_chain_and_keeps_the_rules_decided_before() -> None:
    """A chain of 39 NEAR/1000 took 5 s on 160 KB: the time limit stops it, the rule
    decided before it keeps its match, and the rules from it on are named undecided."""
    rules = RuleSet.compile(
        [("first", "alpha"), ("chain", CHAIN), ("last", "gamma")], limits=Limits(timeout=0.2)
    )
    text = chain_text(4_000)
    started = time.thread_time()
    found = rules.matching("Chain", text)
    assert time.thread_time() - started < 0.2 + SLACK
    assert [m.rule_id for m in found.matches] == ["first"]
    assert found.unevaluated == ("chain", "last")
    assert found.cut == "time limit of 0.2 s reached: 2 rules not evaluated (chain, last)"
    assert rules.match("Chain", text) == found.matches


def test_many_rules_undecided_are_named_up_to_five() -> None:
    queries = [(f"r{i}", CHAIN) for i in range(8)]
    found = RuleSet.compile(queries, limits=Limits(timeout=0.05)).matching("", chain_text(8_000))
    assert found.unevaluated == tuple(f"r{i}" for i in range(8))
    assert found.cut == (
        "time limit of 0.05 s reached: 8 rules not evaluated (r0, r1, r2, r3, r4 and 3 more)"
    )


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    """The shipped rules with the config's default limits."""
    return config_mod.load(ROOT / "config" / "newsmon.yaml", env=ENV).ruleset()


@pytest.fixture(scope="module")
def vocabulary(shipped: RuleSet) -> list[str]:
    return sorted({text for rule in shipped.rules for text in literals(rule.node)})


def test_shipped_rules_on_adversarial_text_stay_within_the_limits(
    shipped: RuleSet, vocabulary: list[str]
) -> None:
    """Sentences of the shipped rules' own words (every rule evaluated, NEARs matching
    everywhere) took ~8 s per MB: the rules read 100,000 characters within 1 s."""
    text = adversarial_text(vocabulary, 320_000, seed=1)
    assert len(text) > 300_000
    started = time.thread_time()
    found = shipped.matching("Security guarantees for Ukraine", text)
    assert time.thread_time() - started < (shipped.limits.timeout or 0) + SLACK
    assert found.cut is not None and found.cut.startswith("text cut at character")
    decided = {m.rule_id for m in found.matches} | set(found.unevaluated)
    assert decided == {rule.rule_id for rule in shipped.rules}


# -- fuzzing -----------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(0, 2_000).map(str),
    st.builds(
        lambda digit, n: digit * n,
        st.sampled_from("0123456789"),
        st.one_of(st.integers(1, 8), st.integers(4_000, 6_000)),  # Python's int() stops at 4,300
    ),
)
query_parts = st.one_of(
    st.sampled_from(["AND", "OR", "NOT", "-", "+", "(", ")", '"', "*", "=", "title:", "site:"]),
    st.builds(lambda n, s: f"NEAR/{n}{s}", numbers, st.sampled_from(["", "s"])),
    numbers.map(lambda n: f"~{n}"),
    st.from_regex(r"[A-Za-zА-яЁёІіЇїЄєҐґ0-9'’.-]{1,8}\*?", fullmatch=True),
    st.builds(lambda c, n: c * n, st.sampled_from("aЖ9 -'\"*"), st.integers(150, 700)),
    st.text(max_size=6),
)
queries = st.one_of(st.text(max_size=300), st.lists(query_parts, max_size=25).map(" ".join))


@settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(queries)
def test_any_query_parses_or_is_a_query_error(query: str) -> None:
    aliases = {"Kyiv": ["Kiev", "Київ*"], "Big": ["b" * 190, "c" * 190]}
    for compile_query in (
        lambda q: parse_query(q),
        lambda q: RuleSet.compile([("r", q)], aliases=aliases),
    ):
        with contextlib.suppress(QueryError):
            compile_query(query)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_text_matches_the_shipped_rules_within_the_time_limit(
    shipped: RuleSet, vocabulary: list[str], data: st.DataObject
) -> None:
    """Texts of the rules' words, punctuation and anything else, up to ~100 KB, against
    the shipped rules with tighter limits (so that both cuts come into play quickly)."""
    rules = RuleSet(shipped.rules, Limits(max_chars=20_000, timeout=0.1))
    pieces = st.one_of(st.sampled_from(vocabulary), st.sampled_from([".", ",", "\n", ";", "—"]))
    parts = data.draw(st.lists(st.one_of(pieces, st.text(max_size=8)), min_size=1, max_size=60))
    text = " ".join(parts) * data.draw(st.sampled_from([1, 3, 30, 300]))
    title = data.draw(st.text(max_size=80))
    assert cpu_seconds(rules, title, text) < 0.1 + SLACK
