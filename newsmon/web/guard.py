"""What keeps the desk's site safe: where it may listen, who may read it, which forms count.

- Bind: loopback needs nothing; any other address needs a token (`check_bind`).
- Visitors: with a token, every page asks for it once (a signed session cookie) or takes
  it as `Authorization: Bearer`; without one (loopback), only loopback host names and the
  `base_url`'s are answered, so that a page elsewhere cannot rebind a name to 127.0.0.1.
- Forms: every POST carries a CSRF token, an HMAC of the visitor's own random cookie, and
  a cross-site Origin or Sec-Fetch-Site is refused.
- Answers: a CSP with no script at all and no framing, nosniff, no referrer to other
  sites, no caching;
  request bodies are capped.
- WebSub callbacks (`/websub/…`, see `websub`) are hubs', not visitors': no token or
  form check, their own size cap; their signature vouches for them. The host of
  `push.base_url` is answered as the site's own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitors.config import PUSH_PATH

SESSION_COOKIE = "newsmon_session"
CSRF_COOKIE = "newsmon_csrf"
CSRF_FIELD = "csrf"
SESSION_DAYS = 7
MAX_BODY = 2 * 2**20  # bytes of a request body: the playground's text fits, a flood does not
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN_PATHS = ("/login", "/static/")  # answered without the token
CALLBACKS = PUSH_PATH.split("{", 1)[0]  # WebSub callbacks: signed by their hub, checked there
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no desk address leaks to an article's site
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class BindError(Exception):
    """The site may not listen there as configured; the message says why."""


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's loopback only."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse any bind beyond loopback without a token."""
    if not is_loopback(host) and not token:
        raise BindError(
            f"refusing to listen on {host} without a token: set web.token in the config "
            "(for example ${NEWSMON_WEB_TOKEN}, or {secret: NAME} for a Prefect Secret), "
            "or listen on 127.0.0.1"
        )


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, f"the request is over {MAX_BODY // 2**20} MiB")


class Guard:
    """The rules above for one site: its token, its CSRF secret, its cookies."""

    def __init__(
        self, token: str | None, base_url: str | None, push_url: str | None = None
    ) -> None:
        self.token = token
        self.secret = secrets.token_bytes(32)
        base = urlsplit(base_url) if base_url else None
        self.secure = base is not None and base.scheme == "https"
        self.origins = {f"{base.scheme}://{base.netloc}"} if base else set()
        own = [u.hostname for u in (base, urlsplit(push_url or "")) if u and u.hostname]
        self.hosts = None if token else {*LOOPBACK_NAMES, *own}

    def refusal(self, request: Request) -> ASGIApp | None:
        """The answer for a request refused before any page sees it, else None."""
        host = _host_name(request.headers.get("host", ""))
        if self.hosts is not None and host not in self.hosts:
            return PlainTextResponse(
                f"unknown host {host!r}: open the site by its own address", 421
            )
        if is_callback(request.url.path):
            return None
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return PlainTextResponse(BodyTooLarge().detail, 413)
        if request.method not in ("GET", "HEAD") and self._cross_site(request):
            return PlainTextResponse("a form from another site was refused", 403)
        path = request.url.path
        if self.token and not self.signed_in(request) and not path.startswith(OPEN_PATHS):
            if request.method in ("GET", "HEAD"):
                return RedirectResponse(f"/login?next={quote(local_path(path))}", 303)
            return PlainTextResponse("sign in first", 401)
        return None

    def _cross_site(self, request: Request) -> bool:
        """Whether a POST says it comes from another site."""
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site not in ("same-origin", "none")
        origin = request.headers.get("origin")
        if not origin:
            return False
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin not in {own, *self.origins}

    # tokens and cookies

    def signed_in(self, request: Request) -> bool:
        """Whether the request carries the token (as a session cookie or a bearer token);
        always, when the site has no token."""
        if not self.token:
            return True
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer ") and hmac.compare_digest(
            bearer[7:].encode(), self.token.encode()
        ):
            return True
        return self._valid_session(request.cookies.get(SESSION_COOKIE, ""))

    def check_token(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), (self.token or "").encode())

    def session(self) -> str:
        """A session cookie's value: when it ends, signed with the token."""
        until = str(int(time.time()) + SESSION_DAYS * 86400)
        return f"{until}.{self._sign(until)}"

    def _valid_session(self, value: str) -> bool:
        until, _, signature = value.partition(".")
        if not until.isdigit() or int(until) < time.time():
            return False
        return hmac.compare_digest(signature, self._sign(until))

    def _sign(self, value: str) -> str:
        key = hashlib.sha256(b"newsmon-web-session:" + (self.token or "").encode()).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def form_token(self, csrf_cookie: str) -> str:
        """The CSRF token forms carry for this cookie."""
        return hmac.new(self.secret, csrf_cookie.encode(), hashlib.sha256).hexdigest()

    def check_form(self, request: Request, given: object) -> None:
        """Raise 403 unless a form's CSRF token is the one for the visitor's cookie."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (
            _well_formed(cookie)
            and isinstance(given, str)
            and hmac.compare_digest(given, self.form_token(cookie))
        ):
            raise HTTPException(403, "the form is stale or not from this site: reload the page")

    def cookie(self, name: str, value: str, max_age: int | None = None) -> str:
        """A Set-Cookie value: HttpOnly, SameSite=Strict, Secure behind https."""
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


class Guarded:
    """ASGI middleware applying a Guard to every request of the site."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard, request = self.guard, Request(scope)
        refusal = guard.refusal(request)
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        fresh = not _well_formed(csrf)
        if fresh:
            csrf = secrets.token_urlsafe(32)
        scope.setdefault("state", {}).update(
            csrf=guard.form_token(csrf), signed_in=guard.signed_in(request), token=bool(guard.token)
        )
        static = request.url.path.startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "max-age=3600" if static else "no-store")
                if fresh:
                    headers.append("Set-Cookie", guard.cookie(CSRF_COOKIE, csrf))
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, with_headers)
            return
        capped = receive if is_callback(request.url.path) else _capped(receive)
        await self.app(scope, capped, with_headers)


def is_callback(path: str) -> bool:
    """Whether a path is a WebSub callback's."""
    return path.startswith(CALLBACKS)


def _well_formed(cookie: str) -> bool:
    return 32 <= len(cookie) <= 64 and all(c.isalnum() or c in "-_" for c in cookie)


def local_path(path: object) -> str:
    """A path safe to redirect to after sign-in: on this site only."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/"


def _host_name(header: str) -> str:
    """The host of a Host header, lower-case, without its port or IPv6 brackets."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0].lower()
    return (header.rsplit(":", 1)[0] if header.count(":") == 1 else header).lower()


def _capped(receive: Receive) -> Receive:
    """`receive`, raising BodyTooLarge once the body passes MAX_BODY bytes."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLarge()
        return message

    return capped
