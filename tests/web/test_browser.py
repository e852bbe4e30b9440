"""The desk's site in a real browser (Chromium, headless), on SQLite and PostgreSQL: open
the stories, filter them, open a story, retry a failed delivery, run the playground and
see the highlight, and a hostile headline that stays inert. No page logs an error (a
blocked script or style would)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from monitors.store import Store
from tests.web.browser import chromium, require_browser, serving
from tests.web.conftest import HOSTILE_TITLE, World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser: Browser, world: World, store: Store) -> Iterator[tuple[Page, str, list[str]]]:
    """A new page on the world's site, its base URL, and what went wrong in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    with serving(world.config, store) as base:
        yield page, base, problems
    context.close()


def test_open_the_stories_filter_them_and_open_a_story(
    tab: tuple[Page, str, list[str]], world: World
) -> None:
    page, base, problems = tab
    page.goto(f"{base}/stories")
    rows = page.locator("table.stories tbody tr")
    assert rows.count() == 3
    page.select_option("select[name=lang]", "fr")
    page.click("button:has-text('Filter')")
    assert page.url == f"{base}/stories?rule=&site=&lang=fr&q="
    assert rows.all_inner_texts()[0].split("\t")[1] == "Les garanties de sécurité en débat à Paris"
    page.click("text=clear")
    page.click("text=Geneva talks yield security guarantees for Ukraine")
    assert page.url == f"{base}/stories/{world.geneva}"
    assert page.inner_text("h1") == "Geneva talks yield security guarantees for Ukraine"
    timeline = page.locator("ol.timeline > li")
    assert timeline.count() == 2
    assert "exact copy of #" in timeline.nth(1).inner_text()
    assert page.locator("section.alert mark").all_inner_texts() == ["security guarantees"]
    assert page.locator("table.deliveries .status").all_inner_texts() == ["sent"]
    assert problems == []


def test_retry_a_failed_delivery(tab: tuple[Page, str, list[str]], world: World) -> None:
    page, base, problems = tab
    page.goto(f"{base}/alerts?status=failed")
    alert = page.locator(f"#alert{world.hostile_alert}")
    assert alert.locator(".status").inner_text() == "failed"
    assert alert.locator("td.error").inner_text() == "refused by [secret]"
    alert.locator("button", has_text=f"Retry alert #{world.hostile_alert} now").click()
    assert page.url == f"{base}/alerts?status=failed&retried=1"
    assert page.inner_text("p.notice").startswith("1 delivery due now")
    assert page.locator("section.alert").count() == 0
    page.goto(f"{base}/stories/{world.hostile}")
    assert page.locator("table.deliveries .status").all_inner_texts() == ["pending"]
    assert problems == []


def test_run_the_playground_and_see_the_highlight(tab: tuple[Page, str, list[str]]) -> None:
    page, base, problems = tab
    page.goto(f"{base}/playground")
    page.fill("input[name=title]", "Kyiv asks for more")
    page.fill("textarea[name=text]", "The allies weigh security guarantees for Ukraine.")
    page.uncheck("input[value=donbas-withdrawal]")
    page.fill("textarea[name=query]", "allies NEAR/3 guarantees")
    page.click("button:has-text('Test')")
    verdicts = page.locator("article.verdict")
    verdicts.last.wait_for()  # the answer's page, not the form's, before reading it
    assert verdicts.locator("h3").all_inner_texts() == [
        "security-guarantees: matches Security guarantees",
        "(query): matches the query written",
    ]
    marks = verdicts.nth(0).locator("blockquote mark").all_inner_texts()
    assert marks == ["security guarantees", "Ukraine"]
    highlight = (
        verdicts.nth(0).locator("mark").first.evaluate("m => getComputedStyle(m).backgroundColor")
    )
    assert highlight == "rgb(255, 226, 122)"  # the stylesheet loaded under the CSP
    assert verdicts.nth(1).locator("mark").all_inner_texts() == ["allies", "guarantees"]
    assert page.input_value("textarea[name=query]") == "allies NEAR/3 guarantees"
    assert problems == []


def test_a_hostile_headline_renders_inert(tab: tuple[Page, str, list[str]], world: World) -> None:
    page, base, problems = tab
    for path in ("/stories", f"/stories/{world.hostile}", "/alerts"):
        page.goto(base + path)
        assert page.evaluate("typeof window.pwned") == "undefined", path
        assert page.locator("main script, main img").count() == 0, path
    assert page.locator(f"#alert{world.hostile_alert} h3").count() == 1
    page.goto(f"{base}/stories/{world.hostile}")
    assert page.inner_text("h1") == HOSTILE_TITLE
    title = page.locator("ol.timeline .title span").first
    assert title.inner_text() == HOSTILE_TITLE
    title.click()  # a javascript: URL is no link: nothing happens
    assert page.url == f"{base}/stories/{world.hostile}"
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert problems == []
