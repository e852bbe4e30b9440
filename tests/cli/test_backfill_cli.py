"""`newsmon backfill` interrupted with Ctrl-C (exit 130), then run again with the same
arguments: it goes on where it stopped and lists what one uninterrupted run lists."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from monitors.store import connect
from monitors.store.schema import backfill_items
from newsmon.demo import SITE as DEMO_SITE
from newsmon.demo import demo_document
from newsmon.loopback import StaticSite
from tests.conftest import ROOT

ARGS = ["backfill", "--since", "2026-11-01", "--from", "feeds", "--json"]


def config(folder: Path, site: str) -> Path:
    """The demo world fetched slowly (two pages a second): Ctrl-C falls inside the run."""
    folder.mkdir()
    raw = demo_document(site, "json://127.0.0.1:9/", f"sqlite:///{folder / 'newsmon.db'}")
    raw["fetch"]["concurrency"] = 1
    raw["backfill"] = {"per_host_rps": 2, "per_host_concurrency": 1}
    path = folder / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _interruptible() -> None:
    """In the child before exec: Ctrl-C's default, even when the tests run as a background
    job (whose shell ignores SIGINT, which a child then inherits)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def backfill(path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "newsmon.cli", *ARGS, "-c", str(path)],
        env=env,
        preexec_fn=_interruptible,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def items_done(path: Path) -> int:
    engine = connect(f"sqlite:///{path.parent / 'newsmon.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(backfill_items)) or 0)
    except sa.exc.OperationalError:  # the table is not made yet
        return 0
    finally:
        engine.dispose()


def alerts(stdout: str) -> list[tuple[Any, ...]]:
    """Each alert listed: its rule, kind, headline and URLs."""
    found = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return sorted((a["rule"], a["kind"], a["headline"], tuple(a["urls"])) for a in found)


def summary_of(stderr: str) -> dict[str, int]:
    """The summary line --json writes to standard error."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    [summary] = [line["summary"] for line in lines if "summary" in line]
    return summary


@pytest.mark.slow
def test_a_backfill_interrupted_then_resumed_lists_what_one_run_lists(tmp_path: Path) -> None:
    with StaticSite(DEMO_SITE) as site:
        # the uninterrupted run, on its own store, goes on beside the interrupted one
        whole_run = backfill(config(tmp_path / "whole", site.base))
        path = config(tmp_path / "resumed", site.base)
        first = backfill(path)
        deadline = time.monotonic() + 120
        while items_done(path) < 4 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        first.send_signal(signal.SIGINT)
        _, interrupted = first.communicate(timeout=60)
        done_before = items_done(path)
        resumed = backfill(path).communicate(timeout=300)
        whole = whole_run.communicate(timeout=300)
    assert first.returncode == 130, interrupted
    assert "interrupted: what is done is kept; run the same command again to go on" in interrupted
    assert "Traceback" not in interrupted
    summary, total = (summary_of(run[1]) for run in (resumed, whole))
    assert 4 <= summary["resumed"] == done_before < summary["items"] == total["items"]
    assert alerts(resumed[0]) == alerts(whole[0])
    assert len(alerts(whole[0])) >= 4
