"""How late an alert was: from its article's publication to its entry being seen (by a
poll or a push) and to its first message sent; and the percentiles of many.

A publisher's clock may run ahead of ours: a time before publication counts as 0 s. An
article without a publication date has no latency from publication (only seen→sent).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitors.store import AlertLatency, AlertListing


@dataclass(frozen=True)
class Latency:
    """Seconds from publication to seen and to sent, and from seen to sent (None where
    a time is missing), and how the entry was seen."""

    via: str | None
    to_seen: float | None
    to_sent: float | None
    seen_to_sent: float | None

    @classmethod
    def of(
        cls,
        published: datetime | None,
        seen: datetime | None,
        sent: datetime | None,
        via: str | None,
    ) -> Latency:
        return cls(via, _since(published, seen), _since(published, sent), _since(seen, sent))

    def payload(self) -> dict[str, object]:
        """As plain values, for an event."""
        return {
            "seen_via": self.via,
            "publish_to_seen_s": _round(self.to_seen),
            "publish_to_sent_s": _round(self.to_sent),
            "seen_to_sent_s": _round(self.seen_to_sent),
        }


def alert_latency(item: AlertListing) -> str:
    """Publication to the alert's first message sent and how its article was seen, as
    "2m31s (poll)"; to seen, while no message is sent."""
    a = item.alert
    sent = [d.sent_at for d in item.deliveries if d.sent_at is not None and d.kind == "alert"]
    latency = Latency.of(a.published_at, a.seen_at, min(sent, default=None), a.seen_via)
    via = f" ({a.seen_via})" if a.seen_via else ""
    if latency.to_sent is not None:
        return duration(latency.to_sent) + via
    if latency.to_seen is not None:
        return f"{duration(latency.to_seen)}{via}, unsent"
    return f"undated{via}"


def _since(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values` by nearest rank; ValueError when empty."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    """p50 and p95 of publication→seen and publication→sent over a group of alerts."""

    group: str
    alerts: int
    via: str
    seen_p50: float | None
    seen_p95: float | None
    sent_p50: float | None
    sent_p95: float | None


def latency_stats(rows: Iterable[AlertLatency]) -> list[LatencyStats]:
    """Per feed (by name), then overall and per way of being seen (`all polled`, `all
    pushed`, …): the alerts' latency percentiles. Backfilled alerts are left out (their
    articles were published long before)."""
    timed = [
        (r.feed, Latency.of(r.published_at, r.seen_at, r.sent_at, r.seen_via))
        for r in rows
        if r.seen_via != "backfill"
    ]
    groups: dict[str, list[Latency]] = {}
    for feed, latency in timed:
        groups.setdefault(feed, []).append(latency)
    stats = [_stats(name, items) for name, items in sorted(groups.items())]
    every = [latency for _, latency in timed]
    if every:
        stats.append(_stats("all", every))
    for via in sorted({str(lat.via) for lat in every}):
        stats.append(_stats(f"all {_VIA.get(via, via)}", [x for x in every if str(x.via) == via]))
    return stats


_VIA = {"poll": "polled", "push": "pushed"}


def _stats(group: str, items: list[Latency]) -> LatencyStats:
    seen = [x.to_seen for x in items if x.to_seen is not None]
    sent = [x.to_sent for x in items if x.to_sent is not None]
    ways = sorted({str(x.via) for x in items})
    return LatencyStats(
        group,
        len(items),
        ways[0] if len(ways) == 1 else "+".join(ways),
        percentile(seen, 50) if seen else None,
        percentile(seen, 95) if seen else None,
        percentile(sent, 50) if sent else None,
        percentile(sent, 95) if sent else None,
    )


def duration(seconds: float | None) -> str:
    """A duration for people: 0.4s, 12s, 2m31s, 3h05m, 2d04h; "" when unknown."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
