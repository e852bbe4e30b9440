"""Backfill runs and their items, so that an interrupted backfill goes on where it stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitors.store.engine import from_row, insert_ignore, to_row
from monitors.store.schema import backfill_items, backfill_runs, utcnow


@dataclass(frozen=True)
class BackfillItem:
    """One candidate of a backfill run and what became of it.

    `article_id` names a stored article; `page` holds a page new to the store, extracted
    (JSON: its entry and article); `error` says why it was left out. `story`, `matched`,
    `alerts` ((rule, kind) pairs) are what recording it did; `recorded` whether that was
    for real (a notifying run) and need not be done again."""

    key: str
    url: str
    title: str = ""
    published: datetime | None = None
    article_id: int | None = None
    page: str | None = None
    feed_id: int | None = None
    error: str | None = None
    story: str | None = None
    headline: str = ""
    matched: tuple[str, ...] = ()
    alerts: tuple[tuple[str, str], ...] = ()
    recorded: bool = False
    id: int = 0

    @property
    def usable(self) -> bool:
        """Whether the item is to be recorded: a stored article or a page, no error."""
        return self.error is None and (self.article_id is not None or self.page is not None)


class BackfillQueries:
    """The backfill part of a unit of work (see monitors.store.Tx)."""

    conn: Connection

    def open_backfill_run(self, key: str, args: dict[str, Any]) -> int:
        """The unfinished run with this key, or a fresh one (a finished one starts over)."""
        now = utcnow()
        self.conn.execute(
            insert_ignore(self.conn, backfill_runs).values(
                key=key, args=json.dumps(args), started_at=now, updated_at=now
            )
        )
        row = self.conn.execute(sa.select(backfill_runs).where(backfill_runs.c.key == key)).one()
        if row.status == "done":
            self.conn.execute(backfill_items.delete().where(backfill_items.c.run_id == row.id))
            self.conn.execute(
                backfill_runs.update()
                .where(backfill_runs.c.id == row.id)
                .values(status="running", started_at=now, updated_at=now)
            )
        return int(row.id)

    def finish_backfill_run(self, run_id: int) -> None:
        self.conn.execute(
            backfill_runs.update()
            .where(backfill_runs.c.id == run_id)
            .values(status="done", updated_at=utcnow())
        )

    def add_backfill_item(self, run_id: int, item: BackfillItem) -> None:
        """Keep an item of a run (again: nothing happens)."""
        self.conn.execute(
            insert_ignore(self.conn, backfill_items).values(
                to_row(
                    item,
                    backfill_items,
                    run_id=run_id,
                    published_at=item.published,
                    matched="[]",
                    fired="[]",
                    recorded=False,
                )
            )
        )

    def backfill_items(self, run_id: int) -> list[BackfillItem]:
        """The run's items in order of publication (undated last), then as kept."""
        rows = self.conn.execute(
            sa.select(backfill_items)
            .where(backfill_items.c.run_id == run_id)
            .order_by(
                backfill_items.c.published_at.is_(None),
                backfill_items.c.published_at,
                backfill_items.c.id,
            )
        )
        return [_item(row) for row in rows]

    def set_backfill_result(self, item: BackfillItem) -> None:
        """What recording the item did."""
        self.conn.execute(
            backfill_items.update()
            .where(backfill_items.c.id == item.id)
            .values(
                story=item.story,
                headline=item.headline,
                matched=json.dumps(list(item.matched)),
                fired=json.dumps([list(pair) for pair in item.alerts]),
                recorded=item.recorded,
            )
        )


def _item(row: Any) -> BackfillItem:
    return from_row(
        BackfillItem,
        row,
        published=row.published_at,
        matched=tuple(json.loads(row.matched)),
        alerts=tuple((rule, kind) for rule, kind in json.loads(row.fired)),
        recorded=bool(row.recorded),
    )
