"""Backfill: what to replay (`request`: a window, a source, the feeds and rules kept) and
where its pages come from (`sources`: feeds and their RFC 5005 archives, a file of URLs,
a news sitemap). The pipeline runs what they yield through the same stages as a poll
cycle (monitors.pipeline.backfill). Imports the bottom layer, `config`, `ingest` and
`store`.
"""

from monitors.backfill.request import SOURCES, Request, Window
from monitors.backfill.sources import (
    Candidate,
    Unread,
    archive_link,
    candidates,
    gunzipped,
    page_date,
    read_url_file,
    sitemap_entries,
)

__all__ = [
    "SOURCES",
    "Candidate",
    "Request",
    "Unread",
    "Window",
    "archive_link",
    "candidates",
    "gunzipped",
    "page_date",
    "read_url_file",
    "sitemap_entries",
]
