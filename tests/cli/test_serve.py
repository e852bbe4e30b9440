"""`newsmon serve`: it needs a Prefect server (a temporary one would run no schedule), and
SIGTERM stops it within seconds, cancelling a flow run still going, without tracebacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import write_config
from tests.conftest import ROOT
from tests.httpserver import LoopbackServer


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **extra}


def serve(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsmon.cli", "serve", "-c", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_without_a_prefect_server_says_so_and_starts_none(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    started = time.monotonic()
    out, err = serve(path, serve_env()).communicate(timeout=60)
    assert "newsmon serve needs a Prefect server" in err
    assert "set PREFECT_API_URL" in err and "newsmon run --due" in err
    assert "temporary server" not in out + err
    assert time.monotonic() - started < 30


@pytest.fixture(scope="module")
def prefect_api(prefect_harness: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)


@pytest.mark.prefect
@pytest.mark.slow
def test_sigterm_stops_serve_within_seconds_cancelling_the_run_going(
    prefect_api: str, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.deployments import run_deployment

    with LoopbackServer() as slow:
        slow.add("/feed.xml", b"<rss/>", delay=60)
        path = write_config(tmp_path, [slow.url("/feed.xml")], "json://127.0.0.1:9/")
        path.write_text(path.read_text().replace("timeout: 5", "timeout: 90"))
        process = serve(path, serve_env(PREFECT_API_URL=prefect_api))
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("serving poll/serve (every 5 min)")
            run = run_deployment("poll/serve", parameters={"due_only": False}, timeout=0)
            with get_client(sync_client=True) as client:
                wait_for(lambda: client.read_flow_run(run.id).state.is_running(), 60, "the run")
                wait_for(lambda: slow.requests, 30, "the feed's request")
                process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                out, err = process.communicate(timeout=60)
                took = time.monotonic() - stopping
                state = client.read_flow_run(run.id).state
        finally:
            process.kill()
    assert process.returncode == 0, err
    assert took < 15, f"took {took:.1f} s to stop"
    assert "Traceback" not in err, err
    assert out.strip().endswith("stopped")
    assert state is not None and state.is_cancelled(), state
