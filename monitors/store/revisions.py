"""Schema migrations with Alembic: applied when a store opens and by `newsmon db upgrade`.

Workers starting together on one store migrate one at a time: PostgreSQL holds an
advisory lock for the transaction, SQLite its write lock (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from monitors.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema stores had before migrations: such a store is stamped with it
SCHEMA_LOCK = 0x6E6577736D6F6E  # PostgreSQL advisory lock key held while migrating


def alembic_config(conn: Connection | None = None) -> Config:
    """An Alembic config for our migrations, running on `conn`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The store's revision; None for an empty store."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate the store to `target`; return its revision before and after. ValueError
    for a target this code does not know."""
    known = known_revisions()
    if target != "head" and target not in known:
        raise ValueError(f"no revision {target!r} (revisions: {', '.join(known)}, head)")
    wanted = head() if target == "head" else target
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        before = MigrationContext.configure(conn).get_current_revision()
        if before is None and sa.inspect(conn).has_table("feeds"):
            command.stamp(alembic_config(conn), BASELINE)
            before = BASELINE
        if before != wanted:
            check_known(before)
            command.upgrade(alembic_config(conn), target)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(scripts.walk_revisions()))]


def check_known(revision: str | None) -> None:
    """StoreError for a store's revision this code does not know (a store from a newer
    newsmon)."""
    if revision is None or revision in known_revisions():
        return
    raise StoreError(
        f"the store's schema is at revision {revision!r}, which this newsmon does not "
        f"know (newest here: {head()}): upgrade newsmon"
    )
