"""Backfill: replay a window of history through the rules, as a dry run or for real.

1. The source yields candidates: stored articles (no network), the configured feeds
   and their RFC 5005 archive pages, a list of URLs, or a news sitemap (index).
2. A candidate is in the window by its publication date, else by when it was first
   seen; one whose date is unknown before its page is fetched is judged after.
3. A candidate already stored is matched as stored; another is fetched (per-host
   concurrency and rate limits, robots.txt) and extracted by the pipeline's extractor.
4. A rule fires for a story only when the story has no alert for it yet and no earlier
   candidate of this run fired it. A dry run writes nothing that alerts; `notify`
   records the alerts with their deliveries, in the transaction that records the item.
5. Every item done is kept in `backfill_items` under its run, so the same backfill
   run again after an interruption goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser as RobotRules

import lxml.etree
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors import similarity
from monitors.alerts import add_alert
from monitors.analysis import features_of
from monitors.config import BackfillConfig, Config, FeedConfig
from monitors.deliver import Delivered, SecretResolver
from monitors.errors import FeedError, FetchError, HTTPStatusError, TooLarge
from monitors.extract import PageText, article_from
from monitors.feeds import parse_feed
from monitors.fetch import Fetcher, decode_body
from monitors.models import Article, Entry, FetchResult, Match
from monitors.outbox import Outbox
from monitors.pipeline import PAGE_ACCEPT, Pipeline, fetch_limits
from monitors.rules import RuleSet
from monitors.schema import (
    alerts,
    articles,
    backfill_items,
    backfill_runs,
    deliveries,
    entries,
    feeds,
    insert_ignore,
    stories,
    utcnow,
)
from monitors.store import Store
from monitors.urls import canonical_url

log = logging.getLogger(__name__)

SOURCES = ("stored", "feeds", "urls", "sitemap")
BACKFILL_FEED = "backfill:"
MAX_ARCHIVE_PAGES = 100
MAX_SITEMAPS = 1000
STORED_BATCH = 500  # stored articles read at a time
XML_ACCEPT = "application/xml,text/xml;q=0.9,*/*;q=0.5"
_XML = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
GZIP_MAGIC = b"\x1f\x8b"


# the request


@dataclass(frozen=True)
class Window:
    """Publication times from `since` (included) to `until` (excluded; None: no end)."""

    since: datetime
    until: datetime | None = None

    def __contains__(self, when: datetime) -> bool:
        return when >= self.since and (self.until is None or when < self.until)

    def chunks(self, size: timedelta, now: datetime | None = None) -> list[Window]:
        """The window cut into consecutive windows of `size` (the last may be shorter)."""
        end = self.until or now or utcnow()
        out, start = [], self.since
        while start < end:
            out.append(Window(start, min(start + size, end)))
            start += size
        return out


def parse_moment(text: str, end: bool = False) -> datetime:
    """A UTC time from ISO 8601; a bare date is its day's start, or with `end` the next day's."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Request:
    """What to backfill: the window, the source (`target` is the URL file or sitemap URL),
    the feeds and rules to keep (empty: all) and whether to send."""

    window: Window
    source: str = "stored"
    target: str | None = None
    feeds: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    notify: bool = False

    def describe(self) -> dict[str, Any]:
        """The request as JSON values."""
        until = self.window.until
        return {
            "since": self.window.since.isoformat(),
            "until": until.isoformat() if until else None,
            "source": self.source,
            "target": self.target,
            "feeds": sorted(self.feeds),
            "rules": sorted(self.rules),
            "notify": self.notify,
        }

    @property
    def key(self) -> str:
        """The identity of the request, under which its progress is kept."""
        blob = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


# results


@dataclass
class Progress:
    """How far a run is: items done (`resumed` of them in an earlier attempt), of `total`."""

    total: int | None = None
    done: int = 0
    resumed: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Items a second done in this attempt."""
        elapsed = time.monotonic() - self.started
        return (self.done - self.resumed) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, when known."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


ProgressHook = Callable[[Progress], None]


@dataclass(frozen=True)
class Item:
    """What became of one candidate: the rules it matched and those it fired."""

    key: str
    url: str
    title: str = ""
    published: datetime | None = None
    story: str | None = None
    headline: str = ""
    matched: tuple[str, ...] = ()
    fired: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Fired:
    """A story a rule alerted on (or would have): its articles, the first the alerting one."""

    rule_id: str
    story: str
    headline: str
    articles: tuple[tuple[str, str], ...]  # (title, url)

    def as_json(self, notify: bool) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "story": self.story,
            "headline": self.headline,
            "alert": "queued" if notify else "would fire",
            "articles": [{"title": t, "url": u} for t, u in self.articles],
            "urls": [u for _, u in self.articles],
        }


@dataclass
class Outcome:
    """A finished run: its progress, the alerts per rule and story, problems."""

    request: Request
    progress: Progress
    fired: list[Fired]
    errors: list[Item]
    held: int = 0  # deliveries held for a digest (notifying)


# the run's state


@dataclass
class Run:
    """A run's row and what its items done so far tell: keys, (rule, story) fired and
    how many failed."""

    id: int
    done: set[str]
    fired: set[tuple[str, str]]
    errors: int = 0


def open_run(store: Store, request: Request) -> Run:
    """The unfinished run of this request, or a fresh one (a finished one starts over)."""
    now = utcnow()
    with store.transaction() as conn:
        conn.execute(
            insert_ignore(conn, backfill_runs).values(
                key=request.key,
                args=json.dumps(request.describe()),
                started_at=now,
                updated_at=now,
            )
        )
        row = conn.execute(sa.select(backfill_runs).where(backfill_runs.c.key == request.key)).one()
        if row.status == "done":
            conn.execute(backfill_items.delete().where(backfill_items.c.run_id == row.id))
            conn.execute(
                backfill_runs.update()
                .where(backfill_runs.c.id == row.id)
                .values(status="running", started_at=now, updated_at=now)
            )
        items = conn.execute(
            sa.select(
                backfill_items.c.key,
                backfill_items.c.story,
                backfill_items.c.fired,
                backfill_items.c.error,
            ).where(backfill_items.c.run_id == row.id)
        ).all()
    fired = {(rule, r.story) for r in items for rule in json.loads(r.fired)}
    errors = sum(r.error is not None for r in items)
    return Run(int(row.id), {r.key for r in items}, fired, errors)


def finish_run(store: Store, run: Run) -> None:
    with store.transaction() as conn:
        conn.execute(
            backfill_runs.update()
            .where(backfill_runs.c.id == run.id)
            .values(status="done", updated_at=utcnow())
        )


def save_item(conn: Connection, run: Run, item: Item) -> None:
    """Keep an item done under its run; its fired pairs count for the rest of the run."""
    conn.execute(
        insert_ignore(conn, backfill_items).values(
            run_id=run.id,
            key=item.key,
            url=item.url,
            title=item.title,
            published_at=item.published,
            story=item.story,
            headline=item.headline,
            matched=json.dumps(item.matched),
            fired=json.dumps(item.fired),
            error=item.error,
        )
    )
    run.done.add(item.key)
    run.fired.update((rule, item.story or item.key) for rule in item.fired)


def run_report(store: Store, run: Run) -> tuple[list[Fired], list[Item]]:
    """Per rule and story, the alerts the run fired with the story's matching articles;
    and the items that failed."""
    with store.transaction() as conn:
        rows = conn.execute(
            sa.select(backfill_items)
            .where(backfill_items.c.run_id == run.id)
            .order_by(backfill_items.c.published_at, backfill_items.c.id)
        ).all()
    groups: dict[tuple[str, str], list[sa.Row[Any]]] = {}
    for row in rows:
        for rule in json.loads(row.matched):
            groups.setdefault((rule, row.story or row.key), []).append(row)
    fired = [
        Fired(rule, story, _headline(members), tuple((r.title, r.url) for r in members))
        for (rule, story), members in sorted(groups.items())
        if any(rule in json.loads(r.fired) for r in members)
    ]
    failed = [Item(r.key, r.url, r.title, error=r.error) for r in rows if r.error]
    return fired, failed


def _headline(members: Sequence[sa.Row[Any]]) -> str:
    return str(next((r.headline for r in members if r.headline), members[0].title))


# politeness


class Polite:
    """A fetcher behind per-host concurrency and rate limits, and robots.txt for pages."""

    def __init__(self, fetcher: Fetcher, settings: BackfillConfig, agent: str = "newsmon"):
        self.fetcher = fetcher
        self.settings = settings
        self.agent = agent
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._next: dict[str, float] = {}
        self._robots: dict[str, asyncio.Task[tuple[RobotRules | None, str | None]]] = {}

    async def fetch(self, url: str, accept: str) -> FetchResult:
        """GET `url` within its host's limits (raises FetchError)."""
        host = urlsplit(url).netloc.lower()
        slot = self._slots.setdefault(host, asyncio.Semaphore(self.settings.per_host_concurrency))
        async with slot:
            await self._pace(host)
            return await self.fetcher.fetch(url, accept=accept)

    async def _pace(self, host: str) -> None:
        now = time.monotonic()
        start = max(now, self._next.get(host, now))
        self._next[host] = start + 1.0 / self.settings.per_host_rps
        if start > now:
            await asyncio.sleep(start - now)

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from fetching this page; None when it does not (always,
        with robots off)."""
        if not self.settings.robots:
            return None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = asyncio.ensure_future(self._read_robots(origin))
        rules, unreachable = await self._robots[origin]
        if unreachable:
            return f"robots.txt unreachable ({unreachable}): the site is left alone"
        if rules is not None and not rules.can_fetch(self.agent, url):
            return "disallowed by robots.txt"
        return None

    async def _read_robots(self, origin: str) -> tuple[RobotRules | None, str | None]:
        """The origin's robots.txt (None: anything goes, when it has none, 4xx), or why it
        could not be read: an unreachable one forbids everything (RFC 9309)."""
        try:
            answer = await self.fetch(f"{origin}/robots.txt", "text/plain")
        except HTTPStatusError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None, None
            return None, exc.reason
        except FetchError as exc:
            return None, exc.reason
        rules = RobotRules()
        rules.parse(answer.body.decode("utf-8", "replace").splitlines())
        return rules, None


# sources


@dataclass(frozen=True)
class Candidate:
    """A page to backfill; `feed_id` is the feed its entry belongs to, if any."""

    entry: Entry
    feed_id: int | None = None


def read_url_file(path: str | Path) -> list[Entry]:
    """The URLs of a file, one a line (blank lines and `#` comments skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        url = line.strip()
        if url and not url.startswith("#"):
            out.append(Entry(key=canonical_url(url), url=url, canonical_url=canonical_url(url)))
    return out


def archive_link(body: bytes, base: str) -> str | None:
    """The RFC 5005 `prev-archive` link of a feed document, absolute, if it has one."""
    try:
        root = lxml.etree.fromstring(body, _XML)
    except lxml.etree.XMLSyntaxError:
        return None
    for link in root.iter(_ATOM_LINK, "link"):
        rels = (link.get("rel") or "").split()
        href = link.get("href")
        if "prev-archive" in rels and href:
            return urljoin(base, str(href).strip())
    return None


def sitemap_entries(body: bytes) -> tuple[list[Entry], list[tuple[str, datetime | None]]]:
    """A sitemap's pages (news title and publication date, else lastmod) and, for a
    sitemap index, its child sitemaps with their lastmod."""
    try:
        root = lxml.etree.fromstring(body, _XML)
    except lxml.etree.XMLSyntaxError as exc:
        raise FeedError(f"not a sitemap: {exc}") from None
    pages, children = [], []
    for node in root:
        name = lxml.etree.QName(node).localname if isinstance(node.tag, str) else ""
        fields = _leaf_texts(node)
        loc = fields.get("loc", "").strip()
        if not loc.startswith(("http://", "https://")):
            continue
        when = _xml_date(fields.get("publication_date") or fields.get("lastmod"))
        if name == "sitemap":
            children.append((loc, when))
        elif name == "url":
            pages.append(
                Entry(
                    canonical_url(loc),
                    loc,
                    canonical_url(loc),
                    title=fields.get("title", "").strip(),
                    published=when,
                )
            )
    return pages, children


def gunzipped(body: bytes, max_bytes: int) -> bytes:
    """A sitemap body, gunzipped when it is a .gz file (served as is, not as a
    Content-Encoding), within `max_bytes` decoded; FeedError when it is broken or too big."""
    if not body.startswith(GZIP_MAGIC):
        return body
    try:
        return decode_body("sitemap", "gzip", body, max_bytes)
    except TooLarge:
        raise FeedError(f"the gzipped sitemap holds over {max_bytes} bytes") from None
    except FetchError as exc:
        raise FeedError(f"not a gzipped sitemap: {exc.reason}") from None


def page_date(body: bytes, url: str) -> datetime | None:
    """A page's publication date from its markup (meta tags, JSON-LD, <time>, URL), UTC
    midnight of that day; None when it gives none."""
    from htmldate import find_date

    try:
        found = find_date(body, url=url, original_date=True, extensive_search=False)
    except Exception:  # a page htmldate chokes on just has no date
        return None
    if not found:
        return None
    return datetime.fromisoformat(found).replace(tzinfo=UTC)


def _leaf_texts(node: Any) -> dict[str, str]:
    """The text of each leaf under `node`, by local name (the first of each name)."""
    out: dict[str, str] = {}
    for leaf in node.iter():
        if isinstance(leaf.tag, str) and len(leaf) == 0 and leaf.text:
            out.setdefault(lxml.etree.QName(leaf).localname, leaf.text)
    return out


def _xml_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        return None


# the engine


class Backfill:
    """One backfill over a store: the pipeline's stages, a polite fetcher, the run's state."""

    def __init__(
        self,
        pipeline: Pipeline,
        request: Request,
        progress: ProgressHook | None = None,
        polite: Polite | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.config: Config = pipeline.config
        self.request = request
        self.ruleset: RuleSet = pipeline.ruleset.select(request.rules or _ids(pipeline.ruleset))
        self.outbox: Outbox = pipeline.outbox
        self.polite = polite or Polite(pipeline.fetcher, self.config.backfill)
        self.on_progress = progress or (lambda _progress: None)
        self.progress = Progress()
        self.run: Run = Run(0, set(), set())
        self._dry_stories: list[tuple[str, similarity.Story]] = []
        self._dry_terms: dict[str, set[int]] = {}  # salient term: stories holding it

    async def execute(self) -> Outcome:
        """Run (or resume) the backfill to its end and report what fired."""
        self.run = open_run(self.store, self.request)
        done = len(self.run.done)
        self.progress = Progress(resumed=done, done=done, errors=self.run.errors)
        if self.request.source == "stored":
            await self._stored()
        else:
            await self._network()
        finish_run(self.store, self.run)
        fired, failed = run_report(self.store, self.run)
        return Outcome(self.request, self.progress, fired, failed)

    def _tick(self, item: Item | None = None) -> None:
        if item is not None:
            self.progress.done += 1
            self.progress.errors += item.error is not None
        self.on_progress(self.progress)

    # stored articles

    async def _stored(self) -> None:
        """Match the stored articles a batch at a time, letting the event loop run between
        items (Ctrl-C, other chunks of a flow)."""
        self.progress.total = self._stored_count()
        self._tick()
        after = 0
        while rows := self._stored_rows(after, STORED_BATCH):
            after = rows[-1].id
            for row in rows:
                if f"a{row.id}" not in self.run.done:
                    self._tick(self._match_stored(row))
                await asyncio.sleep(0)

    def _stored_query(self) -> sa.Select[Any]:
        """Stored articles in the window (and the chosen feeds), oldest first."""
        window = self.request.window
        query = _stored_select().where(_article_moment >= window.since).order_by(articles.c.id)
        if window.until is not None:
            query = query.where(_article_moment < window.until)
        if self.request.feeds:
            names = list(self.request.feeds)
            query = query.where(sa.or_(feeds.c.name.in_(names), feeds.c.url.in_(names)))
        return query

    def _stored_matchable(self) -> sa.Select[Any]:
        return self._stored_query().where(
            articles.c.duplicate_of.is_(None), articles.c.story_id.is_not(None)
        )

    def _stored_count(self) -> int:
        counted = sa.select(sa.func.count()).select_from(self._stored_matchable().subquery())
        with self.store.transaction() as conn:
            return int(conn.scalar(counted) or 0)

    def _stored_rows(self, after: int, limit: int) -> list[sa.Row[Any]]:
        """The next `limit` matchable stored articles in the window with ids over `after`."""
        query = self._stored_matchable().where(articles.c.id > after).limit(limit)
        with self.store.transaction() as conn:
            return list(conn.execute(query))

    def _match_stored(self, row: sa.Row[Any], key: str | None = None) -> Item:
        """Match a stored article; fire (or, notifying, record) the rules its story lacks."""
        article = _stored_article(row)
        matches = self._match(article)
        story = str(row.story_id)
        item = Item(
            key or f"a{row.id}",
            row.url,
            row.title,
            row.moment,
            story,
            matched=tuple(m.rule_id for m in matches),
        )
        with self.store.transaction() as conn:
            story_row = conn.execute(
                sa.select(stories.c.headline).where(stories.c.id == row.story_id)
            ).one_or_none()
            headline = story_row.headline if story_row is not None else row.title
            fresh = [m for m in matches if self._fires(conn, m.rule_id, row.story_id)]
            if self.request.notify:
                fresh = self._record_alerts(conn, row, article, fresh)
            item = replace(item, headline=headline, fired=tuple(m.rule_id for m in fresh))
            save_item(conn, self.run, item)
        return item

    def _fires(self, conn: Connection, rule_id: str, story_id: int) -> bool:
        if (rule_id, str(story_id)) in self.run.fired:
            return False
        known = conn.scalar(
            sa.select(alerts.c.id)
            .where(alerts.c.rule_id == rule_id, alerts.c.story_id == story_id)
            .limit(1)
        )
        return known is None

    def _record_alerts(
        self, conn: Connection, row: sa.Row[Any], article: Article, matches: Sequence[Match]
    ) -> list[Match]:
        """Add the alerts of a stored article and enqueue their deliveries."""
        now = utcnow()
        feats = features_of(article, article.published or now)
        made = []
        for match in matches:
            alert_id = add_alert(conn, row.id, article, match, row.story_id, feats, now)
            if alert_id is not None:
                self.outbox.enqueue(conn, alert_id, match.rule_id, now)
                made.append(match)
        return made

    def _match(self, article: Article) -> list[Match]:
        return self.ruleset.match(
            article.title, article.text, site=article.site, lang=article.language
        )

    # network sources

    async def _network(self) -> None:
        found = [c async for c in self._candidates()]
        self.progress.total = len(found)
        self._tick()
        limit = asyncio.Semaphore(self.config.fetch.concurrency)
        extracting = asyncio.Semaphore(self.pipeline.extractor.workers)

        async def one(candidate: Candidate) -> None:
            async with limit:
                item = await self._candidate(candidate, extracting)
            self._tick(item)

        todo = [c for c in found if c.entry.canonical_url not in self.run.done]
        await asyncio.gather(*(one(c) for c in todo))

    async def _candidates(self) -> AsyncIterator[Candidate]:
        """The source's candidates not known to be outside the window, each page once."""
        seen: set[str] = set()
        async for candidate in self._source():
            entry = candidate.entry
            if entry.canonical_url in seen:
                continue
            if entry.published is not None and entry.published not in self.request.window:
                continue
            seen.add(entry.canonical_url)
            yield candidate

    def _source(self) -> AsyncIterator[Candidate]:
        source, target = self.request.source, self.request.target or ""
        if source == "feeds":
            return self._feed_candidates()
        if source == "urls":
            return _plain(read_url_file(target))
        if source == "sitemap":
            return self._sitemap_candidates(target)
        raise ValueError(f"unknown source {source!r} (sources: {', '.join(SOURCES)})")

    async def _feed_candidates(self) -> AsyncIterator[Candidate]:
        chosen = self._chosen_feeds()
        states = self.pipeline.feed_states(chosen)
        for feed in chosen:
            async for entry in self._feed_pages(feed):
                yield Candidate(entry, states[feed.url].id)

    def _chosen_feeds(self) -> list[FeedConfig]:
        wanted = set(self.request.feeds)
        if not wanted:
            return list(self.config.feeds)
        return [f for f in self.config.feeds if wanted & {f.url, f.label, f.name}]

    async def _feed_pages(self, feed: FeedConfig) -> AsyncIterator[Entry]:
        """A feed's entries, then its archives' (RFC 5005), back to the window's start."""
        url: str | None = feed.url
        visited: set[str] = set()
        while url and url not in visited and len(visited) < MAX_ARCHIVE_PAGES:
            visited.add(url)
            try:
                page = await self.polite.fetch(url, XML_ACCEPT)
                parsed = parse_feed(page.body, page.url, page.content_type)
            except (FetchError, FeedError) as exc:
                self._listing_failed(url, exc)
                return
            for entry in parsed.entries:
                yield entry
            dates = [e.published for e in parsed.entries if e.published is not None]
            if dates and min(dates) < self.request.window.since:
                return  # archives only go further back
            url = archive_link(page.body, page.url)

    async def _sitemap_candidates(self, url: str) -> AsyncIterator[Candidate]:
        """The pages of a sitemap and of the child sitemaps an index lists (by lastmod)."""
        queue, visited = [url], set[str]()
        while queue and len(visited) < MAX_SITEMAPS:
            current = queue.pop(0)
            if current in visited:
                continue
            visited.add(current)
            try:
                page = await self.polite.fetch(current, XML_ACCEPT)
                pages, children = sitemap_entries(gunzipped(page.body, self._max_bytes))
            except (FetchError, FeedError) as exc:
                self._listing_failed(current, exc)
                continue
            for entry in pages:
                yield Candidate(entry)
            window = self.request.window
            queue += [c for c, when in children if when is None or when >= window.since]

    @property
    def _max_bytes(self) -> int:
        return self.pipeline.fetcher.limits.max_bytes

    def _listing_failed(self, url: str, exc: FetchError | FeedError) -> None:
        """A feed, archive or sitemap page that could not be read: an error of the run,
        listed with the others (its pages are missing from the backfill)."""
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        log.warning("backfill: %s not read: %s", url, reason)
        key = f"listing:{url}"
        if key in self.run.done:
            return
        item = Item(key, url, error=f"not read, its pages are missing: {reason}")
        with self.store.transaction() as conn:
            save_item(conn, self.run, item)
        self.progress.errors += 1

    async def _candidate(self, candidate: Candidate, extracting: asyncio.Semaphore) -> Item:
        """Match one candidate: as stored when its page is, else fetched and extracted."""
        entry = candidate.entry
        stored = self._stored_by_url(entry.canonical_url)
        if stored is not None:
            return self._known(stored, entry)
        try:
            refused = await self.polite.refusal(entry.url)
            if refused:
                raise FetchError(entry.url, refused)
            page = await self.polite.fetch(entry.url, PAGE_ACCEPT)
        except FetchError as exc:
            return self._failed(entry, exc.reason)
        async with extracting:
            found = await asyncio.to_thread(self.pipeline.page_text, page, entry.title)
        if entry.published is None:
            published = await asyncio.to_thread(page_date, page.body, page.url)
            entry = replace(entry, published=published or self._first_seen(entry))
        article = article_from(found, entry, page.url, self.config.extract.min_chars)
        if article.published is not None and article.published not in self.request.window:
            return self._outside(entry, article)
        return self._fresh(candidate.feed_id, entry, article, found)

    def _stored_by_url(self, url: str) -> sa.Row[Any] | None:
        with self.store.transaction() as conn:
            return conn.execute(_stored_select().where(articles.c.canonical_url == url)).first()

    def _known(self, row: sa.Row[Any], entry: Entry) -> Item:
        """A page already stored: matched as stored; a stored copy alerts nobody."""
        if row.moment not in self.request.window:
            return self._outside(entry, _stored_article(row))
        if row.duplicate_of is not None or row.story_id is None:
            item = Item(entry.canonical_url, row.url, row.title, row.moment)
            with self.store.transaction() as conn:
                save_item(conn, self.run, item)
            return item
        return self._match_stored(row, key=entry.canonical_url)

    def _first_seen(self, entry: Entry) -> datetime:
        with self.store.transaction() as conn:
            seen = conn.scalar(
                sa.select(sa.func.min(entries.c.first_seen_at)).where(
                    entries.c.canonical_url == entry.canonical_url
                )
            )
        return seen or utcnow()

    def _failed(self, entry: Entry, reason: str) -> Item:
        item = Item(entry.canonical_url, entry.url, entry.title, entry.published, error=reason)
        with self.store.transaction() as conn:
            save_item(conn, self.run, item)
        return item

    def _outside(self, entry: Entry, article: Article) -> Item:
        item = Item(entry.canonical_url, article.url, article.title, article.published)
        with self.store.transaction() as conn:
            save_item(conn, self.run, item)
        return item

    def _fresh(self, feed_id: int | None, entry: Entry, article: Article, found: PageText) -> Item:
        """A page new to the store: a dry run places it in a story among this run's new
        pages (in memory: nothing is stored) and fires what that story has not fired;
        notifying records it through the store (story, alerts, deliveries)."""
        matches = self._match(article)
        story = self._dry_story(entry, article)
        fired = [m.rule_id for m in matches if (m.rule_id, story) not in self.run.fired]
        item = Item(
            entry.canonical_url,
            article.url,
            article.title,
            article.published,
            story,
            article.title,
            tuple(m.rule_id for m in matches),
            tuple(fired),
        )
        if found.problem:
            log.info("backfill: page %s: %s; using what the entry has", article.url, found.problem)
        if self.request.notify:
            item = self._record_fresh(feed_id, entry, article, matches, item)
        with self.store.transaction() as conn:
            save_item(conn, self.run, item)
        return item

    def _dry_story(self, entry: Entry, article: Article) -> str:
        """The key of the story, among this run's new pages, that the article joins (the
        story settings' rules), else of a story it starts: `new: <its URL>`."""
        settings = self.store.desk.settings
        feats = features_of(article, article.published)
        sharing = sorted(set().union(*(self._dry_terms.get(t, ()) for t in feats.salient)))
        for index in sharing:
            key, story = self._dry_stories[index]
            verdict = similarity.decide(
                story, feats, settings.same_story, settings.window, settings.max_span
            )
            if verdict.join:
                self._dry_stories[index] = (key, similarity.merge(story, feats))
                self._index_dry(index, feats)
                return key
        key = f"new: {entry.canonical_url}"
        self._dry_stories.append((key, similarity.Story.of(feats)))
        self._index_dry(len(self._dry_stories) - 1, feats)
        return key

    def _index_dry(self, index: int, feats: similarity.StoryFeatures) -> None:
        for term in feats.salient:
            self._dry_terms.setdefault(term, set()).add(index)

    def _record_fresh(
        self,
        feed_id: int | None,
        entry: Entry,
        article: Article,
        matches: Sequence[Match],
        item: Item,
    ) -> Item:
        entry_id = self._entry_id(feed_id, entry)
        recorded = self.store.record_article(entry_id, article, matches, self.outbox.enqueue)
        with self.store.transaction() as conn:
            story_id = conn.scalar(
                sa.select(articles.c.story_id).where(articles.c.id == recorded.article_id)
            )
            made = conn.scalars(
                sa.select(alerts.c.rule_id).where(alerts.c.id.in_(recorded.alert_ids))
            ).all()
        return replace(item, story=str(story_id), fired=tuple(made))

    def _entry_id(self, feed_id: int | None, entry: Entry) -> int:
        """The entry row of a page (in its feed, else the backfill feed), made if need be."""
        if feed_id is None:
            feed_id = self.store.sync_feeds([(BACKFILL_FEED, "backfill")])[BACKFILL_FEED].id
        now = utcnow()
        with self.store.transaction() as conn:
            conn.execute(
                insert_ignore(conn, entries).values(
                    feed_id=feed_id,
                    key=entry.key,
                    url=entry.url,
                    canonical_url=entry.canonical_url,
                    title=entry.title,
                    summary=entry.summary,
                    published_at=entry.published,
                    status="pending",
                    first_seen_at=now,
                )
            )
            found = sa.select(entries.c.id).where(
                entries.c.feed_id == feed_id, entries.c.key == entry.key
            )
            return int(conn.execute(found).scalar_one())


async def run(
    cfg: Config,
    store: Store,
    request: Request,
    progress: ProgressHook | None = None,
    secrets: SecretResolver | None = None,
) -> tuple[Outcome, list[Delivered] | None]:
    """Run a backfill with a fetcher built from the config; when notifying, deliver (the
    outcome then counts the run's deliveries held for a digest)."""
    last_alert = _last_alert_id(store)
    async with Fetcher(fetch_limits(cfg)) as fetcher:
        pipeline = Pipeline(cfg, store, fetcher, secrets=secrets)
        outcome = await Backfill(pipeline, request, progress).execute()
        delivered = await asyncio.to_thread(pipeline.deliver) if request.notify else None
    if request.notify:
        outcome.held = _held_since(store, last_alert)
    return outcome, delivered


def _last_alert_id(store: Store) -> int:
    with store.transaction() as conn:
        return int(conn.scalar(sa.select(sa.func.max(alerts.c.id))) or 0)


def _held_since(store: Store, last_alert: int) -> int:
    """Deliveries of alerts newer than `last_alert` held for a digest."""
    with store.transaction() as conn:
        held = sa.select(sa.func.count()).where(
            deliveries.c.alert_id > last_alert, deliveries.c.status == "held"
        )
        return int(conn.scalar(held) or 0)


_article_moment = sa.func.coalesce(articles.c.published_at, entries.c.first_seen_at)


def _stored_select() -> sa.Select[Any]:
    """Stored articles with their feed and moment (publication, else first seen)."""
    return (
        sa.select(
            articles.c.id,
            articles.c.url,
            articles.c.canonical_url,
            articles.c.title,
            articles.c.text,
            articles.c.site,
            articles.c.language,
            articles.c.published_at,
            articles.c.source,
            articles.c.text_hash,
            articles.c.story_id,
            articles.c.duplicate_of,
            _article_moment.label("moment"),
        )
        .join(entries, entries.c.id == articles.c.entry_id)
        .join(feeds, feeds.c.id == entries.c.feed_id)
    )


def _ids(ruleset: RuleSet) -> list[str]:
    return [rule.rule_id for rule in ruleset.rules]


async def _plain(found: Iterable[Entry]) -> AsyncIterator[Candidate]:
    for entry in found:
        yield Candidate(entry)


def _stored_article(row: sa.Row[Any]) -> Article:
    return Article(
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        text=row.text,
        site=row.site,
        source=row.source,
        language=row.language,
        published=row.published_at,
        text_hash=row.text_hash,
    )
