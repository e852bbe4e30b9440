"""Screenshots of the desk's pages for docs/, taken in headless Chromium on the demo world.

The demo world (`newsmon demo`'s site) is polled twice, as in tests/scenario.py: first
without CBN's next-day report, then with it while the desk's webhook answers 500 and one
attempt is allowed, so that the alerts page shows that update's delivery failed, with
its real error. The playground is shown after a run.

    python -m tests.web.screenshots [FOLDER]     # default: docs/screenshots
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from monitors.config import Config, from_dict
from monitors.pipeline import open_pipeline, run_cycle
from monitors.store import Store, StoryFilter
from newsmon.demo import SITE, demo_config
from newsmon.loopback import StaticSite, WebhookReceiver
from tests.conftest import ROOT
from tests.scenario import NEXT_DAY
from tests.web.browser import chromium, serving

PLAYGROUND_TITLE = "Allies weigh guarantees for Kyiv"
PLAYGROUND_TEXT = (
    "Diplomats said Washington and its European partners would extend Article 5-style "
    "security guarantees to Ukraine once a ceasefire holds, while Kyiv pressed for more."
)


def take(folder: Path) -> list[Path]:
    """Poll the demo world twice (the webhook failing the second time) and save a
    screenshot of each page in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsmon-shots-") as tmp:
        root = Path(tmp) / "site"
        shutil.copytree(SITE, root)
        rss = root / "cbn" / "rss.xml"
        full = rss.read_text(encoding="utf-8")
        rss.write_text(NEXT_DAY.sub("", full, count=1), encoding="utf-8")
        with StaticSite(root) as site, WebhookReceiver() as desk:
            raw = demo_config(site.base, desk.apprise_url, f"sqlite:///{tmp}/newsmon.db")
            config = from_dict(
                {**raw.model_dump(exclude={"source"}), "delivery": {"max_attempts": 1}},
                "screenshots",
                env={},
            )
            _cycle(config)
            rss.write_text(full, encoding="utf-8")
            desk.status = 500
            _cycle(config)
            store = Store.open(config.store)
            try:
                return _shoot(config, store, folder)
            finally:
                store.close()


def _cycle(config: Config) -> None:
    async def cycle() -> None:
        async with open_pipeline(config) as pipeline:
            await run_cycle(pipeline)

    asyncio.run(cycle())


def _shoot(config: Config, store: Store, folder: Path) -> list[Path]:
    with store.reading() as tx:
        [story] = tx.story_summaries(StoryFilter(rule="security-guarantees"))
    shots = {
        "stories": "/stories",
        "story": f"/stories/{story.id}",
        "alerts": "/alerts",
        "feeds": "/feeds",
    }
    saved = []
    with serving(config, store) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, path in shots.items():
            page.goto(base + path)
            saved.append(folder / f"{name}.png")
            page.screenshot(path=saved[-1])
        page.goto(f"{base}/playground")
        page.fill("input[name=title]", PLAYGROUND_TITLE)
        page.fill("textarea[name=text]", PLAYGROUND_TEXT)
        page.click("button:has-text('Test')")
        page.locator("section.outcome").scroll_into_view_if_needed()
        saved.append(folder / "playground.png")
        page.screenshot(path=saved[-1])
    return saved


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    for path in take(target):
        print(path)
