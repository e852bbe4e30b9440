"""A recorded scenario: the demo world polled over three cycles, snapshotted from the store.

Cycle 1 serves the five outlets without CBN's next-day report; cycle 2 adds it (an update
across cycles); cycle 3 changes nothing. The world has verbatim copies, a tracking-link
variant, a GUID listed twice, other write-ups of the same event and near misses. The
snapshot names everything by URL path (never by id), so it holds whatever order the store
hands out ids in; each alert keeps the sources its story had when it was decided, which
its messages count as outlets (each message received is kept as its title and its
outlets line). Fetching runs one request at a time so that entries are stored in one
order. `python -m tests.scenario` prints the snapshot as JSON (to re-record it).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from tests.conftest import DATA

GOLDEN = DATA / "scenario" / "demo_world.json"
NEXT_DAY = re.compile(r"\s*<item>\s*<title>Kremlin rejects buffer-zone clause.*?</item>", re.DOTALL)


def _path(url: str | None) -> str | None:
    """A URL without its scheme and host (the loopback port changes from run to run)."""
    if url is None:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """What the store holds, by URL path: entries, articles with their story, every
    decision, every alert and delivery."""
    with engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).mappings().all()  # noqa: E731
        article_path = {r["id"]: _path(r["url"]) for r in q("select id, url from articles")}
        story_key = {
            r["story_id"]: article_path[r["first"]]
            for r in q("select story_id, min(id) as first from articles group by story_id")
        }
        alert_key = {
            r["id"]: f"{r['rule_id']}@{article_path[r['article_id']]}"
            for r in q("select id, rule_id, article_id from alerts")
        }
        return {
            "entries": sorted(
                [_path(r["url"]), r["status"]] for r in q("select url, status from entries")
            ),
            "stories": sorted(
                (
                    {
                        "story": story_key[r["id"]],
                        "headline": r["headline"],
                        "articles": r["articles"],
                    }
                    for r in q("select id, headline, articles from stories")
                ),
                key=lambda s: s["story"],
            ),
            "articles": sorted(
                (
                    {
                        "article": article_path[r["id"]],
                        "title": r["title"],
                        "site": r["site"],
                        "source": r["source"],
                        "story": story_key.get(r["story_id"]),
                        "duplicate_of": article_path.get(r["duplicate_of"]),
                    }
                    for r in q("select * from articles")
                ),
                key=lambda a: a["article"],
            ),
            "decisions": sorted(
                (
                    {
                        "article": article_path[r["article_id"]],
                        "story": story_key.get(r["story_id"]),
                        "kind": r["kind"],
                        "rule": r["rule_id"],
                        "other": article_path.get(r["other_article_id"]),
                        "score": None if r["score"] is None else round(r["score"], 3),
                        "reason": re.sub(r"\b(article |entry |story #)\d+", r"\1N", r["reason"]),
                    }
                    for r in q("select * from decisions")
                ),
                key=lambda d: (d["article"], d["kind"], d["rule"] or ""),
            ),
            "alerts": sorted(
                (
                    {
                        "alert": alert_key[r["id"]],
                        "story": story_key.get(r["story_id"]),
                        "kind": r["kind"],
                        "follows": alert_key.get(r["follows"]),
                        "new": json.loads(r["new_facts"]),
                        "headline": r["headline"],
                        "terms": json.loads(r["terms"]),
                        "passage": r["passage"],
                        "sources": [_path(url) for _, url in json.loads(r["sources"])],
                    }
                    for r in q("select * from alerts")
                ),
                key=lambda a: a["alert"],
            ),
            "deliveries": sorted(
                [alert_key.get(r["alert_id"], r["kind"]), r["channel"], r["status"]]
                for r in q("select alert_id, kind, channel, status from deliveries")
            ),
        }


def run(store_url: str) -> tuple[dict[str, Any], list[list[list[str]]]]:
    """The three cycles on a fresh copy of the demo site; the snapshot, and per cycle the
    title and the outlets line of each alert the desk received."""
    from monitors.config import from_dict
    from newsmon.demo import SITE, demo_config
    from newsmon.loopback import StaticSite, WebhookReceiver

    with tempfile.TemporaryDirectory(prefix="newsmon-scenario-") as tmp:
        root = Path(tmp) / "site"
        shutil.copytree(SITE, root)
        rss = root / "cbn" / "rss.xml"
        full = rss.read_text(encoding="utf-8")
        rss.write_text(NEXT_DAY.sub("", full, count=1), encoding="utf-8")
        received: list[list[list[str]]] = []
        with StaticSite(root) as site, WebhookReceiver() as desk:
            raw = demo_config(site.base, desk.apprise_url, store_url).model_dump(exclude={"source"})
            raw["fetch"]["concurrency"] = 1
            cfg = from_dict(raw, "scenario", env={})
            for cycle in range(3):
                if cycle == 1:
                    rss.write_text(full, encoding="utf-8")
                seen = len(desk.received)
                _cycle(cfg)
                received.append([_said(p) for p in desk.received[seen:]])
        engine = sa.create_engine(cfg.store)
        try:
            return snapshot(engine), received
        finally:
            engine.dispose()


def _said(payload: dict[str, Any]) -> list[str]:
    """A message's title and its count of outlets."""
    lines = str(payload.get("message", "")).splitlines()
    return [payload.get("title", ""), *[line for line in lines if line.startswith("Outlets:")]]


def _cycle(cfg: Any) -> None:
    """One `newsmon run` cycle on the config's store."""
    import asyncio

    from monitors.pipeline import open_pipeline, run_cycle

    async def cycle() -> None:
        async with open_pipeline(cfg) as pipeline:
            await run_cycle(pipeline)

    asyncio.run(cycle())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        shot, titles = run(f"sqlite:///{folder}/scenario.db")
    json.dump({"snapshot": shot, "received": titles}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
