"""The Prefect `poll` flow under prefect_test_harness (one server for the session)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitors.store import Store
from monitors.store.schema import utcnow
from tests.conftest import DATA, TEST_RULES
from tests.factories import seed
from tests.httpserver import LoopbackServer

pytestmark = pytest.mark.prefect

NO_FEEDS = {
    "polled": 0,
    "new": 0,
    "unchanged": 0,
    "failed": 0,
    "not due": 0,
    "waiting": 0,
    "claimed elsewhere": 0,
}


def test_poll_flow_runs_the_cycle(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer
) -> None:
    from flows.poll import poll

    site.add("/gone.xml", b"", status=404)
    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        raw = {
            "store": f"sqlite:///{tmp_path / 'flow.db'}",
            "feeds": [{"url": site.url("/site/world.xml")}, {"url": site.url("/gone.xml")}],
            "channels": {"desk": "json://" + hook.url("/hook").removeprefix("http://")},
            "rules": TEST_RULES,
            "fetch": {"allow_private_networks": "127.0.0.1/32"},
        }
        path = tmp_path / "newsmon.yaml"
        path.write_text(yaml.safe_dump(raw))
        summary = asyncio.run(poll(str(path)))
        second = asyncio.run(poll(str(path)))
        every = asyncio.run(poll(str(path), due_only=False))
        posts = [r for r in hook.requests if r.method == "POST"]
    assert summary["feeds"] == {**NO_FEEDS, "polled": 2, "new": 1, "failed": 1}
    assert summary["alerts"] == 2 and summary["sent"] == 2
    assert second["feeds"] == {**NO_FEEDS, "not due": 1, "waiting": 1}
    # by hand: every feed
    assert every["feeds"] == {**NO_FEEDS, "polled": 2, "unchanged": 1, "failed": 1}
    assert second["alerts"] == every["alerts"] == 0 and second["sent"] == every["sent"] == 0
    assert len(posts) == 2
    assert len([r for r in site.requests if r.path == "/site/world.xml"]) == 2
    store = Store.open(raw["store"])
    with store.transaction() as tx:
        gone = next(r for r in tx.feed_rows() if r.url.endswith("/gone.xml"))
    store.close()
    assert (gone.last_error, gone.error_streak) == ("HTTP 404", 2)
    assert len([r for r in site.requests if r.path == "/gone.xml"]) == 2  # 404: no retries


def test_poll_flow_leaves_feeds_another_worker_claimed(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer
) -> None:
    """A flow run beside a `newsmon run` on another machine: feeds it holds are skipped."""
    from flows.poll import poll

    store_url = f"sqlite:///{tmp_path / 'flow.db'}"
    raw = {
        "store": store_url,
        "feeds": [{"url": site.url("/site/world.xml")}, {"url": site.url("/site/wire.xml")}],
        "rules": TEST_RULES,
        "channels": {"desk": "json://127.0.0.1:9/hook"},
        "fetch": {"allow_private_networks": "127.0.0.1/32"},
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))
    other = Store.open(store_url)
    other.worker = "another-host:4242"
    with other.transaction() as tx:
        states = tx.sync_feeds((f["url"], None) for f in raw["feeds"])
        ids = [state.id for state in states.values()]
        claimed = tx.claim_feeds(ids, utcnow(), lease=600, limit=len(ids))
    other.close()
    assert sorted(claimed) == sorted(ids)
    summary = asyncio.run(poll(str(path), due_only=False))
    assert summary["feeds"] == {**NO_FEEDS, "claimed elsewhere": 2}
    assert not [r for r in site.requests if r.path.endswith(".xml")]


def test_channel_url_from_a_prefect_secret_block(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.blocks.system import Secret

    from flows.digest import digest
    from monitors.delivery import Outbox

    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        Secret(value="json://" + hook.url("/hook").removeprefix("http://")).save(
            "desk-hook", overwrite=True
        )
        store_url = f"sqlite:///{tmp_path / 'secret.db'}"
        rules = [{**r, "notify": ["desk"], "delivery": "daily"} for r in TEST_RULES]
        raw = {"store": store_url, "channels": {"desk": {"secret": "desk-hook"}}, "rules": rules}
        path = tmp_path / "newsmon.yaml"
        path.write_text(yaml.safe_dump(raw))
        from monitors import config as config_mod

        cfg = config_mod.load(path)
        store = Store.open(store_url)
        seed(store, Outbox.of(cfg, store), 2)
        store.close()
        summary = digest("daily", str(path))
        posts = [r for r in hook.requests if r.method == "POST"]
    assert summary == {"digests": 1, "sent": 1}
    assert len(posts) == 1 and b"Digest: 2 alerts" in posts[0].body


def _config(tmp_path: Path, site: LoopbackServer, hook: LoopbackServer, **extra: object) -> Path:
    raw = {
        "store": f"sqlite:///{tmp_path / 'flow.db'}",
        "feeds": [{"url": site.url("/site/world.xml"), "name": "World"}],
        "channels": {"desk": "json://" + hook.url("/hook").removeprefix("http://")},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32"},
        **extra,
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def _sent_events(flow_run_id: str, want: int) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    wanted = EventFilter(
        event=EventNameFilter(name=["newsmon.alert.sent"]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    async with get_client() as client:
        for _ in range(100):
            page = await client.read_events(filter=wanted, limit=50)
            if len(page.events) >= want:
                return list(page.events)
            await asyncio.sleep(0.2)
    return []


def test_poll_run_publishes_an_artifact_and_one_event_per_sent_alert(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.poll import poll

    async def run(path: Path) -> tuple[list[Any], list[Any]]:
        state = await poll(str(path), return_state=True)
        run_id = state.state_details.flow_run_id
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
        return artifacts, await _sent_events(str(run_id), 2)

    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        desk = "json://" + hook.url("/hook").removeprefix("http://")
        rules = [{**r, "notify": ["desk", "copy"]} for r in TEST_RULES]
        path = _config(tmp_path, site, hook, rules=rules, channels={"desk": desk, "copy": desk})
        artifacts, events = asyncio.run(run(path))
    [artifact] = artifacts
    assert artifact.type == "markdown" and artifact.key == "newsmon-poll"
    text = str(artifact.data)
    assert "1 polled (1 with news" in text and "2 new in 2 stories" in text
    assert "security-guarantees" in text and "donbas-withdrawal" in text
    assert f"]({site.url('/site/news/guarantees.html')})" in text
    assert len(events) == 2
    assert {e.payload["rule"] for e in events} == {"security-guarantees", "donbas-withdrawal"}
    assert all(e.resource.id.startswith("newsmon.alert.") for e in events)
    assert all(e.payload["channels"] == ["copy", "desk"] and e.payload["url"] for e in events)
    latency = events[0].payload["latency"]
    assert latency["seen_via"] == "poll" and latency["seen"] and latency["sent"]
    assert latency["seen_to_sent_s"] >= 0


def test_a_failed_flow_run_notifies_the_ops_channel(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer
) -> None:
    from flows.poll import poll

    with LoopbackServer() as hook:
        hook.add("/hook", b"")
        hook.add("/ops", b"")
        ops = "json://" + hook.url("/ops").removeprefix("http://")
        path = _config(tmp_path, site, hook, store="postgresql+psycopg://nobody@127.0.0.1:1/x")
        raw = yaml.safe_load(path.read_text())
        raw["channels"]["ops"] = ops
        path.write_text(yaml.safe_dump(raw))
        state = asyncio.run(poll(str(path), return_state=True))
        posts = [r for r in hook.requests if r.method == "POST"]
    assert state.is_failed()
    assert [r.path for r in posts] == ["/ops"]
    assert b"flow poll failed" in posts[0].body


def test_each_feed_fetch_is_a_task_retried_on_5xx(
    prefect_harness: None, tmp_path: Path, site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `feed_tasks`, a feed answering 503 twice is fetched by one `fetch-feed` task
    that Prefect runs three times; a 404 is not retried."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows import poll as poll_module

    world = (DATA / "site" / "world.xml").read_bytes()
    site.add("/flaky.xml", world, script=[(503, {}), (503, {})])
    site.add("/gone.xml", b"", status=404)
    quick = poll_module.fetch_feed.with_options(retry_delay_seconds=0)
    monkeypatch.setattr(poll_module, "fetch_feed", quick)
    raw = {
        "store": f"sqlite:///{tmp_path / 'tasks.db'}",
        "feeds": [{"url": site.url("/flaky.xml")}, {"url": site.url("/gone.xml")}],
        "channels": {"desk": "json://127.0.0.1:9/hook"},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0},
    }
    path = tmp_path / "newsmon.yaml"
    path.write_text(yaml.safe_dump(raw))

    async def go() -> tuple[dict[str, Any], dict[str, int]]:
        state = await poll_module.poll(str(path), feed_tasks=True, return_state=True)
        run_id = state.state_details.flow_run_id
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
        fetches = {r.name: r.run_count for r in runs if r.name.startswith("fetch ")}
        return await state.result(), fetches

    summary, fetches = asyncio.run(go())
    assert summary["feeds"] == {**NO_FEEDS, "polled": 2, "new": 1, "failed": 1}
    assert sorted(fetches.values()) == [1, 3]
    assert [r.path for r in site.requests].count("/flaky.xml") == 3
    assert [r.path for r in site.requests].count("/gone.xml") == 1


def test_check_reads_the_secret_channels_and_says_why_one_cannot_be(
    prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.blocks.system import Secret
    from typer.testing import CliRunner

    from newsmon.cli import app

    Secret(value="not an apprise URL").save("desk-garbled", overwrite=True)
    Secret(value="json://127.0.0.1:9/hook").save("desk-good", overwrite=True)
    channels = {
        "missing": {"secret": "desk-missing"},
        "garbled": {"secret": "desk-garbled"},
        "good": {"secret": "desk-good"},
    }
    rules = [{**r, "notify": list(channels)} for r in TEST_RULES]
    path = tmp_path / "newsmon.yaml"
    raw = {"store": f"sqlite:///{tmp_path / 'db.db'}", "channels": channels, "rules": rules}
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["check", "-c", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    note, head, *lines = result.output.splitlines()  # in the file's order (keys sorted)
    assert note.startswith("reading the channels' Prefect secrets from http")
    assert not note.endswith("(some 15 s)")  # a Prefect API is set: no server starts
    assert head == "The config has 2 problems:"
    assert lines[0] == (
        f"  {path}:2: channels.garbled: Prefect secret 'desk-garbled' holds not a valid "
        "apprise URL (scheme '(none)')"
    )
    assert lines[1].startswith(
        f"  {path}:6: channels.missing: cannot read Prefect secret 'desk-missing': "
        "Unable to find block document named desk-missing for block type secret on http"
    )
    assert "create it: python -c" in lines[1] and ".save('desk-missing')" in lines[1]
    assert "not an apprise URL" not in result.output  # a secret's value is never shown
