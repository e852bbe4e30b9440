"""Properties over arbitrary input: URL canonicalization, the query parser, config
loading, feed parsing and fetching never fail in a way the pipeline does not expect.
(tests/ingest/test_urls.py holds the idempotence and tracking properties of canonical URLs.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitors import config as config_mod
from monitors.config import FetchConfig
from monitors.errors import ConfigError, FeedError, FetchError, QueryError
from monitors.ingest.feeds import parse_feed
from monitors.ingest.fetch import Fetcher
from monitors.ingest.urls import canonical_url, is_tracking
from monitors.rules import RuleSet, parse_query
from tests.ingest.test_urls import http_urls

# -- canonical URLs ----------------------------------------------------------------------


@settings(max_examples=500)
@given(st.text())
def test_canonical_url_takes_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once
    assert not any(c.isspace() for c in once)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    """A URL and another spelling of it: host case, default port, fragment, tracking
    parameters and parameter order changed."""
    host = draw(st.from_regex(r"[a-z][a-z0-9]{0,8}\.(com|org|example)", fullmatch=True))
    scheme = draw(st.sampled_from(["http", "https"]))
    path = "/" + "/".join(draw(st.lists(st.from_regex(r"[A-Za-z0-9_.~-]{1,6}", fullmatch=True))))
    names = draw(st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), unique=True, max_size=4))
    params = [(n, draw(st.from_regex(r"[A-Za-z0-9]{0,4}", fullmatch=True))) for n in names]
    params = [(n, v) for n, v in params if not is_tracking(n)]
    url = f"{scheme}://{host}{path}" + ("?" + "&".join(f"{n}={v}" for n, v in params))
    port = {"http": ":80", "https": ":443"}[scheme]
    tracking = draw(st.lists(st.sampled_from(["utm_source=x", "fbclid=1", "gclid=2"]), max_size=2))
    shuffled = draw(st.permutations([f"{n}={v}" for n, v in params] + tracking))
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    other = f"{scheme.upper()}://{host.upper()}{port}{path}?{'&'.join(shuffled)}{fragment}"
    return url, other


@settings(max_examples=300)
@given(spellings())
def test_spellings_of_one_url_share_a_canonical_url(pair: tuple[str, str]) -> None:
    url, other = pair
    assert canonical_url(other) == canonical_url(url)


@settings(max_examples=300, deadline=None)
@given(http_urls())
def test_canonical_url_keeps_the_host_and_path(url: str) -> None:
    parts, canon = urlsplit(url), urlsplit(canonical_url(url))
    assert canon.hostname == (parts.hostname or "").rstrip(".").lower()
    assert canon.path == (parts.path or "/")


@settings(max_examples=300)
@given(st.sampled_from(["javascript:", "mailto:", "tag:", "urn:", "ftp://", "file://"]), st.text())
def test_non_http_strings_come_back_without_spaces(prefix: str, rest: str) -> None:
    text = prefix + rest
    assert canonical_url(text) == "".join(text.split())


# -- the query parser -------------------------------------------------------------------

OPERATORS = ["AND", "OR", "NOT", "NEAR", "NEAR/3", "-", "(", ")", '"', "*", "~2", "^2"]
query_parts = st.one_of(
    st.sampled_from(OPERATORS + ["title:", "site:", "[a TO b]", "/re/", "?", "\\", ":", "&&"]),
    st.from_regex(r"[A-Za-zÀ-ÿ0-9'’-]{1,8}\*?", fullmatch=True),
    st.text(max_size=4),
)
queries = st.one_of(st.text(max_size=200), st.lists(query_parts, max_size=30).map(" ".join))


@settings(max_examples=1000, deadline=timedelta(seconds=1))
@given(queries)
def test_queries_parse_or_raise_query_error_quickly(query: str) -> None:
    for compile_query in (parse_query, lambda q: RuleSet.compile([("r", q)])):
        with contextlib.suppress(QueryError):
            compile_query(query)


def test_deeply_nested_query_is_a_query_error_or_parses_fast() -> None:
    for query in ["(" * 5000 + "a" + ")" * 5000, "NOT " * 5000 + "a", " AND ".join(["a"] * 5000)]:
        started = time.monotonic()
        with contextlib.suppress(QueryError):
            RuleSet.compile([("r", query)])
        assert time.monotonic() - started < 2


# -- config loading -----------------------------------------------------------------------

leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["5m", "1h30m", "0s", "-1", "${HOME}", "${NOPE:-x}", "${NOPE}", "[]"]),
    st.sampled_from(["http://a.example/", "json://127.0.0.1:9/", "a AND b", "127.0.0.1/32"]),
)
anything = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers(), st.none()), inner, max_size=3
        ),
    ),
    max_leaves=8,
)


def section(*fields: str) -> st.SearchStrategy[Any]:
    return st.one_of(anything, st.fixed_dictionaries({}, optional=dict.fromkeys(fields, anything)))


documents = st.one_of(
    anything,
    st.fixed_dictionaries(
        {},
        optional={
            "store": anything,
            "fetch": section("timeout", "max_bytes", "allow_private_networks", "concurrency"),
            "extract": section("timeout", "workers", "min_chars"),
            "feeds": st.one_of(anything, st.lists(section("url", "name", "every"), max_size=3)),
            "channels": st.one_of(anything, st.dictionaries(st.text(max_size=4), leaf)),
            "rules": st.one_of(
                anything, st.lists(section("id", "query", "title", "notify"), max_size=3)
            ),
            "aliases": anything,
            "delivery": section("max_attempts", "backoff", "lease", "max_alerts_per_hour"),
            "poll": anything,
        },
    ),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
@example({"extract": {"timeout": None}})
def test_config_loading_raises_only_config_error(raw: Any) -> None:
    try:
        config_mod.from_dict(raw, "fuzz.yaml", env={"HOME": "/home/x"})
    except ConfigError as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" for p in exc.problems)


# -- feed parsing and fetching --------------------------------------------------------------

FEED_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>'
bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: FEED_HEAD + t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from([b"<item>", b"</item>", b"<link>", b"http://e.com/", b"&#xD800;",
                              b"<![CDATA[", b"]]>", b"<!--", b"\x00", b"&amp;", b"<entry>"]))
    .map(lambda parts: FEED_HEAD + b"".join(parts)),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(bodies, st.sampled_from([None, "application/rss+xml", "text/html; charset=utf-16"]))
def test_feed_bodies_parse_or_raise_feed_error(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(body, "http://e.com/feed.xml", content_type)
    except FeedError:
        return
    for entry in feed.entries:
        for value in (entry.key, entry.url, entry.title, entry.summary):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates


async def ok() -> AsyncIterator[bytes]:
    yield b"ok"


def answering_transport() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=ok()))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(max_size=40).map(lambda t: "http://" + t)))
def test_any_url_fetches_or_raises_fetch_error(url: str) -> None:
    async def fetch() -> None:
        limits = FetchConfig(allow_private_networks=True, timeout=2)
        async with Fetcher(limits, transport=answering_transport()) as fetcher:
            with contextlib.suppress(FetchError):
                await fetcher.fetch(url)

    asyncio.run(fetch())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_redirect_location_is_followed_or_refused_with_fetch_error(location: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": location.encode("utf-8")})
        return httpx.Response(200, content=ok())

    async def fetch() -> None:
        limits = FetchConfig(allow_private_networks=True, timeout=2)
        async with Fetcher(limits, transport=httpx.MockTransport(answer)) as fetcher:
            with contextlib.suppress(FetchError):
                await fetcher.fetch("http://feeds.example.com/start")

    asyncio.run(fetch())
