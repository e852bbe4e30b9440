"""Debian's Chromium driven by Playwright, and the site under uvicorn, for browser tests
and the screenshots in docs/.

Playwright's own browser download is not used: the browser is `$NEWSMON_CHROMIUM`
(default /usr/bin/chromium, `apt-get install chromium`). Without it, or without the
playwright package, browser tests skip with the reason, unless NEWSMON_REQUIRE_BROWSER=1
(CI), where they fail.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from monitors.config import Config
from monitors.store import Store
from newsmon.web import create_app
from tests.conftest import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("NEWSMON_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright, or the test extra)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NEWSMON_CHROMIUM)"
    return None


def require_browser() -> None:
    """Skip (or, with NEWSMON_REQUIRE_BROWSER=1, fail) when no browser can run."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("NEWSMON_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serving(config: Config, store: Store) -> Iterator[str]:
    """The site under uvicorn on a free loopback port; its base URL."""
    port = free_port()
    app = create_app(config, store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the site did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
