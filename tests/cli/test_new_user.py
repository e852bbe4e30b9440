"""The command line as a new user meets it: the README's commands as written, help that
names values, `check` finding what `run` refuses, commands that send nothing needing no
channel variables, and one meaning for each exit code and word."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from monitors import config as config_mod
from monitors.store import Store
from newsmon.cli import app
from tests.cli.test_cli import run_newsmon, write_config
from tests.conftest import ROOT
from tests.httpserver import LoopbackServer

runner = CliRunner()
WIDE = {"COLUMNS": "300"}
UNSET = "NEWSMON_TEST_UNSET_HOOK"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env={**WIDE, **(env or {})})


# --- the README -----------------------------------------------------------------------


def test_the_readme_use_it_commands_run_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exports come first, and `newsmon check` passes on the shipped config with them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Use it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    env: dict[str, str] = {}
    checked = False
    for line in filter(None, (raw.split("#", 1)[0].strip() for raw in block.splitlines())):
        words = shlex.split(line)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            env[name] = value
        elif words[:2] == ["newsmon", "check"]:
            result = invoke(*words[1:], env=env)
            assert result.exit_code == 0, result.output
            assert "OK config/newsmon.yaml: 32 feeds, 3 rules, 2 channels" in result.output
            checked = True
    assert checked
    assert not (ROOT / "config" / "newsmon.db").exists()  # check made no store


def test_a_config_file_that_is_not_there_points_to_one_to_start_from(tmp_path: Path) -> None:
    result = invoke("check", "-c", str(tmp_path / "newsmon.yaml"))
    assert result.exit_code == 2
    assert "no such file (give --config PATH, or set NEWSMON_CONFIG)" in result.output
    assert f"A config to start from: {ROOT / 'config' / 'newsmon.yaml'}" in result.output


# --- help -----------------------------------------------------------------------------

COMMANDS = [
    [],
    ["run"],
    ["deliver"],
    ["digest"],
    ["check"],
    ["feeds"],
    ["demo"],
    ["serve"],
    ["backfill"],
    ["alerts"],
    ["alerts", "retry"],
    ["rules"],
    ["rules", "test"],
    ["stories"],
    ["stories", "show"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "newsmon")
def test_help_names_values_not_python_types(command: list[str]) -> None:
    long = invoke(*command, "--help")
    short = invoke(*command, "-h")
    assert long.exit_code == short.exit_code == 0
    assert long.output == short.output
    for python_type in ("<bool>", "<str>", "<int>", "<path>", "<list[", "<datetime>"):
        assert python_type not in long.output, (command, long.output)


def test_help_names_what_options_take() -> None:
    lines = invoke("backfill", "-h").output.splitlines()
    assert any("--since" in line and "DATE" in line for line in lines)
    assert any("--rules" in line and " ID " in line for line in lines)
    assert any(re.search(r"--notify +Send the alerts", line) for line in lines)


def test_version() -> None:
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"newsmon {version('newsmon')}"


# --- check finds what run refuses -------------------------------------------------------


def test_check_makes_no_store(tmp_path: Path) -> None:
    path = write_config(tmp_path, ["https://example.com/feed.xml"], "json://127.0.0.1:9/")
    assert invoke("check", "-c", str(path)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newsmon.yaml"]


def test_check_reports_a_store_folder_that_does_not_exist(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'nowhere' / 'newsmon.db'}"
    path = write_config(tmp_path, [], "json://127.0.0.1:9/", store=store)
    checked = invoke("check", "-c", str(path))
    reason = f"the SQLite store's folder {tmp_path / 'nowhere'} does not exist: create it"
    assert checked.exit_code == 2
    assert re.search(rf"{re.escape(str(path))}:\d+: store: {re.escape(reason)}", checked.output)
    ran = invoke("run", "-c", str(path))
    assert ran.exit_code == 3 and reason in ran.output


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("garbage", "not a store URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"),
        (
            "postgresql+psycopg2://u@127.0.0.1:1/db",
            "the store's database driver psycopg2 is not installed: "
            "write postgresql+psycopg:// and pip install 'newsmon[postgres]'",
        ),
        ("postgresql+psycopg://nobody@127.0.0.1:1/db", "cannot open the store: connection failed"),
    ],
)
def test_check_names_the_store_variable(tmp_path: Path, value: str, reason: str) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    result = invoke("check", "-c", str(path), env={"NEWSMON_STORE": value})
    assert result.exit_code == 2
    assert f"environment: NEWSMON_STORE: {reason}" in result.output


@pytest.mark.parametrize("command", [("db", "current"), ("db", "upgrade")])
def test_db_commands_print_the_install_hint_whole(tmp_path: Path, command: tuple[str, str]) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    env = {"NEWSMON_STORE": "postgresql+psycopg2://u@127.0.0.1:1/db"}
    result = invoke(*command, "-c", str(path), env=env)
    assert result.exit_code == 3
    assert "pip install 'newsmon[postgres]'" in result.output  # not taken for markup


def test_run_says_the_store_came_from_the_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    env = {"NEWSMON_STORE": "postgresql+psycopg://nobody@127.0.0.1:1/db"}
    result = invoke("run", "-c", str(path), env=env)
    assert result.exit_code == 3
    assert "(the store URL is $NEWSMON_STORE's)" in result.output


# --- commands that send nothing need no channel variables --------------------------------


def unset_channel_config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, [], "${" + UNSET + "}")
    (tmp_path / "text.txt").write_text("Kyiv weighs security guarantees\nUkraine and Kyiv.\n")
    return path


QUIET = [
    ["rules", "test", "{tmp}/text.txt"],
    ["stories"],
    ["stories", "--json"],
    ["alerts"],
    ["alerts", "retry", "--all"],
    ["feeds"],
    ["db", "upgrade"],
    ["db", "current"],
    ["backfill", "--since", "2026-01-01"],
]
SENDING = [
    ["check"],
    ["run"],
    ["deliver"],
    ["digest"],
    ["serve"],
    ["backfill", "--since", "2026-01-01", "--notify"],
]


@pytest.mark.parametrize("command", QUIET, ids=" ".join)
def test_a_command_that_sends_nothing_needs_no_channel_variable(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    path = unset_channel_config(tmp_path)
    args = [a.format(tmp=tmp_path) for a in command]
    result = invoke(*args, "-c", str(path))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", [["rules", "test", "{tmp}/text.txt"], ["check"]], ids=" ".join)
def test_a_channel_that_is_no_url_stops_only_the_commands_that_check_or_send(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UNSET, "garbage")
    path = unset_channel_config(tmp_path)
    result = invoke(*[a.format(tmp=tmp_path) for a in command], "-c", str(path))
    assert result.exit_code == (2 if command == ["check"] else 0), result.output


@pytest.mark.parametrize("command", SENDING, ids=" ".join)
def test_a_command_that_sends_names_each_unset_variable(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    result = invoke(*command, "-c", str(unset_channel_config(tmp_path)))
    assert result.exit_code == 2
    assert f"channels.desk: environment variable {UNSET} is not set" in result.output


# --- alerts --------------------------------------------------------------------------


def test_alerts_refuses_a_status_that_is_none(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    result = invoke("alerts", "--status", "bogus", "-c", str(path))
    assert result.exit_code == 2
    assert "use one of pending, sending, held, sent, failed" in result.output
    assert invoke("alerts", "--status", "held", "-c", str(path)).exit_code == 0
    assert "held (for a digest)" in invoke("alerts", "-h").output


def test_alerts_retry_of_an_alert_that_is_none_exits_1(tmp_path: Path) -> None:
    path = write_config(tmp_path, [], "json://127.0.0.1:9/")
    result = invoke("alerts", "retry", "999", "-c", str(path))
    assert result.exit_code == 1
    assert result.output.strip() == "no alert 999"  # nothing else, no "0 deliveries due"


# --- run: each failure once, retries called so --------------------------------------------


def test_run_prints_a_feed_failure_once_and_retried_deliveries_as_to_retry(
    tmp_path: Path, site: LoopbackServer
) -> None:
    site.add("/gone.xml", b"", status=404)
    with LoopbackServer() as hook:
        hook.add("/hook", b"", status=500)
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        path = write_config(tmp_path, [site.url("/site/world.xml"), site.url("/gone.xml")], channel)
        done = run_newsmon("run", "-c", str(path), env=WIDE)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert printed.count("HTTP 404") == 1, printed
    assert printed.count("error=500") == 2, printed  # once per delivery, in its table
    assert "deliveries: 0 sent, 2 to retry, 0 failed" in printed
    pending = invoke("alerts", "--status", "pending", "-c", str(path))
    assert pending.output.count("pending") == 2


def test_a_refused_private_feed_names_the_setting(tmp_path: Path, site: LoopbackServer) -> None:
    path = write_config(tmp_path, [site.url("/site/world.xml")], "json://127.0.0.1:9/")
    raw = yaml.safe_load(path.read_text())
    del raw["fetch"]["allow_private_networks"]
    path.write_text(yaml.safe_dump(raw))
    assert invoke("run", "-c", str(path)).exit_code == 1  # every feed polled failed
    store = Store.open(config_mod.load(path).store)
    with store.transaction() as tx:
        [row] = tx.feed_rows()
    store.close()
    assert row.last_error == (
        "resolves to a private address 127.0.0.1 (allowed by the config's "
        "fetch.allow_private_networks, e.g. 127.0.0.1/32, or $NEWSMON_ALLOW_PRIVATE_NETWORKS)"
    )


# --- backfill -----------------------------------------------------------------------------


def test_a_backfill_whose_every_item_failed_exits_1(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.add("/a", b"", status=404)
        server.add("/b", b"", status=410)
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{server.url('/a')}\n{server.url('/b')}\n")
        path = write_config(tmp_path, [], "json://127.0.0.1:9/")
        backfill = ["backfill", "--since", "2026-01-01", "-c", str(path), "--from", "urls"]
        failed = invoke(*backfill, str(urls))
        server.add("/b", b"<html><title>Fine</title><body><p>Fine.</p></body></html>")
        again = tmp_path / "again.txt"
        again.write_text(f"{server.url('/b')}\n{server.url('/a')}\n")
        partly = invoke(*backfill, str(again))
    assert failed.exit_code == 1, failed.output
    assert "2 items, 2 errors" in failed.output and "all 2 items failed" in failed.output
    assert partly.exit_code == 0, partly.output


# --- stories --json -------------------------------------------------------------------------


def test_stories_json_gives_each_story_its_articles_and_their_decisions(
    store_url: str, tmp_path: Path, site: LoopbackServer
) -> None:
    path = write_config(tmp_path, [site.url("/site/world.xml")], "json://127.0.0.1:9/", store_url)
    assert invoke("run", "-c", str(path)).exit_code == 0
    result = invoke("stories", "--json", "--since", "2000-01-01", "-c", str(path))
    assert result.exit_code == 0, result.output
    stories = [json.loads(line) for line in result.output.splitlines()]
    assert stories and [s["id"] for s in stories] == sorted(s["id"] for s in stories)
    articles = [a for s in stories for a in s["articles"]]
    assert len(articles) == 3
    for story in stories:
        assert set(story) == {"id", "headline", "first_seen", "last_seen", "articles", "alerts"}
        assert story["first_seen"] <= story["last_seen"]
        first = story["articles"][0]
        assert first["decision"]["kind"] == "new story"
        assert first["decision"]["reason"].startswith(("no story of the window", "closest story #"))
    for article in articles:
        assert set(article) == {"id", "url", "site", "title", "published", "decision", "feeds"}
        assert article["url"].startswith(site.url("/site/"))
        assert set(article["decision"]) == {"kind", "score", "reason", "other_article"}
        (listed,) = article["feeds"]  # the one feed listed it
        assert listed["url"] == site.url("/site/world.xml") and listed["first_listed"]
    rules = sorted(a["rule"] for s in stories for a in s["alerts"])
    assert rules == ["donbas-withdrawal", "security-guarantees"]


def test_check_without_a_prefect_server_reads_secrets_quietly(tmp_path: Path) -> None:
    """No PREFECT_API_URL: Prefect's local server starts in the process and the missing
    block is told, with no traceback from the server's usage reports."""
    path = tmp_path / "newsmon.yaml"
    path.write_text(
        f"store: sqlite:///{tmp_path / 'db.db'}\n"
        "channels: {desk: {secret: desk-nowhere}}\n"
        "rules: [{id: a, query: kyiv, notify: [desk]}]\n"
    )
    unset = [name for name in os.environ if name.startswith("PREFECT_")]
    with pytest.MonkeyPatch.context() as patch:
        for name in unset:
            patch.delenv(name)
        home = {"PREFECT_HOME": str(tmp_path / "prefect"), **WIDE}
        done = run_newsmon("check", "-c", str(path), env=home)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert "cannot read Prefect secret 'desk-nowhere': Unable to find block document" in (
        done.stdout + done.stderr
    )
    assert "the local Prefect server (no PREFECT_API_URL set)" in done.stdout + done.stderr
    assert "reading the channels' Prefect secrets from the local Prefect server" in done.stderr
    assert "which starts first (some 15 s)" in done.stderr  # why check takes a while
