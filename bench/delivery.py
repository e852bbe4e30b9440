"""Delivery figures: deliveries per second to a loopback webhook, and SIGKILL runs.

    python bench/delivery.py [--alerts 1000] [--kills 10]

Run from the repository root (it uses the test suite's loopback server and seeding).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from monitors import config as config_mod  # noqa: E402
from monitors.config import Config  # noqa: E402
from monitors.delivery import Outbox, deliver_due, notifier_for  # noqa: E402
from monitors.store import Store  # noqa: E402
from tests.factories import seed  # noqa: E402
from tests.httpserver import LoopbackServer  # noqa: E402


def write_config(folder: Path, channel: str) -> tuple[Path, Config]:
    raw = {
        "store": f"sqlite:///{folder / 'bench.db'}",
        "channels": {"desk": channel},
        "rules": [
            {
                "id": "security-guarantees",
                "query": '"security guarantee*"',
                "notify": ["desk"],
                "max_alerts_per_hour": 100000,
            }
        ],
    }
    path = folder / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, config_mod.load(path)


def throughput(alerts: int) -> float:
    """Deliveries per second, one process, to a loopback json:// receiver."""
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        server.add("/hook", b"")
        _, cfg = write_config(Path(tmp), "json://" + server.url("/hook").removeprefix("http://"))
        store = Store.open(cfg.store)
        seed(store, Outbox.of(cfg, store), alerts)
        started = time.perf_counter()
        done = deliver_due(Outbox.of(cfg, store), notifier_for(cfg), cfg.labels())
        elapsed = time.perf_counter() - started
        store.close()
        assert sum(d.status == "sent" for d in done) == alerts
    return alerts / elapsed


def kill_run(alerts: int) -> tuple[int, int, int]:
    """(delivered, lost, duplicated) after a SIGKILL at a random point and a rerun."""
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        server.add("/hook", b"", delay=0.02)
        channel = "json://" + server.url("/hook").removeprefix("http://")
        path, cfg = write_config(Path(tmp), channel)
        store = Store.open(cfg.store)
        seed(store, Outbox.of(cfg, store), alerts)
        store.close()
        command = [sys.executable, "-m", "newsmon.cli", "deliver", "--config", str(path)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        time.sleep(random.uniform(1.0, 1.0 + alerts * 0.02))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        urls = Counter(json.loads(r.body)["message"].rsplit("URL: ", 1)[1] for r in server.requests)
    delivered = len(urls)
    return delivered, alerts - delivered, sum(urls.values()) - delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    rate = throughput(args.alerts)
    print(f"deliveries/s to a loopback json:// receiver: {rate:.0f} ({args.alerts} alerts)")
    totals = Counter[str]()
    for run in range(args.kills):
        delivered, lost, duplicated = kill_run(50)
        totals.update(delivered=delivered, lost=lost, duplicated=duplicated)
        print(f"kill run {run + 1}: delivered {delivered}/50, lost {lost}, duplicated {duplicated}")
    print(
        f"over {args.kills} kill runs: delivered {totals['delivered']}, "
        f"lost {totals['lost']}, duplicated {totals['duplicated']}"
    )


if __name__ == "__main__":
    main()
