"""One story, many outlets: one alert per rule, copies silent, updates only for news."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from monitors.config import Config
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store
from monitors.store.schema import alerts, articles, decisions, stories
from newsmon.cli import app
from newsmon.demo import FEEDS, SITE, demo_config
from newsmon.loopback import StaticSite, WebhookReceiver
from tests.conftest import make_config
from tests.httpserver import LoopbackServer


def cycle(cfg: Config, store: Store) -> CycleReport:
    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher).run_cycle()

    return asyncio.run(go())


def test_one_story_through_four_outlets_over_three_cycles(tmp_path: Path) -> None:
    """Cycle 1: the wire. Cycle 2: two verbatim copies in other chrome, one linked with
    utm_ parameters. Cycle 3: two write-ups, one a day later with a new development."""
    store_url = f"sqlite:///{tmp_path / 'story.db'}"
    with StaticSite(SITE) as site, WebhookReceiver() as desk:
        full = demo_config(site.base, desk.apprise_url, store_url)
        wire, herald, northgate, cbn, _ledger = full.feeds
        store = Store.open(store_url)
        for feeds in ([wire], [wire, herald, northgate], [wire, herald, northgate, cbn]):
            cycle(full.model_copy(update={"feeds": feeds}), store)
        received = list(desk.received)
        with store.engine.begin() as conn:
            made = conn.execute(sa.select(alerts.c.rule_id, alerts.c.kind)).all()
            kinds = [r.kind for r in conn.execute(sa.select(decisions.c.kind))]
        store.close()
    rules = {r.id for r in full.rules}
    assert sorted(r for r, kind in made if kind == "new") == sorted(rules)
    assert all(sum(1 for r, k in made if r == rule and k == "update") <= 2 for rule in rules)
    assert len(received) == len(made)
    assert kinds.count("exact copy") + kinds.count("near duplicate") == 2
    assert kinds.count("same story") == 2
    for payload in received:
        assert "Meridian Wire" in payload["message"]
        if "Update" in payload["title"]:
            assert "New:" in payload["message"]


ARTICLE = """<html><head><title>{title}</title></head><body><article>{body}</article>
</body></html>"""
FIRST = [
    "Allies offered Kyiv security guarantees modelled on Article 5 on Thursday, officials "
    "in Geneva said, after talks between envoys of Ukraine, the United States and France.",
    "The draft would bind Washington, Paris and Berlin to come to Ukraine's aid if attacked.",
    "Officials said the talks in Geneva would continue next week.",
]
LATER = [
    "Allies offered Kyiv security guarantees modelled on Article 5, officials in Geneva "
    "said, after talks between envoys of Ukraine, the United States and France.",
    "On Friday Senator Ruth Calloway said the security guarantees would need 67 votes, "
    "and Marek Dvorak of Warsaw pledged 4,000 troops to back the security guarantees.",
    "The draft would bind Washington, Paris and Berlin to come to Ukraine's aid if attacked.",
]


def serve_reports(server: LoopbackServer, title: str, first_delay: float = 0.0) -> None:
    """The first report at /a1.html (answered after `first_delay` s), the later at /a2.html
    (its title tells what came since)."""
    for n, paragraphs, delay in ((1, FIRST, first_delay), (2, LATER, 0.0)):
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        headline = title if n == 1 else f"{title}, senators weigh vote"
        page = ARTICLE.format(title=headline, body=body).encode()
        server.add(f"/a{n}.html", page, delay=delay)


def item(base: str, n: int, title: str, date: str) -> str:
    return (
        f"<item><title>{title}</title><link>{base}/a{n}.html</link><guid>a{n}</guid>"
        f"<pubDate>{date}</pubDate></item>"
    )


def test_a_later_development_is_an_update_that_names_what_is_new(
    store_url: str, store: Store
) -> None:
    title = "Allies offer Kyiv Article 5 security guarantees in Geneva talks"
    with LoopbackServer() as server, LoopbackServer() as hook:
        hook.add("/hook", b"")
        base = server.base_url
        serve_reports(server, title)
        feed = "<rss version='2.0'><channel><title>T</title>{}</channel></rss>"
        one = item(base, 1, title, "Thu, 19 Nov 2026 09:00:00 GMT")
        two = item(base, 2, title + ", senators weigh vote", "Fri, 20 Nov 2026 10:00:00 GMT")
        route = server.add("/feed.xml", feed.format(one).encode())
        cfg = make_config(
            store_url,
            [server.url("/feed.xml")],
            "json://" + hook.url("/hook").removeprefix("http://"),
        )
        cycle(cfg, store)
        route.body = feed.format(two + one).encode()
        cycle(cfg, store)
        posts = [json.loads(r.body) for r in hook.requests]
    assert [p["title"].split(":")[0] for p in posts] == [
        "[newsmon] Security guarantees",
        "[newsmon] Update",
    ]
    first, update = posts[0]["message"], posts[1]["message"]
    assert "New:" in update and "Ruth Calloway" in update and "67" in update
    number = first.split("Alert #")[1].split()[0]
    assert f"Follows alert #{number}" in update


def test_stories_commands_explain_each_decision(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'newsmon.db'}"
    with StaticSite(SITE) as site, WebhookReceiver() as desk:
        cfg = demo_config(site.base, desk.apprise_url, store_url)
        store = Store.open(store_url)
        cycle(cfg, store)
        with store.engine.begin() as conn:
            biggest = conn.scalar(sa.select(stories.c.id).order_by(stories.c.articles.desc()))
        store.close()
        path = tmp_path / "newsmon.yaml"
        path.write_text(
            json.dumps(
                {
                    "store": store_url,
                    "feeds": [{"url": f.url} for f in cfg.feeds],
                    "rules": [{"id": r.id, "query": r.query, "notify": []} for r in cfg.rules],
                    "aliases": cfg.aliases,
                }
            )
        )
    runner = CliRunner()
    listing = runner.invoke(app, ["stories", "--since", "2000-01-01", "--config", str(path)])
    assert listing.exit_code == 0, listing.output
    assert "Geneva" in listing.output
    assert "| en |" in listing.output  # each article's language
    shown = runner.invoke(app, ["stories", "show", str(biggest), "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    for words in ("exact copy", "same story", "new story", "score", "Meridian Wire", "http"):
        assert words in shown.output
    assert "alert #" in listing.output and "Meridian Wire" in listing.output
    assert len(FEEDS) == 5


def test_the_first_report_alerts_first_whichever_page_loads_first(
    store_url: str, store: Store
) -> None:
    """Both reports come in one cycle; the earlier one's page is slower to load."""
    title = "Allies offer Kyiv Article 5 security guarantees in Geneva talks"
    with LoopbackServer() as server, LoopbackServer() as hook:
        hook.add("/hook", b"")
        base = server.base_url
        serve_reports(server, title, first_delay=1.0)
        one = item(base, 1, title, "Thu, 19 Nov 2026 09:00:00 GMT")
        two = item(base, 2, title + ", senators weigh vote", "Fri, 20 Nov 2026 10:00:00 GMT")
        feed = f"<rss version='2.0'><channel><title>T</title>{two}{one}</channel></rss>"
        server.add("/feed.xml", feed.encode())
        cfg = make_config(
            store_url,
            [server.url("/feed.xml")],
            "json://" + hook.url("/hook").removeprefix("http://"),
        )
        cycle(cfg, store)
        posts = [json.loads(r.body) for r in hook.requests]
    assert [p["title"] for p in posts] == [
        f"[newsmon] Security guarantees: {title}",
        f"[newsmon] Update: Security guarantees: {title}, senators weigh vote",
    ]


def test_stories_show_lists_entries_skipped_as_the_same_url(
    tmp_path: Path, site: LoopbackServer
) -> None:
    """The wire feed lists a story's page again, with tracking parameters: whichever
    listing is polled second is never fetched, and `stories show` says so on the story."""
    store_url = f"sqlite:///{tmp_path / 'newsmon.db'}"
    feeds = [site.url("/site/world.xml"), site.url("/site/wire.xml")]
    cfg = make_config(store_url, feeds, "json://127.0.0.1:9/x")
    store = Store.open(store_url)
    cycle(cfg, store)
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(articles.c.story_id, articles.c.canonical_url)).all()
    story_id = next(r.story_id for r in rows if r.canonical_url.endswith("/guarantees.html"))
    store.close()
    path = tmp_path / "newsmon.yaml"
    path.write_text(json.dumps({"store": store_url, "feeds": [{"url": u} for u in feeds]}))
    shown = CliRunner().invoke(
        app, ["stories", "show", str(story_id), "--config", str(path)], terminal_width=200
    )
    assert shown.exit_code == 0, shown.output
    assert "same URL as article" in shown.output and "not fetched" in shown.output


def test_a_page_keeps_its_own_headline_whichever_feed_lists_it_first(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    """An aggregator lists the outlet's page first, under a headline of its own; the
    article, its story and its alert take the page's title, and both feeds are named."""
    real = "Allies offer Kyiv Article 5 security guarantees in Geneva talks"
    spun = "SHOCK: Kyiv security guarantees deal is a trap, insiders say"
    with LoopbackServer() as outlet, LoopbackServer() as aggregator, LoopbackServer() as hook:
        hook.add("/hook", b"")
        body = "".join(f"<p>{p}</p>" for p in FIRST)
        page = ARTICLE.format(title=f"{real} | Meridian Wire", body=body).replace(
            "<head>", '<head><meta property="og:site_name" content="Meridian Wire">'
        )
        outlet.add("/a1.html", page.encode())
        date = "Thu, 19 Nov 2026 09:00:00 GMT"
        for server, title, delay in ((aggregator, spun, 0.0), (outlet, real, 0.5)):
            channel = "<rss version='2.0'><channel><title>T</title>{}</channel></rss>"
            listing = item(outlet.base_url, 1, title, date)
            server.add("/feed.xml", channel.format(listing).encode(), delay=delay)
        feeds = [
            {"name": "Aggregator", "url": aggregator.url("/feed.xml")},
            {"name": "Meridian Wire", "url": outlet.url("/feed.xml")},
        ]
        cfg = make_config(store_url, feeds, "json://" + hook.url("/hook").removeprefix("http://"))
        cycle(cfg, store)
        posts = [json.loads(r.body) for r in hook.requests]
    with store.engine.begin() as conn:
        (title, story_id), *_ = conn.execute(sa.select(articles.c.title, articles.c.story_id))
        headline = conn.execute(sa.select(stories.c.headline)).scalar_one()
        alerted = conn.execute(sa.select(alerts.c.headline)).scalar_one()
    assert title == headline == alerted == real
    assert [p["title"] for p in posts] == [f"[newsmon] Security guarantees: {real}"]

    path = tmp_path / "show.yaml"
    path.write_text(json.dumps({"store": store_url, "feeds": feeds}))
    runner = CliRunner()
    show = ["stories", "show", str(story_id), "--config", str(path)]
    shown = runner.invoke(app, show, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    listed = shown.output.split("listed by feed")[1].split("└")[0]  # that table
    assert listed.index("Aggregator") < listed.index("Meridian Wire"), shown.output
    exported = runner.invoke(app, ["stories", "--json", "--config", str(path)])
    assert exported.exit_code == 0, exported.output
    (article,) = json.loads(exported.output)["articles"]
    assert article["title"] == real
    assert [(f["name"], f["url"]) for f in article["feeds"]] == [
        (f["name"], f["url"]) for f in feeds
    ]
    assert article["feeds"][0]["first_listed"] <= article["feeds"][1]["first_listed"]
