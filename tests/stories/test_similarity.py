"""Same-story decisions and new facts on hand-written wire-style write-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources

from monitors.config import StoriesConfig
from monitors.extract.analysis import default_idf, features, stem, terms
from monitors.stories import similarity
from monitors.stories.similarity import Story, decide, merge, new_facts, same_story_score

SETTINGS = StoriesConfig()
T0 = datetime(2025, 11, 25, 9, 0, tzinfo=UTC)

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


def test_two_writeups_of_one_event_join() -> None:
    wire = features(*GENEVA_WIRE, T0)
    other = features(*GENEVA_OTHER_WRITEUP, T0 + timedelta(hours=6))
    decision = decide(wire, other, SETTINGS)
    assert decision.join
    assert decision.score >= SETTINGS.same_story
    assert "Geneva" in decision.reason and "Witkoff" in decision.reason
    assert "shared numbers: 28" in decision.reason
    assert decision.reason.endswith("6 h apart")


def test_different_events_in_the_same_city_do_not_join() -> None:
    stories = [features(*GENEVA_WIRE, T0), features(*KYIV_METRO, T0), features(*KYIV_COURT, T0)]
    for i, a in enumerate(stories):
        for b in stories[i + 1 :]:
            decision = decide(a, b, SETTINGS)
            assert not decision.join, decision.reason
            assert decision.score < 0.2
            assert "< 0.40" in decision.reason


def test_the_same_event_five_days_later_does_not_join() -> None:
    wire = features(*GENEVA_WIRE, T0)
    later = features(*GENEVA_OTHER_WRITEUP, T0 + timedelta(days=5))
    decision = decide(wire, later, SETTINGS)
    assert not decision.join
    assert decision.score >= SETTINGS.same_story
    assert "beyond the" in decision.reason


def test_unknown_times_do_not_block_a_join() -> None:
    assert decide(features(*GENEVA_WIRE), features(*GENEVA_OTHER_WRITEUP), SETTINGS).join


def test_score_is_symmetric_and_bounded() -> None:
    a, b = features(*GENEVA_WIRE), features(*GENEVA_OTHER_WRITEUP)
    assert same_story_score(a, b) == same_story_score(b, a)
    assert 0.0 <= same_story_score(a, b) <= 1.0
    assert same_story_score(a, a) == 1.0


def test_headlines_sharing_only_common_words_score_low() -> None:
    a = features("Stocks close lower on Wall Street", "")
    b = features("Retailer's revenue tops Wall Street estimates", "")
    assert same_story_score(a, b) < SETTINGS.same_story


def test_a_story_is_the_merge_of_its_articles() -> None:
    wire = features(*GENEVA_WIRE, T0)
    story = merge(Story.of(wire), features(*GENEVA_OTHER_WRITEUP, T0 + timedelta(hours=6)))
    assert story.articles == 2 and len(story.members) == 2
    assert (story.started, story.latest) == (T0, T0 + timedelta(hours=6))
    update = features(*GENEVA_UPDATE, T0 + timedelta(days=2))
    assert decide(story, update, SETTINGS).join
    assert not decide(story, features(*KYIV_METRO, T0), SETTINGS).join


def test_new_facts_finds_a_new_name_and_a_new_number() -> None:
    wire = features(*GENEVA_WIRE, T0)
    other = features(*GENEVA_OTHER_WRITEUP, T0)
    assert new_facts([wire], other) == []
    news = [f.text for f in new_facts([wire, other], features(*GENEVA_UPDATE, T0))]
    assert "Secretary of State Marco Rubio" in news
    assert "19 points" in news
    assert "The hardest questions remain" in news
    assert not {"Zelenskyy", "Witkoff", "Geneva", "Volodymyr Zelenskyy"} & set(news)


def test_new_facts_of_a_first_article_are_all_its_facts() -> None:
    wire = features(*GENEVA_WIRE, T0)
    assert new_facts([], wire) == list(wire.facts)


def test_facts_are_names_numbers_and_quotes_not_dates_or_days() -> None:
    text = (
        "Shares of UniCredit fell 6.2% on Monday, March 10, after the bank posted a €14bn "
        "loss and said it would cut 8,500 jobs by 2018. Chief executive Federico Ghizzoni "
        'called it "a clean-up year" at 10:30 in Milan.'
    )
    facts = {(f.kind, f.text) for f in features("UniCredit posts record loss", text).facts}
    assert {("name", "UniCredit"), ("name", "Federico Ghizzoni"), ("name", "Milan")} <= facts
    assert {("number", "6.2%"), ("number", "€14bn"), ("number", "8,500 jobs")} <= facts
    assert ("quote", "a clean-up year") in facts
    texts = {text for _, text in facts}
    assert not {"Monday", "March", "10", "2018", "30", "Chief"} & texts


def test_terms_are_stemmed_content_words_and_numbers() -> None:
    assert terms("The elephants' tapering: 8,500 jobs, 6.2%") == [
        "elephant",
        "taper",
        "#8500",
        "job",
        "#6.2",
    ]
    assert stem("companies") == "company" and stem("updated") == stem("update")


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


def test_a_strike_sharing_only_the_days_topic_names_does_not_join_the_talks() -> None:
    """Russia, Ukraine and Kyiv are in most of the window's stories: not anchors."""
    story = Story.of(features(*TALKS[0], T0))
    story = merge(story, features(*TALKS[1], T0 + timedelta(hours=1)))
    strike = features(*KHARKIV_STRIKE, T0 + timedelta(hours=3))
    held = {"russia": 40, "ukrain": 55, "kyiv": 30, "kharkiv": 1}
    topical = similarity.topical(held, stories=300)
    assert topical == {"russia", "ukrain", "kyiv"}
    decision = decide(story, strike, SETTINGS, topical=topical)
    assert not decision.join and "topic words" in decision.reason
    assert decide(story, features(*TALKS[1]), SETTINGS, topical=topical).join


def test_a_story_is_scored_by_its_best_member_not_a_growing_sum() -> None:
    story = Story.of(features(*GENEVA_WIRE, T0))
    for hours in range(1, 30):
        story = merge(story, features(*TALKS[hours % 2], T0 + timedelta(hours=hours)))
    assert len(story.members) == similarity.MAX_MEMBERS and story.articles == 30
    other = features(*GENEVA_OTHER_WRITEUP, T0)
    assert similarity.story_score(story, other) == max(
        same_story_score(m, other) for m in story.members
    )


def test_a_story_stops_growing_after_its_span() -> None:
    story = Story.of(features(*GENEVA_WIRE, T0))
    for day in range(1, 7):
        story = merge(story, features(*GENEVA_OTHER_WRITEUP, T0 + timedelta(days=day)))
    late = features(*GENEVA_OTHER_WRITEUP, T0 + timedelta(days=7, hours=12))
    assert similarity.within(story, late, SETTINGS.window)
    decision = decide(story, late, SETTINGS)
    assert not decision.join and "began over 168 h before" in decision.reason


def test_new_facts_skip_demonyms_openers_scare_quotes_and_fragments() -> None:
    first = features(
        "Russia strikes Odesa port",
        "Russia struck the port of Odesa, governor Oleh Kiper said. Eight people were killed.",
        T0,
    )
    later = features(
        "Russian strike on Odesa: toll rises",
        'Separately, the Russian ministry "takes note" of the reports. Meanwhile Kiper said '
        "12 people were killed, and Marek Dvorak of the Red Cross arrived. Dvorak said "
        "the toll could rise to $50 billion in damage.",
        T0,
    )
    news = [f.text for f in new_facts([first], later)]
    assert "12 people" in news and "Marek Dvorak" in news and "$50 billion" in news
    assert not {"Russian", "Separately", "Meanwhile", "takes note", "Dvorak"} & set(news)
