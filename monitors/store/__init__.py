"""Store: all state in one SQL database (SQLite or PostgreSQL) through SQLAlchemy Core.

Owns the engine (`engine`: `connect`, `migrate`), the schema (`schema`) and its Alembic
migrations (`migrations/`, the store's and the newest revision read by `revisions`), who
holds a claim (`claims`) and every SQL statement newsmon runs: feeds and entries
(`feeds`), articles, stories, decisions and signatures (`stories`), alerts and deliveries
(`outbox`), backfill runs (`backfill`), WebSub subscriptions (`push`). It exposes `Store`
(open, close, units of work `transaction()`, `reading()` for reads alone, and
`scratch()`), the unit of work `Tx` whose methods are those statements, the rows they
return, and `utcnow`. It imports only the layers below it (`models`, `errors`, and
`config` for the store URL's examples in its errors): no stage logic. Uniqueness that
matters (an entry seen once, an alert sent once) is a constraint, so two workers racing
cannot both win.
"""

from monitors.store.backfill import BackfillItem
from monitors.store.engine import connect, migrate, probe, sqlite_file
from monitors.store.feeds import (
    MAX_ENTRY_ATTEMPTS,
    DueEntry,
    FeedState,
    PendingEntry,
    Rereads,
    new_count,
)
from monitors.store.outbox import AlertLatency, AlertListing, AlertRow, DeliveryRow, PriorAlert
from monitors.store.push import Subscription
from monitors.store.revisions import current, head, known_revisions
from monitors.store.schema import utcnow
from monitors.store.store import Store, Tx
from monitors.store.stories import (
    Listing,
    Placed,
    StoredArticle,
    StoryArticle,
    StoryFilter,
    StorySummary,
    TermsRow,
)

__all__ = [
    "MAX_ENTRY_ATTEMPTS",
    "AlertLatency",
    "AlertListing",
    "AlertRow",
    "BackfillItem",
    "DeliveryRow",
    "DueEntry",
    "FeedState",
    "Listing",
    "PendingEntry",
    "Placed",
    "PriorAlert",
    "Rereads",
    "new_count",
    "Store",
    "StoredArticle",
    "StoryArticle",
    "StoryFilter",
    "StorySummary",
    "TermsRow",
    "Subscription",
    "Tx",
    "connect",
    "current",
    "head",
    "known_revisions",
    "migrate",
    "probe",
    "sqlite_file",
    "utcnow",
]
