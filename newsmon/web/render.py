"""Templates (Jinja2, every value escaped) and the helpers they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from monitors.config import Config
from monitors.delivery import secrets_of
from monitors.delivery.render import matched_line
from monitors.pipeline.latency import alert_latency
from newsmon.web import present

TEMPLATES = Path(__file__).parent / "templates"
PLACEMENTS = ("new story", "same story", "exact copy", "near duplicate", "same URL")


class Renderer:
    """Renders a page template with the request's CSRF token and the config's labels."""

    def __init__(self, config: Config, token: str | None) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        known = [v for v in config.channels.values() if isinstance(v, str)]
        secrets = [s for url in known for s in secrets_of(url)] + ([token] if token else [])
        self.env.globals.update(
            when=present.when,
            href=present.href,
            pieces=present.pieces,
            skipped=present.skipped,
            matched=matched_line,
            latency=alert_latency,
            redact=present.Redactor(secrets),
            query=_query,
            labels=config.labels(),
            rules=[(r.id, r.label) for r in config.rules],
            placements=PLACEMENTS,
        )

    def __call__(
        self, request: Request, name: str, http_status: int = 200, **context: Any
    ) -> HTMLResponse:
        state = request.state
        page = self.env.get_template(name).render(
            csrf=state.csrf, token=state.token, path=request.url.path, **context
        )
        return HTMLResponse(page, http_status)


def _query(path: str, **params: Any) -> str:
    """`path` with the non-empty `params` as its query string."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path
