"""The page plan and queue (monitors.pipeline.pages), on made-up entries: budgets, feeds
taking turns, hosts that stall and hosts that do not wait for them."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from monitors.models import Entry
from monitors.pipeline.pages import PageQueue, Turn, plan
from monitors.store import DueEntry, PendingEntry

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def due(entry_id: int, host: str, feed: int, minutes: int | None = None) -> DueEntry:
    published = NOON + timedelta(minutes=minutes) if minutes is not None else None
    return DueEntry(entry_id, feed, f"https://{host}/{entry_id}", published)


class Store:
    """Claims and releases, as the store would make them; `taken` were claimed elsewhere."""

    def __init__(self, entries: list[DueEntry], taken: set[int] | None = None) -> None:
        self.entries = {e.id: e for e in entries}
        self.taken = taken or set()
        self.claims: list[list[int]] = []
        self.released: list[int] = []

    def claim(self, ids: list[int]) -> list[PendingEntry]:
        self.claims.append(ids)
        found = [self.entries[i] for i in ids if i not in self.taken]
        return [PendingEntry(e.id, e.feed_id, 0, _entry(e)) for e in found]

    def release(self, ids: list[int]) -> None:
        self.released += ids


def _entry(e: DueEntry) -> Entry:
    return Entry(str(e.id), e.url, e.url, published=e.published)


def test_a_hosts_feeds_take_turns_within_its_budget() -> None:
    entries = [due(i, "a.test", 1) for i in range(1, 9)]
    entries += [due(i, "a.test", 2) for i in (9, 10)] + [due(11, "b.test", 3)]
    planned = plan(entries, budget=5)
    assert {h: [e.id for e in es] for h, es in planned.hosts.items()} == {
        "a.test": [1, 2, 3, 9, 10],
        "b.test": [11],
    }
    assert [d.id for d in planned.deferred] == [4, 5, 6, 7, 8]
    assert {d.reason for d in planned.deferred} == {"a.test: page budget of 5 a cycle spent"}
    assert planned.size == 6


def test_a_host_is_planned_in_order_of_publication_undated_last() -> None:
    entries = [due(1, "a.test", 1), due(2, "a.test", 1, 30), due(3, "a.test", 2, 10)]
    planned = plan(entries, budget=10)
    assert [e.id for e in planned.hosts["a.test"]] == [3, 2, 1]


def test_a_stalled_host_holds_only_its_own_slots() -> None:
    entries = [due(i, "stalled.test", 1) for i in range(1, 31)]
    entries += [due(i, "good.test", 2) for i in range(31, 35)]
    store = Store(entries)

    async def go() -> list[Turn]:
        queue = PageQueue(plan(entries, 100), 3, store.claim, store.release)
        taken = []
        for _ in range(7):  # the stalled host's 3 slots, the good host's 4 pages
            turn = await asyncio.wait_for(queue.take(), 1)
            assert turn is not None
            if turn.host == "good.test":
                await queue.done(turn, answered=True)
            taken.append(turn)
        with pytest.raises(TimeoutError):  # only the stalled host is left, its slots full
            await asyncio.wait_for(queue.take(), 0.1)
        return taken

    taken = asyncio.run(go())
    assert Counter(t.host for t in taken) == {"stalled.test": 3, "good.test": 4}
    assert [t.entry.id for t in taken if t.host == "good.test"] == [31, 32, 33, 34]


def test_the_host_with_fewest_pages_in_flight_goes_first() -> None:
    entries = [due(i, "a.test", 1) for i in range(1, 5)] + [due(5, "b.test", 2)]
    store = Store(entries)

    async def go() -> list[str]:
        queue = PageQueue(plan(entries, 100), 6, store.claim, store.release)
        turns = [await queue.take() for _ in range(3)]
        return [t.host for t in turns if t is not None]

    assert asyncio.run(go()) == ["a.test", "b.test", "a.test"]


def test_a_silent_host_loses_a_slot_per_silence_then_is_left_for_later() -> None:
    entries = [due(i, "silent.test", 1) for i in range(1, 21)]
    store = Store(entries)

    async def go() -> tuple[PageQueue, Turn | None]:
        queue = PageQueue(plan(entries, 100), 3, store.claim, store.release)
        turns = [await queue.take() for _ in range(3)]
        for turn in turns:
            assert turn is not None
            await queue.done(turn, answered=False)  # no page started in a freed slot
        return queue, await queue.take()

    queue, after = asyncio.run(go())
    assert after is None
    assert [d.id for d in queue.deferred] == list(range(4, 21))
    assert {d.reason for d in queue.deferred} == {"silent.test: 3 pages in a row did not answer"}
    assert store.released == [4, 5, 6]  # claimed for the next round, let go


def test_an_answer_gives_a_host_its_slots_back() -> None:
    entries = [due(i, "slow.test", 1) for i in range(1, 8)]
    store = Store(entries)

    async def go() -> list[int]:
        queue = PageQueue(plan(entries, 100), 2, store.claim, store.release)
        first = await queue.take()
        second = await queue.take()
        assert first is not None and second is not None
        await queue.done(first, answered=False)  # one slot left, and busy
        await queue.done(second, answered=True)  # both back
        third, fourth = await queue.take(), await queue.take()
        return [t.entry.id for t in (third, fourth) if t is not None]

    assert asyncio.run(go()) == [3, 4]


def test_entries_claimed_elsewhere_are_skipped_and_the_queue_ends() -> None:
    entries = [due(i, "a.test", 1) for i in range(1, 6)]
    store = Store(entries, taken={1, 2, 4})

    async def go() -> list[int]:
        queue = PageQueue(plan(entries, 100), 6, store.claim, store.release)
        ids = []
        while (turn := await queue.take()) is not None:
            ids.append(turn.entry.id)
            await queue.done(turn, answered=True)
        return ids

    assert asyncio.run(go()) == [3, 5]


def test_each_entry_of_a_host_waits_for_the_one_before_it() -> None:
    entries = [due(i, "a.test", 1, i) for i in range(1, 4)] + [due(4, "b.test", 2)]
    store = Store(entries)

    async def go() -> list[Turn]:
        queue = PageQueue(plan(entries, 100), 6, store.claim, store.release)
        return [t for t in [await queue.take() for _ in range(4)] if t is not None]

    turns = asyncio.run(go())
    by_id = {t.entry.id: t for t in turns}
    assert by_id[1].before.is_set() and by_id[4].before.is_set()
    assert by_id[2].before is by_id[1].recorded and by_id[3].before is by_id[2].recorded


def test_an_open_queue_waits_for_entries_until_it_is_closed() -> None:
    first = [due(1, "a.test", 1)]
    later = [due(2, "b.test", 2), due(3, "a.test", 3)]
    store = Store(first + later)

    async def go() -> tuple[list[int], int]:
        queue = PageQueue(plan(first, 100), 6, store.claim, store.release, budget=100)
        one = await queue.take()
        assert one is not None
        await queue.done(one, answered=True)
        with pytest.raises(TimeoutError):  # nothing planned, but more may come
            await asyncio.wait_for(queue.take(), 0.1)
        waiting = asyncio.create_task(queue.take())
        await asyncio.sleep(0)
        assert await queue.add(later) == []
        two = await asyncio.wait_for(waiting, 1)
        three = await asyncio.wait_for(queue.take(), 1)
        assert two is not None and three is not None
        size = queue.size
        for turn in (two, three):
            await queue.done(turn, answered=True)
        await queue.close()
        assert await asyncio.wait_for(queue.take(), 1) is None
        return [t.entry.id for t in (one, two, three)], size

    ids, size = asyncio.run(go())
    assert sorted(ids) == [1, 2, 3] and size == 3


def test_a_hosts_pages_wait_for_every_feed_on_that_host() -> None:
    """Two feeds on a.test, one on b.test: a.test's entries start once both its feeds
    are polled, then in order of publication across them, shared in turns within the
    budget as `plan` shares them; b.test's start at once."""
    first = [due(i, "a.test", 1, 10 * i) for i in range(1, 6)]
    second = [due(i, "a.test", 2, 10 * i - 45) for i in (6, 7)]
    elsewhere = [due(9, "b.test", 3)]
    store = Store(first + second + elsewhere)
    feeds = ["https://a.test/one.xml", "https://a.test/two.xml", "https://b.test/feed.xml"]

    async def go() -> tuple[list[int], list[int]]:
        queue = PageQueue(plan([], 4), 6, store.claim, store.release, budget=4)
        queue.expect(feeds)
        await queue.add(first)
        await queue.add(elsewhere)
        await queue.polled(feeds[2])
        early = []
        with pytest.raises(TimeoutError):
            while True:
                turn = await asyncio.wait_for(queue.take(), 0.1)
                assert turn is not None
                early.append(turn.entry.id)
        await queue.polled(feeds[0])
        await queue.add(second)
        await queue.polled(feeds[1])
        later = [t.entry.id for t in [await queue.take() for _ in range(4)] if t is not None]
        return early, later

    early, later = asyncio.run(go())
    assert early == [9]
    assert later == [1, 6, 2, 7]  # in order of publication
    assert later == [e.id for e in plan(first + second, 4).hosts["a.test"]]


def test_entries_added_for_a_host_left_for_later_are_deferred() -> None:
    entries = [due(i, "silent.test", 1) for i in range(1, 4)]
    store = Store(entries + [due(9, "silent.test", 2)])

    async def go() -> list[str]:
        queue = PageQueue(plan(entries, 100), 3, store.claim, store.release, budget=100)
        turns = [await queue.take() for _ in range(3)]
        for turn in turns:
            assert turn is not None
            await queue.done(turn, answered=False)
        later = await queue.add([due(9, "silent.test", 2)])
        await queue.close()
        assert await queue.take() is None
        return [d.reason for d in later]

    assert asyncio.run(go()) == ["silent.test: 3 pages in a row did not answer"]


def test_a_queue_whose_entries_ran_out_takes_those_others_left_unclaimed() -> None:
    """Once closed and its own entries handed out: the store's entries it has not seen,
    less those claimed elsewhere meanwhile; then a last look, and it ends."""
    own = [due(1, "a.test", 1)]
    others = [due(2, "a.test", 2), due(3, "b.test", 3), due(4, "b.test", 3)]
    store = Store(own + others, taken={3})
    looks: list[int] = []

    def more() -> list[DueEntry]:
        looks.append(len(looks))
        return own + others  # every entry no worker holds, its own among them

    async def go() -> list[int]:
        queue = PageQueue(plan(own, 100), 6, store.claim, store.release, budget=100, more=more)
        await queue.add([])
        assert not looks, "an open queue waits for its own feeds' entries"
        await queue.close()
        ids = []
        while (turn := await queue.take()) is not None:
            ids.append(turn.entry.id)
            await queue.done(turn, answered=True)
        return ids

    assert sorted(asyncio.run(go())) == [1, 2, 4]
    assert len(looks) == 2
    assert [1] in store.claims and sorted(sum(store.claims[1:], [])) == [2, 3, 4]


def test_after_a_fruitless_look_a_queue_looks_again_once_its_pages_are_done() -> None:
    own, later = [due(1, "a.test", 1)], due(2, "b.test", 2)
    store = Store([*own, later])
    answers: list[list[DueEntry]] = [[], [later]]  # nothing yet; then another's entry
    looks: list[int] = []

    def more() -> list[DueEntry]:
        looks.append(len(looks))
        return answers.pop(0) if answers else []

    async def go() -> int:
        queue = PageQueue(plan(own, 100), 6, store.claim, store.release, budget=100, more=more)
        await queue.close()
        first = await queue.take()
        assert first is not None
        waiting = asyncio.create_task(queue.take())
        await asyncio.sleep(0.01)
        assert not waiting.done() and len(looks) == 1  # a page in flight: it waits
        await queue.done(first, answered=True)
        second = await waiting
        assert second is not None
        await queue.done(second, answered=True)
        assert await queue.take() is None
        return second.entry.id

    assert asyncio.run(go()) == 2
    assert len(looks) == 3
