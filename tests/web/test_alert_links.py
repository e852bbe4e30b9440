"""An alert delivered with `web.base_url` set links to its story's page, and that link
opens the story on the site."""

from __future__ import annotations

import re

from lxml import html
from starlette.testclient import TestClient

from monitors.delivery import Outbox, deliver_due, notifier_for
from monitors.store import Store
from newsmon.loopback import WebhookReceiver
from newsmon.web import create_app
from tests.conftest import make_config
from tests.factories import Page, record_pages
from tests.web.conftest import GENEVA

BASE = "http://desk.example.org:8080"


def test_the_link_in_a_delivered_alert_opens_its_story(store: Store, store_url: str) -> None:
    with WebhookReceiver() as desk:
        config = make_config(store_url, [], desk.apprise_url, web={"base_url": BASE})
        outbox = Outbox.of(config, store)
        title = "Geneva talks yield security guarantees for Ukraine"
        [recorded] = record_pages(
            store, outbox, [Page("geneva", title, GENEVA, rule="security-guarantees")]
        )
        [done] = deliver_due(outbox, notifier_for(config), config.labels())
        [message] = desk.received
    assert done.status == "sent"
    links = re.findall(r"Story: (\S+)", message["message"])
    assert links == [f"{BASE}/stories/{recorded.story_id}"]
    with TestClient(create_app(config, store), base_url=BASE) as client:
        answer = client.get(links[0])
    assert answer.status_code == 200
    assert html.fromstring(answer.text).xpath("//h1/text()") == [title]
