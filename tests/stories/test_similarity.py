"""Same-story decisions on full texts, their reasons, and new facts, on hand-written
wire-style write-ups recorded through the pipeline's record path."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from importlib import resources

import sqlalchemy as sa

from monitors.config import StoriesConfig
from monitors.extract.analysis import IdfTable, default_idf, facts_of, features, stem, terms
from monitors.store import Store, utcnow
from monitors.store.schema import decisions
from monitors.stories.similarity import Candidate, decide
from tests.stories.test_story_alerts import Desk

SETTINGS = StoriesConfig()
T0 = datetime(2025, 11, 25, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

GENEVA_WIRE = (
    "Zelenskyy to meet US envoy Witkoff in Geneva on security guarantees",
    "KYIV, Nov 25 (Reuters) - Ukrainian President Volodymyr Zelenskyy will meet U.S. special "
    "envoy Steve Witkoff in Geneva on Thursday to discuss security guarantees for Ukraine, his "
    "office said on Tuesday. The talks will focus on the 28-point peace plan drafted in "
    "Washington.\nZelenskyy said Ukraine would not give up territory in the Donbas. "
    '"We need guarantees that work," he told reporters in Kyiv.',
)
GENEVA_OTHER_WRITEUP = (
    "Ukraine's leader heads to Geneva for talks with Witkoff on the 28-point plan",
    "Volodymyr Zelenskyy is travelling to Geneva for talks with Steve Witkoff, the American "
    "special envoy, about the 28-point plan and guarantees for Ukraine's security, officials "
    "in Kyiv said. The meeting is set for Thursday.\nEuropean leaders have urged Washington "
    "to involve Kyiv in every step.",
)
KYIV_METRO = (
    "Kyiv metro resumes service after Russian strikes cut power",
    "Kyiv's metro resumed full service on Tuesday after overnight Russian missile and drone "
    "strikes knocked out power to parts of the Ukrainian capital, Mayor Vitali Klitschko said. "
    "Two people were injured in the Darnytskyi district.\nEngineers restored electricity to "
    "120,000 homes by morning, the energy ministry said.",
)
KYIV_COURT = (
    "Kyiv court jails former defence official in bribery case",
    "A court in Kyiv on Tuesday sentenced a former deputy defence minister to nine years in "
    "prison for taking a $400,000 bribe over army food contracts, Ukraine's anti-corruption "
    "bureau said.\nThe official, who denied wrongdoing, was detained in 2023.",
)
GENEVA_UPDATE = (
    "Zelenskyy and Witkoff meet in Geneva; Rubio joins talks on 19-point draft",
    "Volodymyr Zelenskyy met Steve Witkoff in Geneva on Thursday, and Secretary of State "
    "Marco Rubio joined the talks, which cut the plan to 19 points. "
    '"The hardest questions remain," Zelenskyy said.',
)


def test_facts_are_names_numbers_and_quotes_not_dates_or_days() -> None:
    text = (
        "Shares of UniCredit fell 6.2% on Monday, March 10, after the bank posted a €14bn "
        "loss and said it would cut 8,500 jobs by 2018. Chief executive Federico Ghizzoni "
        'called it "a clean-up year" at 10:30 in Milan.'
    )
    facts = {(f.kind, f.text) for f in facts_of(text)}
    assert {("name", "UniCredit"), ("name", "Federico Ghizzoni"), ("name", "Milan")} <= facts
    assert {("number", "6.2%"), ("number", "€14bn"), ("number", "8,500 jobs")} <= facts
    assert ("quote", "a clean-up year") in facts
    texts = {text for _, text in facts}
    assert not {"Monday", "March", "10", "2018", "30", "Chief"} & texts


def test_keys_are_the_rarest_names_and_numbers_of_headline_and_text() -> None:
    title = "UniCredit posts record loss"
    text = (
        "Shares of UniCredit fell 6.2% on Monday, March 10, after the bank posted a €14bn "
        "loss and said it would cut 8,500 jobs by 2018. Chief executive Federico Ghizzoni "
        'called it "a clean-up year" at 10:30 in Milan.'
    )
    keys = features(title, text).keys
    assert {"unicredit", "ghizzoni", "milan", "#6.2", "#14", "#8500"} <= keys
    assert not {"monday", "march", "#10", "#2018", "#30", "chief", "clean-up year"} & keys


def test_terms_are_stemmed_content_words_and_numbers() -> None:
    assert terms("The elephants' tapering: 8,500 jobs, 6.2%") == [
        "elephant",
        "taper",
        "#8500",
        "job",
        "#6.2",
    ]
    assert stem("companies") == "company" and stem("updated") == stem("update")


def test_a_numbers_words_make_one_term_wherever_it_stands() -> None:
    assert terms("12 ships, $50 billion and 3 per cent fell; U.S. 7") == [
        "#12",
        "ship",
        "#50",
        "#3",
        "fell",
        "us",
        "#7",
    ]
    assert terms("") == [] and terms("no numbers here") == ["number"]


def test_the_idf_is_the_smoothed_formula_of_the_document_frequency() -> None:
    idf = IdfTable(docs=9, df={"rare": 1, "common": 8})
    assert idf.idf("common") == math.log(10 / 9) + 1.0
    assert idf.idf("rare") == idf.idf("unseen") == math.log(10 / 2) + 1.0


def test_the_shipped_idf_table_is_small_and_sane() -> None:
    shipped = resources.files("monitors.extract") / "data" / "idf.json.gz"
    assert len(shipped.read_bytes()) < 1_000_000
    idf = default_idf()
    assert idf.idf("zzzunseenword") == idf.idf("another-unseen") > idf.idf(stem("government"))
    assert idf.idf(stem("government")) < idf.idf(stem("zelenskyy"))


TALKS = [
    (
        "Russia and Ukraine resume Geneva talks on Witkoff peace plan",
        "Envoys of Russia and Ukraine resumed talks in Geneva on Tuesday on the US peace plan "
        "to end the war, officials in Kyiv said. Steve Witkoff chaired the session.",
    ),
    (
        "Russia, Ukraine agree to extend Geneva talks into next week",
        "Russia and Ukraine agreed to extend the Geneva talks on the war into next week, "
        "officials in Kyiv and Moscow said.",
    ),
]
KHARKIV_STRIKE = (
    "Russia strikes Kharkiv as Ukraine and Russia talks on the war go on",
    "Russia struck Kharkiv overnight as talks between Russia and Ukraine on ending the war "
    "went on, officials in Kyiv said. Twelve people were killed.",
)


def test_facts_skip_sentence_openers_and_scare_quotes() -> None:
    text = (
        'Separately, the Russian ministry "takes note" of the reports. Meanwhile Kiper said '
        "12 people were killed, and Marek Dvorak of the Red Cross arrived. Dvorak said "
        "the toll could rise to $50 billion in damage."
    )
    facts = [f.text for f in facts_of(text)]
    assert {"12 people", "Marek Dvorak", "$50 billion", "Red Cross"} <= set(facts)
    assert not {"Separately", "Meanwhile", "takes note"} & set(facts)


def placed(desk: Desk, site: str, write_up: tuple[str, str], at: datetime) -> tuple[int, str, str]:
    """Record a write-up; its story, and the kind and reason of its placement."""
    title, text = write_up
    made = desk.record(site, title, text.split("\n"), at)
    with desk.store.engine.connect() as conn:
        kind, reason = conn.execute(
            sa.select(decisions.c.kind, decisions.c.reason).where(
                decisions.c.article_id == made.article_id, decisions.c.rule_id.is_(None)
            )
        ).one()
    assert made.story_id is not None
    return made.story_id, kind, reason


def test_two_writeups_of_one_event_join(store: Store) -> None:
    desk = Desk(store)
    first, kind, reason = placed(desk, "wire.example", GENEVA_WIRE, T0)
    assert (kind, reason) == ("new story", "no story of the window shares a rare term with it")
    story, kind, reason = placed(desk, "other.example", GENEVA_OTHER_WRITEUP, T0 + 6 * HOUR)
    assert (story, kind) == (first, "same story")
    assert reason.startswith("score ") and reason.endswith("; 6 h apart")
    assert "shared rare names and numbers: 28, geneva, kyiv" in reason  # the number 28


def test_a_new_story_names_the_closest_story_and_its_true_score(store: Store) -> None:
    """The reason of a new story is the decision on the candidate that scored best, as
    placement computed it just before: its story, its score, what failed."""
    desk = Desk(store)
    metro, _, _ = placed(desk, "wire.example", KYIV_METRO, T0)
    placed(desk, "wire.example", GENEVA_WIRE, T0 + HOUR)
    court = features(*KYIV_COURT, T0 + 2 * HOUR)
    with store.transaction() as tx:
        compared = desk.desk.candidates(tx, court, utcnow())
    closest = max(compared, key=lambda c: c.score)
    story, kind, reason = placed(desk, "court.example", KYIV_COURT, T0 + 2 * HOUR)
    assert kind == "new story" and story not in {c.story_id for c in compared}
    assert reason.startswith(f"closest story #{closest.story_id}")
    assert f"score {closest.score:.2f} below the threshold {SETTINGS.same_story:.2f}" in reason
    assert closest.story_id == metro  # both are about Kyiv: the talks share less


def test_the_same_event_days_later_is_outside_the_window(store: Store) -> None:
    desk = Desk(store)
    first, _, _ = placed(desk, "wire.example", GENEVA_WIRE, T0)
    story, kind, reason = placed(desk, "other.example", GENEVA_OTHER_WRITEUP, T0 + 5 * DAY)
    assert kind == "new story" and story != first
    assert reason.startswith(f"closest story #{first} not joined: outside the window: ")
    assert "5.0 days from its articles (window 72 h)" in reason


def test_a_join_needs_an_anchor() -> None:
    weak = Candidate(7, member=0.31, centroid=0.28, articles=3, shared=("geneva",))
    decision = decide(weak, SETTINGS)
    assert not decision.join
    assert decision.reason.startswith(
        "no anchor: 1 rare name or number shared (needs 3) and cosine 0.31 < 0.50"
    )
    anchored = Candidate(7, 0.31, 0.28, 3, ("geneva", "witkoff", "#28"))
    assert decide(anchored, SETTINGS).join
    assert decide(Candidate(7, 0.55, 0.40, 1), SETTINGS).join  # a strong cosine alone


def test_score_decays_with_the_gap_and_reasons_say_the_span() -> None:
    near = Candidate(1, 0.3, 0.3, 2, ("a", "b", "c"), gap=timedelta(0))
    later = Candidate(1, 0.3, 0.3, 2, ("a", "b", "c"), gap=timedelta(hours=48))
    assert near.score == 0.3 and abs(later.score - 0.15) < 1e-9
    assert "within the story's span" in decide(near, SETTINGS).reason
    long = Candidate(1, 0.6, 0.6, 2, gap=timedelta(0), span=timedelta(days=8))
    assert decide(long, SETTINGS).reason.startswith(
        "the story would last 8.0 days, over its maximum span of 168 h"
    )
