"""The fitted update decision (monitors.stories.novelty.weigh, evidence, score; weights
in monitors.stories.weights) on clear cases: a new guarantor is a development, another
outlet's sentence of the same facts is not, and what weighs against a fact (a quote, a
described speaker) weighs against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors import config as config_mod
from monitors.models import Article
from monitors.rules import RuleSet
from monitors.store import PriorAlert
from monitors.stories.novelty import Fact, Known, evidence, novelty, score, weigh
from monitors.stories.weights import WEIGHTS
from tests.conftest import ROOT
from tests.rules.test_rules_seeds import ENV

T0 = datetime(2025, 12, 15, 9, tzinfo=UTC)
EARLIER = (
    "US offers Ukraine security guarantees after a ceasefire",
    "The United States offered Ukraine security guarantees on Monday that would take effect"
    " after a ceasefire, a senior official said.",
)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return config_mod.load(ROOT / "config" / "newsmon.yaml", env=ENV).ruleset()


def decide(shipped: RuleSet, title: str, text: str) -> tuple[str, int | None, list[str]] | str:
    rules = shipped.select(["security-guarantees"])
    (first,) = rules.match(*EARLIER)
    prior = [PriorAlert(1, first.terms, *EARLIER, T0, T0)]
    (match,) = rules.match(title, text)
    later = Article(
        "https://x.example/b",
        "https://x.example/b",
        title,
        text,
        "x",
        "page",
        "en",
        T0 + timedelta(days=1),
    )
    return novelty(prior, match, later, timedelta(0))


def test_a_new_guarantor_is_a_development(shipped: RuleSet) -> None:
    verdict = decide(
        shipped,
        "Japan joins security guarantees for Ukraine",
        "Japan will join the security guarantees for Ukraine and provide air defence systems,"
        " the government in Tokyo said on Wednesday.",
    )
    assert not isinstance(verdict, str)
    assert verdict[0] == "update"
    assert any("Japan" in line for line in verdict[2])


def test_the_same_facts_in_other_words_are_not(shipped: RuleSet) -> None:
    verdict = decide(
        shipped,
        "Washington offers Kyiv guarantees for after a truce",
        "America offered Kyiv security guarantees on Monday that would apply after a ceasefire,"
        " an administration official said.",
    )
    assert isinstance(verdict, str)


def test_a_quote_weighs_against_a_fact() -> None:
    known_ = Known.of([PriorAlert(1, ("security guarantees",), *EARLIER, T0, T0)])
    said = "Poland would also take part in the security guarantees for Ukraine"
    plain = Fact(said, frozenset({"party"}), 1, sentence=said)
    quoted = Fact(said, frozenset({"party"}), 1, sentence=f'"{said}," the minister said')
    assert score(evidence(quoted, known_)) < score(evidence(plain, known_))


def test_a_described_speaker_weighs_against_a_fact() -> None:
    known_ = Known.of([PriorAlert(1, ("security guarantees",), *EARLIER, T0, T0)])
    said = "Poland would also take part in the security guarantees for Ukraine"
    plain = Fact(said, frozenset({"party"}), 1, sentence=said)
    analyst = Fact(
        said, frozenset({"party"}), 1, sentence=f"{said}, said Jane Roe, a fellow at a think tank"
    )
    assert score(evidence(analyst, known_)) < score(evidence(plain, known_))


def test_a_fact_that_stands_aside_is_never_a_development(shipped: RuleSet) -> None:
    rules = shipped.select(["security-guarantees"])
    (first,) = rules.match(*EARLIER)
    prior = [PriorAlert(1, first.terms, *EARLIER, T0, T0)]
    title, text = (
        "",
        (
            "Leaders discussed the security guarantees for Ukraine, which Britain and France"
            " would also provide."
        ),
    )
    (match,) = rules.match(title, text)
    later = Article(
        "https://x.example/c", "https://x.example/c", title, text, "x", "page", "en", T0
    )
    weighed = weigh(prior, match, later)
    assert weighed
    assert all(weight == float("-inf") for fact, weight in weighed if fact.aside)
    assert any(fact.aside for fact, _ in weighed)


def test_the_weights_name_the_evidence() -> None:
    fact = Fact("Britain would provide troops", frozenset({"party"}), 0, sentence="x")
    assert set(WEIGHTS) == set(evidence(fact, Known(set(), set(), set(), set(), set())))
