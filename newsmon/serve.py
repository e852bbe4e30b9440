"""`newsmon serve`: the poll and digest schedules in one process, for a single machine."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from newsmon.common import (
    EXIT_CONFIG,
    ConfigOption,
    VerboseOption,
    err,
    load_config,
    open_store,
    out,
    setup_logging,
)
from newsmon.web.command import HostOption, PortOption, serve_beside, site_server

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.runner import Runner

NAME = "serve"  # apart from the work-pool deployments of deploy/prefect.yaml
POLL_EVERY = 300
HOURLY = "0 * * * *"
DAILY = "0 7 * * *"
STOP_WITHIN = 10.0  # seconds a shutdown may take before flow runs still going are dropped


def deployments(config_path: Path) -> list[RunnerDeployment]:
    """The served deployments `poll/serve` every 5 minutes and `digest/serve` hourly
    and daily (UTC)."""
    from prefect.schedules import Cron, Interval

    from flows.digest import digest
    from flows.poll import poll

    params: dict[str, Any] = {"config_path": str(config_path)}
    made = [  # called outside an event loop, so Prefect makes them at once (no coroutines)
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
    return [cast("RunnerDeployment", deployment) for deployment in made]


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

    Polls every 5 minutes and sends digests hourly and daily at 07:00 UTC, as flow runs
    of the Prefect server at $PREFECT_API_URL, whose scheduler creates them (start one
    with `prefect server start`); with --web, serves the desk's site as well. SIGTERM or
    Ctrl-C stops it within seconds: a flow run still going is cancelled, and the
    deployments' schedules are paused."""
    setup_logging(verbose)
    cfg = load_config(config)
    site = site_server(cfg, open_store(cfg), host, port) if web else None  # bind checked first
    api = prefect_api()
    if site is not None:
        serve_beside(site)
    asyncio.run(_serve(deployments(Path(cfg.source).resolve()), api))
    if site is not None:
        site.should_exit = True
    out.print("stopped", highlight=False)


def prefect_api() -> str:
    """The Prefect API's URL, or exit 2 saying why it cannot serve: none is set (a
    temporary server would run no schedules) or it does not answer."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        _refuse(
            "newsmon serve needs a Prefect server, whose scheduler creates the flow runs: "
            "start one (prefect server start) and set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api); or run `newsmon run --due` from cron"
        )
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        _refuse(f"the Prefect API at {url} does not answer: {problem}")
    return str(url)


def _refuse(message: str) -> None:
    err.print(f"Error: {message}", markup=False, highlight=False)
    raise typer.Exit(EXIT_CONFIG)


async def _serve(served: list[RunnerDeployment], api: str) -> None:
    """Serve until SIGTERM or SIGINT, then stop the runner within STOP_WITHIN seconds."""
    from prefect.runner import Runner

    runner = Runner(name=f"newsmon-{NAME}")
    for deployment in served:
        await runner.aadd_deployment(deployment)
    out.print(
        f"serving poll/{NAME} (every {POLL_EVERY // 60} min) and digest/{NAME} (hourly, daily "
        f"at 07:00 UTC) on the Prefect API at {api}; Ctrl-C or SIGTERM stops",
        markup=False,
        highlight=False,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # The runner installs `handle_sigterm` when it starts: route it to the same stop.
    runner.handle_sigterm = lambda *_: loop.call_soon_threadsafe(stop.set)  # type: ignore[method-assign,assignment]
    loop.add_signal_handler(signal.SIGINT, stop.set)
    running = asyncio.create_task(runner.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        await _stop(runner, running)
    stopping.cancel()
    running.result()


async def _stop(runner: Runner, running: asyncio.Task[None]) -> None:
    """Cancel the flow runs still going and stop the runner; give up waiting after
    STOP_WITHIN seconds."""
    err.print("stopping: cancelling flow runs still going", highlight=False)
    try:
        await asyncio.wait_for(_stopped(runner, running), STOP_WITHIN)
    except TimeoutError:
        err.print(f"not stopped within {STOP_WITHIN:.0f} s: leaving", highlight=False)
        running.cancel()


async def _stopped(runner: Runner, running: asyncio.Task[None]) -> None:
    await runner.astop()
    await asyncio.wait({running})
