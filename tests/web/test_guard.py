"""The site's safety: escaping, no secret on any page, security headers, CSRF, the host
check, the token and where the site may listen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import html
from starlette.testclient import TestClient

from monitors.store import Store
from newsmon.web import create_app
from newsmon.web.guard import MAX_BODY, BindError, check_bind
from tests.conftest import make_config
from tests.web.conftest import CHANNEL_URL, HOSTILE_URL, World, csrf_of, desk_config

TOKEN = "a-web-token-of-32-characters-xyz"


def every_page(world: World) -> list[str]:
    stories = [world.geneva, world.paris, world.hostile]
    return ["/stories", *(f"/stories/{s}" for s in stories), "/alerts", "/feeds", "/playground"]


def test_hostile_text_is_shown_as_text_everywhere(client: TestClient, world: World) -> None:
    for path in ("/stories", f"/stories/{world.hostile}", "/alerts"):
        body = client.get(path).text
        assert "<script>" not in body and "<img" not in body and "<b>Evil" not in body
        assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in body
        assert "&lt;!channel&gt; &lt;@U024BE7LH&gt;" in body
        assert 'href="javascript:' not in body.lower()
    story = client.get(f"/stories/{world.hostile}").text
    title = "&lt;script&gt;window.pwned = 1&lt;/script&gt;"
    assert f'<span title="not an http(s) link">{title}' in story
    assert "&lt;b&gt;Evil&lt;/b&gt; Outlet" in story


def test_no_secret_or_channel_url_on_any_page(client: TestClient, world: World) -> None:
    for path in every_page(world):
        body = client.get(path).text
        assert CHANNEL_URL not in body and "desk-secret-4242" not in body, path


def test_security_headers_on_pages_errors_and_static_files(
    client: TestClient, world: World
) -> None:
    for path in ("/stories", "/stories/99999", "/static/desk.css", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # no script at all, inline or not
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert client.get("/stories").headers["cache-control"] == "no-store"


def test_no_page_holds_a_script(client: TestClient, world: World) -> None:
    for path in every_page(world):
        tree = html.fromstring(client.get(path).text)
        assert tree.xpath("//script | //iframe | //object | //embed") == [], path
        handlers = [a for e in tree.iter() for a in e.attrib if a.lower().startswith("on")]
        assert handlers == [], path
        links = tree.xpath("//@href | //@src | //@action")
        assert [u for u in links if not u.startswith(("/", "#", "http"))] == [], path


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, {}),  # no token
        ({"csrf": "0" * 64}, {}),  # a made-up one
        ("valid", {"origin": "https://evil.example"}),
        ("valid", {"sec-fetch-site": "cross-site"}),
        ("valid", {"origin": "null"}),
    ],
)
def test_forms_need_their_csrf_token_and_this_site(
    client: TestClient, world: World, form: dict[str, str] | str, headers: dict[str, str]
) -> None:
    data = {"csrf": csrf_of(client.get("/alerts").text)} if form == "valid" else form
    for path in (f"/alerts/{world.hostile_alert}/retry", "/alerts/retry", "/playground"):
        answer = client.post(path, data=data, headers=headers, follow_redirects=False)
        assert answer.status_code == 403, path
    failed = client.get("/alerts?status=failed").text
    assert f'id="alert{world.hostile_alert}"' in failed  # nothing was retried


def test_a_form_of_another_visitor_does_not_count(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/alerts").text)
    with TestClient(client.app, base_url="http://127.0.0.1") as other:
        other.get("/alerts")  # its own CSRF cookie
        answer = other.post("/alerts/retry", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 421),
        ("evil.example:8080", 421),
        ("localhost:8080", 200),
        ("127.0.0.1", 200),
        ("[::1]:8080", 200),
        ("desk.example.org", 200),  # the base_url's host
    ],
)
def test_without_a_token_only_loopback_and_base_url_hosts(
    store: Store, store_url: str, host: str, status: int
) -> None:
    config = desk_config(store_url, base_url="https://desk.example.org")
    with TestClient(create_app(config, store), base_url="http://127.0.0.1") as client:
        assert client.get("/stories", headers={"host": host}).status_code == status


def test_a_request_body_over_the_cap_is_refused(client: TestClient) -> None:
    token = csrf_of(client.get("/playground").text)
    answer = client.post("/playground", data={"csrf": token, "text": "x" * (MAX_BODY + 10)})
    assert answer.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield f"csrf={token}&text=".encode()
        for _ in range(MAX_BODY // 2**16 + 2):
            yield b"x" * 2**16

    kind = {"content-type": "application/x-www-form-urlencoded"}
    streamed = client.post("/playground", content=chunks(), headers=kind)
    assert streamed.status_code == 413


def test_any_bind_beyond_loopback_needs_a_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.0.2.10", "desk.example.org"):
        with pytest.raises(BindError, match=f"refusing to listen on {re.escape(host)} without"):
            check_bind(host, None)
        check_bind(host, TOKEN)


@pytest.fixture
def guarded(world: World, store: Store) -> TestClient:
    config = world.config.model_copy(
        update={"web": world.config.web.model_copy(update={"token": TOKEN})}
    )
    return TestClient(create_app(config, store), base_url="http://desk.example.org")


def test_with_a_token_every_page_asks_for_it(guarded: TestClient, world: World) -> None:
    with guarded:
        answer = guarded.get(f"/stories/{world.geneva}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next=/stories/{world.geneva}"
        assert guarded.post("/alerts/retry", data={}).status_code == 401
        assert guarded.get("/static/desk.css").status_code == 200
        form = guarded.get(answer.headers["location"]).text
        assert "Sign in" in form and TOKEN not in form
        wrong = guarded.post(
            "/login", data={"csrf": csrf_of(form), "token": "not-the-token-at-all", "next": "/"}
        )
        assert wrong.status_code == 403 and "That is not the token." in wrong.text
        right = guarded.post(
            "/login",
            data={"csrf": csrf_of(form), "token": TOKEN, "next": f"/stories/{world.geneva}"},
            follow_redirects=False,
        )
        assert right.status_code == 303
        assert right.headers["location"] == f"/stories/{world.geneva}"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        assert guarded.get(f"/stories/{world.geneva}").status_code == 200
        page = guarded.get("/alerts").text
        assert TOKEN not in page
        guarded.post("/logout", data={"csrf": csrf_of(page)})
        assert guarded.get("/alerts", follow_redirects=False).status_code == 303


def test_a_bearer_token_also_signs_in(guarded: TestClient) -> None:
    with guarded:
        bearer = {"authorization": f"Bearer {TOKEN}"}
        assert guarded.get("/stories", headers=bearer).status_code == 200
        wrong = {"authorization": "Bearer " + "x" * len(TOKEN)}
        assert guarded.get("/stories", headers=wrong, follow_redirects=False).status_code == 303


def test_a_forged_session_or_a_foreign_next_does_not_pass(guarded: TestClient) -> None:
    with guarded:
        guarded.cookies.set("newsmon_session", "9999999999.0000")
        assert guarded.get("/stories", follow_redirects=False).status_code == 303
        form = guarded.get("/login").text
        answer = guarded.post(
            "/login",
            data={"csrf": csrf_of(form), "token": TOKEN, "next": "//evil.example/x"},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/"


def test_pages_read_while_a_writer_holds_the_sqlite_store(
    client: TestClient, store: Store, store_url: str
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    engine = sa.create_engine(store_url, connect_args={"timeout": 30})
    with engine.connect() as writer:
        writer.exec_driver_sql("BEGIN IMMEDIATE")
        writer.exec_driver_sql("UPDATE stories SET headline = 'changing'")
        answer = client.get("/stories")  # waits for no writer: a page, at once
        writer.exec_driver_sql("ROLLBACK")
    engine.dispose()
    assert answer.status_code == 200 and "changing" not in answer.text


def test_javascript_urls_are_never_links(client: TestClient, world: World) -> None:
    story = client.get(f"/stories/{world.hostile}").text
    assert HOSTILE_URL not in re.findall(r'href="([^"]*)"', story)


def test_websub_callbacks_are_for_hubs_not_visitors(tmp_path: Path) -> None:
    """Without a token, the push base_url's host is the site's own; a callback asks no
    token, CSRF token or same-site POST, and has its own size cap, not the site's."""
    url = f"sqlite:///{tmp_path / 'push.db'}"
    config = make_config(
        url,
        [],
        CHANNEL_URL,
        push={"base_url": "https://hooks.example.org", "max_bytes": 3 * MAX_BODY},
    )
    store = Store.open(url)
    with TestClient(create_app(config, store), base_url="http://127.0.0.1") as client:
        hub = {"host": "hooks.example.org", "origin": "https://hub.example"}
        checked = client.get("/websub/unknown?hub.mode=subscribe", headers=hub)
        pushed = client.post("/websub/unknown", content=b"x" * (MAX_BODY + 10), headers=hub)
        page = client.get("/stories", headers={"host": "hooks.example.org"})
        other = client.get("/stories", headers={"host": "evil.example"})
    store.close()
    assert (checked.status_code, pushed.status_code) == (404, 410)
    assert (page.status_code, other.status_code) == (200, 421)
