"""The update decision (monitors.stories.novelty) on its parts and on the seed coverage:
names that are one party, statuses asserted or not, numbers that are background, and the
five seed write-ups as one story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors import config as config_mod
from monitors.models import Article
from monitors.rules import RuleSet
from monitors.store import PriorAlert
from monitors.stories.names import identity, known, parties_in
from monitors.stories.novelty import (
    Known,
    _attribution,
    _new_condition,
    _new_number,
    _new_party,
    _numbers,
    _places,
    _statuses,
    developments,
    novelty,
    rule_sentences,
)
from tests.conftest import ROOT
from tests.rules.test_rules_seeds import ENV, FILES, seed

T0 = datetime(2025, 12, 15, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return config_mod.load(ROOT / "config" / "newsmon.yaml", env=ENV).ruleset()


def article(title: str, text: str) -> Article:
    return Article("https://x.example/a", "https://x.example/a", title, text, "x", "page", "en", T0)


def test_one_party_under_many_names() -> None:
    us = {"us"}
    for name in ("US", "U.S.", "United States", "America", "American", "the White House"):
        assert known(identity(name), us), name
    assert parties_in("Washington signalled support") == ["us"]
    assert parties_in("talks in Washington") == []  # a venue
    assert parties_in("the Ukrainian parliament and the US Senate") == [
        "ukraine parliament",
        "senate",
    ]
    assert known(identity("Donbass"), {"donbas"})  # the same name, spelt otherwise
    assert not known(frozenset({"ukraine parliament"}), {"ukraine", "senate"})


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("The Senate ratified the security pact on Tuesday", {("senate", "ratified")}),
        ("Officials hope the Senate will ratify the pact quickly", set()),
        ("the guarantees would need to be ratified by the Senate", set()),
        ("Washington will not send the pact to the Senate", {("us", "rejected")}),
        (
            "Ukrainian units began withdrawing from Kramatorsk",
            {("ukraine", "begun"), ("ukraine", "withdrawn")},
        ),
        ("Washington has agreed to provide guarantees", {("us", "proposed")}),
        ("the proposed agreement", set()),
        ("the White House has signalled", set()),
        ("The White House has decided not to submit the pact", {("us", "rejected")}),
        ("Washington would not send troops", {("us", "rejected")}),
        ("The Kremlin declined to comment", set()),
        ("Kyiv urged senators to ratify it without delay", set()),
        ("leaders discussed guarantees offered by Washington", {("us", "proposed")}),
        ("negotiators have finished the text", {("", "agreed")}),
        ("Kyiv insists the guarantees offered in Berlin be binding", {("", "proposed")}),
        ("Washington offers Kyiv a collective-defence pledge", {("us", "proposed")}),
        ("Kyiv and Washington sign the pact", {("us", "signed")}),
    ],
)
def test_statuses_asserted(clause: str, expected: set[tuple[str, str]]) -> None:
    assert _statuses(clause) == expected


def test_what_an_earlier_article_named_is_known() -> None:
    assert _statuses("the guarantees on offer to Ukraine") == set()
    assert _statuses("the guarantees on offer to Ukraine", named=True) == {("", "proposed")}
    assert _statuses("with a signing expected this month", named=True) == set()


def test_background_numbers_and_speakers_are_not_developments(shipped: RuleSet) -> None:
    earlier = (
        "US offers Ukraine security guarantees",
        "The United States has offered Ukraine security guarantees, officials said.",
    )
    prior = [PriorAlert(1, ("security guarantees", "Ukraine"), *earlier, T0, T0)]
    known_ = Known.of(prior)
    text = (
        "America offered Kyiv security guarantees, Swedish Prime Minister Ulf Kristersson "
        "said, in a war which has killed more than 1 million people. A poll found 62% of "
        "Americans support the US offering security guarantees to Ukraine."
    )
    (match,) = shipped.select(["security-guarantees"]).match("Guarantees on offer", text)
    found = developments(known_, rule_sentences(article("", text), match), 2025, frozenset())
    assert found == []


def test_questions_polls_history_and_clock_times_are_not_developments(
    shipped: RuleSet,
) -> None:
    earlier = ("US offers Ukraine security guarantees", "The US offered Ukraine guarantees.")
    prior = [PriorAlert(1, ("guarantees", "Ukraine"), *earlier, T0, T0)]
    text = (
        "Can Europe staff the security guarantees for Ukraine? "
        "Poll: 75% of Ukrainians reject security guarantees tied to the Donbas. "
        "In 1994 Ukraine gave up its warheads for security guarantees from the US, Britain "
        "and Russia. 10:20 A US official repeats the security guarantees for Ukraine stand."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    sentences = rule_sentences(article("", text), match)
    assert developments(Known.of(prior), sentences, 2025, frozenset()) == []


def test_outlets_demonyms_name_variants_and_roundings_are_not_developments(
    shipped: RuleSet,
) -> None:
    earlier = (
        "Abbott government offers Ukraine security guarantees",
        "The Abbott government offered Ukraine security guarantees backed by 715 troops.",
    )
    prior = [PriorAlert(1, ("guarantees", "Ukraine"), *earlier, T0, T0)]
    text = (
        "CNN reports the security guarantees for Ukraine stand. European analysts see "
        "the security guarantees for Ukraine as firm. The Abbott Government keeps its "
        "security guarantees for Ukraine, with more than 700 troops."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    sentences = rule_sentences(article("", text), match)
    assert developments(Known.of(prior), sentences, 2025, frozenset()) == []


def test_a_deadline_is_news_but_only_in_the_lead(shipped: RuleSet) -> None:
    earlier = ("US offers Ukraine security guarantees", "The US offered Ukraine guarantees.")
    prior = [PriorAlert(1, ("guarantees", "Ukraine"), *earlier, T0, T0)]
    deadline = "Kyiv must answer on the security guarantees for Ukraine by February 28."
    (match,) = shipped.select(["security-guarantees"]).match("", deadline)
    sentences = rule_sentences(article("", deadline), match)
    assert developments(Known.of(prior), sentences, 2025, frozenset()) == [deadline[:-1]]
    background = "Talks went on. " * 6 + deadline
    (match,) = shipped.select(["security-guarantees"]).match("", background)
    sentences = rule_sentences(article("", background), match)
    assert developments(Known.of(prior), sentences, 2025, frozenset()) == []


@pytest.mark.parametrize(
    ("clause", "new"),
    [
        ("Kyiv remembers Budapest as it weighs the offer", False),
        ("he died at his home in west London", False),
        ("the British and French parliaments would be asked to ratify it", True),
        ("Budapest will join the guarantees", True),
        ("Britain and Hungary would also provide troops", True),
        ("Japan will join the guarantees", True),  # a country's name, not a demonym
        ("Italian troops would take part", False),
    ],
)
def test_who_is_a_new_party(clause: str, new: bool) -> None:
    known_ = Known({"us", "ukraine"}, set(), set(), set(), set())
    assert _new_party(clause, known_) is new


def test_what_a_condition_offers_is_news(shipped: RuleSet) -> None:
    earlier = (
        "Kremlin demands Ukraine cede the Donbas",
        "Russia wants Ukraine to cede the Donbas.",
    )
    prior = [PriorAlert(1, ("Donbas", "cede"), *earlier, T0, T0)]
    text = "Russia would return the areas it holds in Kharkiv and Sumy if Ukraine cedes the Donbas."
    (match,) = shipped.select(["donbas-withdrawal"]).match("", text)
    news = developments(
        Known.of(prior), rule_sentences(article("", text), match), 2025, frozenset()
    )
    assert news == [text[:-1]]


def test_the_lede_tells_a_headline_only_match(shipped: RuleSet) -> None:
    earlier = (
        "Ukrainian forces to leave Donetsk within 60 days",
        "Under the deal Ukraine will withdraw its forces from the Donetsk region.",
    )
    prior = [PriorAlert(1, ("Donetsk", "withdraw"), *earlier, T0, T0)]
    title = "First Ukrainian units leave Donetsk positions under truce"
    text = "Ukrainian troops began pulling out of positions west of Kostiantynivka on Monday."
    (match,) = shipped.select(["donbas-withdrawal"]).match(title, text)
    assert match.in_title and not match.spans
    news = developments(
        Known.of(prior), rule_sentences(article(title, text), match), 2025, frozenset()
    )
    assert news == [text[:-1]]


def test_a_new_guarantor_and_a_new_number_are(shipped: RuleSet) -> None:
    earlier = ("US offers Ukraine security guarantees", "The US offered Ukraine guarantees.")
    prior = [PriorAlert(1, ("guarantees", "Ukraine"), *earlier, T0, T0)]
    text = (
        "Britain and France would also provide security guarantees for Ukraine, pledging "
        "up to 30,000 troops to a reassurance force, the two governments said."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    kind, follows, news = novelty(prior, match, article("", text), timedelta(0))  # type: ignore[str-unpack]
    assert (kind, follows) == ("update", 1)
    assert news == [
        "Britain and France would also provide security guarantees for Ukraine",
        "pledging up to 30,000 troops to a reassurance force",
    ]


def test_the_seeds_as_one_story_make_one_alert_per_rule_and_an_update_at_004(
    shipped: RuleSet,
) -> None:
    """Per ../shared/seeds/README.md: one alert per rule, and an update where 004 (the
    FT report) brings new terms: the document "100% ready" for the guarantees, and
    ratification by the Ukrainian parliament as well as the U.S. Congress."""
    texts = [seed(path) for path in FILES]
    said: dict[str, list[str]] = {}
    for rule in shipped.rules:
        alerted: list[PriorAlert] = []
        for n, (title, text) in enumerate(texts):
            found = shipped.select([rule.rule_id]).match(title, text)
            if not found:
                continue
            if not alerted:
                said.setdefault(rule.rule_id, []).append(f"{n} alert")
            else:
                verdict = novelty(alerted, found[0], article(title, text), timedelta(0))
                if not isinstance(verdict, str):
                    said.setdefault(rule.rule_id, []).append(f"{n} update")
            alerted.append(PriorAlert(n + 1, found[0].terms, title, text, T0, T0))
    assert said == {
        "security-guarantees": ["0 alert", "4 update"],
        "donbas-withdrawal": ["0 alert"],
        "senate-ratification": ["0 alert", "4 update"],
    }


def test_a_known_condition_in_the_rule_s_other_words_is_no_news(shipped: RuleSet) -> None:
    earlier = (
        "Guarantees for Ukraine need Senate ratification",
        "The security guarantees for Ukraine would need Senate ratification, officials said.",
    )
    (first,) = shipped.select(["senate-ratification"]).match(*earlier)
    prior = [PriorAlert(1, first.terms, *earlier, T0, T0)]
    text = "The guarantees for Ukraine would need the advice and consent of the Senate."
    (match,) = shipped.select(["senate-ratification"]).match("", text)
    assert isinstance(novelty(prior, match, article("", text), timedelta(0)), str)
    text = "The guarantees for Ukraine would need the Senate's consent and a referendum in Kyiv."
    (match,) = shipped.select(["senate-ratification"]).match("", text)
    assert not isinstance(novelty(prior, match, article("", text), timedelta(0)), str)


def test_a_share_of_the_chamber_in_votes_is_known(shipped: RuleSet) -> None:
    earlier = (
        "Ukraine treaty needs two-thirds of Senate",
        "Ratifying the security guarantees for Ukraine would require two-thirds of the Senate.",
    )
    (first,) = shipped.select(["senate-ratification"]).match(*earlier)
    prior = [PriorAlert(1, first.terms, *earlier, T0, T0)]
    for text, news in [
        (
            "The Ukraine security guarantees would need 67 votes in the Senate to be ratified.",
            False,
        ),
        ("The Senate ratified the Ukraine security guarantees by 58 votes to 40.", True),
    ]:
        (match,) = shipped.select(["senate-ratification"]).match("", text)
        verdict = novelty(prior, match, article("", text), timedelta(0))
        assert isinstance(verdict, str) is not news, text


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Washington has put off signing the guarantees", {("us", "delayed")}),
        ("the guarantee text had reached his committee", {("", "submitted")}),
        ("The White House handed the treaty to the Senate", {("us", "submitted")}),
        ("the two sides reached a deal on the guarantees", {("", "agreed")}),
        ("Kyiv pushed back against the plan", {("ukraine", "rejected")}),
    ],
)
def test_status_phrases(clause: str, expected: set[tuple[str, str]]) -> None:
    assert _statuses(clause) == expected


def test_a_hedge_or_a_month_before_a_number_is_no_identifier() -> None:
    assert {"#35"} <= _numbers("Some 35 countries took part.")
    assert _numbers("It cites Article 5.") == set()
    assert _numbers("Leaders meet on January 27.") == _numbers("on January 27, leaders meet")


def test_a_clause_of_the_rule_s_matter_speaks_of_it(shipped: RuleSet) -> None:
    earlier = (
        "US ready to seek Senate ratification of Ukraine guarantees",
        "Washington is willing to submit the guarantees for Ukraine for ratification by the "
        "Senate. A treaty needs the votes of two-thirds of senators present.",
    )
    (first,) = shipped.select(["senate-ratification"]).match(*earlier)
    prior = [PriorAlert(1, first.terms, *earlier, T0, T0)]
    text = (
        "The administration will put the Ukraine security guarantees to both chambers of "
        "Congress as an agreement requiring simple majorities, rather than seeking a "
        "two-thirds vote in the Senate alone."
    )
    (match,) = shipped.select(["senate-ratification"]).match("", text)
    verdict = novelty(prior, match, article("", text), timedelta(0))
    assert not isinstance(verdict, str)
    assert "simple majorities" in verdict[2][0]


def test_a_condition_put_first_and_what_it_offers(shipped: RuleSet) -> None:
    earlier = (
        "Kremlin demands Ukraine cede the Donbas",
        "Russia wants Ukraine to cede the Donbas.",
    )
    prior = [PriorAlert(1, ("Donbas", "cede"), *earlier, T0, T0)]
    text = (
        "In return for Ukraine ceding the Donbas, Russian forces would leave the areas they "
        "hold in the Dnipropetrovsk and Kharkiv regions."
    )
    (match,) = shipped.select(["donbas-withdrawal"]).match("", text)
    assert developments(Known.of(prior), rule_sentences(article("", text), match), 2025, _NONE)
    text = "Ukraine might pull its forces back from Donetsk if Russian troops retreated as far."
    (match,) = shipped.select(["donbas-withdrawal"]).match("", text)
    assert developments(Known.of(prior), rule_sentences(article("", text), match), 2025, _NONE)


def test_a_list_of_speakers_stays_one_clause(shipped: RuleSet) -> None:
    earlier = (
        "US presses Ukraine to give up the Donbas",
        "The United States is pressing Ukraine to give up the Donbas for peace.",
    )
    prior = [PriorAlert(1, ("Donbas", "give up"), *earlier, T0, T0)]
    text = (
        "The leaders of France, Germany and Britain urged the United States not to push "
        "Ukraine into giving up the Donbas."
    )
    (match,) = shipped.select(["donbas-withdrawal"]).match("", text)
    assert (
        developments(Known.of(prior), rule_sentences(article("", text), match), 2025, _NONE) == []
    )


_NONE: frozenset[str] = frozenset()


def test_a_hit_only_in_a_reference_to_the_known_event_is_no_news(shipped: RuleSet) -> None:
    earlier = ("US offers Ukraine security guarantees", "The US offered Ukraine guarantees.")
    (first,) = shipped.select(["security-guarantees"]).match(*earlier)
    prior = [PriorAlert(1, first.terms, *earlier, T0, T0)]
    title = "Russia hits Kyiv with 650 drones days after US guarantee offer"
    text = (
        "Russia launched 653 drones at Ukraine overnight. The attack came days after "
        "Washington offered Kyiv security guarantees."
    )
    (match,) = shipped.select(["security-guarantees"]).match(title, text)
    assert isinstance(novelty(prior, match, article(title, text), timedelta(0)), str)
    title = "Britain joins US guarantees for Ukraine days after the offer"
    (match,) = shipped.select(["security-guarantees"]).match(title, text)
    assert not isinstance(novelty(prior, match, article(title, text), timedelta(0)), str)


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("The treaty failed to win ratification in the Senate", {("", "rejected")}),
        ("Kyiv pulled its troops back from Kramatorsk", {("ukraine", "withdrawn")}),
        ("The White House has dropped plans to seek ratification", {("us", "withdrawn")}),
        ("The United States will provide a backstop", {("us", "proposed")}),
        ("Sybiha welcomed the US pledge to backstop the guarantees", set()),
        ("Getting the agreement ratified by the Senate will be hard", set()),
        ("Moscow's demand that Ukrainian troops withdraw from the Donbas", set()),
    ],
)
def test_status_verbs_nouns_and_hypotheticals(clause: str, expected: set[tuple[str, str]]) -> None:
    assert _statuses(clause) == expected


def test_a_wish_noun_does_not_hold_the_sentence_s_own_verb() -> None:
    clause = "Talks on Russia's demand that Ukraine withdraw have been put off until January"
    assert {status for _, status in _statuses(clause)} == {"delayed"}


def test_once_sets_a_condition_and_a_crowd_is_background(shipped: RuleSet) -> None:
    earlier = ("US to backstop guarantees for Ukraine", "The US will backstop the guarantees.")
    (first,) = shipped.select(["security-guarantees"]).match(*earlier)
    prior = [PriorAlert(1, first.terms, *earlier, T0, T0)]
    text = (
        "The US backstop to security guarantees for Ukraine would only come into force once "
        "Kyiv ratifies a minerals agreement with Washington."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    assert not isinstance(novelty(prior, match, article("", text), timedelta(0)), str)
    text = "The security guarantees for Ukraine once stood on paper alone, Kyiv says."
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    assert isinstance(novelty(prior, match, article("", text), timedelta(0)), str)
    text = "About 2,000 people marched as leaders discussed security guarantees for Ukraine."
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    assert isinstance(novelty(prior, match, article("", text), timedelta(0)), str)


def test_a_country_s_own_institution_is_a_party_of_its_own() -> None:
    assert parties_in("Ukraine's parliament will vote") == ["ukraine parliament"]
    assert parties_in("Ukraine's economy grew") == ["ukraine"]


def test_a_list_of_countries_names_each() -> None:
    assert parties_in("Denmark, Sweden, Norway and Finland said") == [
        "denmark",
        "sweden",
        "norway",
        "finland",
    ]
    assert parties_in("the US Senate voted") == ["senate"]  # a qualifier, no list


def test_each_chamber_is_a_party_and_a_government_is_its_country() -> None:
    assert parties_in("House Speaker Mike Johnson said") == ["house"]
    assert parties_in("the lower chamber wants a vote") == ["house"]
    assert parties_in("the upper chamber of Congress") == ["senate", "congress"]
    assert parties_in("the White House said") == ["us"]
    assert known(identity("Congress"), {"senate"})  # the whole, after a chamber
    assert known(identity("the Senate"), {"congress"})  # a chamber, after the whole
    assert not known(identity("the House of Representatives"), {"senate"})
    assert parties_in("The German government is prepared") == ["germany"]
    assert parties_in("the German parliament") == ["germany parliament"]
    assert parties_in("the US-Ukraine security treaty") == ["us", "ukraine"]  # a pair
    assert parties_in("an Anglo-French force") == ["france"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Norway will send four frigates", {"#4"}),
        ("sixty-one senators are ready", {"#61"}),
        ("two Patriot air defence batteries", {"#2"}),
        ("Twenty-six countries signed", {"#26"}),
        ("one of the allies", set()),
        ("three-way talks", set()),
        ("two-thirds of senators", {"two-thirds"}),
        ("armies that have shrunk for three decades", set()),
    ],
)
def test_counts_in_words(text: str, expected: set[str]) -> None:
    assert _numbers(text) == expected


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Work on the guarantees has been paused", {("", "delayed")}),
        ("The Senate paused its hearings on the pact", {("senate", "delayed")}),
        ("The mission planned under the pact has been put on hold", {("", "delayed")}),
        ("Talks were on hold", {("", "delayed")}),
        ("The mission planned under the pact would start in May", set()),
    ],
)
def test_a_pause_is_a_turn(clause: str, expected: set[tuple[str, str]]) -> None:
    assert _statuses(clause) == expected


def test_places() -> None:
    assert _places("the Odesa region and the port of Constanta") == {"odesa", "constanta"}
    assert _places("a Romanian port, the Kyiv region and Rzeszow airport") == {"rzeszow"}
    assert _places("troops would withdraw from Kherson") == {"kherson"}


DEMAND = (
    "Russia demands Ukraine withdraw from the Donbas",
    "Russia demands that Ukraine withdraw its forces from the Donbas as part of any peace "
    "agreement, Foreign Minister Sergei Lavrov said.",
)


def _after_demand(shipped: RuleSet, text: str) -> object:
    rules = shipped.select(["donbas-withdrawal"])
    (first,) = rules.match(*DEMAND)
    prior = [PriorAlert(1, first.terms, *DEMAND, T0, T0)]
    (match,) = rules.match("", text)
    return novelty(prior, match, article("", text), timedelta(0))


def test_a_new_region_is_news_a_part_of_a_known_one_is_not(shipped: RuleSet) -> None:
    text = (
        "Russia now demands that Ukraine withdraw its forces from the Donbas and also from "
        "the Kherson region."
    )
    assert not isinstance(_after_demand(shipped, text), str)
    text = "Ukraine must withdraw its forces from the Donetsk and Luhansk regions, Lavrov said."
    assert isinstance(_after_demand(shipped, text), str)


def test_a_demand_restated_as_a_refusal_is_no_news_a_new_refusal_is(shipped: RuleSet) -> None:
    for text in (
        "Russia will not sign any peace agreement unless Ukraine withdraws its forces from "
        "the Donbas, Lavrov said.",
        "Moscow will reject any peace agreement that does not include the withdrawal of "
        "Ukraine's forces from the Donbas, Lavrov said.",
        "Russia will not sign a peace deal unless Kyiv quits the Donbas, Lavrov said.",  # kin
    ):
        assert isinstance(_after_demand(shipped, text), str), text
    text = "Ukraine refused to withdraw its forces from the Donbas, calling it an ultimatum."
    assert not isinstance(_after_demand(shipped, text), str)


def test_a_reservation_barring_something_is_a_condition() -> None:
    known_ = Known.of([PriorAlert(1, ("ratification",), "Treaty sent", "Treaty sent.", T0, T0)])
    clause = "Senators added a reservation barring combat troops in Ukraine"
    assert _new_condition(clause, known_)


def test_a_long_clause_shows_the_words_that_are_new(shipped: RuleSet) -> None:
    """Of a clause longer than the desk reads, the update shows the words around what is
    new (here the condition at its end), not its opening the earlier alert already said."""
    earlier = (
        "Geneva talks yield draft framework to end Ukraine war",
        "Negotiators in Geneva agreed on Friday a draft framework to end the war in Ukraine "
        "under which the United States and its European partners would extend security "
        "guarantees to Kyiv.",
    )
    prior = [PriorAlert(1, ("security guarantees", "Kyiv"), *earlier, T0, T0)]
    text = (
        "Diplomats in Geneva have agreed on a draft framework for ending the war in Ukraine "
        "that would see Washington and its European allies offer Kyiv NATO-style security "
        "guarantees in exchange for painful territorial concessions, officials said."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    news = developments(
        Known.of(prior), rule_sentences(article("", text), match), 2025, frozenset()
    )
    assert news == [
        "…ending the war in Ukraine that would see Washington and its European allies offer "
        "Kyiv NATO-style security guarantees in exchange for painful territorial concessions"
    ]


def test_a_decimal_is_no_clock_time() -> None:
    assert _numbers("The bank cut its deposit rate to 1.75% on Thursday") == {"#1.75"}
    assert _numbers("rates of 2.25 per cent") == {"#2.25"}
    assert _numbers("The vote was called at 10.20 local time") == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The chamber would hold its ratification vote on the pact on March 3", {"@mar 3"}),
        ("The vote is set for March 3", {"@mar 3"}),
        ("Thune said on March 3 that the vote would be close", set()),
        ("Talks on the guarantees will resume in Geneva on January 23", set()),
        ("the ratification first promised by US officials on December 15", set()),
    ],
)
def test_a_date_set_for_a_decisive_act_is_a_number(text: str, expected: set[str]) -> None:
    assert _numbers(text) == expected


STRIKE = RuleSet.compile([("port-strike", "(strike* OR walkout*) NEAR/12s (port OR dockers)")])
STRIKE_CALLED = (
    "Antwerp dockers to strike for 48 hours",
    "Dockers at the port of Antwerp will stage a 48-hour strike from Monday, the union said.",
)


def _after_strike(text: str) -> object:
    (first,) = STRIKE.match(*STRIKE_CALLED)
    prior = [PriorAlert(1, first.terms, *STRIKE_CALLED, T0, T0)]
    (match,) = STRIKE.match("", text)
    return novelty(prior, match, article("", text), timedelta(0))


def test_a_span_of_time_in_other_units_is_known() -> None:
    text = "Dockers at the Antwerp port will strike for two days starting Monday, the union said."
    assert isinstance(_after_strike(text), str)
    text = "Dockers at the Antwerp port will extend the strike to 72 hours, the union said."
    assert not isinstance(_after_strike(text), str)


def test_an_irregular_form_and_a_freeze_say_what_is_known() -> None:
    known_ = Known.of(
        [
            PriorAlert(
                1,
                ("withdraw", "Donbas"),
                "Ukraine must withdraw from Donbas",
                "Ukraine must withdraw its troops from the Donbas in return for a ceasefire "
                "along the front line, Putin said.",
                T0,
                T0,
            )
        ]
    )
    assert not _new_condition("a truce is impossible unless Ukraine withdrew its troops", known_)
    assert not _new_condition("in return for a freeze along the front line", known_)
    assert _new_condition("in return for a referendum on the deal", known_)


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Talks under the US peace plan have been put on hold", {("us", "delayed")}),
        ("Talks under the plan would have been put on hold", set()),
        ("Dockers will walk out for two days starting Monday", set()),
        ("Ukrainian units began withdrawing", {("ukraine", "begun"), ("ukraine", "withdrawn")}),
        ("UniCredit launched a takeover offer for Commerzbank", {("", "proposed")}),
    ],
)
def test_a_noun_of_wish_a_date_and_a_launch(clause: str, expected: set[tuple[str, str]]) -> None:
    assert _statuses(clause) == expected


def test_a_speaker_who_says_what_it_will_do_acts() -> None:
    known_ = Known.of([PriorAlert(1, ("plan",), "US plan", "The US plan for Ukraine.", T0, T0)])
    assert _new_party("France and Germany said on Wednesday they would support the plan", known_)
    assert not _new_party("Japan said it welcomed the plan", known_)
    assert not _new_party("Japan said the plan was welcome", known_)


def test_a_country_before_a_known_name_only_says_where_it_is_from() -> None:
    stake = "UniCredit has raised its stake in Commerzbank to 29%, the Italian bank said."
    known_ = Known.of([PriorAlert(1, ("stake",), "UniCredit stake", stake, T0, T0)])
    assert not _new_party("Italy's UniCredit now controls 29% of Germany's Commerzbank", known_)
    assert _new_party("Germany's Finance Ministry opposes a bid for Commerzbank", known_)
    assert _new_party("China's Xi Jinping backs a bid for Commerzbank", known_)


def test_the_secretary_of_state_is_the_united_states() -> None:
    assert parties_in("Secretary of State Marco Rubio told reporters") == ["us"]
    assert known(identity("Washington"), set(parties_in("Secretary of State Marco Rubio")))


def test_a_party_given_a_number_is_no_identifier() -> None:
    assert _numbers("The draft gives the United States 72 hours, rather than 24") >= {"#72"}
    assert "#60" in _numbers("The memorandum gives Ukraine 60 days to withdraw")
    assert _numbers("Resolution 2231 was cited") == set()


def test_a_speaker_s_title_and_a_place_in_a_country_are_no_party() -> None:
    known_ = Known.of([PriorAlert(1, ("fire",), "Fire", "A fire near Marseille.", T0, T0)])
    assert _attribution("chairman of the foreign affairs committee of Ukraine's parliament")
    assert not _new_party("the longer fire seasons southern France now faces", known_)
    assert _new_party("France will send water bombers", known_)


def test_a_subject_cut_from_its_verb_by_a_relative_clause_is_given_back(
    shipped: RuleSet,
) -> None:
    text = (
        "Iceland, which has no armed forces, will pay for the radar systems of the air "
        "defence squadron backing security guarantees for Ukraine, its minister said."
    )
    (match,) = shipped.select(["security-guarantees"]).match("", text)
    (clauses,) = rule_sentences(article("", text), match)
    assert ("Iceland will pay for the radar systems", True) in [
        (c.text[:38], c.hit) for c in clauses
    ]
    assert parties_in("Iceland will pay") == ["iceland"]


def test_an_ordinal_is_no_number_whole() -> None:
    known_ = Known.of([PriorAlert(1, ("Davie",), "Davie dies", "Alan Davie died.", T0, T0)])
    assert not _new_number("Davie was one of the great 20th-century painters", known_, frozenset())
    assert _new_number("Davie left 300 paintings", known_, frozenset())
