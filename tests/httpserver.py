"""A loopback HTTP server for tests: fixed routes, static files, conditional GETs.

    with LoopbackServer() as server:
        server.add("/feed", b"<rss/>", etag='"v1"')
        server.add("/old", status=301, headers={"Location": "/feed"})
        server.serve_dir("/site", DATA_DIR)   # "{{BASE}}" in files -> server.base_url
        ... fetch server.url("/feed") ...
        assert server.requests[-1].headers["if-none-match"] == '"v1"'

Responses are HTTP/1.0: one request per connection, the body ends with the connection
unless a Content-Length is sent.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

_SCRIPT_LOCK = threading.Lock()
EXTRA_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}


class Request(NamedTuple):
    """A request the server received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


Body = bytes | Callable[[Request], bytes]


@dataclass
class Route:
    """What to answer on one path.

    `body` may be a callable taking the Request. With `etag`/`last_modified` set, those
    headers are sent and a matching conditional request gets a 304. `gzip` encodes the
    body; `content_length=False` sends none (the body ends when the connection closes);
    `delay` waits before answering; `trickle` waits that long between body bytes.
    `script` lists (status, headers) answers given, in order, before `status`.
    """

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    content_length: bool = True
    delay: float = 0.0
    trickle: float = 0.0
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def next_answer(self) -> tuple[int, dict[str, str]]:
        """The next scripted (status, headers), else the route's own."""
        with _SCRIPT_LOCK:
            if self.script:
                status, headers = self.script.pop(0)
                return status, {**self.headers, **headers}
        return self.status, self.headers


class LoopbackServer:
    """A threaded HTTP server on `host` (a loopback address) and a free port; a context
    manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Route] = {}
        self._dirs: dict[str, tuple[Path, dict[str, str] | None]] = {}
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def add(self, path: str, body: Body = b"", **options: Any) -> Route:
        """Answer `path` (query string included, if given) with a Route of these fields."""
        route = Route(body=body, **options)
        with self._lock:
            self._routes[path] = route
        return route

    def serve_dir(
        self, prefix: str, directory: str | Path, substitutions: Mapping[str, str] | None = None
    ) -> None:
        """Serve the files under `directory` at `prefix`, with ETag and Last-Modified.

        Each text replacement in `substitutions` (default {"{{BASE}}": base_url}) is
        applied to the file's bytes when served.
        """
        subs = dict(substitutions) if substitutions is not None else {"{{BASE}}": self.base_url}
        with self._lock:
            self._dirs["/" + prefix.strip("/")] = (Path(directory).resolve(), subs)

    @property
    def requests(self) -> list[Request]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def route_for(self, target: str) -> Route | None:
        """The Route answering a request target, a fixed route first, then a file."""
        path = unquote(urlsplit(target).path)
        with self._lock:
            route = self._routes.get(target) or self._routes.get(path)
            dirs = sorted(self._dirs.items(), key=lambda item: -len(item[0]))
        if route is not None:
            return route
        for prefix, (directory, subs) in dirs:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return _file_route(directory, path[len(prefix) :].lstrip("/"), subs)
        return None


def _file_route(directory: Path, name: str, subs: dict[str, str] | None) -> Route | None:
    file = (directory / name).resolve()
    if not file.is_file() or not file.is_relative_to(directory):
        return None
    body = file.read_bytes()
    for old, new in (subs or {}).items():
        body = body.replace(old.encode(), new.encode())
    kind = EXTRA_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
    return Route(
        body=body,
        headers={"Content-Type": kind or "application/octet-stream"},
        etag=f'"{hashlib.sha1(body).hexdigest()[:16]}"',
        last_modified=formatdate(file.stat().st_mtime, usegmt=True),
    )


def not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    """Whether a conditional request's validators match the route's (RFC 9110 13.2.2)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return route.etag is not None and ("*" in tags or route.etag.removeprefix("W/") in tags)
    since = headers.get("if-modified-since")
    if since is None or route.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients in tests hang up early on purpose."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def _answer(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        owner.record(request)
        route = owner.route_for(self.path) or Route(status=404, body=b"not found")
        if route.delay and owner.stopping.wait(route.delay):
            return
        if (route.etag or route.last_modified) and not_modified(route, request.headers):
            self._send_head(304, route, None)
            return
        body = route.body(request) if callable(route.body) else route.body
        if route.gzip:
            body = gzip.compress(body)
        status, headers = route.next_answer()
        route = Route(**{**route.__dict__, "headers": headers, "script": []})
        self._send_head(status, route, len(body) if route.content_length else None)
        if self.command != "HEAD":
            self._send_body(body, route.trickle)

    def _send_head(self, status: int, route: Route, length: int | None) -> None:
        self.send_response(status)
        headers = dict(route.headers)
        if route.etag:
            headers.setdefault("ETag", route.etag)
        if route.last_modified:
            headers.setdefault("Last-Modified", route.last_modified)
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        if length is not None:
            headers["Content-Length"] = str(length)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(self, body: bytes, trickle: float) -> None:
        if not trickle:
            self.wfile.write(body)
            return
        for i in range(len(body)):
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            if self.server.owner.stopping.wait(trickle):
                return
