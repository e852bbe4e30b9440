"""`newsmon demo`: the whole pipeline, offline, on a bundled sample news site.

A loopback server serves five invented outlets' feeds and pages; alerts go to a
loopback webhook (an apprise `json://` channel) and are printed as they arrive.
The shipped watch rules are used as they are; the store is SQLite in a temp folder.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

from monitors import config as config_mod
from monitors.config import Config
from monitors.pipeline import CycleReport, open_pipeline, run_cycle
from monitors.store import Store
from newsmon.common import shipped_config_path
from newsmon.loopback import StaticSite, WebhookReceiver
from newsmon.report import print_report

SITE = Path(__file__).parent / "demo_site"
SITE_NEWEST = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)  # the latest time in its feeds and pages
SITE_AGE = timedelta(hours=1)  # the age its latest item is served at
FEEDS = [
    ("Meridian Wire", "meridian-wire/feed.xml"),
    ("The Harbour Herald", "harbour-herald/atom.xml"),
    ("Northgate Times", "northgate-times/rss.xml"),
    ("Continental Broadcasting Network", "cbn/rss.xml"),
    ("The Daily Ledger", "daily-ledger/feed.xml"),
]


def demo_config(site: str, channel_url: str, store: str) -> Config:
    """The shipped rules, with the demo's feeds, one loopback channel and a temp store."""
    return config_mod.from_dict(demo_document(site, channel_url, store), "demo", env={})


def demo_document(site: str, channel_url: str, store: str) -> dict[str, Any]:
    """The demo's config as a config file holds it."""
    raw: dict[str, Any] = yaml.safe_load(shipped_config_path().read_text(encoding="utf-8"))
    raw["store"] = store
    raw["feeds"] = [{"name": name, "url": f"{site}/{path}"} for name, path in FEEDS]
    raw["channels"] = {"desk": channel_url}
    raw["fetch"] = {"allow_private_networks": "127.0.0.1/32", "retries": 0}
    for rule in raw["rules"]:
        rule["notify"] = ["desk"]
    return raw


def run_demo(out: Console, keep: Path | None = None) -> None:
    """Serve the sample site, run two cycles, print the alerts the desk receives."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="newsmon-demo-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if _clear_store(folder / "newsmon.db"):
            out.print(f"replaced the store an earlier demo kept in {folder}", highlight=False)
        with StaticSite(SITE, site_shift(datetime.now(UTC))) as site, WebhookReceiver() as desk:
            cfg = demo_config(site.base, desk.apprise_url, f"sqlite:///{folder / 'newsmon.db'}")
            store = Store.open(cfg.store)
            try:
                out.rule("[bold]newsmon demo[/]: five outlets on " + site.base)
                out.print(f"{len(cfg.feeds)} feeds, rules: {', '.join(r.id for r in cfg.rules)}")
                out.rule("first cycle")
                print_report(asyncio.run(_cycle(cfg, store)), out)
                _print_alerts(out, desk.received)
                seen = len(desk.received)
                out.rule("second cycle: nothing changed")
                print_report(asyncio.run(_cycle(cfg, store)), out)
                out.print(f"alerts sent in the second cycle: {len(desk.received) - seen}")
            finally:
                store.close()
        if keep:
            kept = keep_config(cfg, folder)
            out.print(f"store and config kept in {folder}; look around with", highlight=False)
            for command in ("stories", "alerts", "web"):
                out.print(f"  newsmon {command} --config {kept}", highlight=False)
            out.print("(its feeds and channel were the demo's own servers, gone now)")
        else:
            out.print(
                "the store was temporary: `newsmon demo --keep DIR` keeps it, to look at its "
                "stories, alerts and desk site (`newsmon stories`, `alerts`, `web`)",
                highlight=False,
            )
    out.rule(f"done in {time.monotonic() - started:.1f} s")


def site_shift(now: datetime) -> timedelta:
    """How far to move the sample site's times for its latest item to be SITE_AGE old
    `now` (whole minutes), so that its alerts' latencies read as a morning's news would."""
    minutes = (now - SITE_AGE - SITE_NEWEST) // timedelta(minutes=1)
    return timedelta(minutes=minutes)


def keep_config(cfg: Config, folder: Path) -> Path:
    """Write the demo's config beside its kept store (`newsmon.yaml`), so that commands
    such as `newsmon web --config FOLDER/newsmon.yaml` read that store."""
    raw = cfg.model_dump(mode="json", exclude_defaults=True, exclude={"source"})
    raw["store"] = "sqlite:///newsmon.db"  # beside the config file
    path = folder / "newsmon.yaml"
    text = yaml.dump(raw, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


class _BlockDumper(yaml.SafeDumper):
    """Writes a string of several lines (a rule's query) as a block, as a desk would."""


def _block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _block)


def _clear_store(path: Path) -> bool:
    """Remove an earlier demo's SQLite store (and its journal files); whether there was one."""
    found = path.exists()
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        (path.parent / name).unlink(missing_ok=True)
    return found


async def _cycle(cfg: Config, store: Store) -> CycleReport:
    async with open_pipeline(cfg, store) as pipeline:
        return await run_cycle(pipeline)


def _print_alerts(out: Console, payloads: list[dict[str, Any]]) -> None:
    out.print(f"\n[bold]{len(payloads)} alerts received by the desk:[/]\n")
    for i, payload in enumerate(payloads, 1):
        out.print(f"[bold cyan]{i}. {escape(payload.get('title', ''))}[/]")
        body = escape(payload.get("message", ""))
        out.print(re.sub(r"\*\*(.+?)\*\*", r"[bold yellow]\1[/]", body), highlight=False)
        out.print()
