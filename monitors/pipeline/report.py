"""What a cycle did, in one report that the CLI, the flows and the benches only render."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitors.delivery import Delivered

POLLED = ("new", "unchanged", "failed")  # a feed fetched this cycle ended in one of these
NOT_POLLED = ("waiting", "not due", "claimed elsewhere")


@dataclass(frozen=True)
class FeedOutcome:
    """How polling one feed went: `new`, `unchanged` or `failed`; or why it was not
    polled: `waiting`, `not due` or `claimed elsewhere`."""

    url: str
    name: str
    status: str
    new_entries: int = 0
    error: str | None = None
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessedEntry:
    """What became of one pending entry: `article`, `duplicate` or `error`; or
    `deferred`, left pending for a later cycle (`error` says why: its host's page budget
    was spent, or its host did not answer). For an article, `matching_cut` says what the
    matching limits left out (monitors.rules.limits)."""

    entry_id: int
    url: str
    outcome: str
    source: str = ""
    alert_ids: tuple[int, ...] = ()
    error: str | None = None
    matching_cut: str | None = None


@dataclass(frozen=True)
class HubOutcome:
    """A request to a feed's WebSub hub: `subscribe`, `renew` or `unsubscribe`, and
    whether it was `requested` (the hub checks it next) or `failed`."""

    feed: str
    hub: str
    action: str
    status: str
    error: str | None = None


@dataclass
class CycleReport:
    """Everything one cycle did: each feed's outcome, each entry's, each delivery's, each
    request to a WebSub hub."""

    feeds: list[FeedOutcome] = field(default_factory=list)
    entries: list[ProcessedEntry] = field(default_factory=list)
    deliveries: list[Delivered] = field(default_factory=list)
    hubs: list[HubOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """Entries with this outcome."""
        return sum(e.outcome == outcome for e in self.entries)

    def feeds_in(self, status: str) -> int:
        """Feeds with this outcome."""
        return sum(f.status == status for f in self.feeds)

    @property
    def matched_in_part(self) -> list[ProcessedEntry]:
        """The entries whose article the matching limits cut."""
        return [e for e in self.entries if e.matching_cut]

    @property
    def polled(self) -> int:
        """Feeds fetched this cycle (new, unchanged or failed)."""
        return sum(f.status in POLLED for f in self.feeds)

    @property
    def all_failed(self) -> bool:
        """Whether feeds were polled and every one failed (the network or a proxy, more
        likely than each feed)."""
        return self.polled > 0 and self.feeds_in("failed") == self.polled

    @property
    def new_entries(self) -> int:
        return sum(f.new_entries for f in self.feeds)

    @property
    def alert_ids(self) -> list[int]:
        """The alerts this cycle made, in order."""
        return [i for e in self.entries for i in e.alert_ids]

    @property
    def alerts(self) -> int:
        return len(self.alert_ids)

    @property
    def sent(self) -> int:
        return sum(d.status == "sent" for d in self.deliveries)

    @property
    def failed(self) -> int:
        """Deliveries tried and not sent (retried later, or dead-lettered)."""
        return sum(d.status != "sent" for d in self.deliveries)

    def summary(self) -> dict[str, object]:
        """The counts, as plain values: feeds by outcome, entries, alerts, deliveries."""
        return {
            "feeds": {"polled": self.polled} | {s: self.feeds_in(s) for s in POLLED + NOT_POLLED},
            "entries": self.new_entries,
            "articles": self.count("article"),
            "duplicates": self.count("duplicate"),
            "errors": self.count("error"),
            "deferred": self.count("deferred"),
            "matched_in_part": len(self.matched_in_part),
            "alerts": self.alerts,
            "sent": self.sent,
            "failed": self.failed,
            "hub requests": len(self.hubs),
            "hub failures": sum(h.status == "failed" for h in self.hubs),
        }
