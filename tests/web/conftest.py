"""A small desk world for the site's tests: three stories (one with a copy from another
outlet, one in French, one with a hostile headline, outlet and link), alerts sent and
failed, a feed that skipped entries and one that fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from monitors.config import Config
from monitors.delivery import Outbox
from monitors.models import Entry
from monitors.store import Store, utcnow
from newsmon.web import create_app
from tests.conftest import make_config
from tests.factories import Page, pseudo_word, record_pages

CHANNEL_URL = "json://desk-secret-4242@127.0.0.1:9/hook"
HOSTILE_TITLE = (
    '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> '
    "<!channel> <@U024BE7LH> headline"
)
HOSTILE_SITE = "<b>Evil</b> Outlet"
HOSTILE_URL = "javascript:alert(document.domain)"
FEED = "https://example.com/feed.xml"
BROKEN_FEED = "https://broken.example/rss"
RELISTED = "https://example.com/geneva?utm_source=feed"
SKIPPED = ["entry 2: no link", "entry 5: not http(s): javascript:alert(1)"]


def words(n: int, count: int = 40) -> str:
    return " ".join(pseudo_word(n, s) for s in range(count))


GENEVA = f"{words(1)}. Diplomats said Washington weighs security guarantees for Ukraine."


@dataclass(frozen=True)
class World:
    config: Config
    geneva: int  # story ids
    paris: int
    hostile: int
    geneva_alert: int
    hostile_alert: int


def desk_config(store_url: str, **web: Any) -> Config:
    feeds = [{"url": FEED, "name": "Example"}, {"url": BROKEN_FEED, "name": "Broken"}]
    return make_config(store_url, feeds, CHANNEL_URL, web={"page_size": 10, **web})


def build_world(store: Store, config: Config) -> World:
    outbox = Outbox.of(config, store)
    pages = [
        Page(
            "geneva",
            "Geneva talks yield security guarantees for Ukraine",
            GENEVA,
            "Meridian Wire",
            rule="security-guarantees",
        ),
        Page("geneva-copy", "Geneva talks: guarantees on the table", GENEVA, "The Harbour Herald"),
        Page("paris", "Les garanties de sécurité en débat à Paris", words(2), "Le Quotidien", "fr"),
        Page(
            "hostile",
            HOSTILE_TITLE,
            f"{words(3)}. Rumours of security guarantees.",
            HOSTILE_SITE,
            rule="security-guarantees",
            url=HOSTILE_URL,
        ),
    ]
    geneva, _, paris, hostile = record_pages(store, outbox, pages, FEED)
    now = utcnow()
    with store.transaction() as tx:
        feeds = tx.sync_feeds([(FEED, "Example"), (BROKEN_FEED, "Broken")])
        relisted = Entry("geneva-again", RELISTED, "https://example.com/geneva", "Geneva")
        tx.record_feed_ok(
            feeds[FEED].id,
            status=200,
            etag=None,
            last_modified=None,
            body_hash="x",
            new_entries=[relisted],  # the Geneva article again: not fetched
            skipped=SKIPPED,
        )
        tx.schedule_feed(feeds[FEED].id, now + timedelta(minutes=7), 420.0, 12.5)
        for _ in range(3):
            tx.record_feed_error(feeds[BROKEN_FEED].id, "HTTP 503", 503, now + timedelta(hours=1))
        listing = {item.alert.id: item for item in tx.alert_listing()}
        [sent] = listing[geneva.alert_ids[0]].deliveries
        tx.mark_sent(sent.id)
        [failed] = listing[hostile.alert_ids[0]].deliveries
        tx.mark_failed(failed.id, "failed", 8, f"refused by {CHANNEL_URL}", now)
    return World(
        config,
        geneva.story_id or 0,
        paris.story_id or 0,
        hostile.story_id or 0,
        geneva.alert_ids[0],
        hostile.alert_ids[0],
    )


@pytest.fixture
def world(store: Store, store_url: str) -> World:
    return build_world(store, desk_config(store_url))


@pytest.fixture
def client(world: World, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(world.config, store), base_url="http://127.0.0.1") as c:
        yield c


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no form with a CSRF token"
    return found.group(1)
