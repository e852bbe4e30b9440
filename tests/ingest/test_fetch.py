"""monitors.ingest.fetch against loopback servers: no network needed."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from monitors.config import FetchConfig, parse_private_networks
from monitors.errors import (
    BlockedURL,
    ConfigError,
    ConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
)
from monitors.ingest import fetch
from monitors.ingest.fetch import (
    Fetcher,
    FetchLimits,
    address_allowed,
    check_url,
    is_public,
    parse_retry_after,
)
from monitors.models import FetchResult
from tests.httpserver import LoopbackServer

pytestmark = pytest.mark.anyio

LOCAL = FetchConfig(allow_private_networks=True, timeout=5.0)
MiB = 2**20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


async def fetch_once(url: str, limits: FetchConfig = LOCAL, **kwargs: Any) -> FetchResult:
    async with Fetcher(limits) as fetcher:
        return await fetcher.fetch(url, **kwargs)


def fake_dns(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """Make every host name resolve to `addresses` (or fail to resolve when none)."""

    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)


# --- plain answers -------------------------------------------------------------------


async def test_200_body_and_headers_sent(server: LoopbackServer) -> None:
    server.add("/feed", b"<rss/>", headers={"Content-Type": "application/rss+xml"}, etag='"v1"')
    result = await fetch_once(server.url("/feed"))
    assert (result.status, result.body, result.url) == (200, b"<rss/>", server.url("/feed"))
    assert result.content_type == "application/rss+xml"
    assert result.etag == '"v1"'
    assert result.elapsed > 0
    sent = server.requests[0].headers
    assert sent["user-agent"].startswith("newsmon/")
    assert "application/rss+xml" in sent["accept"]
    assert "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


async def test_conditional_get_gives_304(server: LoopbackServer, tmp_path: Any) -> None:
    (tmp_path / "feed.xml").write_text("<rss><link>{{BASE}}/a</link></rss>")
    server.serve_dir("/files", tmp_path)
    first = await fetch_once(server.url("/files/feed.xml"))
    assert first.body == f"<rss><link>{server.base_url}/a</link></rss>".encode()
    assert first.etag and first.last_modified

    again = await fetch_once(server.url("/files/feed.xml"), etag=first.etag)
    assert again.not_modified and again.body == b"" and again.etag == first.etag
    assert server.requests[-1].headers["if-none-match"] == first.etag

    by_date = await fetch_once(server.url("/files/feed.xml"), last_modified=first.last_modified)
    assert by_date.status == 304
    assert server.requests[-1].headers["if-modified-since"] == first.last_modified


async def test_304_without_validators_keeps_the_ones_sent(server: LoopbackServer) -> None:
    server.add("/feed", status=304)
    result = await fetch_once(server.url("/feed"), etag='"e"', last_modified="Mon, 01 Jan 2024")
    assert (result.status, result.etag, result.last_modified) == (304, '"e"', "Mon, 01 Jan 2024")


async def test_cookies_are_not_kept(server: LoopbackServer) -> None:
    server.add("/c", b"x", headers={"Set-Cookie": "session=1; Path=/"})
    async with Fetcher(LOCAL) as fetcher:
        await fetcher.fetch(server.url("/c"))
        await fetcher.fetch(server.url("/c"))
    assert "cookie" not in server.requests[1].headers


async def test_requests_to_one_host_wait_for_a_slot_outside_the_deadline(
    server: LoopbackServer,
) -> None:
    server.add("/slow", b"x", delay=0.3)
    limits = FetchConfig(allow_private_networks=True, timeout=1.0, per_host=1)
    started = time.monotonic()
    async with Fetcher(limits) as fetcher, anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(fetcher.fetch, server.url("/slow"))
    elapsed = time.monotonic() - started
    assert len(server.requests) == 5  # none timed out while waiting its turn
    assert elapsed >= 1.5  # one at a time


# --- redirects -----------------------------------------------------------------------


async def test_redirect_followed_to_final_url(server: LoopbackServer) -> None:
    server.add("/old", status=301, headers={"Location": "/mid"})
    server.add("/mid", status=302, headers={"Location": server.url("/new")})
    server.add("/new", b"here")
    result = await fetch_once(server.url("/old"))
    assert (result.url, result.body) == (server.url("/new"), b"here")
    assert [r.path for r in server.requests] == ["/old", "/mid", "/new"]


async def test_redirect_loop_refused(server: LoopbackServer) -> None:
    server.add("/a", status=302, headers={"Location": "/b"})
    server.add("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(TooManyRedirects, match="loop"):
        await fetch_once(server.url("/a"))


async def test_redirect_limit(server: LoopbackServer) -> None:
    for i in range(6):
        server.add(f"/r{i}", status=307, headers={"Location": f"/r{i + 1}"})
    server.add("/r6", b"end")
    with pytest.raises(TooManyRedirects, match="more than 5"):
        await fetch_once(server.url("/r0"))
    assert (await fetch_once(server.url("/r1"))).body == b"end"


async def test_redirect_to_file_refused(server: LoopbackServer) -> None:
    server.add("/evil", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(BlockedURL, match="scheme 'file' is not allowed"):
        await fetch_once(server.url("/evil"))


async def test_redirect_without_location(server: LoopbackServer) -> None:
    server.add("/r", status=301)
    with pytest.raises(FetchError, match="without a Location"):
        await fetch_once(server.url("/r"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://example.com/x", "scheme 'ftp' is not allowed"),
        ("gopher://example.com/", "scheme 'gopher' is not allowed"),
        ("data:text/plain,hi", "scheme 'data' is not allowed"),
        ("example.com/feed", "no scheme"),
        ("http://example.com\\@evil.com/", "backslashes"),
        ("http://user:pass@example.com/", "credentials"),
        ("http:///path", "no host"),
        ("http://[::1/", "not a valid URL"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
async def test_bad_urls_refused_before_any_request(url: str, reason: str) -> None:
    with pytest.raises(BlockedURL, match=reason.replace("\\", "\\\\")):
        check_url(url)
    with pytest.raises(BlockedURL):
        await fetch_once(url)


# --- private addresses ---------------------------------------------------------------


async def test_loopback_refused_by_default(server: LoopbackServer) -> None:
    server.add("/", b"secret")
    with pytest.raises(BlockedURL, match="resolves to a private address 127.0.0.1") as caught:
        await fetch_once(server.url("/"), FetchConfig(timeout=5.0))
    assert caught.value.url == server.url("/")
    assert caught.value.reason.endswith(  # what to set to allow it
        "(allowed by the config's fetch.allow_private_networks, e.g. 127.0.0.1/32, "
        "or $NEWSMON_ALLOW_PRIVATE_NETWORKS)"
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("limits", "allowed"),
    [
        (FetchConfig(allow_private_networks=True), True),
        (FetchConfig(allow_private_networks="127.0.0.1/32"), True),
        (FetchConfig(allow_private_networks="10.0.0.0/8"), False),
    ],
)
async def test_private_allowances(
    server: LoopbackServer, limits: FetchConfig, allowed: bool
) -> None:
    server.add("/", b"ok")
    if allowed:
        assert (await fetch_once(server.url("/"), limits)).body == b"ok"
    else:
        with pytest.raises(BlockedURL):
            await fetch_once(server.url("/"), limits)


async def test_localhost_refused_at_connect_time(server: LoopbackServer) -> None:
    with pytest.raises(BlockedURL, match="resolves to a private address"):
        await fetch_once(f"http://localhost:{server.port}/", FetchConfig(timeout=5.0))


async def test_connects_to_allowed_ip_with_the_hostname_in_host(server: LoopbackServer) -> None:
    server.add("/", b"ok")
    only_v4 = FetchConfig(allow_private_networks="127.0.0.1/32")
    assert (await fetch_once(f"http://localhost:{server.port}/", only_v4)).body == b"ok"
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


async def test_name_resolving_to_private_address_refused(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, "10.1.2.3")
    with pytest.raises(BlockedURL, match="resolves to a private address 10.1.2.3"):
        await fetch_once("http://feeds.example.com/rss", FetchConfig(timeout=5.0))


async def test_only_allowed_addresses_are_connected_to(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("/", b"ok")
    fake_dns(monkeypatch, "10.1.2.3", "127.0.0.1")
    limits = FetchConfig(allow_private_networks="127.0.0.0/8")
    assert (await fetch_once(f"http://feeds.example.com:{server.port}/", limits)).body == b"ok"


async def test_tls_uses_the_hostname_while_tcp_uses_the_checked_ip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[object, ...]] = []

    class Stream(httpcore.AsyncNetworkStream):
        async def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: Any = None
        ) -> httpcore.AsyncNetworkStream:
            calls.append(("tls", server_hostname))
            raise httpcore.ConnectError("stop before any I/O")

    class Backend(httpcore.AsyncNetworkBackend):
        async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Stream:
            calls.append(("tcp", host, port))
            return Stream()

    monkeypatch.setattr(httpcore, "AnyIOBackend", Backend)
    fake_dns(monkeypatch, "93.184.216.34")
    with pytest.raises(ConnectError, match="stop before any I/O"):
        await fetch_once("https://feeds.example.com/rss", FetchConfig(timeout=5.0))
    assert calls == [("tcp", "93.184.216.34", 443), ("tls", "feeds.example.com")]


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
        "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1",
        "::ffff:127.0.0.1", "2002:a00:1::1", "64:ff9b::a00:1",
    ],
)  # fmt: skip
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not address_allowed(ipaddress.ip_address(address), FetchLimits.of(FetchConfig(), {}))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_mapped_address_inside_allowed_network() -> None:
    limits = FetchLimits.of(FetchConfig(allow_private_networks="10.0.0.0/8"), {})
    assert address_allowed(ipaddress.ip_address("::ffff:10.0.0.1"), limits)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (False, ())),
        (False, (False, ())),
        (True, (True, ())),
        ("", (False, ())),
        ("0", (False, ())),
        ("false", (False, ())),
        ("true", (True, ())),
        ("1", (True, ())),
        (" YES ", (True, ())),
        (
            "127.0.0.1/32, 10.0.0.0/8",
            (False, (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))),
        ),
        ("fd00::/8,", (False, (ipaddress.ip_network("fd00::/8"),))),
        (
            ["127.0.0.1/32", "10.0.0.0/8"],
            (False, (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))),
        ),
        ([], (False, ())),
    ],
)
def test_parse_private_networks(value: bool | str | list[str] | None, expected: object) -> None:
    assert parse_private_networks(value) == expected


@pytest.mark.parametrize("value", ["10.0.0.0/33", "nope", "10.0.0.1/8"])
def test_parse_private_networks_rejects_bad_cidr(value: str) -> None:
    with pytest.raises(ValueError, match="not a CIDR network"):
        parse_private_networks(value)


def test_limits_take_private_networks_from_the_environment() -> None:
    base = FetchConfig(timeout=3.0, allow_private_networks="10.0.0.0/8")
    assert FetchLimits.of(base, {}).allowed_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    limits = FetchLimits.of(base, {"NEWSMON_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32"})
    assert limits.allowed_networks == (ipaddress.ip_network("127.0.0.1/32"),)
    assert (limits.allow_all_private, limits.timeout) == (False, 3.0)
    assert FetchLimits.of(base, {"NEWSMON_ALLOW_PRIVATE_NETWORKS": "yes"}).allow_all_private
    with pytest.raises(ConfigError, match="NEWSMON_ALLOW_PRIVATE_NETWORKS: private networks"):
        FetchLimits.of(base, {"NEWSMON_ALLOW_PRIVATE_NETWORKS": "yes please"})


# --- bodies and encodings ------------------------------------------------------------


async def test_gzip_body_decoded(server: LoopbackServer) -> None:
    server.add("/gz", b"<rss>" + b"x" * 100_000 + b"</rss>", gzip=True)
    result = await fetch_once(server.url("/gz"))
    assert result.body == b"<rss>" + b"x" * 100_000 + b"</rss>"


def one_byte_chunks(body: bytes, encoding: str) -> httpx.MockTransport:
    """A transport answering every request with `body`, delivered a byte at a time."""

    async def stream() -> AsyncIterator[bytes]:
        for i in range(len(body)):
            yield body[i : i + 1]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": encoding}, content=stream())

    return httpx.MockTransport(handler)


def deflate_raw(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", deflate_raw),
        ("identity", lambda data: data),
        ("gzip, deflate", lambda data: zlib.compress(gzip.compress(data))),
    ],
)
async def test_encodings_decoded_incrementally(encoding: str, encode: Any) -> None:
    text = b"<feed>" + bytes(range(256)) * 20 + b"</feed>"
    transport = one_byte_chunks(encode(text), encoding)
    async with Fetcher(LOCAL, transport=transport) as fetcher:
        assert (await fetcher.fetch("http://example.com/")).body == text


@pytest.mark.parametrize("size", [2 * fetch.PIECE, 2 * fetch.PIECE + 1, 3 * fetch.PIECE + 100])
@pytest.mark.parametrize("encode", [deflate_raw, zlib.compress, gzip.compress])
async def test_inflated_output_filling_whole_pieces_is_not_cut(size: int, encode: Any) -> None:
    """The body arrives in one chunk: the last piece is still inside zlib once the
    input is consumed, and must be drained."""
    text = bytes(size)
    body = encode(text)
    encoding = "gzip" if encode is gzip.compress else "deflate"

    async def stream() -> AsyncIterator[bytes]:
        yield body

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": encoding}, content=stream())

    async with Fetcher(LOCAL, transport=httpx.MockTransport(handler)) as fetcher:
        assert (await fetcher.fetch("http://example.com/")).body == text


async def test_brotli_decoded(server: LoopbackServer) -> None:
    brotli = pytest.importorskip("brotli")
    assert "br" in fetch.ACCEPT_ENCODING
    server.add("/br", brotli.compress(b"hello " * 1000), headers={"Content-Encoding": "br"})
    assert (await fetch_once(server.url("/br"))).body == b"hello " * 1000
    text = bytes(range(256)) * 600
    async with Fetcher(LOCAL, transport=one_byte_chunks(brotli.compress(text), "br")) as fetcher:
        assert (await fetcher.fetch("http://example.com/")).body == text


async def test_unknown_encoding_refused(server: LoopbackServer) -> None:
    server.add("/z", b"data", headers={"Content-Encoding": "compress"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'compress'"):
        await fetch_once(server.url("/z"))


async def test_corrupt_gzip_refused(server: LoopbackServer) -> None:
    server.add("/bad", b"\x1f\x8b\x08garbage", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="cannot decode gzip"):
        await fetch_once(server.url("/bad"))


def zeros_gzipped(size: int) -> bytes:
    obj = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    return b"".join(obj.compress(block) for _ in range(size // MiB)) + obj.flush()


async def test_gzip_bomb_stopped_with_bounded_memory(server: LoopbackServer) -> None:
    server.add("/bomb", zeros_gzipped(50 * MiB), headers={"Content-Encoding": "gzip"})
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, max_bytes=MiB)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TooLarge, match="exceeds the limit"):
            await fetch_once(server.url("/bomb"), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 3
    assert peak < 8 * MiB


async def test_brotli_bomb_stopped(server: LoopbackServer) -> None:
    brotli = pytest.importorskip("brotli")
    server.add(
        "/bomb", brotli.compress(bytes(50 * MiB), quality=1), headers={"Content-Encoding": "br"}
    )
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, max_bytes=MiB)
    with pytest.raises(TooLarge):
        await fetch_once(server.url("/bomb"), limits)


async def test_large_body_without_content_length(server: LoopbackServer) -> None:
    server.add("/big", b"x" * (2 * MiB), content_length=False)
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, max_bytes=MiB)
    with pytest.raises(TooLarge, match="body exceeds the limit of 1048576 bytes"):
        await fetch_once(server.url("/big"), limits)


async def test_large_content_length_refused_early(server: LoopbackServer) -> None:
    server.add("/big", b"x" * (MiB + 1))
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, max_bytes=MiB)
    with pytest.raises(TooLarge, match="Content-Length 1048577"):
        await fetch_once(server.url("/big"), limits)


async def test_body_of_exactly_max_bytes_accepted(server: LoopbackServer) -> None:
    server.add("/edge", b"x" * 1000, content_length=False)
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, max_bytes=1000)
    assert len((await fetch_once(server.url("/edge"), limits)).body) == 1000


# --- error statuses ------------------------------------------------------------------


async def test_429_with_retry_after_seconds(server: LoopbackServer) -> None:
    server.add("/feed", b"slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        await fetch_once(server.url("/feed"))
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)
    assert caught.value.transient


async def test_503_with_retry_after_date(server: LoopbackServer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    server.add("/feed", status=503, headers={"Retry-After": later})
    with pytest.raises(HTTPStatusError) as caught:
        await fetch_once(server.url("/feed"))
    assert caught.value.transient
    assert caught.value.retry_after is not None and 50 < caught.value.retry_after <= 60


async def test_404_not_transient(server: LoopbackServer) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        await fetch_once(server.url("/missing"))
    assert (caught.value.status, caught.value.retry_after) == (404, None)
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("-5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:29:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:29:00", 60.0),
        ("2.5", 2.5),
        ("1" + "0" * 20, 86400.0),  # a day at most: a news feed is not left longer
        ("9" * 400, 86400.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86400.0),
        ("99999999", 86400.0),
        ("90000", 86400.0),
        ("86399", 86399.0),
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),
        ("Fri, 99 Foo 2015 99:99:99 GMT", None),
        ("1e9", None),
        ("\u0661\u0662", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


# --- time limits and connection failures ---------------------------------------------


async def test_server_that_never_answers(server: LoopbackServer) -> None:
    server.add("/hang", b"late", delay=30)
    limits = FetchConfig(allow_private_networks=True, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="no complete answer within 0.5 s"):
        await fetch_once(server.url("/hang"), limits)
    assert time.monotonic() - started < 1.5


async def test_read_timeout(server: LoopbackServer) -> None:
    server.add("/hang", b"late", delay=30)
    limits = FetchConfig(allow_private_networks=True, timeout=5.0, read_timeout=0.3)
    with pytest.raises(FetchTimeout, match="no data for 0.3 s"):
        await fetch_once(server.url("/hang"), limits)


async def test_trickling_server_hits_the_overall_deadline(server: LoopbackServer) -> None:
    server.add("/drip", b"x" * 100, trickle=0.2)
    limits = FetchConfig(allow_private_networks=True, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        await fetch_once(server.url("/drip"), limits)
    assert 0.9 < time.monotonic() - started < 2.0
    assert caught.value.transient


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectError) as caught:
        await fetch_once(f"http://127.0.0.1:{port}/")
    assert caught.value.transient


async def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch)
    with pytest.raises(ConnectError, match="cannot resolve nowhere.example"):
        await fetch_once("http://nowhere.example/")


async def test_invalid_url_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="non-printable"):
        await fetch_once("http://exa\x00mple.com/")


async def test_a_body_of_an_unwanted_type_is_refused_unread(server: LoopbackServer) -> None:
    server.add("/episode.mp3", b"\0" * 4_000_000, headers={"Content-Type": "audio/mpeg"})
    server.add("/page.html", b"<p>hi</p>", headers={"Content-Type": "text/html"})
    with pytest.raises(FetchError, match=r"not a page of the wanted kind \(audio/mpeg\)"):
        await fetch_once(server.url("/episode.mp3"), only=("html", "text/"))
    page = await fetch_once(server.url("/page.html"), only=("html", "text/"))
    assert page.body == b"<p>hi</p>"


async def test_a_304_leaves_its_connection_open_for_the_next_poll() -> None:
    """Polling many feeds of one host: each 304 answer keeps its connection for the next
    request instead of opening (and on HTTPS, handshaking) a new one."""
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                conditional = b"if-none-match" in head.lower()
                writer.write(
                    b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
                    if conditional
                    else b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: 6\r\n\r\n<rss/>'
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Fetcher(LOCAL) as fetcher:
        first = await fetcher.fetch(f"http://127.0.0.1:{port}/feed/0.xml")
        polls = [
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed/{n}.xml", etag=first.etag)
            for n in range(5)
        ]
    assert [p.status for p in polls] == [304] * 5
    assert connections == 1


async def _counting_server(
    hosts: list[str], delay: float = 0.0
) -> tuple[list[asyncio.Server], int, list[str]]:
    """A keep-alive server answering 200 on each of `hosts` (one port) after `delay`
    seconds, and the list of hosts each connection it accepted was made to."""
    accepted: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("sockname")[0])
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        writer.close()

    first = await asyncio.start_server(answer, hosts[0], 0)
    port = first.sockets[0].getsockname()[1]
    servers = [first] + [await asyncio.start_server(answer, h, port) for h in hosts[1:]]
    return servers, port, accepted


async def test_pages_going_round_many_hosts_keep_each_hosts_connection() -> None:
    """Requests taking 40 hosts in turn, three rounds: one connection a host, where one
    pool for all hosts (20 kept in all) opened one a request."""
    hosts = [f"127.0.0.{n}" for n in range(1, 41)]
    servers, port, accepted = await _counting_server(hosts)
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
        fetcher = await stack.enter_async_context(Fetcher(LOCAL))
        for round_ in range(3):
            for host in hosts:
                assert (await fetcher.fetch(f"http://{host}:{port}/{round_}")).body == b"ok"
    assert sorted(accepted) == sorted(hosts)


async def test_a_hosts_connections_are_kept_up_to_its_slots() -> None:
    """Twelve requests at once to one host (fetch.per_host 16), three rounds: its
    twelve connections are kept for the next round, not reopened."""
    servers, port, accepted = await _counting_server(["127.0.0.1"], delay=0.05)
    async with servers[0], Fetcher(LOCAL.model_copy(update={"per_host": 16})) as fetcher:
        for round_ in range(3):
            urls = [f"http://127.0.0.1:{port}/{round_}/{n}" for n in range(12)]
            answers = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
            assert [a.body for a in answers] == [b"ok"] * 12
    assert len(accepted) == 12


async def test_a_kept_connection_the_server_closed_is_not_used_again() -> None:
    """A server that closes each connection after one answer, unannounced: the next
    request sees the kept connection readable (its end), drops it and connects anew."""
    accepted: list[int] = []

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Fetcher(LOCAL) as fetcher:
        for n in range(3):
            assert (await fetcher.fetch(f"http://127.0.0.1:{port}/{n}")).body == b"ok"
            await asyncio.sleep(0.05)  # the server's close arrives
    assert len(accepted) == 3


@contextlib.asynccontextmanager
async def _kept_pools(
    hosts: list[str],
) -> AsyncIterator[tuple[httpx.AsyncClient, fetch.HostPools, int, list[str]]]:
    """A client over pools keeping two hosts, one connection each, and the counting
    server on `hosts`: the client, its pools, the port and the hosts connected to."""
    servers, port, accepted = await _counting_server(hosts)
    pools = fetch.HostPools(fetch.FetchLimits.of(LOCAL), kept_hosts=2, kept_open=1)
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
        client = await stack.enter_async_context(httpx.AsyncClient(transport=pools))
        yield client, pools, port, accepted


async def test_idle_pools_beyond_the_kept_hosts_or_past_their_expiry_are_closed() -> None:
    """A host's pool (and its kept connection) is closed once more recently used hosts
    exceed `kept_hosts`, or once it has been idle past the connections' expiry; a pool
    with a request in flight is never closed."""
    hosts = [f"127.0.0.{n}" for n in range(1, 6)]
    async with _kept_pools(hosts) as (client, pools, port, accepted):
        async with client.stream("GET", f"http://{hosts[0]}:{port}/") as held:
            for host in hosts[1:]:
                assert (await client.get(f"http://{host}:{port}/")).content == b"ok"
            assert pools.hosts == 2  # the busy first host, and the most recent
            assert await held.aread() == b"ok"
        assert pools.hosts == 2
        assert (await client.get(f"http://{hosts[4]}:{port}/")).content == b"ok"
        assert accepted.count(hosts[4]) == 1  # kept, and used again
        pools._used = {origin: 0.0 for origin in pools._used}  # long idle
        assert (await client.get(f"http://{hosts[3]}:{port}/")).content == b"ok"
        assert pools.hosts == 1
    assert pools.hosts == 0


async def test_pools_closed_while_other_requests_end_lose_no_request() -> None:
    """Requests to many hosts at once, far more hosts than are kept: pools are closed
    while other requests end (and close pools) meanwhile; every request gets its answer."""
    hosts = [f"127.0.0.{n}" for n in range(1, 31)]
    async with _kept_pools(hosts) as (client, _, port, _):
        slots = asyncio.Semaphore(16)

        async def get(n: int) -> bytes:
            async with slots:
                return (await client.get(f"http://{hosts[n % 30]}:{port}/{n}")).content

        answers = await asyncio.gather(*(get(n) for n in range(300)))
    assert answers == [b"ok"] * 300
