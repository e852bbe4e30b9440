"""How far long work is: counters with a rate and an ETA, told to a hook as they move.

A cycle tells its hook of each feed polled and each entry processed (`CycleProgress`); a
backfill of each item kept (`Progress`). The CLI draws them as rich bars on a terminal;
elsewhere `Every` turns them into a plain line every few seconds (piped output, a Prefect
flow run's log).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

PLAIN_EVERY = 5.0  # seconds between plain progress lines


@dataclass
class Progress:
    """How far a run is: items done (`resumed` of them in an earlier attempt), of `total`."""

    total: int | None = None
    done: int = 0
    resumed: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Items a second done in this attempt."""
        elapsed = time.monotonic() - self.started
        return (self.done - self.resumed) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, when known."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate

    def line(self, noun: str, verb: str) -> str:
        """E.g. "entries 40/2000 processed, 12.3/s, 1 error, ETA 2 min"."""
        total = "?" if self.total is None else str(self.total)
        errors = f", {self.errors} failed" if self.errors else ""
        return f"{noun} {self.done}/{total} {verb}, {self.rate:.1f}/s{errors}, ETA {eta(self.eta)}"


ProgressHook = Callable[[Progress], None]


@dataclass
class CycleProgress:
    """A cycle's progress: `feeds` polled and `entries` processed (processing starts
    with the feeds' polling, each feed's new entries counted as they are stored)."""

    feeds: Progress = field(default_factory=Progress)
    entries: Progress = field(default_factory=Progress)
    stage: str = "poll"  # entries processed meanwhile; then "process", then "deliver"

    def line(self) -> str:
        """One line for a log: the stage under way and its counts."""
        if self.stage == "poll":
            polling = self.feeds.line("feeds", "polled")
            if not (self.entries.total or self.entries.done):
                return polling
            return f"{polling}; {self.entries.line('entries', 'processed')}"
        polled = f"feeds {self.feeds.done} polled; "
        if self.stage == "process":
            return polled + self.entries.line("entries", "processed")
        return f"{polled}entries {self.entries.done} processed; delivering alerts"


CycleHook = Callable[[CycleProgress], None]


def eta(seconds: float | None) -> str:
    """A rough time left: "?", "40 s", "3 min", "1 h 5 min"."""
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Every:
    """A hook that passes `emit` a line at most every `seconds`, the first after `seconds`
    (short work says nothing); with `final`, a backfill's last item is told too."""

    def __init__(
        self, emit: Callable[[str], None], seconds: float | None = None, final: bool = False
    ) -> None:
        self.emit = emit
        self.seconds = PLAIN_EVERY if seconds is None else seconds
        self.final = final
        self.last = time.monotonic()

    def __call__(self, progress: Progress | CycleProgress) -> None:
        now = time.monotonic()
        finished = isinstance(progress, Progress) and progress.done == progress.total
        if now - self.last < self.seconds and not (self.final and finished):
            return
        self.last = now
        if isinstance(progress, CycleProgress):
            self.emit(f"cycle: {progress.line()}")
        else:
            self.emit(f"backfill: {progress.line('items', 'done')}")
