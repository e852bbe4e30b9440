"""Hostile feed bodies (tests/data/hostile and generated ones): nothing is expanded,
read from disk or fetched; odd bytes, dates and sizes are parsed leniently or skipped
with a reason; no store, SQLite or PostgreSQL, chokes on what a feed holds."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from monitors.errors import FeedError, FetchError
from monitors.ingest.feeds import MAX_KEY_BYTES, MAX_URL_BYTES, bound_items, parse_feed
from monitors.ingest.fetch import Fetcher
from monitors.pipeline import CycleReport, Pipeline
from monitors.store import Store
from monitors.store.schema import alerts, articles, entries, feeds
from newsmon.cli import app
from tests.conftest import DATA, TEST_RULES, make_config
from tests.httpserver import LoopbackServer

HOSTILE = DATA / "hostile"
FEED_URL = "http://127.0.0.1:8/hostile/feed.xml"
SECRET = "TOP-SECRET-6f1d"
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # Bidi_Control

# what a cycle makes of each file: ("new", entries stored) or ("failed", part of the reason)
EXPECTED: dict[str, tuple[str, int | str]] = {
    "bidi.xml": ("new", 1),
    "billion-laughs.xml": ("new", 1),
    "binary.xml": ("failed", "not an RSS/Atom feed"),
    "control-chars.xml": ("new", 1),
    "dates.xml": ("new", 6),
    "external-dtd.xml": ("new", 1),
    "html-page.xml": ("failed", "the server sent an HTML page"),
    "invalid-utf8.xml": ("new", 1),
    "nul-bytes.xml": ("new", 1),
    "schemes.xml": ("new", 1),
    "script-summary.xml": ("new", 1),
    "surrogates.xml": ("new", 1),
    "truncated.xml": ("new", 1),
    "utf16.xml": ("new", 1),
    "wrong-charset.xml": ("new", 1),
    "xxe-file.xml": ("new", 1),
    "xxe-parameter.xml": ("new", 1),
}

_events: list[tuple[str, str]] = []
_watching = threading.Event()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching.is_set() and event in ("open", "urllib.Request", "socket.connect"):
        _events.append((event, str(args[0]) if args else ""))


sys.addaudithook(_audit)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@contextmanager
def audited() -> Iterator[list[tuple[str, str]]]:
    """The files opened, URLs requested and sockets connected in the block."""
    _events.clear()
    _watching.set()
    try:
        yield _events
    finally:
        _watching.clear()


def hostile_body(name: str, secret: Path, base: str = "http://127.0.0.1:8") -> bytes:
    body = (HOSTILE / name).read_bytes()
    return body.replace(b"{{BASE}}", base.encode()).replace(b"{{SECRET}}", str(secret).encode())


def run_cycle(cfg: Any, store: Store) -> CycleReport:
    async def go() -> CycleReport:
        async with Fetcher(cfg.fetch) as fetcher:
            return await Pipeline(cfg, store, fetcher, retry_wait=0.01).run_cycle()

    return asyncio.run(go())


def stored_text(store: Store) -> str:
    """Every text value in the feeds, entries, articles and alerts tables, joined."""
    values: list[str] = []
    with store.engine.connect() as conn:
        for table in (feeds, entries, articles, alerts):
            for row in conn.execute(sa.select(table)):
                values += [v for v in row if isinstance(v, str)]
    return "\n".join(values)


# -- the whole corpus through one cycle ----------------------------------------------------


def test_every_hostile_feed_in_one_cycle(store: Store, store_url: str, secret_file: Path) -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in HOSTILE.glob("*.xml"))
    with LoopbackServer() as server, LoopbackServer() as hook:
        hook.add("/hook", b"")
        subs = {"{{BASE}}": server.base_url, "{{SECRET}}": str(secret_file)}
        server.serve_dir("/hostile", HOSTILE, subs)
        urls = {name: server.url(f"/hostile/{name}") for name in EXPECTED}
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        report = run_cycle(make_config(store_url, list(urls.values()), channel), store)
        requested = [r.path for r in server.requests]
        posted = len([r for r in hook.requests if r.method == "POST"])

    outcomes = {f.url: f for f in report.feeds}
    for name, (status, detail) in EXPECTED.items():
        outcome = outcomes[urls[name]]
        assert outcome.status == status, (name, outcome)
        if status == "new":
            assert outcome.new_entries == detail, (name, outcome)
        else:
            assert str(detail) in (outcome.error or ""), (name, outcome)
    assert [e for e in report.entries if e.outcome == "error"] == []
    with store.engine.connect() as conn:
        pending = conn.scalar(sa.select(sa.func.count()).where(entries.c.status == "pending"))
    assert pending == 0
    assert "/hostile/evil.dtd" not in requested
    text = stored_text(store)
    assert SECRET not in text and "FETCHED FROM THE DTD" not in text
    assert "lollol" not in text
    assert not [c for c in text if c < " " and c not in "\t\n\r"]
    assert "document.cookie" not in text and "display:none" not in text
    assert not BIDI.findall(text) and "guarantees gnp.exe" in text
    assert posted >= 1  # the items about Kyiv's security guarantees still alert


def test_bidi_controls_reach_no_headline_message_or_table(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    with LoopbackServer() as server, LoopbackServer() as hook:
        hook.add("/hook", b"")
        server.serve_dir("/hostile", HOSTILE, {"{{BASE}}": server.base_url})
        channel = "json://" + hook.url("/hook").removeprefix("http://")
        cfg = make_config(store_url, [server.url("/hostile/bidi.xml")], channel)
        run_cycle(cfg, store)
        [message] = [json.loads(r.body) for r in hook.requests if r.method == "POST"]
    config = tmp_path / "newsmon.yaml"
    listed = {"store": store_url, "channels": {"desk": channel}, "rules": TEST_RULES}
    config.write_text(yaml.safe_dump(listed))
    table = CliRunner().invoke(app, ["alerts", "--config", str(config)], env={"COLUMNS": "300"})
    headline = "Odesa envoy drafts Kyiv security guarantees gnp.exe"
    assert stored_text(store).count(headline) == 3  # the entry's, the article's, the alert's
    assert message["title"].endswith(headline)
    assert headline in table.output, table.output
    shown = json.dumps(message, ensure_ascii=False) + table.output + stored_text(store)
    assert not BIDI.findall(shown)


# -- entities, external entities, bodies that name files -------------------------------------


@pytest.mark.parametrize(
    "name", ["billion-laughs.xml", "xxe-file.xml", "xxe-parameter.xml", "external-dtd.xml"]
)
def test_entities_are_not_expanded_and_nothing_is_read(name: str, secret_file: Path) -> None:
    body = hostile_body(name, secret_file)
    with audited() as seen:
        feed = parse_feed(body, FEED_URL, "application/rss+xml")
    assert seen == []
    assert feed.entries
    for entry in feed.entries:
        for value in (entry.title, entry.summary, entry.key):
            assert SECRET not in value and "lollol" not in value and len(value) < 200


def test_quadratic_blowup_is_not_expanded() -> None:
    big = "x" * 100_000
    refs = "&a;" * 2000  # 200 MB if expanded
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{big}">]><rss version="2.0"><channel>'
        f"<title>t</title><item><title>{refs}</title><link>http://e.com/a</link></item>"
        "</channel></rss>"
    ).encode()
    started = time.monotonic()
    with audited() as seen:
        feed = parse_feed(body, FEED_URL)
    assert time.monotonic() - started < 2
    assert len(feed.entries[0].title) < 10_000
    assert seen == []


@pytest.mark.parametrize("path", ["feed.xml", "/dev/zero"])
def test_a_body_naming_a_file_is_data_not_a_path(tmp_path: Path, path: str) -> None:
    (tmp_path / "feed.xml").write_text(
        '<rss version="2.0"><channel><title>LOCAL</title><item><title>from disk</title>'
        "<link>http://e.com/disk</link></item></channel></rss>"
    )
    body = str(tmp_path / path if not path.startswith("/") else path).encode()
    with audited() as seen, pytest.raises(FeedError, match="not an RSS/Atom feed"):
        parse_feed(body, FEED_URL)
    assert seen == []


# -- sizes: items and markup --------------------------------------------------------------


def items_feed(count: int, link: str = "http://e.com/") -> bytes:
    items = b"".join(b"<item><link>%s%d</link></item>" % (link.encode(), i) for i in range(count))
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    return head + items + b"</channel></rss>"


def test_200000_items_are_capped_before_feedparser_builds_them() -> None:
    body = items_feed(200_000)
    assert len(body) < 10 * 2**20  # within the default size limit
    started = time.monotonic()
    feed = parse_feed(body, FEED_URL)
    assert time.monotonic() - started < 3
    assert len(feed.entries) == 1000
    assert feed.entries[-1].url == "http://e.com/999"
    assert feed.skipped == ("199000 items past the cap of 1000",)
    assert feed.bozo is None or "not well-formed" not in feed.bozo


def test_200000_item_feed_in_a_poll(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'big.db'}")
    with LoopbackServer() as server:
        server.add("/big.xml", items_feed(200_000, "/p"))
        cfg = make_config(str(store.engine.url), [server.url("/big.xml")], "json://127.0.0.1:9/")

        async def poll() -> Any:
            async with Fetcher(cfg.fetch) as fetcher:
                return await Pipeline(cfg, store, fetcher).poll(cfg.feeds)

        [outcome] = asyncio.run(poll())
    assert (outcome.status, outcome.new_entries) == ("new", 1000)
    assert outcome.skipped == ("199000 items past the cap of 1000",)
    store.close()


M = 10 * 2**20
BUDGET = "100000 tags and attributes (256 in a tag)"


def one_item(inner: bytes, head: bytes = b"") -> bytes:
    return (
        b'<rss version="2.0"><channel><title>T</title>' + head + b"<item><title>kept</title>"
        b"<link>http://e.com/a</link></item><item><title>x</title><link>http://e.com/b</link>"
        + inner
        + b"</item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("body", "entries_left"),
    [
        (one_item(b"<x>" * (M // 8) + b"</x>" * (M // 8)), 1),  # deep nesting
        (one_item(b"<category>c</category>" * (M // 22)), 1),
        (one_item(b"<![CDATA[<x>" * (M // 12)), 1),  # unclosed CDATA
        (one_item(b"<!--<x>" * (M // 7)), 1),  # unclosed comments
        (one_item(b"<description><![CDATA[" + b"<b>x</b>" * (M // 8) + b"]]></description>"), 2),
        (one_item(b"<x %s/>" % b" ".join(b'a%d=""' % i for i in range(200_000))), 1),
        (one_item(b"<x %s/>" % b" ".join(b'a%d=""' % i for i in range(200)) * 1000), 1),
    ],
    ids=[
        "deep",
        "categories",
        "unclosed-cdata",
        "unclosed-comments",
        "tags-in-cdata",
        "one-wide-tag",
        "many-attributes",
    ],
)
def test_markup_bombs_are_cut_at_the_tag_budget(body: bytes, entries_left: int) -> None:
    started = time.monotonic()
    feed = parse_feed(body, FEED_URL)
    assert time.monotonic() - started < 3
    assert [e.url for e in feed.entries][:1] == ["http://e.com/a"]
    assert len(feed.entries) == entries_left
    if entries_left == 1:
        assert feed.skipped == (f"1 items past the budget of {BUDGET}",)


def test_markup_before_the_first_item_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match=re.escape(f"over {BUDGET} before the first item")):
        parse_feed(one_item(b"", head=b"<x/>" * 200_000), FEED_URL)


def test_bound_items_keeps_the_document_well_formed() -> None:
    body = items_feed(5)
    cut, reasons = bound_items(body, max_items=2, max_markup=10_000)
    assert cut.endswith(b"</channel></rss>")
    assert cut.count(b"<item>") == 2 and reasons == ["3 items past the cap of 2"]
    assert parse_feed(cut, FEED_URL).bozo is None or "not well-formed" not in str(
        parse_feed(cut, FEED_URL).bozo
    )
    assert bound_items(body, max_items=5, max_markup=10_000) == (body, [])


@pytest.mark.parametrize("reference", [b"&#xD800;", b"&#55296;", b"&#" + b"9" * 5000 + b";"])
def test_invalid_character_references_become_replacement_characters(reference: bytes) -> None:
    body = b'<rss version="2.0"><channel><item><title>a %s b</title><link>http://e.com/a</link>'
    feed = parse_feed(body % reference + b"</item></channel></rss>", FEED_URL)
    assert [e.title for e in feed.entries] == ["a \ufffd b"]


def test_an_empty_link_is_no_link() -> None:
    body = (
        b'<rss version="2.0"><channel><item><title>a</title><link> </link></item></channel></rss>'
    )
    assert parse_feed(body, FEED_URL).skipped == ("item 'a' has no http(s) link",)


# -- keys and links any store can index ----------------------------------------------------


def test_long_guids_and_links_fit_any_store(store: Store, store_url: str) -> None:
    noise = secrets.token_hex(2000)  # incompressible: PostgreSQL indexes ~2,700 bytes at most
    items = (
        f"<item><title>Long GUID</title><link>{{base}}/a</link><guid>{noise}</guid></item>"
        f"<item><title>Long link</title><link>{{base}}/{noise}</link></item>"
        f"<item><title>Short</title><link>{{base}}/b</link><guid>g-1</guid></item>"
    )
    with LoopbackServer() as server:
        body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        server.add("/long.xml", body.replace("{base}", server.base_url).encode())
        cfg = make_config(store_url, [server.url("/long.xml")], "json://127.0.0.1:9/")

        async def poll() -> Any:
            async with Fetcher(cfg.fetch) as fetcher:
                return await Pipeline(cfg, store, fetcher).poll(cfg.feeds)

        [outcome] = asyncio.run(poll())
    assert (outcome.status, outcome.new_entries) == ("new", 2)
    assert outcome.skipped == (f"item 'Long link' has a link longer than {MAX_URL_BYTES} bytes",)
    with store.engine.connect() as conn:
        keys = sorted(conn.scalars(sa.select(entries.c.key)))
    assert keys[0].endswith("/g-1") and keys[1].startswith("sha256:")  # a permalink GUID
    assert all(len(k.encode()) <= MAX_KEY_BYTES for k in keys)


# -- a sample of ill-formed feeds from public test suites, through fetch + parse ---------------

ILL = DATA / "feeds" / "ill"
_HEADER = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.I | re.M)


def served_type(body: bytes) -> str:
    """The Content-Type a test feed names in its header comment, else XML."""
    declared = _HEADER.search(body[:2048])
    return declared.group(1).decode("latin-1") if declared else "application/xml"


async def fetch_and_parse(server: LoopbackServer, name: str) -> str:
    """What became of one served feed: "parsed N, skipped M" entries (each skipped one
    with its reason), or "skipped: REASON"."""
    limits = make_config("sqlite://", [], "json://127.0.0.1:9/").fetch
    async with Fetcher(limits) as fetcher:
        try:
            result = await fetcher.fetch(server.url(f"/{name}"))
            feed = parse_feed(result.body, result.url, result.content_type)
        except (FeedError, FetchError) as exc:
            return f"skipped: {exc}".replace(server.base_url, "")
    assert all(feed.skipped)
    return f"parsed {len(feed.entries)}, skipped {len(feed.skipped)}"


def test_ill_formed_feeds_are_parsed_or_skipped_with_a_reason() -> None:
    expected = dict(line.split(" ", 1) for line in (ILL / "expected.txt").read_text().splitlines())
    files = sorted(p for p in ILL.iterdir() if p.suffix == ".xml")
    assert len(files) == len(expected) >= 20
    with LoopbackServer() as server:
        for path in files:
            body = path.read_bytes()
            server.add(f"/{path.name}", body, headers={"Content-Type": served_type(body)})
        seen = {p.name: asyncio.run(fetch_and_parse(server, p.name)) for p in files}
    assert seen == expected
