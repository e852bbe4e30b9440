"""The Prefect `backfill` flow: a window in chunks, notified once, run twice sends nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from monitors.store import Store
from tests.conftest import TEST_RULES, make_config
from tests.httpserver import LoopbackServer
from tests.pipeline.test_backfill import NEW_RULE
from tests.pipeline.test_pipeline import hook_posts, receiver, run_cycle

pytestmark = pytest.mark.prefect


def test_backfill_flow_runs_chunks_and_notifies_once(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer
) -> None:
    from flows.backfill import backfill

    store_url = f"sqlite:///{tmp_path / 'flow.db'}"
    feeds = [site.url("/site/world.xml")]
    store = Store.open(store_url)
    run_cycle(make_config(store_url, feeds, "json://127.0.0.1:9/x", rules=[]), store)
    store.close()
    with receiver() as hook:
        raw = {
            "store": store_url,
            "feeds": [{"url": url} for url in feeds],
            "channels": {"desk": "json://" + hook.url("/hook").removeprefix("http://")},
            "rules": [*TEST_RULES, NEW_RULE],
        }
        path = tmp_path / "newsmon.yaml"
        path.write_text(yaml.safe_dump(raw))
        args = {"since": "2026-11-19", "until": "2026-11-21", "config_path": str(path)}
        dry = asyncio.run(backfill(**args))
        sent = asyncio.run(backfill(**args, notify=True))
        again = asyncio.run(backfill(**args, notify=True))
        posts = hook_posts(hook)
    assert dry["chunks"] == 3 and dry["items"] == 3 and dry["alerts"] == 3 and dry["sent"] == 0
    assert sent["alerts"] == 3 and sent["sent"] == 3 and len(posts) == 3
    assert again["alerts"] == 0 and again["sent"] == 0
