"""`newsmon serve`: the poll and digest schedules in one process, for a single machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from newsmon.common import ConfigOption, VerboseOption, load_config, open_store, setup_logging
from newsmon.web.command import HostOption, PortOption, serve_beside

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

NAME = "serve"  # apart from the work-pool deployments of deploy/prefect.yaml
POLL_EVERY = 300
HOURLY = "0 * * * *"
DAILY = "0 7 * * *"


def deployments(config_path: Path) -> list[RunnerDeployment]:
    """The served deployments `poll/serve` every 5 minutes and `digest/serve` hourly
    and daily (UTC)."""
    from prefect.schedules import Cron, Interval

    from flows.digest import digest
    from flows.poll import poll

    params: dict[str, Any] = {"config_path": str(config_path)}
    return [
        poll.to_deployment(
            name=NAME, schedules=[Interval(POLL_EVERY)], parameters={**params, "due_only": True}
        ),
        digest.to_deployment(
            name=NAME,
            parameters=params,
            schedules=[
                Cron(HOURLY, timezone="UTC", parameters={**params, "period": "hourly"}),
                Cron(DAILY, timezone="UTC", parameters={**params, "period": "daily"}),
            ],
        ),
    ]


def serve(
    config: ConfigOption = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve the desk's site too (as `newsmon web`).")
    ] = False,
    host: HostOption = None,
    port: PortOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the poll and digest schedules in this process, without a work pool.

    Polls every 5 minutes, sends digests hourly and daily at 07:00 UTC; with --web, serves
    the desk's site as well. Needs a Prefect API ($PREFECT_API_URL); Ctrl-C stops it."""
    from prefect import serve as prefect_serve

    setup_logging(verbose)
    cfg = load_config(config)
    if web:
        serve_beside(cfg, open_store(cfg), host, port)
    prefect_serve(*deployments(Path(cfg.source).resolve()))
