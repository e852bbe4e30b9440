"""Every page of the site on the demo's kept store (SQLite, read through the config the
demo keeps beside it) and on the recorded scenario's store (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from lxml import html
from rich.console import Console
from starlette.testclient import TestClient

from monitors import config as config_mod
from monitors.config import Config
from monitors.store import Store
from newsmon.demo import run_demo
from newsmon.web import create_app
from tests import scenario


def visit_every_page(config: Config) -> dict[str, html.HtmlElement]:
    """Each page, and each story's and its link targets' pages, by path: all answer 200."""
    store = Store.open(config.store)
    seen: dict[str, html.HtmlElement] = {}
    try:
        with TestClient(create_app(config, store), base_url="http://127.0.0.1") as client:
            todo = ["/stories", "/alerts", "/feeds", "/playground"]
            while todo:
                path = todo.pop()
                if path in seen:
                    continue
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.text)
                seen[path] = tree = html.fromstring(answer.text)
                todo += [
                    link.split("#")[0]
                    for link in tree.xpath("//main//a/@href")
                    if link.startswith("/stories/")
                ]
    finally:
        store.close()
    return seen


def test_every_page_on_the_demos_kept_store(tmp_path: Path) -> None:
    run_demo(Console(file=open(tmp_path / "out.txt", "w")), tmp_path)  # noqa: SIM115
    config = config_mod.load(tmp_path / "newsmon.yaml", env={})
    assert config.store == f"sqlite:///{(tmp_path / 'newsmon.db').resolve()}"
    pages = visit_every_page(config)
    stories = [p for p in pages if p.startswith("/stories/")]
    assert len(stories) == 8  # the Geneva story and the seven unrelated ones
    feeds = pages["/feeds"].xpath("//table[@class='feeds'][1]/tbody/tr")
    assert len(feeds) == 5 and not pages["/feeds"].xpath("//h2")
    assert all(row.xpath("td")[1].text_content().strip() for row in feeds)  # polled


def test_every_page_on_the_scenario_store(store_url: str) -> None:
    scenario.run(store_url)
    from newsmon.demo import demo_config

    config = demo_config("http://127.0.0.1:9", "json://127.0.0.1:9/hook", store_url)
    pages = visit_every_page(config)
    updates = [
        tree
        for path, tree in pages.items()
        if path.startswith("/stories/") and tree.xpath("//p[@class='new']")
    ]
    [story] = updates
    timeline = story.xpath("//ol[@class='timeline']/li")
    facts = story.xpath("//p[@class='facts']")[0].text_content()
    assert len(timeline) > 2 and facts.startswith(f"{len(timeline)} articles")
    news = [" ".join(p.text_content().split()) for p in story.xpath("//p[@class='new']")]
    assert all(n.startswith("New: ") for n in news)
    sent = story.xpath("//table[@class='deliveries']//span[contains(@class,'status-sent')]")
    assert len(sent) == len(story.xpath("//section[@class='alert']"))
