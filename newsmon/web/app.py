"""The desk's site as a Starlette app: `create_app(config, store)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitors.config import STORY_PATH, Config
from monitors.delivery import SecretResolver
from monitors.store import Store
from newsmon.web.guard import Guard, Guarded
from newsmon.web.pages import Desk, error_page
from newsmon.web.playground import Playground
from newsmon.web.render import Renderer
from newsmon.web.websub import Callback

STATIC = Path(__file__).parent / "static"


def create_app(
    config: Config,
    store: Store,
    token: str | None = None,
    secrets: SecretResolver | None = None,
) -> Starlette:
    """The site over `store`. `token` is the web token's value (default: the config's,
    when written there); with one, every visitor must give it. With push on, the site
    answers WebSub hubs too, processing pushes through the pipeline (channels kept in
    secrets resolved by `secrets`)."""
    if token is None and isinstance(config.web.token, str):
        token = config.web.token
    if token is None and config.web.token is not None:
        raise ValueError("the web token is kept in a Prefect Secret: pass its value")
    guard = Guard(token, config.web.base_url, config.push.base_url)
    render = Renderer(config, token)
    desk = Desk(config, store, render, guard, Playground(config))
    callback = Callback(config, store, secrets) if config.push.enabled else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if callback is None:
                yield
            else:
                async with callback.running():
                    yield
        finally:
            desk.playground.close()

    routes = [
        Route("/", lambda request: RedirectResponse("/stories", 303)),
        Route("/stories", desk.stories),
        Route(STORY_PATH.replace("{story_id}", "{story_id:int}"), desk.story),
        Route("/alerts", desk.alerts),
        Route("/alerts/retry", desk.retry, methods=["POST"]),
        Route("/alerts/{alert_id:int}/retry", desk.retry, methods=["POST"]),
        Route("/feeds", desk.feeds),
        Route("/playground", desk.playground_form),
        Route("/playground", desk.playground_run, methods=["POST"]),
        Route("/login", desk.login_form),
        Route("/login", desk.login, methods=["POST"]),
        Route("/logout", desk.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *(callback.routes() if callback is not None else []),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guarded, guard=guard)],
        exception_handlers={HTTPException: error_page(render)},
        lifespan=lifespan,
    )
