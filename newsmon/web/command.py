"""`newsmon web`: the desk's site, served by uvicorn (and beside `newsmon serve`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from monitors.config import SecretChannel
from monitors.errors import DeliveryError
from newsmon.common import EXIT_CONFIG, ConfigOption, err, load_config, open_store, out

if TYPE_CHECKING:
    import uvicorn

    from monitors.config import Config
    from monitors.delivery import SecretResolver
    from monitors.store import Store

HostOption = Annotated[
    str | None,
    typer.Option(
        help="Address to listen on (default: web.host, 127.0.0.1); any other than "
        "loopback needs web.token."
    ),
]
PortOption = Annotated[int | None, typer.Option(help="Port (default: web.port, 8080).")]


def web(config: ConfigOption = None, host: HostOption = None, port: PortOption = None) -> None:
    """Serve the desk's site: stories, alerts, feeds and a rule playground.

    Listens on 127.0.0.1:8080 unless told otherwise; any other address needs a token
    (web.token). Ctrl-C stops it."""
    cfg = load_config(config)
    store = open_store(cfg)
    try:
        site_server(cfg, store, host, port).run()
    finally:
        store.close()


def site_server(
    cfg: Config, store: Store, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """A uvicorn server of the site on `host`:`port` (default: the config's); exits 2
    when the token cannot be had or the bind needs one."""
    import uvicorn

    from newsmon.web.app import create_app
    from newsmon.web.guard import BindError, check_bind

    host = host or cfg.web.host
    port = port or cfg.web.port
    token = _token(cfg.web.token)
    try:
        check_bind(host, token)
    except BindError as exc:
        err.print(f"[bold red]Not started:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    app = create_app(cfg, store, token, _secrets() if cfg.push.enabled else None)
    shown = f"[{host}]" if ":" in host else host
    out.print(f"the desk's site: http://{shown}:{port}/", highlight=False)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))


def serve_beside(server: uvicorn.Server) -> None:
    """Run the site in a thread of this process (for `newsmon serve --web`); it stops
    when the server's `should_exit` is set or the process ends."""
    threading.Thread(target=server.run, name="newsmon-web", daemon=True).start()


def _secrets() -> SecretResolver:
    """Channels kept in Prefect Secret blocks, for the alerts pushes make."""
    from flows.secrets import prefect_secret

    return prefect_secret


def _token(value: str | SecretChannel | None) -> str | None:
    """The token's value; from its Prefect Secret block when kept there."""
    if not isinstance(value, SecretChannel):
        return value
    from flows.secrets import prefect_secret

    try:
        return prefect_secret(value.secret)
    except DeliveryError as exc:
        err.print(f"[bold red]No web token:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
