"""Ingest: from a feed's URL to its entries.

Owns fetching with its guards (`fetch`: one async fetcher with size, time, redirect and
private-address limits; `polite`: per-host rates and robots.txt for backfills), feed
parsing (`feeds`, with `fastfeed` for well-formed feeds and feedparser for the rest),
canonical URLs (`urls`), when a feed is due (`schedule`) and WebSub from the
subscriber's side (`websub`: a feed's hub, requests to it, pushed content's signature).
Imports only the bottom layer (`models`, `errors`, `text`) and `config`.

The names below are imported on first use, so that what needs only URLs (the
extraction workers, `newsmon --help`) does not load httpx and feedparser.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitors.ingest.feeds import ParsedFeed, clean_text, parse_feed
    from monitors.ingest.fetch import Fetcher, FetchLimits, decode_body, parse_retry_after
    from monitors.ingest.polite import Polite
    from monitors.ingest.schedule import Polled, backoff_until, items_per_day, next_interval
    from monitors.ingest.urls import canonical_url, host_of, is_tracking, site_of
    from monitors.ingest.websub import (
        Hub,
        ask_hub,
        discover,
        new_callback_id,
        new_secret,
        request_form,
        signature_ok,
    )

_WHERE = {
    "ParsedFeed": "feeds",
    "clean_text": "feeds",
    "parse_feed": "feeds",
    "Fetcher": "fetch",
    "FetchLimits": "fetch",
    "decode_body": "fetch",
    "parse_retry_after": "fetch",
    "Polite": "polite",
    "Polled": "schedule",
    "backoff_until": "schedule",
    "items_per_day": "schedule",
    "next_interval": "schedule",
    "canonical_url": "urls",
    "host_of": "urls",
    "is_tracking": "urls",
    "site_of": "urls",
    "Hub": "websub",
    "ask_hub": "websub",
    "discover": "websub",
    "new_callback_id": "websub",
    "new_secret": "websub",
    "request_form": "websub",
    "signature_ok": "websub",
}
__all__ = [
    "FetchLimits",
    "Fetcher",
    "Hub",
    "ParsedFeed",
    "Polite",
    "Polled",
    "ask_hub",
    "backoff_until",
    "canonical_url",
    "clean_text",
    "decode_body",
    "discover",
    "host_of",
    "is_tracking",
    "items_per_day",
    "new_callback_id",
    "new_secret",
    "next_interval",
    "parse_feed",
    "parse_retry_after",
    "request_form",
    "signature_ok",
    "site_of",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
