"""Which pending entry's page is fetched next: fairly across hosts and feeds.

A cycle plans its pages first (`plan`): each host gets `fetch.pages_per_host_per_cycle`
of its due entries, taken from its feeds in turn (each feed's oldest first); the others
are deferred, left pending and unclaimed for the next cycle. `PageQueue` then hands
the planned entries out: a free fetch goes to the host with the fewest pages in flight
(hosts in turn among equals) that has a free slot of its `fetch.per_host`, so a host
whose pages never answer holds only its own slots. Entries are claimed a few per host
at a time, just before their turn, so a claim does not wait out other hosts' stalls.
Each page of a host in a row that does not answer (a time-out, a failed connection)
takes one slot from it, until one answers; a host left with none is left for the next
cycle: its remaining entries are deferred too. A host that never answers costs a cycle
one round of its slots, one page time-out.

Within a host, pages start in order of publication, and each entry is recorded after
the one before it on its host (waiting at most the pipeline's in-turn wait): a first
report and its update from one outlet keep their order, while the hosts' pages are
recorded as they complete.

A cycle's queue is open while its feeds poll: each feed's new entries are added
(`add`) as soon as they are stored, so pages are fetched and extracted while the
other feeds are polled, and `take` waits for more until the queue is `close`d. A
host's pages start once every feed on that host is polled (`expect`, `polled`): its
entries are then all known, planned as `plan` does, and recorded in order of
publication as before. Entries on a host with no feed of its own (a feed hosted
elsewhere) start as they come; one added later may take the place of one planned but
not yet claimed, its feeds taking turns within the budget (the one it takes is
deferred; one claimed keeps its place).

Workers share a cycle's entries, not only its feeds: once its feeds are polled and
its own entries handed out, a queue given a way to find `more` plans the entries other
workers polled this cycle and have not claimed yet (within each host's budget, in order
of publication), and the claims share them out; an entry claimed elsewhere meanwhile is
skipped by whichever queue comes second. It looks again each time those run out, and
once more when its last page is done, before it ends.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitors.ingest import host_of
from monitors.store import DueEntry, PendingEntry


@dataclass(frozen=True)
class Deferred:
    """An entry left pending for a later cycle, and why."""

    id: int
    url: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The entries to fetch this cycle, by host in order of publication; the deferred."""

    hosts: dict[str, list[DueEntry]]
    deferred: list[Deferred]

    @property
    def size(self) -> int:
        return sum(len(due) for due in self.hosts.values())


def plan(due: Iterable[DueEntry], budget: int) -> Plan:
    """Up to `budget` entries of each host, its feeds taking turns (each feed's entries
    oldest first), in order of publication; the rest deferred."""
    hosts: dict[str, list[DueEntry]] = {}
    deferred: list[Deferred] = []
    for host, feeds in by_host(due).items():
        kept, over = in_turns(feeds, budget)
        hosts[host] = sorted(kept, key=publication_order)
        deferred += [Deferred(e.id, e.url, over_budget(host, budget)) for e in over]
    return Plan(hosts, deferred)


def by_host(due: Iterable[DueEntry]) -> dict[str, dict[int, list[DueEntry]]]:
    """The entries by host, then by feed, in the order given."""
    hosts: dict[str, dict[int, list[DueEntry]]] = {}
    for entry in due:
        hosts.setdefault(host_of(entry.url), {}).setdefault(entry.feed_id, []).append(entry)
    return hosts


def in_turns(
    feeds: dict[int, list[DueEntry]], room: int, taken: frozenset[int] = frozenset()
) -> tuple[list[DueEntry], list[DueEntry]]:
    """Up to `room` of the feeds' entries not `taken`, the feeds taking turns (an entry
    taken keeps its feed's turn), and the rest."""
    turns = [e for row in itertools.zip_longest(*feeds.values()) for e in row if e]
    free = [e for e in turns if e.id not in taken]
    return free[:room], free[room:]


def over_budget(host: str, budget: int) -> str:
    return f"{host or 'no host'}: page budget of {budget} a cycle spent"


Order = tuple[bool, datetime, int]  # publication_order's key


def publication_order(entry: DueEntry | PendingEntry) -> Order:
    """Sort key: published first to last, undated ones after, then as found."""
    published = entry.published if isinstance(entry, DueEntry) else entry.entry.published
    return published is None, published or datetime.min.replace(tzinfo=UTC), entry.id


@dataclass
class _Host:
    """One host's entries: planned (unclaimed; a heap in order of publication), claimed
    and waiting, and in flight; by feed, every entry planned this cycle (claimed, handed
    out or not), and their ids."""

    name: str
    planned: list[tuple[Order, DueEntry]] = field(default_factory=list)
    feeds: dict[int, list[DueEntry]] = field(default_factory=dict)
    known: set[int] = field(default_factory=set)
    claimed: deque[PendingEntry] = field(default_factory=deque)
    busy: int = 0
    silent: int = 0  # pages in a row that did not answer
    given_up: bool = False
    last: asyncio.Event = field(default_factory=asyncio.Event)  # set when its last is recorded

    def __post_init__(self) -> None:
        self.last.set()

    def plan(self, entries: Iterable[DueEntry]) -> None:
        """Plan these entries, new to the host."""
        for entry in entries:
            heapq.heappush(self.planned, (publication_order(entry), entry))
            self.feeds.setdefault(entry.feed_id, []).append(entry)
            self.known.add(entry.id)

    def next_planned(self) -> DueEntry:
        """The planned entry published first, taken out of the plan."""
        return heapq.heappop(self.planned)[1]

    def replan(self, budget: int) -> list[DueEntry]:
        """Keep up to `budget` entries in all, its feeds taking turns, those taken
        (claimed or handed out) kept; the others leave the plan and are returned."""
        planned = {e.id for _, e in self.planned}
        taken = frozenset(self.known - planned)
        kept, over = in_turns(self.feeds, budget - len(taken), taken)
        self.planned = [(publication_order(e), e) for e in kept]
        heapq.heapify(self.planned)
        self.forget(over)
        return over

    def forget(self, entries: list[DueEntry]) -> None:
        """These entries leave the host's feeds (they are deferred)."""
        ids = {e.id for e in entries}
        self.known -= ids
        for feed_id, planned in self.feeds.items():
            self.feeds[feed_id] = [e for e in planned if e.id not in ids]

    @property
    def waiting(self) -> int:
        return 0 if self.given_up else len(self.planned) + len(self.claimed)


@dataclass(frozen=True)
class Turn:
    """A planned entry's turn: its host, the event set once the entry before it on that
    host is recorded, and its own."""

    entry: PendingEntry
    host: str
    before: asyncio.Event
    recorded: asyncio.Event


Claim = Callable[[list[int]], list[PendingEntry]]  # claims those of these entries still due
Release = Callable[[list[int]], None]  # lets go of claimed entries left unprocessed
More = Callable[[], list[DueEntry]]  # the cycle's entries other workers left unclaimed


class PageQueue:
    """Hands out the planned entries (see the module's doc); `take` waits for a turn,
    `done` gives the host's slot back once the page is fetched. With a `budget`, the
    queue is open: `add` plans more entries, each host taking at most `budget` in all,
    until `close`; then, with `more`, it takes other workers' entries when its own run
    out (see the module's doc)."""

    def __init__(
        self,
        planned: Plan,
        per_host: int,
        claim: Claim,
        release: Release,
        budget: int | None = None,
        more: More | None = None,
    ) -> None:
        self.per_host = per_host
        self.budget = budget
        self._claim, self._release = claim, release
        self._more = more if budget is not None else None
        self._more_found = True  # whether the last look for more found any
        self._hosts: dict[str, _Host] = {}
        for name, due in planned.hosts.items():
            self._hosts[name] = _Host(name)
            self._hosts[name].plan(due)
        self._turns = itertools.count()
        self._last_turn: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._open = budget is not None
        self._polling: Counter[str] = Counter()  # feeds still to poll, by host
        self._handed_out = 0
        self.deferred: list[Deferred] = list(planned.deferred)
        self._seen = {e.id for due in planned.hosts.values() for e in due}
        self._seen.update(d.id for d in planned.deferred)

    @property
    def adding(self) -> bool:
        """Whether entries may still be added."""
        return self._open

    @property
    def size(self) -> int:
        """Entries handed out so far and still to hand out (the deferred left out)."""
        return self._handed_out + sum(h.waiting for h in self._hosts.values())

    async def add(self, due: Iterable[DueEntry]) -> list[Deferred]:
        """Plan more entries (a feed's new ones); those over their host's budget, or
        taking the place of planned ones, are deferred and returned."""
        assert self._open, "entries added to a closed queue"
        deferred = self._plan_more(due)
        self.deferred += deferred
        async with self._changed:
            self._changed.notify_all()
        return deferred

    def _plan_more(self, due: Iterable[DueEntry]) -> list[Deferred]:
        """Plan these entries within each host's budget; those deferred."""
        assert self.budget is not None, "entries added to a queue without a budget"
        deferred: list[Deferred] = []
        due = list(due)
        self._seen.update(e.id for e in due)
        for name, feeds in by_host(due).items():
            host = self._hosts.setdefault(name, _Host(name))
            deferred += self._replan(host, feeds, self.budget)
        return deferred

    def expect(self, feed_urls: Iterable[str]) -> None:
        """These feeds are to poll: their hosts' pages wait for them."""
        self._polling.update(host_of(url) for url in feed_urls)

    async def polled(self, feed_url: str) -> None:
        """A feed expected is polled (or failed)."""
        host = host_of(feed_url)
        self._polling[host] -= 1
        if self._polling[host] <= 0:
            del self._polling[host]
            async with self._changed:
                self._changed.notify_all()

    async def close(self) -> None:
        """No more entries, nor feeds to wait for: `take` returns None once every
        planned entry is handed out."""
        self._open = False
        self._polling.clear()
        async with self._changed:
            self._changed.notify_all()

    def _replan(self, host: _Host, new: dict[int, list[DueEntry]], budget: int) -> list[Deferred]:
        """Take `new` entries into the host's plan within its budget, its feeds in turn."""
        fresh = [e for entries in new.values() for e in entries if e.id not in host.known]
        if host.given_up:
            return [Deferred(e.id, e.url, _silent(host.name, self.per_host)) for e in fresh]
        host.plan(fresh)
        if len(host.known) <= budget:
            return []
        return [Deferred(e.id, e.url, over_budget(host.name, budget)) for e in host.replan(budget)]

    async def take(self) -> Turn | None:
        """The next entry whose page to fetch, once a host has one and a free slot; None
        when the queue is closed and every planned entry is handed out or deferred."""
        async with self._changed:
            while True:
                host = self._next_host()
                if host is None:
                    if self._took_more():
                        continue
                    if not self._open and not self._busy:
                        return None
                    await self._changed.wait()
                    continue
                if not host.claimed:
                    self._claim_more()
                if host.claimed:
                    return self._hand_out(host)

    async def done(self, turn: Turn, answered: bool) -> None:
        """The page of `turn` was fetched (or failed); `answered` is False when its host
        did not answer at all (its entries are deferred after `per_host` such pages)."""
        host = self._hosts[turn.host]
        host.busy -= 1
        host.silent = 0 if answered else host.silent + 1
        if host.silent >= self.per_host and not host.given_up:
            self._give_up(host)
        async with self._changed:
            self._changed.notify_all()

    @property
    def _busy(self) -> bool:
        """Whether a page is in flight."""
        return any(h.busy for h in self._hosts.values())

    def _took_more(self) -> bool:
        """Once the queue is closed and its entries handed out, plan the cycle's entries
        that other workers left unclaimed (those over a host's budget are left to them);
        whether any was new. It looks again only after a look that found some, or when
        no page is in flight: a last look, after which it looks no more."""
        if self._more is None or self._open or any(h.waiting for h in self._hosts.values()):
            return False
        if not self._more_found and self._busy:
            return False
        fresh = [e for e in self._more() if e.id not in self._seen]
        self._more_found = bool(fresh)
        if not fresh and not self._busy:
            self._more = None
        self._plan_more(fresh)
        return bool(fresh)

    def _next_host(self) -> _Host | None:
        """The host with work and a free slot that has the fewest pages in flight, the
        one whose turn came longest ago among equals."""
        ready = [h for h in self._hosts.values() if self._ready(h) and h.busy < self._slots(h)]
        if not ready:
            return None
        return min(ready, key=lambda h: (h.busy, self._last_turn.get(h.name, -1)))

    def _ready(self, host: _Host) -> bool:
        """Whether the host has an entry claimed, or one it may claim now."""
        return not host.given_up and bool(host.claimed or self._claimable(host))

    def _claimable(self, host: _Host) -> int:
        """How many of the host's planned entries may be claimed now: none while a feed
        on the host is still to poll."""
        return 0 if self._polling[host.name] else len(host.planned)

    def _slots(self, host: _Host) -> int:
        """The host's slots: one fewer for each page in a row that did not answer."""
        return self.per_host - host.silent

    def _claim_more(self) -> None:
        """Claim, for every host with a free slot, entries for two rounds of its slots."""
        wanted: dict[int, _Host] = {}
        for host in self._hosts.values():
            room = 0 if host.given_up else 2 * self._slots(host) - host.busy - len(host.claimed)
            for _ in range(min(room, self._claimable(host))):
                wanted[host.next_planned().id] = host
        if wanted:
            for entry in sorted(self._claim(list(wanted)), key=publication_order):
                wanted[entry.id].claimed.append(entry)

    def _hand_out(self, host: _Host) -> Turn:
        entry = host.claimed.popleft()
        host.busy += 1
        self._handed_out += 1
        self._last_turn[host.name] = next(self._turns)
        before, host.last = host.last, asyncio.Event()
        return Turn(entry, host.name, before, host.last)

    def _give_up(self, host: _Host) -> None:
        """Defer the host's remaining entries, letting go of those claimed."""
        host.given_up = True
        reason = _silent(host.name, self.per_host)
        claimed = [p.id for p in host.claimed]
        if claimed:
            self._release(claimed)
        left = [Deferred(p.id, p.entry.url, reason) for p in host.claimed]
        left += [Deferred(e.id, e.url, reason) for _, e in sorted(host.planned)]
        host.claimed.clear()
        host.planned.clear()
        self.deferred += left


def _silent(host: str, per_host: int) -> str:
    return f"{host or 'no host'}: {per_host} pages in a row did not answer"
