"""A backfill through the pipeline's stages: replay a window of history through the rules.

1. Gather: the source's candidates in the window (monitors.backfill), each kept as an
   item of the run: a stored article by its id; a page new to the store fetched politely
   (per-host limits, robots.txt), extracted by the pipeline's extractor and kept as
   extracted; a page whose date is unknown before it is fetched is judged after.
2. Record, in order of publication: each item goes through the same unit of work as a
   polled entry (monitors.stories.record_article; a stored article only gets the alerts
   its story deserves, monitors.stories.alert_stored), with the real placement, rule and
   alert code. A dry run records in a scratch store whose writes are rolled back, so it
   lists exactly the alerts `notify` then records, with their deliveries.
3. Report: the alerts per rule and story, and the items that failed.

Items are kept in the store under the run as they are gathered, so the same backfill run
again after an interruption goes on where it stopped; a dry run records every item again
(what it recorded was rolled back), so a resumed one reports what one run would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitors.backfill import Candidate, Request, Unread, candidates, page_date
from monitors.config import FeedConfig
from monitors.delivery import Outbox
from monitors.errors import FetchError
from monitors.extract import article_from
from monitors.ingest import Polite
from monitors.models import Article, Entry
from monitors.pipeline.cycle import PAGE_ACCEPT, Pipeline
from monitors.pipeline.progress import Progress, ProgressHook
from monitors.store import BackfillItem, Store, StoredArticle, utcnow
from monitors.stories import StoryDesk, alert_stored, record_article

log = logging.getLogger(__name__)

BACKFILL_FEED = "backfill:"  # the feed of pages no configured feed lists
STORED_BATCH = 500  # stored articles read at a time
_ARTICLE_FIELDS = (
    "url",
    "canonical_url",
    "title",
    "text",
    "site",
    "source",
    "language",
    "text_hash",
)


@dataclass(frozen=True)
class Fired:
    """An alert a backfill made (or would make): its rule, kind (`new` or `update`), the
    story and its headline, and the story's items that matched the rule (title, URL),
    the alerting one first."""

    rule_id: str
    kind: str
    story: str
    headline: str
    articles: tuple[tuple[str, str], ...]

    def as_json(self, notify: bool) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "kind": self.kind,
            "story": self.story,
            "headline": self.headline,
            "alert": "queued" if notify else "would fire",
            "articles": [{"title": t, "url": u} for t, u in self.articles],
            "urls": [u for _, u in self.articles],
        }


@dataclass
class Outcome:
    """A finished run: its progress, the alerts, the items that failed, and the items whose
    matching the limits cut (URL, what was left out) in this attempt."""

    request: Request
    progress: Progress
    fired: list[Fired]
    errors: list[BackfillItem]
    held: int = 0  # deliveries held for a digest (notifying)
    matched_in_part: list[tuple[str, str]] = field(default_factory=list)


class Backfill:
    """One backfill over the pipeline's store, fetcher, extractor and rules."""

    def __init__(
        self,
        pipeline: Pipeline,
        request: Request,
        progress: ProgressHook | None = None,
        polite: Polite | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.request = request
        rules = request.rules or [r.rule_id for r in pipeline.ruleset.rules]
        self.ruleset = pipeline.ruleset.select(rules)
        self.polite = polite or Polite(pipeline.fetcher, pipeline.config.backfill)
        self.on_progress = progress or (lambda _progress: None)
        self.progress = Progress()
        self.run_id = 0
        self._done: set[str] = set()
        self._cut: list[tuple[str, str]] = []

    async def execute(self) -> Outcome:
        """Run (or resume) the backfill to its end and report what fired."""
        with self.store.transaction() as tx:
            self.run_id = tx.open_backfill_run(self.request.key, self.request.describe())
            items = tx.backfill_items(self.run_id)
        self._done = {item.key for item in items}
        errors = sum(item.error is not None for item in items)
        self.progress = Progress(resumed=len(items), done=len(items), errors=errors)
        if self.request.source == "stored":
            await self._gather_stored()
        else:
            await self._gather_pages()
        recorded = await asyncio.to_thread(self.record)
        with self.store.transaction() as tx:
            for item in recorded:
                tx.set_backfill_result(item)
            tx.finish_backfill_run(self.run_id)
            items = tx.backfill_items(self.run_id)
        failed = [i for i in items if i.error]
        return Outcome(
            self.request, self.progress, report(items), failed, matched_in_part=self._cut
        )

    # 1. gather

    async def _gather_stored(self) -> None:
        """Keep the stored originals of the window as items, read a batch at a time,
        letting the event loop run between items (Ctrl-C, other tasks)."""
        window, feeds = self.request.window, self.request.feeds
        with self.store.transaction() as tx:
            self.progress.total = tx.count_stored_articles(window.since, window.until, feeds)
        self._tick()
        after = 0
        while True:
            with self.store.transaction() as tx:
                batch = tx.stored_articles(
                    window.since, window.until, feeds, after=after, limit=STORED_BATCH
                )
            for stored in batch:
                self._keep(_stored_item(stored))
                await asyncio.sleep(0)
            if not batch:
                return
            after = batch[-1].id

    async def _gather_pages(self) -> None:
        found = [c async for c in self._listed()]
        self.progress.total = len(found) + self.progress.done
        self._tick()
        limit = asyncio.Semaphore(self.pipeline.config.fetch.concurrency)
        extracting = asyncio.Semaphore(self.pipeline.extractor.workers)

        async def one(candidate: Candidate) -> None:
            async with limit:
                item = await self._page_item(candidate, extracting)
            self._keep(item)

        await asyncio.gather(*(one(c) for c in found))

    async def _listed(self) -> AsyncIterator[Candidate]:
        """The source's candidates not done yet; listings that could not be read are kept
        as errors of the run."""
        chosen = self._chosen_feeds()
        states = self.pipeline.feed_states(chosen)
        feeds = [(f, states[f.url].id) for f in chosen]
        max_bytes = self.pipeline.fetcher.limits.max_bytes
        async for found in candidates(self.request, self.polite, feeds, max_bytes):
            if isinstance(found, Unread):
                log.warning("backfill: %s not read: %s", found.url, found.reason)
                error = f"not read, its pages are missing: {found.reason}"
                self._keep(BackfillItem(f"listing:{found.url}", found.url, error=error))
            elif found.entry.canonical_url not in self._done:
                yield found

    def _chosen_feeds(self) -> list[FeedConfig]:
        wanted = set(self.request.feeds)
        feeds = self.pipeline.config.feeds
        return [f for f in feeds if not wanted or wanted & {f.url, f.label, f.name}]

    async def _page_item(self, candidate: Candidate, extracting: asyncio.Semaphore) -> BackfillItem:
        """A candidate as an item: the stored article with its URL, else its page fetched
        and extracted (or why not)."""
        entry = candidate.entry
        key = entry.canonical_url
        with self.store.transaction() as tx:
            stored = tx.stored_article_by_url(key)
        if stored is not None:
            return self._stored_page(key, entry, stored)
        try:
            refused = await self.polite.refusal(entry.url)
            if refused:
                raise FetchError(entry.url, refused)
            page = await self.polite.fetch(entry.url, PAGE_ACCEPT)
        except FetchError as exc:
            return BackfillItem(key, entry.url, entry.title, entry.published, error=exc.reason)
        async with extracting:
            found = await asyncio.to_thread(self.pipeline.page_text, page, entry.title)
        if found.problem:
            log.info("backfill: page %s: %s; using what the entry has", page.url, found.problem)
        if entry.published is None:
            published = await asyncio.to_thread(page_date, page.body, page.url)
            entry = replace(entry, published=published or self._first_seen(entry))
        article = article_from(found, entry, page.url, self.pipeline.config.extract.min_chars)
        item = BackfillItem(key, article.url, article.title, article.published)
        if article.published is not None and article.published not in self.request.window:
            return item  # outside the window: kept as done, never recorded
        return replace(item, page=_page_json(entry, article), feed_id=candidate.feed_id)

    def _stored_page(self, key: str, entry: Entry, stored: StoredArticle) -> BackfillItem:
        """A listed page already stored: matched as stored; a stored copy, or one outside
        the window, alerts nobody."""
        item = BackfillItem(key, stored.article.url, stored.article.title, stored.moment)
        outside = stored.moment not in self.request.window
        if outside or stored.duplicate_of is not None or stored.story_id is None:
            return item
        return replace(item, article_id=stored.id)

    def _first_seen(self, entry: Entry) -> datetime:
        with self.store.transaction() as tx:
            return tx.first_seen(entry.canonical_url) or utcnow()

    def _keep(self, item: BackfillItem) -> None:
        """Keep an item of the run (committed before progress is told of it)."""
        if item.key in self._done:
            return
        with self.store.transaction() as tx:
            tx.add_backfill_item(self.run_id, item)
        self._done.add(item.key)
        self.progress.done += 1
        self.progress.errors += item.error is not None
        self._tick()

    def _tick(self) -> None:
        self.on_progress(self.progress)

    # 2. record

    def record(self) -> list[BackfillItem]:
        """Record the run's items in order of publication (a notifying run: those not
        recorded yet; a dry run: all of them, in a scratch store); what each did."""
        with self.store.transaction() as tx:
            items = [i for i in tx.backfill_items(self.run_id) if i.usable and not i.recorded]
        if self.request.notify:
            return self._record(self.store, self.pipeline.desk, self.pipeline.outbox, items)
        with self.store.scratch() as scratch:
            outbox = Outbox(scratch, self.pipeline.outbox.policies, self.pipeline.outbox.settings)
            desk = StoryDesk(self.pipeline.config.stories)
            return self._record(scratch, desk, outbox, items)

    def _record(
        self, store: Store, desk: StoryDesk, outbox: Outbox, items: Sequence[BackfillItem]
    ) -> list[BackfillItem]:
        done = []
        for item in items:
            article, stored = self._article(store, item)
            matching = self.ruleset.matching(
                article.title, article.text, site=article.site, lang=article.language
            )
            if matching.cut:
                log.warning("backfill: %s matched in part: %s", item.url, matching.cut)
                self._cut.append((item.url, matching.cut))
            matches = matching.matches
            if stored is not None:
                story_id = stored.story_id
                alert_ids = alert_stored(store, desk, stored, matches, outbox.enqueue)
            else:
                entry_id = self._entry_id(store, item)
                enqueue, found = outbox.enqueue, matching.text_words
                made = record_article(store, desk, entry_id, article, matches, enqueue, found)
                story_id, alert_ids = made.story_id, made.alert_ids
            with store.transaction() as tx:
                alerts = tx.alert_kinds(alert_ids)
            done.append(
                replace(
                    item,
                    story=str(story_id) if story_id is not None else item.key,
                    headline=article.title,
                    matched=tuple(m.rule_id for m in matches),
                    alerts=tuple(alerts),
                    recorded=self.request.notify,
                )
            )
        return done

    def _article(self, store: Store, item: BackfillItem) -> tuple[Article, StoredArticle | None]:
        if item.article_id is not None:
            with store.transaction() as tx:
                stored = tx.stored_article(item.article_id)
            return stored.article, stored
        _, article = _from_page_json(item.page or "{}")
        return article, None

    def _entry_id(self, store: Store, item: BackfillItem) -> int:
        """The entry row of a page (in its feed, else the backfill feed), made if need be."""
        entry, _ = _from_page_json(item.page or "{}")
        with store.transaction() as tx:
            feed_id = item.feed_id
            if feed_id is None:
                feed_id = tx.sync_feeds([(BACKFILL_FEED, "backfill")])[BACKFILL_FEED].id
            return tx.entry_for_page(feed_id, entry)


def report(items: Sequence[BackfillItem]) -> list[Fired]:
    """The alerts the items made, by rule and story. A new alert lists the story's items
    that matched its rule, the alerting one first; an update, its own item."""
    by_story: dict[tuple[str, str], list[BackfillItem]] = {}
    for item in items:
        for rule in item.matched:
            by_story.setdefault((rule, item.story or item.key), []).append(item)
    fired = []
    for (rule, story), members in sorted(by_story.items()):
        for item in members:
            for kind in (kind for alert_rule, kind in item.alerts if alert_rule == rule):
                listed = [item] + [m for m in members if m is not item and kind == "new"]
                articles = tuple((m.title, m.url) for m in listed)
                fired.append(Fired(rule, kind, story, item.headline or item.title, articles))
    return fired


def _stored_item(stored: StoredArticle) -> BackfillItem:
    a = stored.article
    return BackfillItem(f"a{stored.id}", a.url, a.title, stored.moment, article_id=stored.id)


def _page_json(entry: Entry, article: Article) -> str:
    """An extracted page as kept with its item (its analysis is computed again)."""
    entry_fields = {f: getattr(entry, f) for f in ("key", "url", "canonical_url", "title")}
    entry_fields["summary"] = entry.summary
    article_fields = {f: getattr(article, f) for f in _ARTICLE_FIELDS}
    published = article.published.isoformat() if article.published else None
    return json.dumps(
        {"entry": entry_fields, "article": article_fields, "published": published},
        ensure_ascii=False,
    )


def _from_page_json(blob: str) -> tuple[Entry, Article]:
    data = json.loads(blob)
    published = datetime.fromisoformat(data["published"]) if data["published"] else None
    entry = Entry(**data["entry"], published=published)
    return entry, Article(**data["article"], published=published)
