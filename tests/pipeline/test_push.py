"""WebSub push end to end on loopback: a news site whose feed names a hub, the loopback
hub, the desk's site answering at its callback, a webhook channel. Subscribe, check,
publish, renew, unsubscribe, lapse; forged, oversize and replayed pushes."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
import yaml
from typer.testing import CliRunner

from monitors.config import Config
from monitors.ingest import Fetcher
from monitors.pipeline import CycleReport, HubOutcome, Pipeline
from monitors.store import Store, Subscription
from monitors.store.schema import alerts, entries, feeds, push_subscriptions
from newsmon.cli import app
from newsmon.web import create_app
from tests.conftest import free_port, make_config
from tests.factories import pseudo_word
from tests.httpserver import LoopbackServer
from tests.websub_hub import LoopbackHub

TOKEN = "t" * 32


def article(n: int) -> tuple[str, str]:
    """A headline and page text of story `n`, matching the rule security-guarantees."""
    words = " ".join(pseudo_word(n, s) for s in range(3, 40))
    title = " ".join(pseudo_word(n, s) for s in range(3))
    text = f"{title}. Allies offered Kyiv security guarantees. {words}."
    return title, text


def atom(site: LoopbackServer, hub: str, numbers: list[int]) -> bytes:
    items = "".join(
        f"<entry><id>tag:news,{n}</id><title>{article(n)[0]}</title>"
        f'<link href="{site.url(f"/news/{n}.html")}"/>'
        f"<updated>2026-12-01T10:{n % 60:02d}:00Z</updated>"
        f"<summary>{article(n)[1]}</summary></entry>"
        for n in numbers
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>'
        f'<link rel="hub" href="{hub}"/><link rel="self" href="{site.url("/feed.xml")}"/>'
        f"<updated>2026-12-01T10:00:00Z</updated>{items}</feed>"
    ).encode()


@dataclass
class World:
    """The site, the hub, the hook, the desk's site and a store."""

    site: LoopbackServer
    hub: LoopbackHub
    hook: LoopbackServer
    store: Store
    config: Config
    desk: str

    @property
    def feed(self) -> str:
        return self.site.url("/feed.xml")

    def publish(self, numbers: list[int]) -> list[int]:
        """Put these stories in the feed and have the hub push it; each answer's status."""
        body = self.serve(numbers)
        return [p.status for p in self.hub.publish(self.feed, body)]

    def serve(self, numbers: list[int]) -> bytes:
        """The feed of these stories (their pages are missing: the summary stands in)."""
        body = atom(self.site, self.hub.url, numbers)
        self.site.add(
            "/feed.xml", body, headers={"Content-Type": "application/atom+xml"}, etag=f'"{numbers}"'
        )
        return body

    def cycle(self, config: Config | None = None, due_only: bool = False) -> CycleReport:
        async def go() -> CycleReport:
            async with Fetcher((config or self.config).fetch) as fetcher:
                pipeline = Pipeline(config or self.config, self.store, fetcher, retry_wait=0.01)
                return await pipeline.run_cycle(due_only=due_only)

        return asyncio.run(go())

    def pipeline_call(self, call: Callable[[Pipeline], Any]) -> Any:
        """Run `call` on a pipeline of this world (awaiting what it returns)."""

        async def go() -> Any:
            async with Fetcher(self.config.fetch) as fetcher:
                result = call(Pipeline(self.config, self.store, fetcher))
                return await result if asyncio.iscoroutine(result) else result

        return asyncio.run(go())

    def subscription(self) -> Subscription:
        with self.store.reading() as tx:
            [sub] = tx.subscriptions()
        return sub

    def feed_gets(self) -> int:
        return sum(r.path == "/feed.xml" for r in self.site.requests)

    def sent(self) -> list[dict[str, str]]:
        return [json.loads(r.body) for r in self.hook.requests if r.method == "POST"]

    def rows(self, table: sa.Table) -> list[Any]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(sa.select(table).order_by(table.c.id)))


def wait_until(done: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("not done in time")
        time.sleep(0.02)


@contextmanager
def serving(config: Config, store: Store) -> Iterator[None]:
    """The desk's site under uvicorn at the config's push.base_url."""
    port = int(str(config.push.base_url).rsplit(":", 1)[1])
    app = create_app(config, store, TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """A world maker: `world(lease=…, **push settings)`, its store on SQLite."""
    with ExitStack() as stack:

        def make(lease: int = 600, store_url: str | None = None, **push: Any) -> World:
            site = stack.enter_context(LoopbackServer())
            hub = stack.enter_context(LoopbackHub(lease=lease))
            hook = stack.enter_context(LoopbackServer())
            hook.add("/hook", b"")
            url = store_url or f"sqlite:///{tmp_path / 'push.db'}"
            channel = "json://" + hook.url("/hook").removeprefix("http://")
            base = f"http://127.0.0.1:{free_port()}"
            config = make_config(
                url,
                [site.url("/feed.xml")],
                channel,
                push={"base_url": base, **push},
                extract={"workers": 1},
            )
            store = Store.open(url)
            stack.callback(store.close)
            stack.enter_context(serving(config, store))
            made = World(site, hub, hook, store, config, base)
            made.serve([1])
            return made

        yield make


def subscribed(make: Callable[..., World], **options: Any) -> World:
    """A world after its first cycle: story 1 polled, the feed subscribed."""
    made = make(**options)
    report = made.cycle()
    assert [h.action for h in report.hubs] == ["subscribe"]
    assert made.subscription().state == "active"
    return made


def test_a_push_alerts_at_once_without_a_poll_and_a_later_poll_adds_nothing(
    world: Callable[..., World],
) -> None:
    w = subscribed(world)
    [request] = w.hub.requests
    sub = w.subscription()
    assert request["hub.callback"] == f"{w.desk}/websub/{sub.callback_id}"
    assert request["hub.topic"] == w.feed and request["hub.secret"] == sub.secret
    assert request["hub.lease_seconds"] == str(86400)
    assert w.hub.checks == [("subscribe", w.feed, 200, True)]
    assert len(w.sent()) == 1  # story 1, polled
    gets = w.feed_gets()
    assert w.publish([1, 2]) == [202]
    wait_until(lambda: len(w.sent()) == 2)
    assert w.feed_gets() == gets  # no poll: the push alone
    pushed = w.rows(alerts)[-1]
    assert pushed.seen_via == "push" and pushed.headline == article(2)[0]
    assert pushed.published_at is not None and pushed.seen_at is not None
    assert [e.seen_via for e in w.rows(entries)] == ["poll", "push"]
    report = w.cycle()  # a poll sees the pushed story: nothing new
    assert [f.status for f in report.feeds] == ["new"] and report.new_entries == 0
    assert report.alerts == 0 and len(w.sent()) == 2


def test_a_pushed_feed_is_polled_at_the_safety_interval(world: Callable[..., World]) -> None:
    w = subscribed(world, safety_interval="2h")
    [row] = w.rows(feeds)
    assert row.next_due_at - row.last_polled_at >= timedelta(hours=2) - timedelta(seconds=5)
    assert [f.status for f in w.cycle(due_only=True).feeds] == ["not due"]


def test_a_push_without_a_valid_signature_is_ignored_and_logged(
    world: Callable[..., World], caplog: pytest.LogCaptureFixture
) -> None:
    w = subscribed(world)
    before = (w.rows(entries), w.rows(push_subscriptions))
    w.hub.sign_with = "a guess"
    with caplog.at_level(logging.WARNING):
        assert w.publish([1, 2]) == [202]  # a 2xx: a forger learns nothing
    w.hub.sign_with = ""
    assert w.publish([1, 2]) == [202]
    assert (w.rows(entries), w.rows(push_subscriptions)) == before
    assert "no valid X-Hub-Signature" in caplog.text
    assert len(w.sent()) == 1


def test_a_push_signed_with_sha1_is_taken(world: Callable[..., World]) -> None:
    w = subscribed(world)
    w.hub.algorithm = "sha1"
    assert w.publish([1, 2]) == [202]
    wait_until(lambda: len(w.sent()) == 2)


def test_an_oversize_push_is_refused_and_stores_nothing(world: Callable[..., World]) -> None:
    w = subscribed(world, max_bytes=3000)
    before = (w.rows(entries), w.rows(push_subscriptions))
    assert w.publish(list(range(1, 12))) == [413]
    assert (w.rows(entries), w.rows(push_subscriptions)) == before


def test_a_replayed_push_changes_nothing(world: Callable[..., World]) -> None:
    w = subscribed(world)
    assert w.publish([1, 2]) == [202]
    wait_until(lambda: len(w.sent()) == 2)
    before = (w.rows(entries), w.rows(alerts), w.rows(push_subscriptions))
    assert w.hub.replay(w.hub.pushes[-1]) == 202
    assert w.pipeline_call(lambda p: p.push.settled()) is None
    assert (w.rows(entries), w.rows(alerts), w.rows(push_subscriptions)) == before
    assert len(w.sent()) == 2


def test_a_lease_is_renewed_before_it_ends_with_the_same_secret(
    world: Callable[..., World],
) -> None:
    w = subscribed(world, renew_before="5m")
    first = w.subscription()
    assert first.expires_at is not None
    early = first.expires_at - timedelta(minutes=6)
    assert w.pipeline_call(lambda p: p.push.maintain(now=early)) == []
    due = first.expires_at - timedelta(minutes=4)
    renewed = w.pipeline_call(lambda p: p.push.maintain(now=due))
    assert renewed == [HubOutcome(w.feed, w.hub.url, "renew", "requested")]
    second = w.subscription()
    assert second.state == "active" and second.secret == first.secret
    assert second.expires_at is not None and second.expires_at > first.expires_at
    assert [r["hub.mode"] for r in w.hub.requests] == ["subscribe", "subscribe"]


def test_a_feed_that_leaves_the_config_is_unsubscribed(world: Callable[..., World]) -> None:
    w = subscribed(world)
    callback = f"{w.desk}/websub/{w.subscription().callback_id}"
    without = w.config.model_copy(update={"feeds": []})
    report = w.cycle(without)
    assert report.hubs == [HubOutcome(w.feed, w.hub.url, "unsubscribe", "requested")]
    assert w.hub.requests[-1] == {
        "hub.mode": "unsubscribe",
        "hub.topic": w.feed,
        "hub.callback": callback,
    }
    assert w.subscription().state == "unsubscribed" and not w.hub.subscriptions
    assert w.cycle(without).hubs == []  # once


def test_when_a_lease_lapses_the_feed_is_polled_again(world: Callable[..., World]) -> None:
    w = subscribed(world)
    assert [f.status for f in w.cycle(due_only=True).feeds] == ["not due"]
    sub = w.subscription()
    assert sub.expires_at is not None
    w.pipeline_call(lambda p: p.push.lapse(now=sub.expires_at + timedelta(seconds=1)))
    assert w.subscription().state == "lapsed"
    report = w.cycle(due_only=True)
    assert [f.status for f in report.feeds] == ["unchanged"]
    assert [h.action for h in report.hubs] == ["subscribe"]  # and asked again


def test_a_failing_hub_leaves_the_feed_polled_as_usual(world: Callable[..., World]) -> None:
    w = world()
    w.hub.refuse = 503
    report = w.cycle()
    assert report.hubs == [HubOutcome(w.feed, w.hub.url, "subscribe", "failed", "HTTP 503")]
    sub = w.subscription()
    assert sub.state == "failed" and sub.failures == 1 and sub.next_request_at is not None
    assert w.cycle().hubs == []  # not asked again before the backoff
    [row] = w.rows(feeds)
    assert row.next_due_at - row.last_polled_at <= timedelta(minutes=30)


def test_a_renewal_the_hub_refuses_brings_polling_back_at_once(
    world: Callable[..., World],
) -> None:
    w = subscribed(world)
    w.hub.refuse = 500
    sub = w.subscription()
    assert sub.next_request_at is not None
    [failed] = w.pipeline_call(lambda p: p.push.maintain(now=sub.next_request_at))
    assert failed.status == "failed" and w.subscription().state == "failed"
    assert [f.status for f in w.cycle(due_only=True).feeds] == ["unchanged"]


def test_checks_of_intent_are_answered_only_for_the_awaited_request(
    world: Callable[..., World],
) -> None:
    w = subscribed(world)
    callback = f"{w.desk}/websub/{w.subscription().callback_id}"
    assert not w.hub.check("subscribe", w.feed, callback)  # none awaited now
    assert not w.hub.check("unsubscribe", w.feed, callback)
    assert not w.hub.check("subscribe", w.feed, f"{w.desk}/websub/unknown")
    assert [c[2] for c in w.hub.checks[1:]] == [404, 404, 404]
    assert w.hub.deny(w.site.url("/other.xml"), callback, "no") == 404
    assert w.hub.deny(w.feed, callback, "quota") == 200
    denied = w.subscription()
    assert denied.state == "denied" and denied.last_error == "denied by the hub: quota"
    assert [f.status for f in w.cycle(due_only=True).feeds] == ["unchanged"]


def test_a_push_to_no_subscription_is_gone(world: Callable[..., World]) -> None:
    w = subscribed(world)
    sub = w.hub.subscriptions[(w.feed, f"{w.desk}/websub/{w.subscription().callback_id}")]
    sub.callback = f"{w.desk}/websub/unknown"
    assert w.publish([1, 2]) == [410]


def test_a_push_alerts_on_either_store(world: Callable[..., World], store_url: str) -> None:
    w = subscribed(world, store_url=store_url)
    assert w.publish([1, 2]) == [202]
    wait_until(lambda: len(w.sent()) == 2)


def test_feeds_shows_each_feeds_push_subscription(
    world: Callable[..., World], tmp_path: Path
) -> None:
    w = subscribed(world)
    path = tmp_path / "feeds.yaml"
    raw = {"store": str(w.config.store), "feeds": [{"url": w.feed}], "rules": []}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    listed = CliRunner().invoke(app, ["feeds", "--config", str(path)], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert "active until" in listed.output
    w.hub.refuse = 503
    sub = w.subscription()
    w.pipeline_call(lambda p: p.push.maintain(now=sub.next_request_at))
    listed = CliRunner().invoke(app, ["feeds", "--config", str(path)], env={"COLUMNS": "300"})
    assert "failed: HTTP 503" in listed.output
