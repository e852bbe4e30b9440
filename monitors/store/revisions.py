"""Schema migrations with Alembic: applied when a store opens and by `newsmon db upgrade`.

Workers starting together on one store migrate one at a time: PostgreSQL holds an
advisory lock for the transaction, SQLite its write lock (BEGIN IMMEDIATE). A store
already at the newest revision opens without Alembic: its migrations are numbered one
after the other (`0017_what.py` is revision "0017"), so the store's revision is read
with one query and compared with the newest file's. Alembic and the migration scripts
(8 MB in a process that opens a store) are loaded only to migrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from monitors.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"
BASELINE = "0001"  # the schema stores had before migrations: such a store is stamped with it
SCHEMA_LOCK = 0x6E6577736D6F6E  # PostgreSQL advisory lock key held while migrating


def alembic_config(conn: Connection | None = None) -> Config:
    """An Alembic config for our migrations, running on `conn`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    return known_revisions()[-1]


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first: the numbers of the migration files
    (a test checks them against Alembic's chain)."""
    return sorted(p.name.split("_", 1)[0] for p in VERSIONS.glob("[0-9]*_*.py"))


def current(engine: Engine) -> str | None:
    """The store's revision; None for an empty store."""
    with engine.connect() as conn:
        return revision_of(conn)


def revision_of(conn: Connection) -> str | None:
    """The revision `conn`'s store is at; None for a store without one."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate the store to `target`; return its revision before and after. ValueError
    for a target this code does not know."""
    known = known_revisions()
    if target != "head" and target not in known:
        raise ValueError(f"no revision {target!r} (revisions: {', '.join(known)}, head)")
    wanted = head() if target == "head" else target
    if current(engine) == wanted:
        return wanted, wanted
    with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        before = revision_of(conn)
        if before != wanted:
            before = _migrate(conn, before, target)
            _check_foreign_keys(conn)
        after = revision_of(conn)
    return before, after


def downgrade(engine: Engine, target: str) -> None:
    """Migrate the store down to `target` (a revision, or "base" for none), as `upgrade`
    migrates up: for tests and for going back to an older newsmon by hand."""
    from alembic import command

    with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
        command.downgrade(alembic_config(conn), target)
        _check_foreign_keys(conn)


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """On SQLite, no foreign key enforcement while migrating: a migration that rebuilds a
    table other tables refer to (copy, drop, rename) would fail on the drop otherwise.
    SQLite's own procedure for such changes; `_check_foreign_keys` checks the result
    before the commit. The pragma only works outside a transaction."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(conn: Connection) -> None:
    """StoreError (and the migration rolled back) if it left a row whose reference is
    broken (SQLite)."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise StoreError(f"a migration broke a reference of table {broken[0]}: rolled back")


def _migrate(conn: Connection, before: str | None, target: str) -> str | None:
    """Run Alembic's migrations from `before` to `target` on `conn`; the revision the
    store was at (a store from before migrations is stamped with the baseline first)."""
    from alembic import command

    if before is None and sa.inspect(conn).has_table("feeds"):
        command.stamp(alembic_config(conn), BASELINE)
        before = BASELINE
    check_known(before)
    command.upgrade(alembic_config(conn), target)
    return before


def check_known(revision: str | None) -> None:
    """StoreError for a store's revision this code does not know (a store from a newer
    newsmon)."""
    if revision is None or revision in known_revisions():
        return
    raise StoreError(
        f"the store's schema is at revision {revision!r}, which this newsmon does not "
        f"know (newest here: {head()}): upgrade newsmon"
    )
