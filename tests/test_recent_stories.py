"""RecentStories: recent stories' features kept parsed between articles, refreshed when
another worker changes a story, forgotten when a story leaves the window."""

from __future__ import annotations

from datetime import timedelta

from monitors.schema import stories, utcnow
from monitors.similarity import Story, StoryFeatures, features, merge
from monitors.store import Store
from monitors.stories import RecentStories, dump

QUAKE = features("Earthquake strikes Valparaiso port", "A strong earthquake hit Valparaiso.")
FLOOD = features("Floods close Danube bridges", "Floods closed bridges over the Danube.")
AFTERSHOCK = features("Aftershock rattles Santiago", "An aftershock shook Santiago on Monday.")


def add_story(store: Store, feats: StoryFeatures, hours_ago: float = 0) -> int:
    seen = utcnow() - timedelta(hours=hours_ago)
    with store.transaction() as conn:
        return int(
            conn.scalar(
                stories.insert()
                .values(
                    headline="h",
                    first_seen_at=seen,
                    last_seen_at=seen,
                    features=dump(Story.of(feats)),
                )
                .returning(stories.c.id)
            )
        )


def shared(store: Store, recent: RecentStories, feats: StoryFeatures) -> list[int]:
    since = utcnow() - timedelta(hours=72)
    with store.transaction() as conn:
        return [story_id for story_id, _ in recent.sharing_terms(conn, feats, since)]


def test_candidates_are_the_stories_sharing_a_term_most_recent_first(store: Store) -> None:
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
    grown = merge(Story.of(QUAKE), AFTERSHOCK)
    with store.transaction() as conn:  # what another worker's StoryDesk does
        conn.execute(
            stories.update()
            .where(stories.c.id == quake)
            .values(features=dump(grown), articles=stories.c.articles + 1)
        )
    assert shared(store, recent, AFTERSHOCK) == [quake]


def test_stories_leaving_the_window_are_forgotten(store: Store) -> None:
    quake = add_story(store, QUAKE)
    recent = RecentStories()
    assert shared(store, recent, QUAKE) == [quake]
    with store.transaction() as conn:
        old = utcnow() - timedelta(hours=100)
        conn.execute(stories.update().where(stories.c.id == quake).values(last_seen_at=old))
    assert shared(store, recent, QUAKE) == []
    assert not recent._stories and not recent._by_term
