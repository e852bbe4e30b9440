"""A hostile HTTP server on a loopback address, and the hostile bodies it serves.

    with HostileServer() as evil:
        evil.route("/drip", trickle(b"<rss/>", every=0.5))   # a byte every half second
        evil.route("/silent", silent)                         # accepts, never answers
        evil.route("/bomb", answer(gzip_bomb(200 * MiB), {"Content-Encoding": "gzip"}))
        ... fetch evil.url("/drip") ...
        assert evil.connections == 1

Every route is a function writing raw bytes to the connection, so a route can lie
about its length, never end, or never answer at all.
"""

from __future__ import annotations

import contextlib
import functools
import random
import socket
import threading
import zlib
from collections.abc import Callable, Mapping

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is a dependency
    brotli = None

MiB = 2**20
Handler = Callable[[socket.socket, threading.Event], None]
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
BULLETIN_RULE = {
    "id": "bulletins",
    "query": "bulletin",
    "notify": ["desk"],
    "max_alerts_per_hour": 100_000,
}


def story(number: int) -> tuple[str, str]:
    """The headline and text of story `number`: made-up words, so that no two stories
    are the same story to newsmon, naming "bulletin N" for BULLETIN_RULE to match."""
    rng = random.Random(number)

    def words(count: int) -> str:
        return " ".join(
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(count)
        )

    sentences = " ".join(f"{words(12).capitalize()}." for _ in range(4))
    return f"{words(6).capitalize()}, bulletin {number}", f"{sentences} Bulletin {number} ends."


def story_feed(items: list[tuple[int, str]]) -> bytes:
    """An RSS feed of (story number, link) items, each story's text as its description."""
    body = "".join(
        f"<item><title>{story(n)[0]}</title><link>{link}</link>"
        f"<description>{story(n)[1]}</description></item>"
        for n, link in items
    )
    return f'<rss version="2.0"><channel><title>Bulletins</title>{body}</channel></rss>'.encode()


class HostileServer:
    """A threaded raw-socket HTTP server on `host` and a free port; a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        self.stopping = threading.Event()
        self.connections = 0
        self.paths: list[str] = []
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HostileServer:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for `path` (query string included) with `handler`."""
        with self._lock:
            self._routes[path] = handler

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            path = _request_path(conn)
            with self._lock:
                self.paths.append(path)
                handler = self._routes.get(path, answer(b"not found", status=404))
            with contextlib.suppress(OSError):  # the client hung up, as it should
                handler(conn, self.stopping)


def _request_path(conn: socket.socket) -> str:
    """The target of the request line (the headers are read and dropped)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        try:
            chunk = conn.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    conn.settimeout(None)
    parts = data.split(b"\r\n", 1)[0].split()
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


def head(status: int = 200, headers: Mapping[str, str] | None = None) -> bytes:
    """A status line and headers, ending the head."""
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(body: bytes, headers: Mapping[str, str] | None = None, status: int = 200) -> Handler:
    """A plain answer with a true Content-Length (unless `headers` sets one)."""
    sent = {"Content-Length": str(len(body)), **(headers or {})}

    def handle(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(head(status, sent) + body)

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    return answer(b"", {"Location": location}, status)


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept the request and never answer, until the server stops."""
    stopping.wait()


def trickle(body: bytes, every: float, headers: Mapping[str, str] | None = None) -> Handler:
    """Send the head at once, then the body one byte every `every` seconds."""

    def handle(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(head(200, {"Content-Length": str(len(body)), **(headers or {})}))
        for i in range(len(body)):
            conn.sendall(body[i : i + 1])
            if stopping.wait(every):
                return

    return handle


def endless(chunk: bytes, headers: Mapping[str, str] | None = None) -> Handler:
    """A body without Content-Length that never ends (until the client hangs up)."""

    def handle(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(head(200, headers))
        while not stopping.is_set():
            conn.sendall(chunk)

    return handle


def zeros(size: int, wbits: int) -> bytes:
    """`size` zero bytes compressed with zlib at `wbits` (31 gzip, 15 zlib, -15 raw)."""
    obj = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MiB)
    return b"".join(obj.compress(block) for _ in range(size // MiB)) + obj.flush()


def brotli_zeros(size: int) -> bytes:
    compressor = brotli.Compressor(quality=1)
    block = bytes(MiB)
    return b"".join(compressor.process(block) for _ in range(size // MiB)) + compressor.finish()


@functools.cache
def bombs(size: int = 200 * MiB) -> dict[str, tuple[bytes, str]]:
    """Bodies that decode to `size` zero bytes, as (body, Content-Encoding) by name."""
    out = {
        "gzip": (zeros(size, 31), "gzip"),
        "deflate": (zeros(size, 15), "deflate"),
        "raw-deflate": (zeros(size, -15), "deflate"),
    }
    if brotli is not None:
        out["br"] = (brotli_zeros(size), "br")
    return out
