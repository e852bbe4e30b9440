"""One poll cycle, stage by stage (see monitors.pipeline for the way to run one).

1. `poll`: fetch each feed (conditional GET), parse it unless unchanged, and store
   its new entries as pending; a failing feed is recorded and the others go on.
2. `process`: for each pending entry, fetch and extract its page (or fall back to
   the entry's summary: at once when the page is gone or refused or when the summary
   matches a rule, else after PAGE_ATTEMPTS tries in later cycles when the page keeps
   failing for a while, its entry pending meanwhile), drop exact duplicates, match the
   rules, and record the article with its alerts and their deliveries in one
   transaction; pages are fetched fairly across hosts, each host within a page budget
   a cycle (monitors.pipeline.pages).
3. `deliver`: send every due delivery; a failure stays queued for the next run.

In a cycle the first two overlap: a feed's new entries join the page queue as soon as
they are stored, so pages are fetched and extracted while the other feeds poll; the
fetcher keeps feeds and pages within one fetch.concurrency, and each host within its
fetch.per_host.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)

from monitors.config import Config, FeedConfig
from monitors.delivery import Delivered, Notifier, Outbox, SecretResolver, deliver_due, notifier_for
from monitors.errors import (
    ConnectError,
    FeedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NewsmonError,
)
from monitors.extract import (
    Extractor,
    PageText,
    article_from,
    load_model_in_background,
    needs_model,
)
from monitors.ingest import (
    Fetcher,
    Polled,
    backoff_until,
    discover,
    items_per_day,
    new_callback_id,
    next_interval,
    parse_feed,
)
from monitors.models import Article, FetchResult
from monitors.pipeline.pages import PageQueue, Turn, plan
from monitors.pipeline.progress import CycleHook, CycleProgress, Progress
from monitors.pipeline.push import Push, rereads_of, safety_due
from monitors.pipeline.report import CycleReport, FeedOutcome, ProcessedEntry
from monitors.pipeline.sender import Sender
from monitors.rules import Matching, release_dictionaries
from monitors.store import DueEntry, FeedState, PendingEntry, Store, new_count, utcnow
from monitors.stories import NotACopy, Recorded, StoryDesk, record_article

log = logging.getLogger(__name__)

PAGE_TYPES = ("html", "xml", "text/")  # a page of another type is never read
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
RETRY_WAIT_CAP = 10.0  # seconds: a feed that asks to wait longer is retried next cycle
FeedFetch = Callable[[FeedConfig, FeedState], Awaitable[FetchResult]]
IN_TURN_WAIT = 5.0  # seconds an extracted entry waits for the one before it on its host
PAGE_ATTEMPTS = 3  # cycles a page failing for a while is tried before its summary stands in
PAGE_RETRY_WAIT = timedelta(minutes=5)  # ... and the least time between two of its tries
DUE_GRACE = timedelta(seconds=30)  # a feed due this soon is polled now, not a cycle later
SLOW_DOWN = (429, 503)  # statuses by which a server asks to wait: even a manual run waits


class Pipeline:
    """The stages wired to one config, store, fetcher and notifier."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        notifier: Notifier | None = None,
        retry_wait: float = 1.0,
        secrets: SecretResolver | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.desk = StoryDesk(config.stories)
        self.fetcher = fetcher
        self.notifier = notifier or notifier_for(config, secrets)
        self.outbox = Outbox.of(config, store)
        self.ruleset = config.ruleset()
        release_dictionaries()  # the compiled rules hold their words' forms
        self.retry_wait = retry_wait
        self.labels = config.labels()
        self.extractor = Extractor(config.extract)
        fetcher.close_with(self.extractor.close)
        self.progress = CycleProgress()
        self.on_progress: CycleHook = lambda _progress: None  # told as feeds and entries go
        self.push = Push(self)

    def tell(self) -> None:
        """Tell the progress hook where the cycle is; a failing hook only logs."""
        try:
            self.on_progress(self.progress)
        except Exception:
            log.exception("the progress hook failed")

    async def run_cycle(
        self,
        feeds: Sequence[FeedConfig] | None = None,
        due_only: bool = False,
        progress: CycleHook | None = None,
        since: datetime | None = None,
    ) -> CycleReport:
        """Poll the feeds (those polled since `since` are claimed elsewhere: see `poll`),
        ask their WebSub hubs what is due, process the pending entries (within each
        host's page budget; once its own run out, those other workers polled since
        `since` or the cycle's start and left unclaimed), deliver every due alert;
        `progress` is told of each feed polled and each entry processed.

        Pages are fetched fairly across hosts (see `process`), each within
        fetch.timeout: a slow host delays only its own pages, at most
        fetch.pages_per_host_per_cycle of them a cycle, and a host that does not answer
        is left for the next cycle. Alerts do not wait for the rest of the batch:
        deliveries are sent, in a thread, as soon as an entry makes an alert."""
        if progress is not None:
            self.on_progress = progress
        report = CycleReport()
        sender = Sender(self.deliver)
        started = utcnow()
        queue = self.pages(adding=True, since=min(since or started, started))
        processing = asyncio.create_task(self.process(on_alert=sender.wake, queue=queue))
        try:
            report.feeds = await self.poll(
                feeds if feeds is not None else self.config.feeds,
                due_only,
                queue=queue,
                since=since,
            )
            report.hubs = await self.push.maintain()
        except BaseException:
            processing.cancel()
            await asyncio.gather(processing, return_exceptions=True)
            raise
        report.entries = await processing
        self.progress.stage = "deliver"
        self.tell()
        report.deliveries = await sender.finish()
        return report

    # 1. poll

    def feed_states(self, feeds: Iterable[FeedConfig]) -> dict[str, FeedState]:
        """Each feed's stored state by URL (rows are created for new feeds)."""
        with self.store.transaction() as tx:
            return tx.sync_feeds((f.url, f.name) for f in feeds)

    async def poll(
        self,
        feeds: Sequence[FeedConfig],
        due_only: bool = False,
        fetch: FeedFetch | None = None,
        queue: PageQueue | None = None,
        since: datetime | None = None,
    ) -> list[FeedOutcome]:
        """Poll feeds concurrently; each result is recorded, failures included. `fetch`
        gets a feed (default: a conditional GET retried within one deadline). A feed's
        new entries are added to the open `queue`, if any, whose pages on a host wait for
        the feeds on that host; it is closed at the end.

        A feed whose server asked to wait (429, 503) waits; with `due_only`, so does
        every feed backing off or not due yet (within DUE_GRACE). Each feed is claimed
        before it is polled, so workers running at once share the feeds; a feed another
        worker holds, or polled during this cycle (or since `since`: a worker started
        together with others, which may have polled a feed before its cycle began), is
        `claimed elsewhere`. The next poll
        is timed from this cycle's start, so that a feed polled at the schedule's own
        interval is due at every run. Push subscriptions whose lease ended lapse first,
        making their feeds due."""
        if self.push.enabled:
            self.push.lapse()
        states = self.feed_states(feeds)
        now = utcnow()
        outcomes = {f.url: held_back(f, states[f.url], now, due_only) for f in feeds}
        todo = {states[f.url].id: f for f in feeds if outcomes[f.url] is None}
        claimed: list[int] = []  # claimed a batch at a time, polled by the runners
        due_by = now + DUE_GRACE if due_only else None
        polled_since = min(since or now, now)  # a feed polled since then is claimed elsewhere
        self.progress = CycleProgress(feeds=Progress(total=len(todo)))
        self.tell()

        async def runner() -> None:
            while claimed or self._claim_batch(todo, claimed, polled_since, due_by):
                feed = todo.pop(claimed.pop())
                state = states[feed.url]
                polled = await self._poll_claimed(feed, state, now, fetch, queue)
                outcomes[feed.url] = polled
                if queue is not None:
                    await queue.polled(feed.url)
                self._count(self.progress.feeds, polled.status == "failed")

        if queue is not None:
            queue.expect(f.url for f in todo.values())

        try:
            await asyncio.gather(*(runner() for _ in range(self.config.fetch.concurrency)))
        finally:
            if queue is not None:
                await queue.close()
                self.progress.stage = "process"
        elsewhere = [FeedOutcome(f.url, f.label, "claimed elsewhere") for f in todo.values()]
        outcomes.update((o.url, o) for o in elsewhere)
        return [o for f in feeds if (o := outcomes[f.url]) is not None]

    def _claim_batch(
        self,
        todo: dict[int, FeedConfig],
        claimed: list[int],
        since: datetime,
        due_by: datetime | None,
    ) -> bool:
        """Claim more of the `todo` feeds into `claimed`: one for each `fetch.concurrency`
        of them left, at most `fetch.concurrency`, so that workers polling at once share
        the last feeds out instead of one taking them all; whether any was left."""
        concurrency = self.config.fetch.concurrency
        batch = min(concurrency, -(-len(todo) // concurrency))
        with self.store.transaction() as tx:
            claimed.extend(tx.claim_feeds(todo.keys(), since, self.feed_lease, batch, due_by))
        return bool(claimed)

    @property
    def feed_lease(self) -> float:
        """How long a claim on a feed lasts: long enough for its fetch with retries."""
        return self.config.fetch.timeout * 3

    async def _poll_claimed(
        self,
        feed: FeedConfig,
        state: FeedState,
        started: datetime,
        fetch: FeedFetch | None,
        queue: PageQueue | None,
    ) -> FeedOutcome:
        try:
            return await self.poll_feed(feed, state, started, fetch, queue)
        except Exception as exc:  # one feed's bug must not stop the others
            log.exception("feed %s failed unexpectedly", feed.label)
            failed = FeedOutcome(feed.url, feed.label, "failed", error=repr(exc))
            with contextlib.suppress(Exception):  # its claim is let go, backing it off
                failed = self.record_failure(feed, state, FeedError(f"internal error: {exc!r}"))
            return failed

    async def poll_feed(
        self,
        feed: FeedConfig,
        state: FeedState,
        started: datetime | None = None,
        fetch: FeedFetch | None = None,
        queue: PageQueue | None = None,
    ) -> FeedOutcome:
        """Fetch (with `fetch`, default: retrying transient errors) and ingest one feed,
        its new entries added to `queue`; never raises NewsmonError. Its next poll is
        timed from `started` (default: now)."""
        try:
            result = await (fetch or self.fetch_with_retries)(feed, state)
        except FetchError as exc:
            return self.record_failure(feed, state, exc)
        return await self.ingest(feed, state, result, started, queue)

    async def fetch_feed(
        self, feed: FeedConfig, state: FeedState, timeout: float | None = None
    ) -> FetchResult:
        """One conditional GET of a feed, within `timeout` (default: fetch.timeout);
        raises FetchError."""
        return await self.fetcher.fetch(
            feed.url, etag=state.etag, last_modified=state.last_modified, timeout=timeout
        )

    async def fetch_with_retries(self, feed: FeedConfig, state: FeedState) -> FetchResult:
        """The feed's fetch, retried on transient errors while its one deadline
        (fetch.timeout from the first attempt) leaves time: retries never add up."""
        budget = self.config.fetch.timeout
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retry_now),
            stop=stop_after_attempt(self.config.fetch.retries + 1) | stop_before_delay(budget),
            wait=wait_exponential(multiplier=self.retry_wait, max=RETRY_WAIT_CAP),
            reraise=True,
        )
        started = time.monotonic()

        async def attempt() -> FetchResult:
            first = retrying.statistics.get("attempt_number", 1) == 1
            left = None if first else budget - (time.monotonic() - started)
            return await self.fetch_feed(feed, state, left)

        return await retrying(attempt)

    async def ingest(
        self,
        feed: FeedConfig,
        state: FeedState,
        result: FetchResult,
        started: datetime | None = None,
        queue: PageQueue | None = None,
    ) -> FeedOutcome:
        """Parse a fetched feed unless unchanged (in a thread, so that the other fetches
        go on meanwhile) and store its new entries as pending, added to `queue` if any,
        and the WebSub hub it names when push is on; its next poll is timed from
        `started` (default: now), or at push.safety_interval while its push
        subscription is active."""
        name = feed.label
        body_hash = (
            state.body_hash if result.not_modified else hashlib.sha256(result.body).hexdigest()
        )
        unchanged = result.not_modified or body_hash == state.body_hash
        pushed = self.push.pushed(state.id, utcnow())
        if unchanged:
            with self.store.transaction() as tx:
                tx.record_feed_ok(
                    state.id,
                    status=result.status,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    body_hash=body_hash,
                )
                polled = Polled(0, 0, result.max_age)
                tx.schedule_feed(state.id, *self._next_poll(feed, state, polled, started, pushed))
            return FeedOutcome(feed.url, name, "unchanged")
        try:
            parsed = await asyncio.to_thread(
                parse_feed, result.body, result.url, result.content_type
            )
        except FeedError as exc:
            return self.record_failure(feed, state, exc)
        hub = discover(result.links, parsed.links, result.url) if self.push.enabled else None
        with self.store.transaction() as tx:
            added = tx.record_feed_ok(
                state.id,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=body_hash,
                new_entries=parsed.entries,
                skipped=parsed.skipped,
                rereads=rereads_of(self.config),
            )
            if hub is not None:
                tx.note_hub(state.id, hub.hub, hub.topic, new_callback_id())
            hints = [h for h in (parsed.ttl, result.max_age) if h]
            polled = Polled(len(parsed.entries), new_count(added), max(hints, default=None))
            tx.schedule_feed(state.id, *self._next_poll(feed, state, polled, started, pushed))
        if added:  # entries to record: the workers (and the language model, for text
            self.extractor.start()  # beyond plain English) get ready while feeds poll
            if needs_model(e.title for e in parsed.entries):
                load_model_in_background()
            if queue is not None:
                await queue.add(added)
                self._sync_total(queue)
        for reason in parsed.skipped:
            log.info("%s: skipped %s", name, reason)
        return FeedOutcome(feed.url, name, "new", len(added), skipped=parsed.skipped)

    def _next_poll(
        self,
        feed: FeedConfig,
        state: FeedState,
        polled: Polled,
        started: datetime | None,
        pushed: bool,
    ) -> tuple[datetime, float, float]:
        """When to poll the feed next, timed from `started` (default: now), or at
        push.safety_interval while it is `pushed`; the interval and the rate of items
        learnt."""
        now = utcnow()
        interval = next_interval(state.interval, feed.every, polled, self.config.poll)
        rate = items_per_day(state.items_per_day, polled.new, state.last_success_at, now)
        due = (started or now) + timedelta(seconds=interval)
        if pushed:
            due = safety_due(started or now, interval, self.config.push.safety_interval)
        return due, interval, rate

    def record_failure(self, feed: FeedConfig, state: FeedState, exc: NewsmonError) -> FeedOutcome:
        """Note a feed's failure on its row, back it off, and report it."""
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        log.warning("feed %s failed: %s", feed.label, reason)
        until = backoff_until(state.error_streak + 1, retry_after, utcnow(), self.config.poll)
        with self.store.transaction() as tx:
            tx.record_feed_error(state.id, reason, status, until)
        return FeedOutcome(feed.url, feed.label, "failed", error=reason)

    # 2. process

    def pages(
        self,
        feed_ids: Iterable[int] | None = None,
        adding: bool = False,
        since: datetime | None = None,
    ) -> PageQueue:
        """The queue of the pending entries due now (of these feeds) whose pages to fetch
        (monitors.pipeline.pages); with `adding`, open to the entries polls store, and
        then, with `since`, to those other workers polled since then and left unclaimed."""
        with self.store.transaction() as tx:
            due = tx.due_entries(feed_ids)
        budget = self.config.fetch.pages_per_host_per_cycle
        return PageQueue(
            plan(due, budget),
            self.config.fetch.per_host,
            self._claim,
            self._release,
            budget if adding else None,
            functools.partial(self._new_entries, since) if since is not None else None,
        )

    async def process(
        self,
        feed_ids: Iterable[int] | None = None,
        on_alert: Callable[[], None] | None = None,
        queue: PageQueue | None = None,
    ) -> list[ProcessedEntry]:
        """Process the pending entries due now (of these feeds), or those `queue` hands
        out, each recorded on its own; those left for a later cycle are reported
        `deferred`.

        Pages are fetched fairly across hosts and feeds (monitors.pipeline.pages): each
        host gets at most fetch.pages_per_host_per_cycle pages a cycle and fetch.per_host
        at once, and one whose pages never answer holds only its own slots. A fixed
        number of entries is in flight at once (fetch concurrency plus two per extractor
        worker), so memory does not grow with the backlog: pages are fetched
        concurrently (within the fetcher's fetch.concurrency, shared with feeds polled
        meanwhile), extracted in the extractor's worker processes within its deadline
        (a page that runs out of time leaves its entry the feed's summary), and recorded
        one at a time in a thread, so that the event loop goes on fetching meanwhile.
        Entries are recorded as their pages come, but after the entry before them on
        their host (in order of publication), each waiting at most IN_TURN_WAIT for it:
        an outlet's first report of a story makes its first alert, and its later one an
        update, whichever page loads first. `on_alert` is called each time an entry made
        alerts."""
        if queue is None:
            queue = self.pages(feed_ids)
        runners = self.config.fetch.concurrency + 2 * self.extractor.workers
        extracting = asyncio.Semaphore(self.extractor.workers)
        recording = asyncio.Lock()
        done: list[ProcessedEntry] = []
        self.progress.entries = Progress(total=queue.size)
        if self.progress.stage != "poll" or not queue.adding:
            self.progress.stage = "process"
        self.tell()

        async def fetch() -> tuple[Turn, FetchResult | None, FetchError | None] | None:
            turn = await queue.take()
            if turn is None:
                return None
            answered = True  # unless the fetch finds its host silent
            try:
                page, failure = await self._fetch_page(turn.entry)
                answered = not isinstance(failure, FetchTimeout | ConnectError)
            finally:
                await queue.done(turn, answered)
            self._sync_total(queue)
            return turn, page, failure

        async def handle(
            turn: Turn, page: FetchResult | None, failure: FetchError | None
        ) -> ProcessedEntry:
            item, found = turn.entry, None
            if failure is not None and await asyncio.to_thread(self._wait_for, item, failure):
                await _in_turn(turn)  # the entries after it on its host keep their order
                return await asyncio.to_thread(self._page_later, item, failure)
            if page is not None and page.body and _is_html(page):
                async with extracting:
                    found = await asyncio.to_thread(self.page_text, page, item.entry.title)
            await _in_turn(turn)
            async with recording:
                return await asyncio.to_thread(self.process_entry, item, page, found)

        async def runner() -> None:
            while fetched := await fetch():
                turn = fetched[0]
                try:
                    done.append(processed := await handle(*fetched))
                finally:
                    turn.recorded.set()
                self._count(self.progress.entries, processed.outcome == "error")
                if processed.alert_ids and on_alert is not None:
                    on_alert()

        await asyncio.gather(*(runner() for _ in range(runners)))
        left = [ProcessedEntry(d.id, d.url, "deferred", error=d.reason) for d in queue.deferred]
        return done + left

    def _count(self, progress: Progress, failed: bool) -> None:
        """One more done (`failed` or not), then tell the hook."""
        progress.done += 1
        progress.errors += failed
        progress.total = max(progress.total or 0, progress.done)
        self.tell()

    def _sync_total(self, queue: PageQueue) -> None:
        """The entries to process this cycle, as the queue now counts them (added by polls,
        less those deferred)."""
        entries = self.progress.entries
        total = max(queue.size, entries.done)
        if total != entries.total:
            entries.total = total
            self.tell()

    def _claim(self, ids: list[int]) -> list[PendingEntry]:
        with self.store.transaction() as tx:
            return tx.pending_entries(ids=ids)

    def _new_entries(self, since: datetime) -> list[DueEntry]:
        """The entries first seen since `since`, never tried, that no worker holds; the
        extraction workers get ready if there are any."""
        with self.store.transaction() as tx:
            due = tx.due_entries(new_since=since)
        if due:
            self.extractor.start()
        return due

    def _release(self, ids: list[int]) -> None:
        with self.store.transaction() as tx:
            tx.release_entries(ids)

    async def _fetch_page(self, item: PendingEntry) -> tuple[FetchResult | None, FetchError | None]:
        """The entry's page, or why it could not be fetched."""
        try:
            page = await self.fetcher.fetch(item.entry.url, accept=PAGE_ACCEPT, only=PAGE_TYPES)
        except FetchError as exc:
            log.info("page %s not fetched (%s)", item.entry.url, exc.reason)
            return None, exc
        return page, None

    def _wait_for(self, item: PendingEntry, failure: FetchError) -> bool:
        """Whether the entry waits for its page to be tried again: the page failed for a
        while (`transient`), with tries left, and the entry's own title and summary
        match no rule (else its alert goes now, the summary standing in)."""
        if not failure.transient or item.attempts + 1 >= PAGE_ATTEMPTS:
            return False
        try:
            return not self._match(item, self.extract(item, None)).matches
        except Exception:  # recording it says what went wrong, and counts the error
            log.exception("entry %s: its summary could not be matched", item.entry.url)
            return False

    def _page_later(self, item: PendingEntry, failure: FetchError) -> ProcessedEntry:
        """Leave the entry pending for a later try: its page failed for a while (a
        time-out, a failed connection, HTTP 429 or 5xx), its title and summary match no
        rule, and its text may. The try is counted: after PAGE_ATTEMPTS the summary
        stands in."""
        tried, until = item.attempts + 1, utcnow() + PAGE_RETRY_WAIT
        why = f"page not fetched ({failure.reason}): tried again from {until:%H:%M} UTC "
        why += f"({tried} of {PAGE_ATTEMPTS} tries, then the feed's summary)"
        try:
            with self.store.transaction() as tx:
                tx.record_entry_error(item.id, why, hold_until=until)
        except Exception as exc:  # the entry's claim runs out: it is due again then
            log.exception("entry %s could not be deferred", item.entry.url)
            return ProcessedEntry(item.id, item.entry.url, "error", error=str(exc))
        return ProcessedEntry(item.id, item.entry.url, "deferred", error=why)

    def process_entry(
        self, item: PendingEntry, page: FetchResult | None, found: PageText | None = None
    ) -> ProcessedEntry:
        """Match and record one entry, from its page's extracted text (`found`, or
        extracted now) or its feed summary; an unexpected error leaves it pending. An
        article the matching limits cut is recorded with the matches found, the cut
        noted on its outcome."""
        try:
            article = self.extract(item, page, found)
            matching = None if self._stored_copy(article) else self._match(item, article)
            try:
                recorded = self._record(item, article, matching)
            except NotACopy:
                matching = self._match(item, article)
                recorded = self._record(item, article, matching)
        except Exception as exc:  # one bad entry must not stop the batch
            log.exception("entry %s failed", item.entry.url)
            with self.store.transaction() as tx:
                tx.record_entry_error(item.id, f"{type(exc).__name__}: {exc}")
            return ProcessedEntry(item.id, item.entry.url, "error", error=str(exc))
        outcome = "duplicate" if recorded.duplicate_of else "article"
        problem = found.problem if found is not None else None
        return ProcessedEntry(
            item.id,
            item.entry.url,
            outcome,
            article.source,
            recorded.alert_ids,
            error=problem,
            matching_cut=matching.cut if matching is not None else None,
        )

    def _match(self, item: PendingEntry, article: Article) -> Matching:
        matching = self.ruleset.matching(
            article.title, article.text, site=article.site, lang=article.language
        )
        if matching.cut:
            log.warning("page %s: matched in part: %s", item.entry.url, matching.cut)
        return matching

    def _record(self, item: PendingEntry, article: Article, matching: Matching | None) -> Recorded:
        """Record the entry's article; unmatched (`matching` None), as an exact copy. The
        words matching found spare its signature finding them again."""
        matches = matching.matches if matching is not None else None
        found = matching.text_words if matching is not None else None
        return record_article(
            self.store, self.desk, item.id, article, matches, self.outbox.enqueue, found
        )

    def _stored_copy(self, article: Article) -> bool:
        """Whether a stored original has the article's text: an exact copy, which needs
        no matching (False when the store cannot say)."""
        return bool(article.text) and not self._new_text(article.text_hash)

    def extract(
        self, item: PendingEntry, page: FetchResult | None, found: PageText | None = None
    ) -> Article:
        """The entry's article from its page's text (`found`, or extracted now in the
        extractor), or from the entry itself."""
        url = page.url if page is not None else item.entry.url
        if found is None and page is not None and page.body and _is_html(page):
            found = self.page_text(page, item.entry.title)
        if found is not None and found.problem:
            log.warning("page %s: %s; using the feed's summary", url, found.problem)
        return article_from(found or PageText(), item.entry, url, self.config.extract.min_chars)

    def page_text(self, page: FetchResult, headline: str) -> PageText:
        """The page's text from the extractor, analysed in its worker unless the text is
        a copy of a stored article's."""
        return self.extractor.page_text(page.body, page.url, headline, analyse=self._new_text)

    def _new_text(self, digest: str) -> bool:
        """Whether no stored article has this text fingerprint; True when the store cannot
        say (the text is then analysed, which costs only time)."""
        try:
            return not self.store.holds_text(digest)
        except Exception as exc:  # a store error must not lose the page's text
            log.warning("cannot look up a text fingerprint (%s): analysing the page", exc)
            return True

    # 3. deliver

    def deliver(self, skip: Collection[int] = ()) -> list[Delivered]:
        """Send every due delivery (but those in `skip`) once; each outcome is recorded."""
        return deliver_due(self.outbox, self.notifier, self.labels, skip)


def held_back(
    feed: FeedConfig, state: FeedState, now: datetime, due_only: bool
) -> FeedOutcome | None:
    """Why a feed is not polled now, or None when it is.

    `waiting` while it backs off: always when its server asked to wait (429, 503),
    otherwise only with `due_only` (a person running a cycle by hand means every
    feed); `not due` with `due_only` before its next poll, less DUE_GRACE."""
    backing_off = state.backoff_until is not None and state.backoff_until > now
    if backing_off and (due_only or state.last_status in SLOW_DOWN):
        until = f"{state.backoff_until:%Y-%m-%d %H:%M:%S} UTC"
        return FeedOutcome(feed.url, feed.label, "waiting", error=f"backing off until {until}")
    if due_only and state.next_due_at and state.next_due_at > now + DUE_GRACE:
        return FeedOutcome(feed.url, feed.label, "not due")
    return None


def _retry_now(exc: BaseException) -> bool:
    """Retry within the cycle: transient errors, unless the server asks for a long wait
    or the fetch already took a whole deadline (a cycle must end within about one)."""
    if not isinstance(exc, FetchError) or not exc.transient or isinstance(exc, FetchTimeout):
        return False
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    return retry_after is None or retry_after <= RETRY_WAIT_CAP


async def _in_turn(turn: Turn) -> None:
    """Wait (at most IN_TURN_WAIT) for the entry before this one on its host."""
    if not turn.before.is_set():  # wait_for would make a task even so
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(turn.before.wait(), IN_TURN_WAIT)


def _is_html(page: FetchResult) -> bool:
    """Whether a page is of a kind the fetcher reads (PAGE_TYPES, or no type given)."""
    kind = (page.content_type or "").lower()
    return not kind or any(k in kind for k in PAGE_TYPES)
