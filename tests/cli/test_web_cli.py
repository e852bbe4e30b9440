"""`newsmon web` and `newsmon serve --web`: where the site listens, its token, a real
server answering."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from monitors import config as config_mod
from monitors.errors import DeliveryError
from monitors.store import Store
from newsmon.cli import app
from newsmon.web.command import serve_beside, site_server
from tests.cli.test_cli import write_config
from tests.conftest import ROOT, free_port

runner = CliRunner()
TOKEN = "a-web-token-of-32-characters-xyz"


def with_web(path: Path, **web: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw["web"] = web
    path.write_text(yaml.safe_dump(raw))
    return path


def wait_for(url: str, seconds: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("command", [["web"], ["serve", "--web"]])
def test_a_bind_beyond_loopback_without_a_token_is_refused(
    tmp_path: Path, command: list[str]
) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    result = runner.invoke(app, [*command, "--config", str(path), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without a token" in " ".join(result.output.split())


def test_newsmon_web_serves_the_site(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsmon.cli", "web", "--config", str(path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = wait_for(f"http://127.0.0.1:{port}/stories")
        assert answer.status_code == 200 and "<h1>Stories</h1>" in answer.text
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert f"the desk's site: http://127.0.0.1:{port}/" in output


def test_serve_beside_runs_the_site_in_a_thread(tmp_path: Path) -> None:
    config = config_mod.load(write_config(tmp_path, [], "json://127.0.0.1:9/"), env={})
    store = Store.open(config.store)
    server = site_server(config, store, None, free_port())
    serve_beside(server)
    try:
        answer = wait_for(f"http://127.0.0.1:{server.config.port}/feeds")
        assert answer.status_code == 200 and "<h1>Feeds</h1>" in answer.text
    finally:
        server.should_exit = True
        store.close()


def test_the_token_can_come_from_a_prefect_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = with_web(write_config(tmp_path, [], "json://127.0.0.1:9/"), token={"secret": "desk"})
    config = config_mod.load(path, env={})
    store = Store.open(config.store)
    asked: list[str] = []

    def secret(name: str) -> str:
        asked.append(name)
        return TOKEN

    def missing(name: str) -> str:
        raise DeliveryError(f"cannot read Prefect secret {name!r}: ValueError")

    try:
        monkeypatch.setattr("flows.secrets.prefect_secret", secret)
        server = site_server(config, store, "0.0.0.0", free_port())  # a token: allowed
        with TestClient(server.config.app) as client:
            refused = client.get("/stories", follow_redirects=False)
            allowed = client.get("/stories", headers={"authorization": f"Bearer {TOKEN}"})
        monkeypatch.setattr("flows.secrets.prefect_secret", missing)
        with pytest.raises(typer.Exit) as stopped:
            site_server(config, store, None, None)
    finally:
        store.close()
    assert asked == ["desk"]
    assert refused.status_code == 303 and allowed.status_code == 200
    assert stopped.value.exit_code == 2
