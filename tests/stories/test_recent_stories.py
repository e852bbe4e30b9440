"""RecentStories: recent stories' features kept parsed between articles, read again only
when a story changed (here or in another worker), forgotten when a story leaves the
window or falls past the stories seen last."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitors.extract.analysis import features
from monitors.models import StoryFeatures
from monitors.store import Store, utcnow
from monitors.stories import placement as stories_mod
from monitors.stories.placement import RecentStories, dump, load
from monitors.stories.similarity import Story, merge

QUAKE = features("Earthquake strikes Valparaiso port", "A strong earthquake hit Valparaiso.")
FLOOD = features("Floods close Danube bridges", "Floods closed bridges over the Danube.")
AFTERSHOCK = features("Aftershock rattles Santiago", "An aftershock shook Santiago on Monday.")
WINDOW = timedelta(hours=72)


def add_story(store: Store, feats: StoryFeatures, hours_ago: float = 0) -> int:
    """A story as a StoryDesk writes it."""
    seen = utcnow() - timedelta(hours=hours_ago)
    with store.transaction() as tx:
        return tx.new_story("h", seen, None, dump(Story.of(feats)))


def update_story(
    store: Store, story_id: int, features: str | None = None, seen: datetime | None = None
) -> None:
    """A change to a story as another worker's StoryDesk makes it: its features grown,
    or (a copy counted) only seen again."""
    with store.transaction() as tx:
        if features is None:
            tx.count_copy(story_id, seen or utcnow())
        else:
            tx.grow_story(story_id, features, seen or utcnow(), None)


def shared(
    store: Store, recent: RecentStories, feats: StoryFeatures, since: datetime | None = None
) -> list[int]:
    with store.transaction() as tx:
        recent.sync(tx, since or utcnow() - WINDOW)
    return [story_id for story_id, _ in recent.candidates(feats.salient)]


def test_candidates_are_the_stories_sharing_a_salient_term_seen_last_first(store: Store) -> None:
    quake = add_story(store, QUAKE, hours_ago=2)
    flood = add_story(store, FLOOD, hours_ago=1)
    again = add_story(store, QUAKE, hours_ago=0)
    recent = RecentStories()
    assert shared(store, recent, QUAKE) == [again, quake]
    assert shared(store, recent, FLOOD) == [flood]
    assert shared(store, recent, AFTERSHOCK) == []


def test_a_story_grown_by_another_worker_is_read_again(store: Store) -> None:
    quake = add_story(store, QUAKE)
    recent = RecentStories()
    assert shared(store, recent, AFTERSHOCK) == []
    update_story(store, quake, features=dump(merge(Story.of(QUAKE), AFTERSHOCK)))
    assert shared(store, recent, AFTERSHOCK) == [quake]
    later = add_story(store, AFTERSHOCK)  # new stories too, from any worker
    assert shared(store, recent, AFTERSHOCK) == [later, quake]


def test_a_counted_copy_moves_the_story_up_without_reading_it_again(store: Store) -> None:
    quake = add_story(store, QUAKE, hours_ago=2)
    again = add_story(store, QUAKE, hours_ago=1)
    recent = RecentStories()
    assert shared(store, recent, QUAKE) == [again, quake]
    parsed = recent.candidates(QUAKE.salient)[1][1]
    update_story(store, quake, seen=utcnow())
    assert shared(store, recent, QUAKE) == [quake, again]
    assert recent.candidates(QUAKE.salient)[0][1] is parsed


def test_a_sync_reads_only_the_stories_changed_since_the_last(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        add_story(store, FLOOD)
    recent = RecentStories()
    shared(store, recent, QUAKE)
    parsed: list[str] = []

    def counted(blob: str) -> Story:
        parsed.append(blob)
        return load(blob)

    monkeypatch.setattr(stories_mod, "load", counted)
    quake = add_story(store, QUAKE)
    assert shared(store, recent, QUAKE) == [quake]
    assert shared(store, recent, FLOOD) and len(parsed) == 1


def test_stories_leaving_the_window_are_forgotten(store: Store) -> None:
    quake = add_story(store, QUAKE, hours_ago=10)
    flood = add_story(store, FLOOD, hours_ago=1)
    recent = RecentStories()
    assert shared(store, recent, QUAKE) == [quake]
    assert shared(store, recent, QUAKE, since=utcnow() - timedelta(hours=5)) == []
    assert set(recent._held) == {flood}
    assert not any(quake in holders for holders in recent._by_term.values())


def test_only_the_stories_seen_last_are_held(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stories_mod, "MAX_STORIES", 2)
    quake = add_story(store, QUAKE, hours_ago=3)
    recent = RecentStories()
    assert shared(store, recent, QUAKE) == [quake]
    add_story(store, FLOOD, hours_ago=2)
    newer = add_story(store, QUAKE, hours_ago=1)
    assert shared(store, recent, QUAKE) == [newer]
    assert len(recent._held) == 2


def test_a_story_this_worker_wrote_is_not_parsed_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = RecentStories()
    shared(store, recent, QUAKE)
    parsed: list[str] = []
    monkeypatch.setattr(stories_mod, "load", lambda blob: parsed.append(blob))
    ours = Story.of(QUAKE)
    seen = utcnow()
    with store.transaction() as tx:
        quake = tx.new_story("h", seen, None, recent.written(ours))
    recent.written(Story.of(FLOOD))  # a write whose transaction rolled back
    assert shared(store, recent, QUAKE) == [quake]
    assert recent.story(quake) is ours and parsed == []
