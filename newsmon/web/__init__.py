"""The desk's site: stories, alerts, feeds and a rule playground, rendered on the server.

`create_app(config, store)` is the Starlette app (`app`): `pages` reads the store for each
page through read-only units of work and renders `templates/` (every value escaped);
`playground` runs rules on pasted text or a page fetched under the pipeline's guards;
`guard` holds what keeps it safe (the bind rule, the token, CSRF, security headers).
No JavaScript, nothing fetched from elsewhere. `command` is `newsmon web`.

`create_app` is imported on first use, so that `newsmon --help` does not load Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsmon.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name != "create_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from newsmon.web.app import create_app

    return create_app
