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
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
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
    by_host: dict[str, dict[int, list[DueEntry]]] = {}
    for entry in due:
        by_host.setdefault(host_of(entry.url), {}).setdefault(entry.feed_id, []).append(entry)
    hosts: dict[str, list[DueEntry]] = {}
    deferred: list[Deferred] = []
    for host, feeds in by_host.items():
        turns = [e for row in itertools.zip_longest(*feeds.values()) for e in row if e]
        hosts[host] = sorted(turns[:budget], key=publication_order)
        reason = f"{host or 'no host'}: page budget of {budget} a cycle spent"
        deferred += [Deferred(e.id, e.url, reason) for e in turns[budget:]]
    return Plan(hosts, deferred)


def publication_order(entry: DueEntry | PendingEntry) -> tuple[bool, datetime, int]:
    """Sort key: published first to last, undated ones after, then as found."""
    published = entry.published if isinstance(entry, DueEntry) else entry.entry.published
    return published is None, published or datetime.min.replace(tzinfo=UTC), entry.id


@dataclass
class _Host:
    """One host's entries: planned (unclaimed), claimed and waiting, and in flight."""

    name: str
    planned: deque[DueEntry]
    claimed: deque[PendingEntry] = field(default_factory=deque)
    busy: int = 0
    silent: int = 0  # pages in a row that did not answer
    given_up: bool = False
    last: asyncio.Event = field(default_factory=asyncio.Event)  # set when its last is recorded

    def __post_init__(self) -> None:
        self.last.set()

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


class PageQueue:
    """Hands out the planned entries (see the module's doc); `take` waits for a turn,
    `done` gives the host's slot back once the page is fetched."""

    def __init__(self, planned: Plan, per_host: int, claim: Claim, release: Release) -> None:
        self.per_host = per_host
        self._claim, self._release = claim, release
        self._hosts = {h: _Host(h, deque(due)) for h, due in planned.hosts.items() if due}
        self._turns = itertools.count()
        self._last_turn: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self.deferred: list[Deferred] = list(planned.deferred)

    async def take(self) -> Turn | None:
        """The next entry whose page to fetch, once a host has one and a free slot; None
        when every planned entry is handed out or deferred."""
        async with self._changed:
            while True:
                host = self._next_host()
                if host is None:
                    if not any(h.busy for h in self._hosts.values()):
                        return None
                    await self._changed.wait()
                    continue
                if not host.claimed:
                    self._claim_more()
                if host.claimed:
                    return self._hand_out(host)

    async def done(self, turn: Turn, answered: bool) -> list[Deferred]:
        """The page of `turn` was fetched (or failed); `answered` is False when its host
        did not answer at all. The entries deferred because of it, if any."""
        host = self._hosts[turn.host]
        host.busy -= 1
        host.silent = 0 if answered else host.silent + 1
        deferred = []
        if host.silent >= self.per_host and not host.given_up:
            deferred = self._give_up(host)
        async with self._changed:
            self._changed.notify_all()
        return deferred

    def _next_host(self) -> _Host | None:
        """The host with work and a free slot that has the fewest pages in flight, the
        one whose turn came longest ago among equals."""
        ready = [h for h in self._hosts.values() if h.waiting and h.busy < self._slots(h)]
        if not ready:
            return None
        return min(ready, key=lambda h: (h.busy, self._last_turn.get(h.name, -1)))

    def _slots(self, host: _Host) -> int:
        """The host's slots: one fewer for each page in a row that did not answer."""
        return self.per_host - host.silent

    def _claim_more(self) -> None:
        """Claim, for every host with a free slot, entries for two rounds of its slots."""
        wanted: dict[int, _Host] = {}
        for host in self._hosts.values():
            room = 0 if host.given_up else 2 * self._slots(host) - host.busy - len(host.claimed)
            for _ in range(min(room, len(host.planned))):
                wanted[host.planned.popleft().id] = host
        if wanted:
            for entry in sorted(self._claim(list(wanted)), key=publication_order):
                wanted[entry.id].claimed.append(entry)

    def _hand_out(self, host: _Host) -> Turn:
        entry = host.claimed.popleft()
        host.busy += 1
        self._last_turn[host.name] = next(self._turns)
        before, host.last = host.last, asyncio.Event()
        return Turn(entry, host.name, before, host.last)

    def _give_up(self, host: _Host) -> list[Deferred]:
        """Defer the host's remaining entries, letting go of those claimed."""
        host.given_up = True
        reason = f"{host.name or 'no host'}: {self.per_host} pages in a row did not answer"
        claimed = [p.id for p in host.claimed]
        if claimed:
            self._release(claimed)
        left = [Deferred(p.id, p.entry.url, reason) for p in host.claimed]
        left += [Deferred(e.id, e.url, reason) for e in host.planned]
        host.claimed.clear()
        host.planned.clear()
        self.deferred += left
        return left
