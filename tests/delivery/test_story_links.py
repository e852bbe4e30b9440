"""With the desk's site address (`web.base_url`), every alert message links to its story's
page, in every channel format, and digests link each alert's story."""

from __future__ import annotations

import pytest

from monitors.config import WebConfig
from monitors.delivery import render
from monitors.store import DeliveryRow
from tests.delivery.test_notify import NOTIFIER, alert, alert_delivery

SITE = WebConfig(base_url="https://desk.example.org/newsmon/")
STORY = "https://desk.example.org/newsmon/stories/42"


def delivery(kind: str = "alert", **changes: object) -> DeliveryRow:
    """A pending text delivery of an alert on story 42, with `changes`."""
    defaults: dict[str, object] = {"kind": kind, "channel": "text", "alert": alert(story_id=42)}
    return alert_delivery(**{**defaults, **changes})


@pytest.mark.parametrize(
    ("channel", "link"),
    [
        ("text", f"Story: {STORY}"),
        ("markdown", f"[The story on the desk]({STORY})"),
        ("html", f'<a href="{STORY}">The story on the desk</a>'),
        ("email", f'<a href="{STORY}">The story on the desk</a>'),
        ("slack", f"<{STORY}|The story on the desk>"),
    ],
)
def test_an_alert_links_to_its_story(channel: str, link: str) -> None:
    fmt = NOTIFIER.format(channel)
    assert link in render(delivery(), {}, fmt, SITE).body
    assert STORY not in render(delivery(), {}, fmt).body  # no base URL: no link
    update = delivery(alert=alert(story_id=42, kind="update", follows=1, new_facts=("Geneva",)))
    assert link in render(update, {}, fmt, SITE).body


def test_an_alert_without_a_story_has_no_link() -> None:
    body = render(delivery(alert=alert()), {}, NOTIFIER.format("text"), SITE).body
    assert "Story:" not in body and "/stories/" not in body


def test_a_digest_links_each_alerts_story() -> None:
    alerts = (alert(id=1, story_id=42), alert(id=2, story_id=43))
    digest = delivery("digest", alert=None, digest=alerts, channel="html")
    body = render(digest, {}, NOTIFIER.format("html"), SITE).body
    assert body.count('">story</a>') == 2
    assert f'<a href="{STORY}">story</a>' in body
    assert '<a href="https://desk.example.org/newsmon/stories/43">story</a>' in body


def test_base_url_is_an_http_url_without_a_trailing_slash() -> None:
    assert SITE.base_url == "https://desk.example.org/newsmon"
    assert SITE.story_url(7) == "https://desk.example.org/newsmon/stories/7"
    assert WebConfig().story_url(7) is None
