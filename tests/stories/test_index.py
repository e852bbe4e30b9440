"""RecentArticles: the window's placed articles held in memory, read back from the store,
so that every worker sees every other's, forgetting those fetched before the window and
holding a bounded number."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from monitors.extract.analysis import features
from monitors.store import Store, utcnow
from monitors.stories import index
from monitors.stories.index import RecentArticles, Vector
from tests.stories.test_similarity import (
    GENEVA_OTHER_WRITEUP,
    GENEVA_UPDATE,
    GENEVA_WIRE,
    KHARKIV_STRIKE,
    KYIV_COURT,
    KYIV_METRO,
    T0,
    TALKS,
    placed,
)
from tests.stories.test_story_alerts import Desk

HOUR = timedelta(hours=1)


def synced(store: Store, recent: RecentArticles, since_hours: float = 72) -> RecentArticles:
    with store.transaction() as tx:
        recent.sync(tx, utcnow() - timedelta(hours=since_hours))
    return recent


def test_a_worker_joins_a_story_another_worker_started(store: Store) -> None:
    one, other = Desk(store), Desk(store)
    first, _, _ = placed(one, "wire.example", GENEVA_WIRE, T0)
    story, kind, _ = placed(other, "other.example", GENEVA_OTHER_WRITEUP, T0 + 6 * HOUR)
    assert (story, kind) == (first, "same story")
    assert other.desk.recent.held == 1  # the wire, read back; its own article comes next


def test_articles_fetched_before_the_window_are_forgotten(store: Store) -> None:
    desk = Desk(store)
    placed(desk, "wire.example", GENEVA_WIRE, T0)
    placed(desk, "metro.example", KYIV_METRO, T0)
    recent = synced(store, RecentArticles())
    assert recent.held == 2 and recent.rare(["geneva", "metro"])
    synced(store, recent, since_hours=-1)  # the window now starts after both were fetched
    assert recent.held == 0 and recent.rare(["geneva", "metro"]) == [] and not recent.spans


def test_a_window_read_first_starts_at_the_last_placement_not_before_it(store: Store) -> None:
    desk = Desk(store)
    placed(desk, "wire.example", GENEVA_WIRE, T0)
    placed(desk, "metro.example", KYIV_METRO, T0)
    recent = synced(store, RecentArticles(), since_hours=-1)  # both fetched before it
    assert recent.held == 0 and recent.read_point == 2
    placed(desk, "other.example", GENEVA_OTHER_WRITEUP, T0)
    assert synced(store, recent, since_hours=1).held == 1  # the new one, not the old two


def test_only_the_articles_fetched_last_are_held(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "MAX_ARTICLES", 1)
    desk = Desk(store)
    placed(desk, "wire.example", GENEVA_WIRE, T0)
    metro, _, _ = placed(desk, "metro.example", KYIV_METRO, T0)
    recent = synced(store, RecentArticles())
    assert recent.held == 1 and list(recent.spans) == [metro]


def test_rare_terms_find_the_articles_holding_them(store: Store) -> None:
    desk = Desk(store)
    geneva, _, _ = placed(desk, "wire.example", GENEVA_WIRE, T0)
    placed(desk, "metro.example", KYIV_METRO, T0)
    recent = synced(store, RecentArticles())
    rare = recent.rare(["witkoff", "geneva", "unknownword"])
    assert sorted(recent.word(t) for t in rare) == ["geneva", "witkoff"]
    (slot,) = recent.candidates(rare, recent.idf_of(rare))
    assert recent.story_of(slot) == geneva


def test_a_lookup_reads_the_rarest_terms_postings_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(store)
    placed(desk, "wire.example", GENEVA_WIRE, T0)
    placed(desk, "other.example", GENEVA_OTHER_WRITEUP, T0 + HOUR)
    metro, _, _ = placed(desk, "metro.example", KYIV_METRO, T0)
    recent = synced(store, RecentArticles())
    rare = recent.rare(["witkoff", "klitschko"])  # held by two articles, and by one
    assert len(recent.candidates(rare, recent.idf_of(rare))) == 3
    monkeypatch.setattr(index, "MAX_POSTINGS", 1)
    (slot,) = recent.candidates(rare, recent.idf_of(rare))
    assert recent.story_of(slot) == metro


def test_cosine_of_two_term_vectors() -> None:
    one = index._vector(np.array([1, 2, 5], np.int32), np.array([1.0, 2.0, 3.0]))
    other = index._vector(np.array([2, 5, 7], np.int32), np.array([1.0, 1.0, 1.0]))
    none = index._vector(np.array([9], np.int32), np.array([1.0]))
    found = index.cosines(one, [other, none, one])
    assert found.tolist() == pytest.approx([5 / math.sqrt(14 * 3), 0.0, 1.0])
    assert index.cosines(other, [one])[0] == pytest.approx(found[0])
    empty = index._vector(np.zeros(0, np.int32), np.zeros(0))
    assert index.cosines(one, [empty]).tolist() == [0.0] and index.cosines(empty, [one]) == [0.0]
    assert len(index.cosines(one, [])) == 0


WINDOW = [GENEVA_WIRE, KYIV_METRO, GENEVA_OTHER_WRITEUP, KYIV_COURT, *TALKS, GENEVA_UPDATE]


def window(store: Store) -> RecentArticles:
    """The WINDOW's write-ups placed an hour apart, read back."""
    desk = Desk(store)
    for n, write_up in enumerate(WINDOW):
        placed(desk, f"site{n}.example", write_up, T0 + n * HOUR)
    return synced(store, RecentArticles())


def plain(vector: Vector) -> dict[int, float]:
    return dict(zip(vector.ids.tolist(), vector.weights.tolist(), strict=True))


def plain_cosine(one: Vector, other: Vector) -> float:
    """A cosine one term at a time."""
    a, b = plain(one), plain(other)
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    norms = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    return dot / norms if norms else 0.0


def test_the_cosines_taken_together_are_those_of_one_pair_at_a_time(store: Store) -> None:
    recent = window(store)
    slots = list(range(len(WINDOW)))
    held = recent.weighed(slots)
    for vector in held:
        assert vector.norm == pytest.approx(math.sqrt(sum(w * w for w in vector.weights)))
    for title, text in [GENEVA_UPDATE, KHARKIV_STRIKE, KYIV_METRO]:
        newcomer = recent.weigh(features(title, text, T0).body)
        found = index.cosines(newcomer, held).tolist()
        assert found == pytest.approx([plain_cosine(newcomer, h) for h in held], abs=1e-12)
        assert max(found) > 0.2 and min(found) < max(found)


def test_a_centroid_is_the_sum_of_its_stories_unit_vectors(store: Store) -> None:
    recent = window(store)
    stories = list(dict.fromkeys(recent.story_of(s) for s in range(len(WINDOW))))
    grown = [story for story in stories if len(recent.members(story)) > 1]
    assert grown and len(grown) < len(stories)
    for story, centroid in zip(stories, recent.centroids(stories, 2), strict=True):
        summed: dict[int, float] = {}
        for member in recent.weighed(recent.members(story)[-2:]):
            for term, weight in plain(member).items():
                summed[term] = summed.get(term, 0.0) + weight / member.norm
        assert plain(centroid) == pytest.approx(summed)
        assert centroid.norm == pytest.approx(math.sqrt(sum(w * w for w in summed.values())))
        assert list(centroid.ids) == sorted(summed)


@pytest.mark.parametrize("most", [2, 30])
@pytest.mark.parametrize("postings", [6, 4000])
def test_the_candidates_are_those_sharing_the_most_idf_rarest_terms_first(
    store: Store, monkeypatch: pytest.MonkeyPatch, most: int, postings: int
) -> None:
    recent = window(store)
    monkeypatch.setattr(index, "MAX_CANDIDATES", most)
    monkeypatch.setattr(index, "MAX_POSTINGS", postings)
    title, text = KHARKIV_STRIKE
    feats = features(title, text, T0)
    rare = recent.rare([*feats.body, *feats.keys], share=1.0)
    idf = recent.idf_of(rare)
    totals: dict[int, float] = {}
    read = 0
    for term in sorted(rare, key=lambda t: len(recent._postings[t])):  # a lookup term by term
        if read >= postings:
            break
        for slot in recent._postings[term]:
            totals[slot] = totals.get(slot, 0.0) + idf[term]
        read += len(recent._postings[term])
    expected = sorted(totals, key=lambda slot: (-totals[slot], slot))[:most]
    assert len(totals) > 2 or postings < 10
    assert recent.candidates(rare, idf) == expected
