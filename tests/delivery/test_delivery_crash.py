"""SIGKILL the sending process mid-batch: after a rerun every alert has arrived,
and at most one (the one in flight at the kill) arrived twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from monitors.delivery import Outbox
from monitors.store import Store
from tests.conftest import make_config
from tests.factories import seed
from tests.httpserver import LoopbackServer

ALERTS = 40


def deliver_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "newsmon.cli", "deliver", "--config", str(config)]


def received(server: LoopbackServer) -> Counter[str]:
    """How many times each alert's URL was posted."""
    urls = [json.loads(r.body)["message"].rsplit("URL: ", 1)[1] for r in server.requests]
    return Counter(urls)


def kill_mid_batch(config: Path, server: LoopbackServer, after: int) -> None:
    """Start a delivery run and SIGKILL it once `after` messages have reached the server."""
    proc = subprocess.Popen(deliver_command(config), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.requests) < after and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_mid_batch_loses_nothing(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'crash.db'}"
    with LoopbackServer() as server:
        server.add("/hook", b"", delay=0.03)
        channel = "json://" + server.url("/hook").removeprefix("http://")
        cfg = make_config(store_url, [], channel)
        rules = [{**r.model_dump(), "max_alerts_per_hour": 1000} for r in cfg.rules]
        raw = {"store": store_url, "channels": {"desk": channel}, "rules": rules}
        config = tmp_path / "newsmon.yaml"
        config.write_text(yaml.safe_dump(raw))
        cfg = make_config(store_url, [], channel, rules=rules)
        store = Store.open(store_url)
        seed(store, Outbox.of(cfg, store), ALERTS)
        store.close()

        kill_mid_batch(config, server, after=12)
        at_kill = received(server)
        assert 0 < sum(at_kill.values()) < ALERTS
        subprocess.run(deliver_command(config), check=True, stdout=subprocess.DEVNULL)
        counts = received(server)
    assert len(counts) == ALERTS, "an alert was lost"
    assert sum(counts.values()) - ALERTS <= 1, f"duplicates: {counts.most_common(3)}"
