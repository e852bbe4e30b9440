"""Connecting to the store: an engine per URL, SQLite tuned for one writer at a time,
schema migrations applied on open, database errors as StoreError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from monitors.config import STORE_EXAMPLES
from monitors.errors import StoreError
from monitors.store.revisions import check_known, current, upgrade

T = TypeVar("T")


def connect(url: str) -> Engine:
    """An engine on the store at `url`; StoreError if it cannot be reached."""
    with as_store_error():
        return _engine(url)


def probe(url: str) -> None:
    """Check that the store at `url` can be opened, without creating or changing it: its
    driver is installed, a SQLite file's folder exists, the server answers, and its
    schema is one this code knows. StoreError says what is wrong."""
    with as_store_error():
        path = sqlite_file(url)
        if path is not None:
            _check_folder(path)
            if not path.exists():
                return  # opening creates it
        engine = sa.create_engine(url)
        try:
            check_known(current(engine))
        finally:
            engine.dispose()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store (None for PostgreSQL or an in-memory database)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def migrate(url: str, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate the store at `url` to `target`; its revision before and after."""
    engine = connect(url)
    try:
        with as_store_error():
            return migrate_engine(engine, target)
    finally:
        engine.dispose()


@retry(
    retry=retry_if_exception(lambda exc: "database is locked" in str(exc)),
    wait=wait_random(0.05, 0.5),
    stop=stop_after_delay(30),
    reraise=True,
)
def migrate_engine(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema up to date. SQLite can refuse a second process with "database
    is locked" without waiting while the first turns a new file to WAL: try again."""
    return upgrade(engine, target)


@contextmanager
def as_store_error() -> Iterator[None]:
    """Database errors on connecting or migrating, as a StoreError with the reason."""
    try:
        yield
    except sa.exc.NoSuchModuleError:
        raise StoreError(f"not a store URL newsmon can use: {STORE_EXAMPLES}") from None
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"not a valid store URL: {exc}") from None
    except (sa.exc.DatabaseError, sa.exc.InterfaceError) as exc:
        raise StoreError(f"cannot open the store: {_first_line(exc)}") from None
    except ModuleNotFoundError as exc:
        raise StoreError(_missing_driver(exc.name or "?")) from None


def _missing_driver(module: str) -> str:
    """Why the driver is missing, and what to install."""
    reason = f"the store's database driver {module} is not installed"
    if module == "psycopg":
        return f"{reason}: pip install 'newsmon[postgres]'"
    if module == "psycopg2":
        return f"{reason}: write postgresql+psycopg:// and pip install 'newsmon[postgres]'"
    return f"{reason}: use {STORE_EXAMPLES}"


def insert_ignore(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that does nothing when a unique constraint is already satisfied."""
    return insert_ignore_on(conn.dialect.name, table)


@cache
def insert_ignore_on(dialect: str, table: sa.Table) -> Any:
    """`insert_ignore` on the database `dialect` names, built once."""
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise StoreError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def from_row(cls: type[T], row: Any, **given: Any) -> T:
    """A dataclass `cls` with the row's columns of its fields' names, and `given` values
    for the others (or those that need converting)."""
    values = {**row._mapping, **given}
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: values[name] for name in names if name in values})


def to_row(value: Any, table: sa.Table, **given: Any) -> dict[str, Any]:
    """The columns of `table` (but its primary key) that `value` has an attribute of the
    same name for, and `given` columns."""
    found = {
        c.name: getattr(value, c.name)
        for c in table.columns
        if not c.primary_key and hasattr(value, c.name)
    }
    return {**found, **given}


def _engine(url: str) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        _check_folder(path)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    with engine.connect():
        pass
    return engine


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    """WAL, a busy timeout, and transactions we begin ourselves."""
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "newsmon_read_only"  # the execution option of a unit of work that only reads


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock up front, so two writers wait instead of deadlocking; a unit
    of work that only reads takes none (WAL lets it read while a writer works)."""
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _check_folder(path: Path) -> None:
    """StoreError unless the folder of a SQLite file exists."""
    if not path.parent.is_dir():
        raise StoreError(f"the SQLite store's folder {path.parent} does not exist: create it")


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
