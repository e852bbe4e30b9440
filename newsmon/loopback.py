"""Loopback HTTP servers for the demo: a static news site and a webhook receiver."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import threading
from datetime import datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, run in the background."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


_ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})")
_RFC822_TIME = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
)


class StaticSite(LoopbackServer):
    """Serves a folder; `{{BASE}}` in files becomes the server's base URL, and with a
    `shift` every time in its feeds and pages (ISO 8601 or RFC 822) moves by it.
    Answers conditional requests (ETag, Last-Modified) with 304."""

    def __init__(self, root: Path, shift: timedelta | None = None) -> None:
        self.root = root.resolve()
        self.shift = shift
        self.requests: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._modified = formatdate(usegmt=True)
        super().__init__(_StaticHandler)

    def body(self, path: str) -> bytes | None:
        file = (self.root / unquote(path).lstrip("/")).resolve()
        if file.is_dir():
            file = file / "index.html"
        if self.root not in file.parents or not file.is_file():
            return None
        body = file.read_bytes().replace(b"{{BASE}}", self.base.encode())
        if self.shift and file.suffix in (".xml", ".html"):
            body = _shifted(body.decode("utf-8"), self.shift).encode("utf-8")
        return body

    def log(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))


def _shifted(text: str, shift: timedelta) -> str:
    """`text` with its ISO 8601 and RFC 822 times moved by `shift`."""

    def iso(m: re.Match[str]) -> str:
        moved = datetime.fromisoformat(m.group()) + shift
        return moved.isoformat().replace("+00:00", "Z")

    def rfc822(m: re.Match[str]) -> str:
        return format_datetime(parsedate_to_datetime(m.group()) + shift)

    return _RFC822_TIME.sub(rfc822, _ISO_TIME.sub(iso, text))


class _StaticHandler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site: StaticSite = self.server.owner
        path = self.path.split("?", 1)[0]
        body = site.body(path)
        if body is None:
            site.log(path, 404)
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        fresh = self.headers.get("If-None-Match") == etag
        status = 304 if fresh else 200
        site.log(path, status)
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", site._modified)
        if fresh:
            self.end_headers()
            return
        self.send_header("Content-Type", _content_type(path))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _content_type(path: str) -> str:
    if path.endswith((".xml", ".rss", ".atom")):
        return "application/xml; charset=utf-8"
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


class WebhookReceiver(LoopbackServer):
    """Collects the JSON bodies POSTed to it (an apprise `json://` target)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        super().__init__(_WebhookHandler)

    @property
    def apprise_url(self) -> str:
        return "json://" + self.base.removeprefix("http://") + "/"

    def add(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(payload)


class _WebhookHandler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        receiver: WebhookReceiver = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if receiver.status < 300:
            receiver.add(json.loads(raw or b"{}"))
        self.send_response(receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass
