"""When to poll a feed next.

A feed with `every` is polled at that interval. Otherwise the interval adapts to
how often the feed publishes, between a floor and a ceiling: when most of a
fetch is new (under a third already seen) items may be slipping past, so the
interval halves; when most is already seen (over two thirds, or the feed is
unchanged) it grows by half. A server's own hints — RSS `<ttl>`, Cache-Control
`max-age` — are never undercut. A failing feed backs off exponentially, and a
Retry-After is honoured, up to a week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitors.config import PollConfig
from monitors.ingest.fetch import MAX_RETRY_AFTER

DAY = 86400.0
FIRST_INTERVAL = 900.0  # seconds before a new feed's second poll
MAX_ERROR_BACKOFF = 6 * 3600.0


@dataclass(frozen=True)
class Polled:
    """What one successful poll saw."""

    listed: int  # entries in the feed (0 when unchanged)
    new: int  # entries not seen before
    hint: float | None = None  # the server's ttl or max-age, seconds


def next_interval(
    current: float | None, every: float | None, polled: Polled, s: PollConfig
) -> float:
    """The interval until the next poll after a successful one."""
    if every is not None:
        return max(every, polled.hint or 0.0)
    interval = current or FIRST_INTERVAL
    seen = 1.0 if polled.listed == 0 else 1 - polled.new / polled.listed
    if seen < 1 / 3:
        interval /= 2
    elif seen > 2 / 3:
        interval *= 1.5
    interval = min(max(interval, s.min_interval), s.max_interval)
    return max(interval, min(polled.hint or 0.0, s.max_interval))


def items_per_day(previous: float | None, new: int, since: datetime | None, now: datetime) -> float:
    """A smoothed rate of new items per day (exponentially weighted)."""
    if since is None:
        return previous or 0.0
    days = max((now - since).total_seconds(), 60.0) / DAY
    rate = new / days
    return rate if previous is None else 0.7 * previous + 0.3 * rate


def backoff_until(streak: int, retry_after: float | None, now: datetime, s: PollConfig) -> datetime:
    """When a feed failing `streak` times in a row may be polled again; a server's
    Retry-After is honoured up to MAX_RETRY_AFTER."""
    wait = min(s.error_backoff * 2 ** min(max(streak - 1, 0), 64), MAX_ERROR_BACKOFF)
    asked = min(retry_after or 0.0, MAX_RETRY_AFTER)
    return now + timedelta(seconds=max(wait, asked))
