"""A cycle and a backfill over an article that the matching limits cut: it is recorded
with the matches found before the cut, and the cut is noted in the report, the CLI's and
the poll flow's, and in the backfill's outcome."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from flows.report import poll_markdown
from monitors import backfill as bf
from monitors.config import Config
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, Outcome, Pipeline, open_pipeline, run_backfill
from monitors.store import Store
from newsmon.backfill_cli import print_outcome
from newsmon.report import print_report
from tests.conftest import TEST_RULES, make_config
from tests.httpserver import LoopbackServer

SINCE = datetime(2000, 1, 1, tzinfo=UTC)
CHAIN = " NEAR/1000 ".join(["(alpha OR beta OR gamma)"] * 40)  # seconds on 20,000 characters
FEED = """<rss version="2.0"><channel><title>Wire</title><item><title>Allies offer Kyiv
security guarantees</title><link>{link}</link></item></channel></rss>"""


def page() -> bytes:
    """An article whose first paragraph matches, then 40 KB of the chain's words, then a
    paragraph that would match another rule."""
    filler = "".join(
        f"<p>{' '.join(['Alpha beta gamma'] * 12)} number {i}.</p>" for i in range(200)
    )
    return (
        "<!doctype html><html lang='en'><head>"
        "<title>Allies offer Kyiv security guarantees</title></head><body><article>"
        "<h1>Allies offer Kyiv security guarantees</h1>"
        "<p>Allies offered Kyiv security guarantees in a draft accord on Friday, officials"
        " said after talks that ran late into the night.</p>"
        f"{filler}<p>Ukrainian troops would pull back from Donbas under the plan.</p>"
        "</article></body></html>"
    ).encode()


def run_cycle(cfg: Config, store: Store) -> CycleReport:
    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher, retry_wait=0.01).run_cycle()

    return asyncio.run(go())


def test_an_article_cut_by_the_limits_alerts_on_what_was_read_and_says_so(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'limits.db'}")
    with LoopbackServer() as site, LoopbackServer() as hook:
        hook.add("/hook", b"")
        site.add("/feed.xml", FEED.format(link=site.url("/long.html")).encode())
        site.add("/long.html", page(), headers={"Content-Type": "text/html; charset=utf-8"})
        rules = [*TEST_RULES, {"id": "chain", "query": CHAIN, "notify": ["desk"]}]
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        cfg = make_config(
            str(store.engine.url),
            [site.url("/feed.xml")],
            channel,
            rules=rules,
            matching={"max_chars": 20_000, "timeout": 0.3},
        )
        report = run_cycle(cfg, store)
        posts = [json.loads(r.body) for r in hook.requests if r.method == "POST"]
    store.close()
    assert [p["title"] for p in posts] == [
        "[newsmon] Security guarantees: Allies offer Kyiv security guarantees"
    ]
    [entry] = report.matched_in_part
    assert entry.outcome == "article" and entry.url == site.url("/long.html")
    assert entry.matching_cut is not None
    assert entry.matching_cut.startswith("text cut at character 19,9")
    assert entry.matching_cut.endswith(
        "; time limit of 0.3 s reached: 1 rule not evaluated (chain)"
    )
    assert report.summary()["matched_in_part"] == 1
    console = Console(file=io.StringIO(), width=300)
    print_report(report, console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "articles matched in part" in printed and entry.matching_cut in printed
    markdown = poll_markdown(report, {})
    assert f"| {site.url('/long.html')} | {entry.matching_cut} |" in markdown


def test_a_backfill_says_which_pages_it_matched_in_part(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'limits.db'}")
    listing = tmp_path / "urls.txt"
    with LoopbackServer() as site:
        site.add("/long.html", page(), headers={"Content-Type": "text/html; charset=utf-8"})
        listing.write_text(site.url("/long.html") + "\n")
        rules = [*TEST_RULES, {"id": "chain", "query": CHAIN, "notify": ["desk"]}]
        cfg = make_config(
            str(store.engine.url),
            [],
            "json://127.0.0.1:9/x",
            rules=rules,
            matching={"max_chars": 20_000, "timeout": 0.3},
        )
        request = bf.Request(bf.Window(SINCE), "urls", str(listing))

        async def go() -> Outcome:
            async with open_pipeline(cfg, store) as pipeline:
                return (await run_backfill(pipeline, request))[0]

        outcome = asyncio.run(go())
    store.close()
    assert [f.rule_id for f in outcome.fired] == ["security-guarantees"]
    [(url, cut)] = outcome.matched_in_part
    assert url == site.url("/long.html") and cut.startswith("text cut at character 19,9")
    console = Console(file=io.StringIO(), width=300)
    print_outcome(outcome, as_json=False, console=console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"matched in part: {url}: {cut}" in printed
