"""Workers placing articles at once on PostgreSQL (docs/architecture.md, "Concurrency"):
those of different stories do not wait on each other; two placing write-ups of one new
event make one story; an unrelated placement committed meanwhile, even one sharing a
term, does not make a placement be done again; a placement committed after a
later-numbered one is still read."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from monitors.config import StoriesConfig
from monitors.extract.analysis import features_of
from monitors.models import Article
from monitors.store import Store, utcnow
from monitors.store.schema import article_terms, stories
from monitors.stories import StoryDesk
from monitors.stories.index import RecentArticles
from monitors.stories.placement import Placement
from tests.stories.test_similarity import (
    GENEVA_OTHER_WRITEUP,
    GENEVA_UPDATE,
    GENEVA_WIRE,
    HOUR,
    T0,
    placed,
)
from tests.stories.test_story_alerts import Desk

pytestmark = pytest.mark.postgres

# two stories whose write-ups share no term: neither can bear on the other's placement
ERUPTION = (
    "Volcano erupts near Grindavik",
    "Lava fountains rose from a fissure near Grindavik overnight; the fishing town was "
    "evacuated and its geothermal plant shut.",
)
BUDGET = (
    "Diet passes record spending bill",
    "Japanese lawmakers approved a 115 trillion yen budget on Monday, with defence and "
    "childcare outlays at new highs.",
)
# another event, sharing words with ERUPTION ("overnight", "plant", "town"), no more
BLACKOUT = (
    "Drone strike cuts power in Kharkiv",
    "A drone hit a power plant in Kharkiv overnight, leaving the town's hospitals on "
    "generators, the regional governor said.",
)
WAIT = 10  # seconds a thread waits for another before the test fails


class PausingDesk(StoryDesk):
    """A story desk whose first placement, once made, says so (`inside`) and waits for
    `go` inside its unit of work; `placements` counts the placements it made."""

    def __init__(self) -> None:
        super().__init__(StoriesConfig())
        self.inside = threading.Event()
        self.go = threading.Event()
        self.placements = 0

    def place(self, *args: Any, **kwargs: Any) -> tuple[Placement, Any, Any]:
        found = super().place(*args, **kwargs)
        self.placements += 1
        if self.placements == 1:
            self.inside.set()
            assert self.go.wait(WAIT), "the test never let this placement go on"
        return found


@pytest.fixture
def stores(postgres_url: str) -> Iterator[list[Store]]:
    """Two workers' stores on an empty PostgreSQL database."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    opened = [Store.open(postgres_url) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


class Worker:
    """A thread recording one write-up through a pausing desk; what it placed or raised."""

    def __init__(
        self, store: Store, n: int, site: str, write_up: tuple[str, str], at: datetime = T0
    ) -> None:
        self.desk = PausingDesk()
        self.placed: tuple[int, str, str] | None = None
        self.error: BaseException | None = None
        desk = Desk(store, self.desk, entries=100 * n)
        self.thread = threading.Thread(target=self._run, args=(desk, site, write_up, at))

    def _run(self, desk: Desk, site: str, write_up: tuple[str, str], at: datetime) -> None:
        try:
            self.placed = placed(desk, site, write_up, at)
        except BaseException as exc:  # noqa: BLE001 (reported by `done`)
            self.error = exc

    def start(self) -> Worker:
        self.thread.start()
        return self

    def inside(self) -> bool:
        return self.desk.inside.wait(WAIT)

    def done(self) -> tuple[int, str, str]:
        self.desk.go.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive() and self.error is None, self.error
        assert self.placed is not None
        return self.placed


def count(store: Store, query: Callable[[], sa.Select[Any]]) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(query()).all()


def test_workers_placing_different_stories_do_not_wait_on_each_other(
    stores: list[Store],
) -> None:
    one = Worker(stores[0], 1, "vedur.example", ERUPTION).start()
    other = Worker(stores[1], 2, "nikkei.example", BUDGET).start()
    assert one.inside() and other.inside()  # both inside placement, neither committed
    (first, first_kind, _), (second, second_kind, _) = one.done(), other.done()
    assert first != second and first_kind == second_kind == "new story"
    assert one.desk.placements == other.desk.placements == 1  # neither was done again


def test_two_workers_placing_one_new_event_at_once_make_one_story(stores: list[Store]) -> None:
    one = Worker(stores[0], 1, "wire.example", GENEVA_WIRE).start()
    other = Worker(stores[1], 2, "other.example", GENEVA_OTHER_WRITEUP).start()
    assert one.inside() and other.inside()  # each placed its write-up in a new story
    story, kind, _ = one.done()
    joined, joined_kind, reason = other.done()
    assert (kind, joined_kind) == ("new story", "same story") and joined == story, reason
    assert other.desk.placements == 2  # the stale placement was done again
    assert count(stores[0], lambda: sa.select(stories.c.id)) == [(story,)]


def test_an_unrelated_placement_committed_meanwhile_does_not_force_a_redo(
    stores: list[Store],
) -> None:
    eruption, blackout = (
        features_of(Article("u", "u", title, text, "s", "page", "en", T0, "h"), T0)
        for title, text in (ERUPTION, BLACKOUT)
    )
    shared = set(eruption.body) & set(blackout.body)
    assert shared  # every term is an anchor in an empty window: this one bears on it ...
    one = Worker(stores[0], 1, "vedur.example", ERUPTION).start()
    assert one.inside()  # placed in a new story, not committed ...
    other = Worker(stores[1], 2, "kharkiv.example", BLACKOUT).start()
    (second, second_kind, _) = other.done()  # ... while the other event commits first
    first, first_kind, _ = one.done()
    assert first != second and first_kind == second_kind == "new story"
    assert one.desk.placements == 1  # ... but does not change its placement: not done again
    assert one.desk.recent.held == 1  # deciding it again read the other's from the settle


def test_two_write_ups_joining_one_story_at_once_both_stretch_its_span(
    stores: list[Store],
) -> None:
    """A write-up joining a story while another, published later, has joined it and not
    committed waits on the story's row, then stretches the span now stored, not the one
    its window read (its decision unchanged, it is not done again)."""
    story, _, _ = placed(Desk(stores[0], entries=900), "wire.example", GENEVA_WIRE, T0)
    later = Worker(stores[0], 1, "third.example", GENEVA_UPDATE, T0 + 5 * HOUR).start()
    assert later.inside()  # joined the story, holds its row, not committed ...
    earlier = Worker(stores[1], 2, "other.example", GENEVA_OTHER_WRITEUP, T0 + HOUR).start()
    assert not earlier.desk.inside.wait(1)  # ... so the other waits on the row
    later_story, later_kind, _ = later.done()
    earlier_story, earlier_kind, _ = earlier.done()
    assert earlier_story == later_story == story and earlier_kind == later_kind == "same story"
    assert earlier.desk.placements == 1
    [(features,)] = count(stores[0], lambda: sa.select(stories.c.features))
    span = json.loads(features)
    assert (span["started"], span["latest"]) == (T0.isoformat(), (T0 + 5 * HOUR).isoformat())


def test_a_placement_committed_after_a_later_numbered_one_is_read(stores: list[Store]) -> None:
    reader = RecentArticles()
    window = utcnow() - StoriesConfig().window

    def sync() -> int:
        with stores[0].transaction() as tx:
            reader.sync(tx, window)
        return reader.held

    early = Worker(stores[0], 1, "vedur.example", ERUPTION).start()
    assert early.inside()  # its article is numbered first ...
    late = Worker(stores[1], 2, "nikkei.example", BUDGET).start()
    assert late.inside()
    late.done()  # ... and committed last
    assert sync() == 1
    early.done()
    assert sync() == 2
    rows = count(stores[0], lambda: sa.select(article_terms).order_by(article_terms.c.revision))
    assert [r.article_id for r in rows] == sorted(r.article_id for r in rows)[::-1]
