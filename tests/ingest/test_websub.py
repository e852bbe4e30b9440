"""The WebSub subscriber's side without state: discovery, requests, signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import parse_qs

import pytest

from monitors.config import FetchConfig
from monitors.errors import FetchError
from monitors.ingest import Fetcher, Hub, ask_hub, discover, parse_feed, request_form
from monitors.ingest.websub import link_header, signature_ok
from tests.httpserver import LoopbackServer

FEED = "https://news.example/feed.xml"
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://news.example/atom"/>
<entry><id>1</id><title>a</title><link href="https://news.example/a"/></entry></feed>"""
RSS = b"""<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<atom:link rel="hub" href="/hub"/><item><title>a</title><link>https://news.example/a</link>
</item></channel></rss>"""
LOOPBACK = FetchConfig(allow_private_networks="127.0.0.1/32", retries=0, timeout=5)


def test_link_headers_are_parsed_with_every_relation() -> None:
    headers = ['<https://hub.example/>; rel="hub", </feed>; rel="self alternate"; type=x']
    assert link_header(headers, FEED) == [
        ("hub", "https://hub.example/"),
        ("self", "https://news.example/feed"),
        ("alternate", "https://news.example/feed"),
    ]


def test_an_atom_feed_names_its_hub_and_topic() -> None:
    links = parse_feed(ATOM, FEED).links
    assert discover([], links, FEED) == Hub("https://hub.example/", "https://news.example/atom")


def test_an_rss_feed_without_self_is_its_own_topic_and_relative_hubs_resolve() -> None:
    links = parse_feed(RSS, FEED).links
    assert discover([], links, FEED) == Hub("https://news.example/hub", FEED)


def test_link_headers_come_before_the_feed() -> None:
    headers = ['<https://other-hub.example/>; rel=hub, <https://news.example/t>; rel="self"']
    found = discover(headers, parse_feed(ATOM, FEED).links, FEED)
    assert found == Hub("https://other-hub.example/", "https://news.example/t")


def test_no_hub_or_a_hub_that_is_no_http_url_is_none() -> None:
    assert discover([], [("self", FEED)], FEED) is None
    assert discover(['<javascript:alert(1)>; rel="hub"'], [], FEED) is None


def test_a_subscribe_form_asks_a_lease_and_gives_the_secret_an_unsubscribe_neither() -> None:
    hub = Hub("https://hub.example/", FEED)
    form = request_form("subscribe", hub, "https://desk.example/websub/x", 86400.0, "s3")
    assert form == {
        "hub.mode": "subscribe",
        "hub.topic": FEED,
        "hub.callback": "https://desk.example/websub/x",
        "hub.lease_seconds": "86400",
        "hub.secret": "s3",
    }
    gone = request_form("unsubscribe", hub, "https://desk.example/websub/x", 86400.0, "s3")
    assert set(gone) == {"hub.mode", "hub.topic", "hub.callback"}
    with pytest.raises(ValueError, match="hub.mode 'publish'"):
        request_form("publish", hub, "https://desk.example/websub/x", None, None)


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha512"])
def test_a_signature_by_the_secret_is_accepted(method: str) -> None:
    body = b"<feed/>"
    digest = hmac.new(b"secret", body, method).hexdigest()
    assert signature_ok("secret", f"{method}={digest}", body)
    assert signature_ok("secret", f"{method.upper()}={digest.upper()}", body)


def test_a_wrong_missing_or_unknown_signature_is_refused() -> None:
    body = b"<feed/>"
    good = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert not signature_ok("other", f"sha256={good}", body)
    assert not signature_ok("secret", f"sha256={good}", body + b" ")
    assert not signature_ok("secret", None, body)
    assert not signature_ok("secret", "sha256=", body)
    assert not signature_ok("secret", f"md5={hashlib.md5(body).hexdigest()}", body)


def test_a_hub_request_is_a_form_post_and_a_refusal_says_why() -> None:
    hub = Hub("", FEED)
    with LoopbackServer() as server:
        server.add("/hub", b"", status=202)
        server.add("/moved", b"", status=307, headers={"Location": "/hub"})
        server.add("/no", b"topic not allowed here", status=400)

        async def go() -> tuple[int, int, str]:
            async with Fetcher(LOOPBACK) as fetcher:
                form = request_form("subscribe", hub, "http://desk/cb", 60, "s")
                first = await ask_hub(fetcher, Hub(server.url("/hub"), FEED), form)
                moved = await ask_hub(fetcher, Hub(server.url("/moved"), FEED), form)
                try:
                    await ask_hub(fetcher, Hub(server.url("/no"), FEED), form)
                except FetchError as exc:
                    return first, moved, exc.reason
            raise AssertionError("the refusal was not raised")

        first, moved, refused = asyncio.run(go())
        posts = [r for r in server.requests if r.method == "POST"]
    assert (first, moved) == (202, 202)
    assert refused == "HTTP 400: topic not allowed here"
    assert [r.path for r in posts] == ["/hub", "/moved", "/hub", "/no"]
    assert parse_qs(posts[0].body.decode())["hub.secret"] == ["s"]
    assert posts[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_hub_on_a_private_address_is_refused_like_any_fetch() -> None:
    async def go() -> None:
        async with Fetcher(FetchConfig()) as fetcher:
            await ask_hub(fetcher, Hub("http://127.0.0.1:9/hub", FEED), {"hub.mode": "x"})

    with pytest.raises(FetchError, match="private address"):
        asyncio.run(go())
