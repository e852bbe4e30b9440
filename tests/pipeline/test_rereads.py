"""An entry its feed changes in place (same GUID, new title) has its page read again: a
development in the new text makes one update alert, a restatement or an unchanged page
none, and the same feed again nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from monitors.config import Config
from monitors.store import Store, utcnow
from monitors.store.schema import alerts, article_revisions, articles, decisions, entries, feeds
from newsmon.cli import app
from tests.conftest import make_config
from tests.httpserver import LoopbackServer
from tests.pipeline.test_pipeline import hook_posts, receiver, run_cycle

SENATE_RULE = {
    "id": "senate-ratification",
    "title": "Senate ratification",
    "query": "Senate AND (ratif* OR vote*) AND (Ukrain* OR guarantee*)",
    "notify": ["desk"],
}
TO_VOTE = "Senate to vote on Ukraine guarantees"
RATIFIED = "Senate ratifies Ukraine guarantees"
BEFORE = (
    "WASHINGTON - The Senate is set to vote on Thursday on the security guarantees treaty "
    "with Ukraine, the majority leader said on Tuesday. Supporters of the treaty say they "
    "expect it to pass, though several senators have yet to say how they will vote. "
    "The treaty commits the United States to come to Ukraine's aid if it is attacked again."
)
RESTATED = (
    "WASHINGTON - A Senate vote on the security guarantees treaty with Ukraine is set for "
    "Thursday, the majority leader said on Tuesday. Backers of the treaty say they expect "
    "it to pass, though several senators have yet to say how they will vote. The treaty "
    "commits the United States to come to Ukraine's aid if it is attacked again."
)
AFTER = (
    "WASHINGTON - The Senate ratified the security guarantees treaty with Ukraine on "
    "Thursday by a vote of 81 to 17, sending it to President Harris for her signature. "
    "The treaty commits the United States to come to Ukraine's aid if it is attacked again. "
    "Opponents had sought to delay the ratification until after the spring recess."
)


def page(title: str, text: str, base: str) -> bytes:
    paragraphs = "".join(f"<p>{s}.</p>" for s in text.split(". "))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<link rel='canonical' href='{base}/live.html'></head><body><main><article>"
        f"<h1>{title}</h1>{paragraphs}</article></main></body></html>"
    ).encode()


def feed(title: str, base: str, published: str, path: str = "/live.html") -> bytes:
    item = (
        f"<item><title>{title}</title><link>{base}{path}</link><guid>senate-live</guid>"
        f"<pubDate>{published}</pubDate><description>{title}.</description></item>"
    )
    return f"<rss version='2.0'><channel><title>T</title>{item}</channel></rss>".encode()


class Desk:
    """A news site with one live story, its feed and page changed between cycles."""

    def __init__(self, store_url: str, store: Store, **poll: Any) -> None:
        self.store = store
        self.site = LoopbackServer().__enter__()
        self.hook = receiver().__enter__()
        base = self.site.base_url
        self.published = format_datetime(utcnow() - timedelta(hours=2))
        self.feed = self.site.add("/feed.xml", feed(TO_VOTE, base, self.published))
        self.page = self.site.add("/live.html", page(TO_VOTE, BEFORE, base))
        self.page.headers["Content-Type"] = "text/html; charset=utf-8"
        channel = "json://" + self.hook.url("/hook").removeprefix("http://")
        self.cfg: Config = make_config(
            store_url,
            [self.site.url("/feed.xml")],
            channel,
            rules=[SENATE_RULE],
            poll={"reread_after": 0.001, **poll},
        )

    def change(self, title: str, text: str) -> None:
        base = self.site.base_url
        self.feed.body = feed(title, base, self.published)
        self.page.body = page(title, text, base)

    def cycle(self) -> list[dict[str, str]]:
        """The alerts this cycle sent."""
        sent = len(hook_posts(self.hook))
        run_cycle(self.cfg, self.store)
        return hook_posts(self.hook)[sent:]

    def revised(self) -> None:
        """A first cycle, the story changed to its ratification, a second cycle; closed."""
        try:
            self.cycle()
            self.change(RATIFIED, AFTER)
            self.cycle()
        finally:
            self.close()

    def close(self) -> None:
        self.site.__exit__(None, None, None)
        self.hook.__exit__(None, None, None)

    def kinds(self) -> list[tuple[str, str]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(alerts.c.kind, alerts.c.headline).order_by(alerts.c.id))
            return [tuple(r) for r in rows]  # type: ignore[misc]

    def decided(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return list(conn.scalars(sa.select(decisions.c.kind).order_by(decisions.c.id)))


def test_a_story_updated_in_place_alerts_its_development_once(store_url: str, store: Store) -> None:
    desk = Desk(store_url, store)
    try:
        first = desk.cycle()
        desk.change(RATIFIED, AFTER)
        second = desk.cycle()
        third = desk.cycle()  # the feed as it was: nothing changed
    finally:
        desk.close()
    assert [p["title"] for p in first] == [f"[newsmon] Senate ratification: {TO_VOTE}"]
    assert len(second) == 1
    assert RATIFIED in second[0]["title"]
    assert "81" in second[0]["message"]
    assert third == []
    assert desk.kinds() == [("new", TO_VOTE), ("update", RATIFIED)]
    assert "revised" in desk.decided()
    with store.engine.connect() as conn:
        article = conn.execute(sa.select(articles.c.title, articles.c.revision)).one()
        earlier = conn.execute(sa.select(article_revisions.c.title)).scalars().all()
        entry = conn.execute(sa.select(entries.c.status, entries.c.rereads)).one()
    assert tuple(article) == (RATIFIED, 1)
    assert earlier == [TO_VOTE]
    assert tuple(entry) == ("done", 1)


def test_a_link_moved_with_its_headline_revises_the_same_article(
    store_url: str, store: Store
) -> None:
    desk = Desk(store_url, store)
    try:
        desk.cycle()
        base = desk.site.base_url
        desk.feed.body = feed(RATIFIED, base, desk.published, path="/senate-ratifies.html")
        moved = desk.site.add("/senate-ratifies.html", page(RATIFIED, AFTER, base))
        moved.headers["Content-Type"] = "text/html; charset=utf-8"
        second = desk.cycle()
    finally:
        desk.close()
    assert len(second) == 1
    assert RATIFIED in second[0]["title"]
    assert desk.kinds() == [("new", TO_VOTE), ("update", RATIFIED)]
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(articles.c.title, articles.c.revision)).all()
    assert [tuple(r) for r in stored] == [(RATIFIED, 1)]


def test_stories_show_tells_the_article_was_revised(store: Store, tmp_path: Path) -> None:
    store_url = str(store.engine.url.render_as_string(hide_password=False))
    Desk(store_url, store).revised()
    with store.engine.connect() as conn:
        story_id = conn.scalar(sa.select(articles.c.story_id))
    path = tmp_path / "newsmon.yaml"
    path.write_text(json.dumps({"store": store_url, "feeds": [{"url": "https://x.example/"}]}))
    shown = CliRunner().invoke(
        app, ["stories", "show", str(story_id), "--config", str(path)], terminal_width=250
    )
    assert shown.exit_code == 0, shown.output
    assert "revised" in shown.output
    assert "page changed; article" in shown.output


def test_a_revision_that_only_restates_alerts_nobody(store_url: str, store: Store) -> None:
    desk = Desk(store_url, store)
    try:
        desk.cycle()
        desk.change("Senate set to vote on Ukraine guarantees on Thursday", RESTATED)
        again = desk.cycle()
    finally:
        desk.close()
    assert again == []
    assert desk.kinds() == [("new", TO_VOTE)]
    assert desk.decided()[-2:] == ["revised", "no update"]


def test_a_new_title_on_an_unchanged_page_alerts_nobody(store_url: str, store: Store) -> None:
    desk = Desk(store_url, store)
    try:
        desk.cycle()
        desk.feed.body = feed(RATIFIED, desk.site.base_url, desk.published)  # the page stays
        again = desk.cycle()
    finally:
        desk.close()
    assert again == []
    assert desk.decided()[-1] == "unchanged"
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(articles.c.revision)) == 0
        assert conn.scalar(sa.select(entries.c.rereads)) == 1


def test_rereads_off_keep_the_first_text(store_url: str, store: Store) -> None:
    desk = Desk(store_url, store, reread=0)
    try:
        desk.cycle()
        desk.change(RATIFIED, AFTER)
        again = desk.cycle()
    finally:
        desk.close()
    assert again == []
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(articles.c.title)) == TO_VOTE
        assert conn.scalar(sa.select(entries.c.rereads)) == 0


def test_the_update_says_what_is_new_and_counts_from_the_change_seen(
    store_url: str, store: Store
) -> None:
    Desk(store_url, store).revised()
    with store.engine.connect() as conn:
        made = conn.execute(sa.select(alerts).order_by(alerts.c.id)).all()
        seen = conn.execute(sa.select(entries.c.first_seen_at, entries.c.reread_at)).one()
    first, update = made
    assert json.loads(update.new_facts)
    assert (first.seen_at, update.seen_at) == tuple(seen)  # latency: from the change seen
    assert update.published_at is None  # the page's date is the first text's


def test_an_entry_read_again_is_not_a_new_item_for_adaptive_polling(
    store_url: str, store: Store
) -> None:
    desk = Desk(store_url, store)
    try:
        desk.cycle()
        with store.engine.connect() as conn:
            first = conn.execute(sa.select(feeds.c.interval, feeds.c.items_per_day)).one()
        desk.change(RATIFIED, AFTER)
        desk.cycle()  # the one entry read again: no new item
        with store.engine.connect() as conn:
            second = conn.execute(sa.select(feeds.c.interval, feeds.c.items_per_day)).one()
            rereads = conn.scalar(sa.select(entries.c.rereads))
    finally:
        desk.close()
    assert rereads == 1
    assert second.interval > first.interval  # a poll with nothing new: polled less often
    assert second.items_per_day == first.items_per_day == 0.0
