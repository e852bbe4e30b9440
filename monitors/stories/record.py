"""Recording an article: one unit of work that stores it, places it in a story, decides its
alerts and enqueues their deliveries, so that a crash leaves its entry pending, never half
done. Units of work placing articles of different stories run side by side; those that
bear on each other are ordered by the locks and the check of placement
(monitors.stories.placement): two workers recording write-ups of one story cannot both
start it or both alert on it. A unit of work whose placement another worker's made stale
is done again, at most MAX_ATTEMPTS times. A page read again because its feed entry
changed revises its article in its story (see `_read_again`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from monitors.errors import StoreError
from monitors.models import Article, Match
from monitors.store import Store, StoredArticle, Tx, utcnow
from monitors.stories import minhash
from monitors.stories.novelty import decide_alert
from monitors.stories.placement import Conflict, StoryDesk

MAX_ATTEMPTS = 20  # a placement done again at most this many times
UNSIGNED = minhash.signature("")  # what an expected exact copy is locked and placed with


class NotACopy(Exception):
    """An article recorded unmatched as an exact copy of a stored text is none (its
    original is gone, or has no story): it must be matched and recorded again."""


class Enqueue(Protocol):
    """Creates an alert's deliveries inside the unit of work that records it."""

    def __call__(self, tx: Tx, alert_id: int, rule_id: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class Recorded:
    """What recording an article did: its id, the article it duplicates, its story and
    the alerts made."""

    article_id: int
    duplicate_of: int | None
    alert_ids: tuple[int, ...]
    story_id: int | None = None


def record_article(
    store: Store,
    desk: StoryDesk,
    entry_id: int,
    article: Article,
    matches: Sequence[Match] | None,
    enqueue: Enqueue,
    text_words: Sequence[str] | None = None,
) -> Recorded:
    """Store an article, and unless it duplicates one already stored, an alert per match
    that deserves one, with its deliveries; mark the entry done. `matches` is None for
    an article whose text a stored original has: an exact copy joins its original's
    story and alerts on nothing, so it needs no matching nor signature (NotACopy, with
    nothing stored, if it is none after all). `text_words`, the words of its text when
    already found (by matching), spare finding them again for its signature.
    StoreError when its placement was made stale MAX_ATTEMPTS times (the entry stays
    pending)."""
    sig = UNSIGNED
    if matches is not None and text_words is not None:
        sig = minhash.signature_of_words(text_words)
    elif matches is not None:
        sig = minhash.signature(article.text)
    for _ in range(MAX_ATTEMPTS):
        try:
            recorded = _record_once(store, desk, entry_id, article, sig, matches, enqueue)
        except Conflict:
            continue
        if recorded.duplicate_of is None:
            store.remember_text(article.text_hash)
        return recorded
    raise StoreError(
        f"entry {entry_id}: its placement was made stale by other workers {MAX_ATTEMPTS} times"
    )


def _record_once(
    store: Store,
    desk: StoryDesk,
    entry_id: int,
    article: Article,
    sig: minhash.Signature,
    matches: Sequence[Match] | None,
    enqueue: Enqueue,
) -> Recorded:
    """`record_article` in one unit of work; Conflict when its placement is stale."""
    now = utcnow()
    made: list[int] = []
    with store.transaction() as tx:
        tx.lock_keys(desk.keys(article, sig))
        article_id, duplicate_of = tx.insert_found_article(entry_id, article, now)
        if article_id is None:
            again = tx.article_read_again(entry_id, article.canonical_url)
            if again is not None:  # its feed entry changed: its page was read again
                return _read_again(tx, desk, entry_id, again, article, matches, enqueue, now)
            duplicate_of, story_id = _same_url(tx, entry_id, article, now)
            tx.finish_entry(entry_id, True, now)
        elif matches is None and duplicate_of is None:  # rolled back with the unit of work
            raise NotACopy(f"entry {entry_id}: no stored original has its text")
        else:
            placement, draft = desk.place(tx, article_id, article, duplicate_of, now, sig)
            story_id = placement.story_id
            if placement.is_copy:
                duplicate_of = duplicate_of or placement.other_article_id
            if not placement.is_exact_copy:
                if matches is None:
                    raise NotACopy(f"entry {entry_id}: its stored original has no story")
                made = _alerts(tx, desk, article_id, article, matches, story_id, enqueue, now)
            tx.finish_entry(entry_id, duplicate_of is not None, now)
            desk.settle(tx, draft)  # last: it holds the store-wide section until the commit
    return Recorded(article_id or duplicate_of or 0, duplicate_of, tuple(made), story_id)


def _read_again(
    tx: Tx,
    desk: StoryDesk,
    entry_id: int,
    stored: StoredArticle,
    article: Article,
    matches: Sequence[Match] | None,
    enqueue: Enqueue,
    now: datetime,
) -> Recorded:
    """The entry's page read again (its feed entry changed): nothing when its text is
    the stored one, or when only the feed's summary came for a stored page's text; else
    the article gets the new title and text (the earlier kept as a revision), a
    "revised" decision and, in its story, the alerts its matches deserve as
    `alert_stored` decides them (a first alert for a rule new to the story, an update
    only for a development). It keeps its story: no placement, no comparison with its
    own earlier text. NotACopy when its new text came unmatched (a stored original has
    it too): it must be matched."""
    made: list[int] = []
    story_id = stored.story_id
    if stored.article.text_hash == article.text_hash:
        reason = f"entry {entry_id}'s page read again: article {stored.id}'s text is unchanged"
        tx.add_decision(stored.id, story_id, "unchanged", reason, now)
    elif stored.article.source == "page" and article.source != "page":
        # its page could not be read again (the feed's summary stood in): a page's text
        # is not replaced by a summary
        reason = f"entry {entry_id}'s page not read again: article {stored.id} kept as it was"
        tx.add_decision(stored.id, story_id, "unchanged", reason, now)
    elif matches is None:
        raise NotACopy(f"entry {entry_id}: its page read again has a new text to match")
    else:
        if story_id is not None:
            tx.lock_story(story_id)
        revision = tx.revise_article(stored.id, article, now)
        reason = f"entry {entry_id}'s page changed; article {stored.id} read again"
        tx.add_decision(stored.id, story_id, "revised", f"{reason} (revision {revision})", now)
        if story_id is not None:  # the revised text is of now, not of the page's date
            unpublished = replace(article, published=None)
            made = _alerts(tx, desk, stored.id, unpublished, matches, story_id, enqueue, now)
    tx.finish_entry(entry_id, stored.duplicate_of is not None, now)
    return Recorded(stored.id, stored.duplicate_of, tuple(made), story_id)


def alert_stored(
    store: Store,
    desk: StoryDesk,
    stored: StoredArticle,
    matches: Sequence[Match],
    enqueue: Enqueue,
) -> tuple[int, ...]:
    """The alerts a stored article's matches deserve in its story (a backfill of new
    rules), with their deliveries."""
    if stored.story_id is None or not matches:
        return ()
    now = utcnow()
    with store.transaction() as tx:
        tx.lock_story(stored.story_id)
        made = _alerts(tx, desk, stored.id, stored.article, matches, stored.story_id, enqueue, now)
    return tuple(made)


def _alerts(
    tx: Tx,
    desk: StoryDesk,
    article_id: int,
    article: Article,
    matches: Sequence[Match],
    story_id: int,
    enqueue: Enqueue,
    now: datetime,
) -> list[int]:
    """The alerts the article's matches deserve in its story, with their deliveries."""
    made: list[int] = []
    gap = desk.settings.update_gap
    for match in matches:
        alert_id = decide_alert(tx, article_id, article, match, story_id, now, gap)
        if alert_id is not None:
            enqueue(tx, alert_id, match.rule_id, now)
            made.append(alert_id)
    return made


def _same_url(tx: Tx, entry_id: int, article: Article, now: datetime) -> tuple[int, int | None]:
    """The stored article with this article's canonical URL and its story; the decision
    is kept."""
    other, story_id = tx.article_with_url(article.canonical_url)
    reason = f"entry {entry_id} has the same URL as article {other}: {article.canonical_url}"
    tx.add_decision(other, story_id, "same URL", reason, now, score=1.0, other_article_id=other)
    return other, story_id
