"""RecentArticles: the window's placed articles held in memory, read back from the store,
so that every worker sees every other's, forgetting those fetched before the window and
holding a bounded number."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from monitors.store import Store, utcnow
from monitors.stories import index
from monitors.stories.index import RecentArticles
from tests.stories.test_similarity import GENEVA_OTHER_WRITEUP, GENEVA_WIRE, KYIV_METRO, T0, placed
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
