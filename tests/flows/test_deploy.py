"""The deploy kit parses and names what it must: prefect.yaml, compose.yaml, Dockerfile,
and the deployments `newsmon serve` runs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _load("prefect.yaml")["deployments"]}


def test_prefect_yaml_names_the_deployments_schedules_and_pool() -> None:
    deployments = _deployments()
    assert set(deployments) == {"poll", "digest", "backfill"}
    assert {d["work_pool"]["name"] for d in deployments.values()} == {"newsmon"}
    assert deployments["poll"]["schedules"] == [{"interval": 60}]
    assert deployments["poll"]["parameters"] == {"due_only": True}
    digests = deployments["digest"]["schedules"]
    assert [(s["cron"], s["parameters"]) for s in digests] == [
        ("0 * * * *", {"period": "hourly"}),
        ("0 7 * * *", {"period": "daily"}),
    ]
    assert "schedules" not in deployments["backfill"]
    assert _load("prefect.yaml")["pull"] == []


def test_prefect_yaml_is_valid_for_prefect() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(_load("prefect.yaml"))
    assert [d.name for d in model.deployments] == ["poll", "digest", "backfill"]


def test_several_poll_runs_go_at_once_and_a_surplus_one_is_cancelled() -> None:
    """Several workers of the pool each run a `poll` at once (the claims share the feeds
    and entries out); a run beyond the limit is cancelled rather than piling up."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    limit = ConcurrencyLimitConfig.model_validate(_deployments()["poll"]["concurrency_limit"])
    assert limit.limit == 4
    assert limit.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW


@pytest.mark.parametrize("name", ["poll", "digest", "backfill"])
def test_each_entrypoint_is_a_flow_taking_its_parameters(name: str) -> None:
    from prefect.flows import Flow, load_flow_from_entrypoint

    deployment = _deployments()[name]
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow) and flow.name == name
    given = set(deployment.get("parameters") or {})
    given |= {k for s in deployment.get("schedules", []) for k in s.get("parameters", {})}
    accepted = set(inspect.signature(flow.fn).parameters)
    assert given <= accepted and "config_path" in accepted


def test_compose_names_its_services_and_wires_them() -> None:
    compose = _load("compose.yaml")
    services = compose["services"]
    assert {"postgres", "prefect-server", "deploy", "worker", "newsmon"} <= set(services)
    worker = services["worker"]
    assert worker["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert worker["command"][-3:] == ["newsmon", "--type", "process"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker["environment"]["NEWSMON_STORE"].startswith("postgresql+psycopg://")
    assert "deploy/prefect.yaml --all" in services["deploy"]["command"][-1]
    server = services["prefect-server"]
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://"
    )
    assert "CREATE DATABASE newsmon" in compose["configs"]["newsmon-db"]["content"]


def _auth_settings() -> tuple[str, dict[str, str]]:
    """The auth string the compose kit gives the Prefect server, and its clients'."""
    services = _load("compose.yaml")["services"]
    server = services["prefect-server"]["environment"]["PREFECT_SERVER_API_AUTH_STRING"]
    clients = {
        name: service["environment"].get("PREFECT_API_AUTH_STRING")
        for name, service in services.items()
        if "PREFECT_API_URL" in service.get("environment", {})
    }
    return server, clients


def test_compose_publishes_the_prefect_api_on_loopback_behind_a_required_auth_string() -> None:
    services = _load("compose.yaml")["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {"prefect-server": ["127.0.0.1:4200:4200"]}
    server, clients = _auth_settings()
    assert re.fullmatch(r"\$\{PREFECT_API_AUTH_STRING:\?[^}]+\}", server)  # unset: no start
    assert clients == {"deploy": server, "worker": server, "newsmon": server}


def test_the_kit_sets_the_auth_settings_prefect_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import Settings

    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "server:pw")
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "client:pw")
    settings = Settings()
    assert settings.server.api.auth_string is not None
    assert settings.server.api.auth_string.get_secret_value() == "server:pw"
    assert settings.api.auth_string is not None
    assert settings.api.auth_string.get_secret_value() == "client:pw"


def test_dockerfile_copies_what_exists() -> None:
    root = DEPLOY.parent
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    copied = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    sources = [source for group in copied for source in group]
    assert "deploy/prefect.yaml" in sources and "monitors" in sources
    assert all((root / source).exists() for source in sources)
    assert any(line.startswith("FROM python:3.11") for line in lines)


def test_serve_runs_poll_every_5_minutes_and_digest_hourly_and_daily(tmp_path: Path) -> None:
    from newsmon.serve import deployments

    config = tmp_path / "newsmon.yaml"
    poll, digest = deployments(config)
    assert (poll.name, poll.flow_name, digest.flow_name) == ("serve", "poll", "digest")
    assert poll.parameters == {"config_path": str(config), "due_only": True}
    [every] = poll.schedules
    assert every.schedule.interval.total_seconds() == 300
    assert [(s.schedule.cron, s.parameters["period"]) for s in digest.schedules] == [
        ("0 * * * *", "hourly"),
        ("0 7 * * *", "daily"),
    ]
