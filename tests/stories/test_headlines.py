"""Stories of headline-only articles (an aggregator's items: nothing beyond the headline):
judged on their headline words and pairs of words, with a short time decay, while
full-text articles keep the full-text path. tests/data/headlines/stories.yaml is recorded
through the pipeline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from monitors.config import StoriesConfig
from monitors.extract.analysis import features, headline_only
from monitors.models import Entry
from monitors.pipeline import Pipeline
from monitors.store.schema import decisions
from monitors.stories.similarity import (
    DECAY_HALF_LIFE,
    HEADLINE_HALF_LIFE,
    HEADLINE_SAME,
    Candidate,
    decide,
)
from tests.conftest import ROOT
from tests.replay import pipeline, record_page, shipped_config

HEADLINES = ROOT / "tests" / "data" / "headlines" / "stories.yaml"
T0 = datetime(2014, 3, 10, 17, 0, tzinfo=UTC)
FEED = "https://aggregator.example/feed.xml"


def record(line: Pipeline, n: int, site: str, title: str, at: datetime) -> tuple[int, str, str]:
    """A headline-only item recorded as a polled page with no text; its story and the
    kind and reason of its placement."""
    with line.store.transaction() as tx:
        feed_id = tx.sync_feeds([(FEED, "aggregator")])[FEED].id
    url = f"https://{site}/{n}"
    done = record_page(line, feed_id, Entry(url, url, url, title, "", at), site, "")
    assert done.outcome != "error", done.error
    with line.store.transaction() as tx:
        article_id = tx.article_with_url(url)[0]
        story = tx.story_of(article_id)
    with line.store.engine.connect() as conn:
        kind, reason = conn.execute(
            sa.select(decisions.c.kind, decisions.c.reason).where(
                decisions.c.article_id == article_id, decisions.c.rule_id.is_(None)
            )
        ).one()
    assert story is not None
    return story, kind, reason


def test_an_article_is_headline_only_when_its_text_is_empty_or_the_headline() -> None:
    title = "Chiquita to buy Irish fruit firm Fyffes"
    assert headline_only(title, "")
    assert headline_only(title, "  \n")
    assert headline_only(title, " Chiquita to buy Irish fruit firm  Fyffes\n")
    assert not headline_only(title, f"{title}. The deal values Fyffes at $526 million.")


def test_a_headline_only_article_counts_its_pairs_of_words_a_full_text_does_not() -> None:
    title = "Chiquita to buy Irish fruit firm Fyffes"
    alone = features(title, "").body
    assert {"chiquita buy", "irish fruit", "firm fyff"} <= set(alone)
    assert {"chiquita", "irish", "fyff"} <= set(alone)
    full = features(title, "Chiquita Brands agreed to buy Fyffes, the Irish fruit firm.").body
    assert not [t for t in full if " " in t]


def test_headline_only_items_group_by_story(tmp_path: Path) -> None:
    """Every fixture item joins the items of its own story and no other's: three stories
    of several items each, and a lone Xbox item that shares "Xbox One" with the Titanfall
    headlines but not their story."""
    items = yaml.safe_load(HEADLINES.read_text(encoding="utf-8"))
    stories: dict[int, set[str]] = defaultdict(set)
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'h.db'}")) as line:
        for n, item in enumerate(items):
            at = T0 + timedelta(hours=item["hours"])
            story, kind, reason = record(line, n, item["site"], item["title"], at)
            stories[story].add(item["story"])
            if kind == "same story":
                assert reason.startswith("score ")
    assert sorted(sorted(labels) for labels in stories.values()) == [
        ["chiquita"],
        ["titanfall"],
        ["woodley"],
        ["xbox-sales"],
    ]


def test_a_headline_a_day_later_is_not_joined_on_the_same_words(tmp_path: Path) -> None:
    """The headline path halves a score every HEADLINE_HALF_LIFE apart: the same news a
    day later is a new story, its reason naming the decayed score."""
    title = "Chiquita to buy Irish fruit firm Fyffes in $1.07 billion deal"
    later = "Chiquita and Fyffes: Irish fruit firm deal worth $1.07 billion"
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'h.db'}")) as line:
        first, _, _ = record(line, 0, "markets.example", title, T0)
        soon, kind, _ = record(line, 1, "wire.example", later, T0 + timedelta(hours=1))
        assert (soon, kind) == (first, "same story")
        apart = T0 + timedelta(hours=1) + 4 * HEADLINE_HALF_LIFE
        again = "Fyffes and Chiquita deal: Irish fruit firm worth $1.07 billion"
        story, kind, reason = record(line, 2, "late.example", again, apart)
    assert kind == "new story" and story != first
    assert reason.startswith(f"closest story #{first} not joined: score ")
    assert f"below the threshold {HEADLINE_SAME:.2f}" in reason and "24 h apart" in reason


def test_a_headline_sharing_only_a_name_with_a_story_hours_older_starts_its_own(
    tmp_path: Path,
) -> None:
    """One person, two stories on one day (UCI: a fan arrested in Miley Cyrus's dressing
    room, then her costume change on stage): a headline sharing only the name with the
    morning's story, 9 h later, scores under HEADLINE_SAME (it joined at 0.09 with a
    12 h half-life)."""
    morning = [
        "Miley Cyrus fan arrested after sneaking into her backstage area",
        "Miley Cyrus fan cited for trespassing after sneaking into dressing room, police say",
        "Teenager Arrested For Sneaking Into Miley Cyrus' Dressing Room",
        "Miley Cyrus fan arrested after sneaking into dressing room",
    ]
    evening = "Miley Cyrus performs in underwear after missing costume change - video"
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'h.db'}")) as line:
        stories = {
            record(line, n, f"site{n}.example", title, T0 + timedelta(minutes=n))[0]
            for n, title in enumerate(morning)
        }
        story, kind, reason = record(line, 9, "stage.example", evening, T0 + timedelta(hours=9))
    (first,) = stories
    assert kind == "new story" and story != first
    assert f"below the threshold {HEADLINE_SAME:.2f}" in reason
    assert "shared rare names and numbers: cyrus; 9 h apart" in reason


def test_a_headline_candidate_is_scored_on_the_story_alone_with_its_own_decay() -> None:
    """A headline's cosine is the story centroid's (not its closest article's), halved
    every HEADLINE_HALF_LIFE, against HEADLINE_SAME; a full text keeps the better of the
    two, its 48 h half-life, its threshold and its anchor."""
    settings = StoriesConfig()
    gap = HEADLINE_HALF_LIFE
    full = Candidate(3, member=0.6, centroid=0.16, articles=9, shared=("a", "b", "c"), gap=gap)
    headline = Candidate(3, member=0.6, centroid=0.16, articles=9, gap=gap, headline=True)
    assert headline.score == pytest.approx(0.08)
    assert full.score == pytest.approx(0.6 * 0.5 ** (gap / DECAY_HALF_LIFE))
    assert headline.threshold(settings) == HEADLINE_SAME != settings.same_story
    decision = decide(headline, settings)
    assert not decision.join and decide(full, settings).join
    assert decision.reason.startswith(f"score 0.08 below the threshold {HEADLINE_SAME:.2f}")
    assert decide(replace(headline, gap=None), settings).join  # no anchor beyond the score
    assert not decide(replace(full, gap=None, member=0.3, shared=()), settings).join


def test_a_full_text_article_is_judged_as_before_among_headlines(tmp_path: Path) -> None:
    """Headline-only items in the window do not change how a full text is judged: its
    candidates are full-text ones (48 h half-life, `same_story`, three names or 0.5)."""
    title = "Chiquita to buy Irish fruit firm Fyffes in $1.07 billion deal"
    text = (
        "Chiquita Brands International agreed to buy Irish fruit company Fyffes in an "
        "all-share deal worth $1.07 billion, creating the world's biggest banana supplier, "
        "the companies said on Monday.\nChiquita shareholders will own 50.7% of the group."
    )
    with pipeline(shipped_config(f"sqlite:///{tmp_path / 'h.db'}")) as line:
        first, _, _ = record(line, 0, "markets.example", title, T0)
        with line.store.transaction() as tx:
            found = line.desk.candidates(tx, features(title, text, T0), T0 + timedelta(hours=1))
    (candidate,) = found
    assert candidate.story_id == first and not candidate.headline
    assert candidate.cosine == max(candidate.member, candidate.centroid)
    assert candidate.threshold(StoriesConfig()) == StoriesConfig().same_story
