"""One async HTTP fetcher for feeds and article pages, safe to point at the open web.

Every fetch follows redirects itself (checking each URL), refuses private addresses
at connect time, decodes the body incrementally under a size cap and finishes within
one overall deadline. Every failure is raised as a `monitors.errors.FetchError`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import anyio
import httpcore
import httpx
from httpcore._utils import is_socket_readable

from monitors.config import ENV_PRIVATE_NETWORKS, FetchConfig, Network, parse_private_networks
from monitors.errors import (
    BlockedURL,
    ConfigError,
    ConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    Problem,
    TooLarge,
    TooManyRedirects,
)
from monitors.ingest.urls import host_of
from monitors.models import FetchResult

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is optional
    brotli = None

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "text/html;q=0.8, application/xhtml+xml;q=0.8, */*;q=0.5"
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PIECE = 64 * 1024
MAX_RETRY_AFTER = 86400.0  # a longer Retry-After is read as this: a day of news, not more
MAX_ANSWER = 64 * 1024  # bytes of a hub's answer to a form read
MAX_CODINGS = 3  # servers send one; each layer costs a decompressor
# brotli >= 1.2 (the first with can_accept_more_data) bounds each call's output.
HAVE_BROTLI = brotli is not None and hasattr(brotli.Decompressor, "can_accept_more_data")
ACCEPT_ENCODING = "gzip, deflate, br" if HAVE_BROTLI else "gzip, deflate"
DECODE_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error, brotli.error) if HAVE_BROTLI else (zlib.error,)
)

_DELAY = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _version() -> str:
    try:
        return version("newsmon")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"newsmon/{_version()} (+https://github.com/newsmon/newsmon; news monitoring)"


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch, as a FetchConfig states them with the private networks it
    allows read (and NEWSMON_ALLOW_PRIVATE_NETWORKS applied). Sizes are counted after
    decompression; waiting for a slot (of the host, of all requests) is outside `timeout`."""

    timeout: float
    connect_timeout: float
    read_timeout: float
    max_bytes: int
    max_redirects: int
    per_host: int
    concurrency: int
    user_agent: str
    allowed_networks: tuple[Network, ...]
    allow_all_private: bool

    @classmethod
    def of(cls, config: FetchConfig, env: Mapping[str, str] | None = None) -> FetchLimits:
        """The limits `config` states; ConfigError when the environment's
        NEWSMON_ALLOW_PRIVATE_NETWORKS, which overrides its private networks, is invalid."""
        env = os.environ if env is None else env
        setting = env.get(ENV_PRIVATE_NETWORKS, config.allow_private_networks)
        try:
            allow_all, networks = parse_private_networks(setting)
        except ValueError as exc:
            where = ENV_PRIVATE_NETWORKS if ENV_PRIVATE_NETWORKS in env else "fetch"
            raise ConfigError([Problem("environment", where, str(exc))]) from None
        bounds = ("timeout", "connect_timeout", "read_timeout", "max_bytes", "max_redirects")
        return cls(
            **config.model_dump(include={*bounds, "per_host", "concurrency"}),
            user_agent=config.user_agent or USER_AGENT,
            allowed_networks=networks,
            allow_all_private=allow_all,
        )


def is_public(address: IPAddress) -> bool:
    """Whether an address is a globally routable unicast one.

    IPv6 addresses that embed an IPv4 one (mapped, 6to4, NAT64) are judged by it.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _CGNAT
        or not address.is_global
    )


def address_allowed(address: IPAddress, limits: FetchLimits) -> bool:
    """Whether `limits` let a connection be opened to `address`."""
    if limits.allow_all_private or is_public(address):
        return True
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        candidates.append(address.ipv4_mapped)
    return any(a in net for a in candidates for net in limits.allowed_networks)


def check_url(url: str) -> None:
    """Raise BlockedURL unless `url` is an absolute http(s) URL with a host and no credentials."""
    if "\\" in url:
        raise BlockedURL(url, "backslashes are not allowed in URLs")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise BlockedURL(url, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedURL(url, f"scheme {scheme!r} is not allowed" if scheme else "no scheme")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL(url, "credentials in URLs are not allowed")
    if not parts.hostname:
        raise BlockedURL(url, "no host")


def refused_address(url: str, limits: FetchLimits) -> str | None:
    """Why fetching `url` is refused before any lookup: its host is an address (or
    localhost) the limits do not allow; None otherwise (a name is checked when fetched)."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        return None
    return None if address_allowed(address, limits) else _private(str(address))


def _private(address: str) -> str:
    """Why a connection to `address` is refused, and the setting that allows it."""
    network = ipaddress.ip_network(address)
    return (
        f"resolves to a private address {address} (allowed by the config's "
        f"fetch.allow_private_networks, e.g. {network}, or ${ENV_PRIVATE_NETWORKS})"
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that refuses to connect to non-public addresses.

    `connect_tcp` resolves the host itself, drops every address `limits` do not allow
    and connects to the remaining IP literals in turn, so the address checked is the
    address connected to (no DNS rebinding between check and connect). httpcore
    passes the hostname separately for TLS (SNI and certificate checks) and the
    Host header comes from the URL, so both still name the host, not the IP.
    """

    def __init__(self, limits: FetchLimits) -> None:
        self._limits = limits
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        allowed = [a for a in addresses if address_allowed(ipaddress.ip_address(a), self._limits)]
        if not allowed:
            raise BlockedURL(host, _private(addresses[0]))
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in allowed:
            try:
                return _Stream(
                    await self._inner.connect_tcp(
                        address, port, timeout, local_address, socket_options
                    )
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """A connection's stream that tells whether it is readable from its socket, found
    once. httpcore asks it of each idle connection of a pool at each request; AnyIO
    answers from attributes it builds anew at each call (a getpeername among them):
    7.6 against 1.0 µs a check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The IP addresses of `host`, in resolver order, without duplicates."""
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    addresses = dict.fromkeys(str(info[4][0]) for info in infos)
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}: no address")
    return list(addresses)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (HTTP/1.1, HTTP/2 where offered) with its connection pool
    on a GuardedBackend."""

    def __init__(
        self, limits: FetchLimits, pool_limits: httpx.Limits, ssl_context: ssl.SSLContext
    ) -> None:
        super().__init__(verify=ssl_context, limits=pool_limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=pool_limits.max_connections,
            max_keepalive_connections=pool_limits.max_keepalive_connections,
            keepalive_expiry=pool_limits.keepalive_expiry,
            http1=True,
            http2=True,  # where the server offers it (ALPN), else HTTP/1.1
            network_backend=GuardedBackend(limits),
        )


Origin = tuple[str, str, int | None]


class HostPools(httpx.AsyncBaseTransport):
    """One GuardedTransport a host (scheme, host, port), each keeping up to `kept_open`
    idle connections; a host's pool is closed once it is idle and either unused for
    longer than its connections are kept or beyond the `kept_hosts` most recently used.

    One pool for every host makes each request look at every kept connection (httpcore
    checks them all) and, when pages go round many hosts, closes a host's connection
    before its next page: a pool a host keeps its connections for that host, and costs
    a request only its own (bench/RESULTS.md, "A connection pool a host").

    The Fetcher keeps `fetch.per_host` a host: httpcore (1.0.x) closes each connection
    that turns idle while its pool holds more than `kept_open` connections in all, busy
    ones included, so fewer would reopen a connection for nearly every request once more
    than that many run at once to one host.
    """

    def __init__(self, limits: FetchLimits, kept_hosts: int, kept_open: int) -> None:
        self._limits = limits
        self._kept_hosts = kept_hosts
        self._pool_limits = httpx.Limits(
            max_connections=limits.per_host, max_keepalive_connections=kept_open
        )
        self._pools: OrderedDict[Origin, GuardedTransport] = OrderedDict()  # oldest first
        self._used: dict[Origin, float] = {}
        self._busy: Counter[Origin] = Counter()
        self._ssl = httpx.create_ssl_context()  # the CA bundle loaded once, for every pool

    @property
    def hosts(self) -> int:
        """How many hosts have a pool now."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.pop(origin, None) or GuardedTransport(
            self._limits, self._pool_limits, self._ssl
        )
        self._pools[origin] = pool
        self._used[origin] = time.monotonic()
        self._busy[origin] += 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            await self._done(origin)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tracked(response.stream, lambda: self._done(origin)),
            extensions=response.extensions,
        )

    async def _done(self, origin: Origin) -> None:
        """A request to `origin` ended: close the pools due to close (httpcore expires an
        idle connection only when its pool is next used)."""
        self._busy[origin] -= 1
        if self._busy[origin] <= 0:
            del self._busy[origin]
        expired = time.monotonic() - (self._pool_limits.keepalive_expiry or 0.0)
        due: list[Origin] = []
        for oldest in self._pools:
            if oldest in self._busy:
                continue
            if len(self._pools) - len(due) <= self._kept_hosts and self._used[oldest] > expired:
                break  # the pools after it were used later still
            due.append(oldest)
        closing = []  # all taken out before any is closed: closing lets other requests run
        for origin in due:
            del self._used[origin]
            closing.append(self._pools.pop(origin))
        for pool in closing:
            await pool.aclose()

    async def aclose(self) -> None:
        while self._pools:
            origin, pool = self._pools.popitem()
            del self._used[origin]
            await pool.aclose()


class _Tracked(httpx.AsyncByteStream):
    """A response's body that tells `closed` once it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, closed: Callable[[], Awaitable[None]]):
        self._stream = stream
        self._closed: Callable[[], Awaitable[None]] | None = closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            closed, self._closed = self._closed, None
            if closed is not None:
                await closed()


class _Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data


class _Inflate:
    """gzip or deflate (zlib-wrapped or raw), emitting at most PIECE bytes at a time."""

    def __init__(self, gzip: bool) -> None:
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._head = b""

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._obj = zlib.decompressobj(
                zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS
            )
        out = b""
        while data and not self._obj.eof:
            out = self._obj.decompress(data, PIECE)
            data = self._obj.unconsumed_tail
            if out:
                yield out
        while len(out) == PIECE and not self._obj.eof:  # input consumed, output pending
            out = self._obj.decompress(b"", PIECE)
            if out:
                yield out


def _zlib_header(data: bytes) -> bool:
    return data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0


class _Brotli:
    """Brotli, emitting about PIECE bytes at a time.

    Output is drained until empty: brotli 1.2's `can_accept_more_data()` turns true
    once the input is consumed, even while decoded output is still pending.
    """

    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        out = self._obj.process(data, output_buffer_limit=PIECE)
        while out:
            yield out
            out = self._obj.process(b"", output_buffer_limit=PIECE)


def _decoders(url: str, content_encoding: str) -> list[_Decoder]:
    """Decoders for a Content-Encoding header, in the order to apply them."""
    names = [n.strip().lower() for n in content_encoding.split(",")]
    if len([n for n in names if n not in ("", "identity")]) > MAX_CODINGS:
        raise FetchError(url, f"more than {MAX_CODINGS} content codings ({content_encoding[:60]})")
    decoders: list[_Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip", "deflate"):
            decoders.append(_Inflate(gzip=name != "deflate"))
        elif name == "br" and HAVE_BROTLI:
            decoders.append(_Brotli())
        elif name not in ("", "identity"):
            raise FetchError(url, f"unsupported Content-Encoding {name!r}")
    return decoders or [_Identity()]


def _decode(decoders: list[_Decoder], data: bytes) -> Iterator[bytes]:
    """`data` run through every decoder in turn, lazily."""
    if not decoders:
        yield data
        return
    for piece in decoders[0].decode(data):
        yield from _decode(decoders[1:], piece)


class _Body:
    """A body decoded as its chunks come, refused with TooLarge as soon as it exceeds
    `max_bytes` decoded, or with FetchError when it does not decode."""

    def __init__(self, url: str, encoding: str, max_bytes: int) -> None:
        self.url, self.encoding, self.max_bytes = url, encoding, max_bytes
        self.decoders = _decoders(url, encoding)
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        try:
            for piece in _decode(self.decoders, chunk):
                self._size += len(piece)
                if self._size > self.max_bytes:
                    raise TooLarge(self.url, f"body exceeds the limit of {self.max_bytes} bytes")
                self._parts.append(piece)
        except DECODE_ERRORS as exc:
            raise FetchError(self.url, f"cannot decode {self.encoding} body: {exc}") from None

    def value(self) -> bytes:
        return b"".join(self._parts)


def decode_body(url: str, encoding: str, data: bytes, max_bytes: int) -> bytes:
    """`data` decoded from `encoding` (as a Content-Encoding header names it) within
    `max_bytes`: for a file that is itself compressed, such as a .xml.gz sitemap."""
    body = _Body(url, encoding, max_bytes)
    body.add(data)
    return body.value()


async def _read_body(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The decoded body, refused with TooLarge as soon as it exceeds `max_bytes`."""
    body = _Body(url, response.headers.get("content-encoding", ""), max_bytes)
    length = response.headers.get("content-length", "")
    identity = isinstance(body.decoders[0], _Identity)
    if identity and length.isdigit() and int(length) > max_bytes:
        raise TooLarge(url, f"Content-Length {length} exceeds the limit of {max_bytes} bytes")
    async for chunk in response.aiter_raw():
        body.add(chunk)
    return body.value()


def parse_retry_after(
    value: str | None, now: datetime | None = None, ceiling: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a Retry-After header (delay seconds or an HTTP date), at
    most `ceiling`; None when the header is missing or unreadable."""
    text = (value or "").strip()
    if _DELAY.fullmatch(text):
        return min(float(text), ceiling)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), ceiling)


KEPT_HOSTS = 128  # hosts whose connections are kept between their requests


class Fetcher:
    """Fetches URLs over pooled HTTP connections (a pool a host). Use as an async
    context manager.

    Without `transport`, connections go through GuardedTransports enforcing the
    private-address policy of the config; a given transport is used as is (tests).
    Cookies are never kept: every fetch is stateless.
    """

    def __init__(
        self, config: FetchConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.limits = limits = FetchLimits.of(config)
        self._client = httpx.AsyncClient(
            transport=transport or HostPools(limits, KEPT_HOSTS, limits.per_host),
            timeout=httpx.Timeout(
                connect=limits.connect_timeout,
                read=limits.read_timeout,
                write=limits.read_timeout,
                pool=limits.timeout,
            ),
            follow_redirects=False,
            event_hooks={"response": [_check_redirect]},
            trust_env=False,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self._on_close: list[Callable[[], None]] = []
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._slots = asyncio.Semaphore(limits.concurrency)  # requests at once, in all

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections, then whatever was tied to this fetcher's lifetime."""
        try:
            await self._client.aclose()
        finally:
            while self._on_close:
                self._on_close.pop()()

    def close_with(self, close: Callable[[], None]) -> None:
        """Call `close` when this fetcher is closed (for resources that live as long)."""
        self._on_close.append(close)

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = DEFAULT_ACCEPT,
        only: tuple[str, ...] = (),
        timeout: float | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects: a body (2xx) or nothing new (304), within
        `timeout` seconds (default: limits.timeout) once a slot for its host, then one
        of all requests' (fetch.concurrency: feeds and pages polled at once share them),
        is free.

        With `only`, a 2xx answer whose Content-Type holds none of those strings is
        refused before its body is read. Raises a FetchError subclass on anything
        else, HTTPStatusError for 4xx/5xx.
        """
        headers = {
            "User-Agent": self.limits.user_agent,
            "Accept": accept,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._host_slot(url), self._slots:
            started = time.monotonic()
            result = await self._within_deadline(url, headers, only, timeout)
        if result.not_modified:
            result = replace(
                result,
                etag=result.etag or etag,
                last_modified=result.last_modified or last_modified,
            )
        return replace(result, elapsed=time.monotonic() - started)

    async def post_form(
        self, url: str, form: Mapping[str, str], timeout: float | None = None
    ) -> FetchResult:
        """POST a form to `url` (a WebSub hub), following 307 and 308 redirects with the
        same form, within `timeout` seconds (default: limits.timeout): the answer whatever
        its status, with at most MAX_ANSWER bytes of body. Raises FetchError when no
        answer comes."""
        seconds = self.limits.timeout if timeout is None else max(timeout, 0.0)
        async with self._host_slot(url), self._slots:
            try:
                async with asyncio.timeout(seconds):
                    return await self._post(url, dict(form))
            except TimeoutError:
                raise FetchTimeout(url, f"no answer within {round(seconds, 2):g} s") from None

    async def _post(self, url: str, form: dict[str, str]) -> FetchResult:
        current = url
        headers = {"User-Agent": self.limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        for _ in range(self.limits.max_redirects + 1):
            check_url(current)
            try:
                async with self._client.stream(
                    "POST", current, data=form, headers=headers
                ) as response:
                    location = response.headers.get("location")
                    if response.status_code in (307, 308) and location:
                        current = location
                        continue
                    body = await _read_body(response, current, MAX_ANSWER)
                    return FetchResult(current, response.status_code, body)
            except BlockedURL as exc:
                raise BlockedURL(url, exc.reason) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _fetch_error(url, exc, self.limits) from None
        raise TooManyRedirects(url, f"more than {self.limits.max_redirects} redirects")

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        """The semaphore that bounds requests at once to the host of `url`."""
        host = host_of(url)
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return self._hosts[host]

    async def _within_deadline(
        self, url: str, headers: dict[str, str], only: tuple[str, ...], timeout: float | None
    ) -> FetchResult:
        seconds = self.limits.timeout if timeout is None else max(timeout, 0.0)
        try:
            async with asyncio.timeout(seconds):
                return await self._follow(url, headers, only)
        except TimeoutError:
            raise FetchTimeout(url, f"no complete answer within {round(seconds, 2):g} s") from None

    async def _follow(
        self, url: str, headers: dict[str, str], only: tuple[str, ...]
    ) -> FetchResult:
        """Request `url` and its redirects, up to limits.max_redirects of them."""
        seen = {url}
        current = url
        for _ in range(self.limits.max_redirects + 1):
            check_url(current)
            answer = await self._get(current, headers, only)
            if isinstance(answer, FetchResult):
                return answer
            if answer in seen:
                raise TooManyRedirects(url, f"redirect loop at {answer}")
            seen.add(answer)
            current = answer
        raise TooManyRedirects(url, f"more than {self.limits.max_redirects} redirects")

    async def _get(
        self, url: str, headers: dict[str, str], only: tuple[str, ...]
    ) -> FetchResult | str:
        """One request: the result, or the URL it redirects to."""
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                return await self._answer(url, response, only)
        except BlockedURL as exc:
            raise BlockedURL(url, exc.reason) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _fetch_error(url, exc, self.limits) from None

    async def _answer(
        self, url: str, response: httpx.Response, only: tuple[str, ...]
    ) -> FetchResult | str:
        status = response.status_code
        if status in REDIRECT_STATUSES:
            location: str | None = response.headers.get("location")
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without a Location header")
            return location
        kind = (response.headers.get("content-type") or "").lower()
        if only and 200 <= status < 300 and kind and not any(k in kind for k in only):
            raise FetchError(url, f"not a page of the wanted kind ({kind.split(';')[0]})")
        if status == 304:  # no body by definition: reading its end keeps the connection
            await response.aread()
        if status == 304 or 200 <= status < 300:
            body = b"" if status == 304 else await _read_body(response, url, self.limits.max_bytes)
            return FetchResult(
                url=url,
                status=status,
                body=body,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                max_age=parse_max_age(response.headers.get("cache-control")),
                links=tuple(response.headers.get_list("link")),
            )
        raise HTTPStatusError(url, status, parse_retry_after(response.headers.get("retry-after")))


def parse_max_age(cache_control: str | None) -> float | None:
    """Seconds of `max-age` in a Cache-Control header, if any."""
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,9})", cache_control or "", re.I)
    return float(match.group(1)) if match else None


async def _check_redirect(response: httpx.Response) -> None:
    """Make a redirect's Location absolute, refused with BlockedURL unless allowed.

    httpx parses the Location of every redirect (to offer `next_request`), and would
    fail on some hostile ones with its own errors; this hook runs before it does.
    """
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return
    target = urljoin(str(response.request.url), location.strip())
    check_url(target)
    try:
        httpx.URL(target)
    except httpx.InvalidURL as exc:
        raise BlockedURL(target, f"not a valid URL ({exc})") from None
    response.headers["location"] = target


def _fetch_error(url: str, exc: Exception, limits: FetchLimits) -> FetchError:
    """The FetchError for an httpx exception."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchTimeout(url, f"no connection within {limits.connect_timeout:g} s")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchTimeout(url, f"no data for {limits.read_timeout:g} s")
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(url, f"timed out ({detail})")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
        return ConnectError(url, detail)
    return FetchError(url, detail)
