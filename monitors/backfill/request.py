"""What to backfill: a window of publication times, a source, the feeds and rules kept."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitors.store import utcnow

SOURCES = ("stored", "feeds", "urls", "sitemap")


@dataclass(frozen=True)
class Window:
    """Publication times from `since` (included) to `until` (excluded; None: no end)."""

    since: datetime
    until: datetime | None = None

    def __contains__(self, when: datetime) -> bool:
        return when >= self.since and (self.until is None or when < self.until)

    def chunks(self, size: timedelta, now: datetime | None = None) -> list[Window]:
        """The window cut into consecutive windows of `size` (the last may be shorter)."""
        end = self.until or now or utcnow()
        out, start = [], self.since
        while start < end:
            out.append(Window(start, min(start + size, end)))
            start += size
        return out


@dataclass(frozen=True)
class Request:
    """What to backfill: the window, the source (`target` is the URL file or sitemap URL),
    the feeds and rules to keep (empty: all) and whether to send."""

    window: Window
    source: str = "stored"
    target: str | None = None
    feeds: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    notify: bool = False

    def describe(self) -> dict[str, Any]:
        """The request as JSON values."""
        until = self.window.until
        return {
            "since": self.window.since.isoformat(),
            "until": until.isoformat() if until else None,
            "source": self.source,
            "target": self.target,
            "feeds": sorted(self.feeds),
            "rules": sorted(self.rules),
            "notify": self.notify,
        }

    @property
    def key(self) -> str:
        """The identity of the request, under which its progress is kept."""
        blob = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
