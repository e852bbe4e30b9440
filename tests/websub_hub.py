"""A WebSub hub on loopback, for tests and benches.

    with LoopbackHub(lease=600) as hub:
        ... a feed names hub.url as its rel="hub" ...
        hub.publish(topic, body)        # POSTed, signed, to every checked subscriber

It takes subscribe and unsubscribe requests (form POSTs), checks each intent at the
callback before answering 202 (GET with hub.challenge, which must come back in a 2xx),
and distributes content with `X-Hub-Signature` (sha256 by default) made with each
subscriber's hub.secret. `refuse` makes it answer requests with that status (a failing
hub); `sign_with` overrides the secret (a forger).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx


@dataclass
class HubSubscription:
    """A checked subscription: where to push, the secret, the lease granted."""

    topic: str
    callback: str
    secret: str | None
    lease: int


@dataclass(frozen=True)
class Pushed:
    """One distribution: to whom, what, how it was signed, and the answer."""

    callback: str
    body: bytes
    headers: dict[str, str]
    status: int


class LoopbackHub:
    """A threaded WebSub hub on 127.0.0.1 and a free port; a context manager."""

    def __init__(self, lease: int = 600, algorithm: str = "sha256") -> None:
        self.lease = lease
        self.algorithm = algorithm
        self.refuse: int | None = None
        self.sign_with: str | None = None
        self.requests: list[dict[str, str]] = []  # every request form, in order
        self.checks: list[tuple[str, str, int, bool]] = []  # mode, topic, status, echoed
        self.pushes: list[Pushed] = []
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=10, trust_env=False)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    def __enter__(self) -> LoopbackHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._client.close()

    def take(self, form: dict[str, str]) -> int:
        """Answer a subscriber's request: its intent checked first, then 202."""
        with self._lock:
            self.requests.append(form)
        if self.refuse is not None:
            return self.refuse
        mode, topic, callback = (form.get(k, "") for k in ("hub.mode", "hub.topic", "hub.callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return 400
        if self.check(mode, topic, callback):
            with self._lock:
                if mode == "subscribe":
                    secret = form.get("hub.secret")
                    self.subscriptions[(topic, callback)] = HubSubscription(
                        topic, callback, secret, self.lease
                    )
                else:
                    self.subscriptions.pop((topic, callback), None)
        return 202

    def check(self, mode: str, topic: str, callback: str) -> bool:
        """Check an intent at the callback: whether the challenge came back."""
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(self.lease)
        answer = self._client.get(callback, params=params)
        echoed = answer.is_success and answer.text == challenge
        with self._lock:
            self.checks.append((mode, topic, answer.status_code, echoed))
        return echoed

    def deny(self, topic: str, callback: str, reason: str) -> int:
        """Tell a subscriber its subscription is denied; the callback's status."""
        params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
        return self._client.get(callback, params=params).status_code

    def publish(
        self, topic: str, body: bytes, content_type: str = "application/atom+xml"
    ) -> list[Pushed]:
        """Push `body` to every checked subscriber of `topic`, signed; what each answered."""
        with self._lock:
            targets = [s for s in self.subscriptions.values() if s.topic == topic]
        return [self.push_to(s, body, content_type) for s in targets]

    def push_to(self, sub: HubSubscription, body: bytes, content_type: str) -> Pushed:
        headers = {
            "Content-Type": content_type,
            "Link": f'<{self.url}>; rel="hub", <{sub.topic}>; rel="self"',
        }
        secret = self.sign_with if self.sign_with is not None else sub.secret
        if secret is not None:
            digest = hmac.new(secret.encode(), body, getattr(hashlib, self.algorithm))
            headers["X-Hub-Signature"] = f"{self.algorithm}={digest.hexdigest()}"
        answer = self._client.post(sub.callback, content=body, headers=headers)
        pushed = Pushed(sub.callback, body, headers, answer.status_code)
        with self._lock:
            self.pushes.append(pushed)
        return pushed

    def replay(self, pushed: Pushed) -> int:
        """Send a distribution again, byte for byte; the callback's status."""
        return self._client.post(
            pushed.callback, content=pushed.body, headers=pushed.headers
        ).status_code


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: LoopbackHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a subscriber that hangs up is the test's business."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        fields = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        form = {key: values[-1] for key, values in fields.items()}
        status = self.server.hub.take(form)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
