"""For real, on loopback: a Prefect server behind an auth string (as in the compose kit),
the `process` pool, `prefect deploy` of deploy/prefect.yaml, a worker running `poll`; and
`newsmon serve` stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, TEST_RULES, free_port
from tests.httpserver import LoopbackServer

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.timeout(150)]

BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
AUTH = ("desk", "Kit-4uth-S7ring")


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on loopback with its own PREFECT_HOME, which requires the auth
    string the compose kit sets (PREFECT_SERVER_API_AUTH_STRING); the environment of its
    clients, which give it as the kit's clients do (PREFECT_API_AUTH_STRING)."""
    home = tmp_path_factory.mktemp("prefect-home")
    api = f"http://127.0.0.1:{free_port()}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    port = api.rsplit(":", 1)[1].removesuffix("/api")
    auth = ":".join(AUTH)
    server = _start(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port],
        {**env, "PREFECT_SERVER_API_AUTH_STRING": auth},
        home,
    )
    try:
        _wait_for(lambda: _healthy(api), 60, "the Prefect server to answer")
        yield {**env, "PREFECT_API_AUTH_STRING": auth}
    finally:
        _stop(server)


def test_deployed_poll_runs_on_a_worker_and_alerts(
    prefect_env: dict[str, str], tmp_path: Path, site: LoopbackServer
) -> None:
    started = time.monotonic()
    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        env = {**prefect_env, "NEWSMON_CONFIG": str(_config(tmp_path, site, hook))}
        _cli([PREFECT, "work-pool", "create", "newsmon", "--type", "process"], env)
        _cli(
            [PREFECT, "--no-prompt", "deploy", "--prefect-file", "deploy/prefect.yaml", "--all"],
            env,
        )
        worker = _start([PREFECT, "worker", "start", "--pool", "newsmon"], env, tmp_path)
        try:
            _cli([PREFECT, "deployment", "run", "poll/poll"], env)
            _wait_for(lambda: len(_posts(hook)) >= 2, 60, "the worker's poll to alert")
        finally:
            _stop(worker)
    deployed = _cli([PREFECT, "deployment", "ls"], env)
    assert all(f"{name}/{name}" in deployed for name in ("poll", "digest", "backfill"))
    assert len(_posts(hook)) == 2
    print(f"deploy + worker + poll: {time.monotonic() - started:.1f} s")


def test_the_api_answers_only_with_the_auth_string(prefect_env: dict[str, str]) -> None:
    filtered = f"{prefect_env['PREFECT_API_URL']}/block_documents/filter"
    secrets = {"include_secrets": True}
    assert httpx.post(filtered, json=secrets, timeout=10).status_code == 401
    wrong = httpx.post(filtered, json=secrets, auth=("desk", "guess"), timeout=10)
    assert wrong.status_code == 401
    assert httpx.post(filtered, json=secrets, auth=AUTH, timeout=10).status_code == 200
    assert _healthy(prefect_env["PREFECT_API_URL"])  # the kit's healthcheck needs none


def test_serve_runs_the_schedules_and_stops_on_ctrl_c(
    prefect_env: dict[str, str], tmp_path: Path, site: LoopbackServer
) -> None:
    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        config = _config(tmp_path, site, hook)
        serve = _start([str(BIN / "newsmon"), "serve", "-c", str(config)], prefect_env, tmp_path)
        try:
            _wait_for(lambda: _deployed(prefect_env, "poll/serve"), 60, "serve to register")
            _cli([PREFECT, "deployment", "run", "poll/serve"], prefect_env)
            _wait_for(lambda: len(_posts(hook)) >= 2, 60, "the served poll to alert")
        finally:
            serve.send_signal(signal.SIGINT)
            code = serve.wait(timeout=30)
    assert code == 0
    assert _deployed(prefect_env, "digest/serve")


def _config(tmp_path: Path, site: LoopbackServer, hook: LoopbackServer) -> Path:
    raw = {
        "store": f"sqlite:///{tmp_path / 'live.db'}",
        "feeds": [{"url": site.url("/site/world.xml")}],
        "channels": {"desk": "json://" + hook.url("/hook").removeprefix("http://")},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32"},
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _posts(hook: LoopbackServer) -> list[object]:
    return [r for r in hook.requests if r.method == "POST"]


def _deployed(env: dict[str, str], name: str) -> bool:
    """Whether the server holds the deployment `flow/deployment` (asked of its API: a
    `prefect deployment inspect` costs seconds of start-up at each poll)."""
    url = f"{env['PREFECT_API_URL']}/deployments/name/{name}"
    return httpx.get(url, auth=AUTH, timeout=10).status_code == 200


def _cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _start(args: list[str], env: dict[str, str], where: Path) -> subprocess.Popen[bytes]:
    log = (where / f"{Path(args[0]).name}-{args[1]}.log").open("wb")
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.5)
