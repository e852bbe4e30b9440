"""`probe`: whether a store can be opened, said without creating or changing it (what
`newsmon check` reports), and the reasons `Store.open` gives for the same problems."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.errors import StoreError
from monitors.store import Store, connect, probe


def test_a_good_store_is_left_as_it_is(store_url: str) -> None:
    probe(store_url)
    engine = connect(store_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()


def test_a_store_from_a_newer_newsmon(store_url: str) -> None:
    Store.open(store_url).close()
    engine = connect(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 'ffff'.*upgrade newsmon"):
        probe(store_url)


def test_a_sqlite_file_yet_to_be_made_is_not_made(tmp_path: Path) -> None:
    probe(f"sqlite:///{tmp_path / 'new.db'}")
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_in_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'newsmon.db'}"
    reason = f"the SQLite store's folder {tmp_path / 'nowhere'} does not exist: create it"
    with pytest.raises(StoreError) as probed:
        probe(url)
    with pytest.raises(StoreError) as opened:
        Store.open(url)
    assert str(probed.value) == str(opened.value) == reason


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, " * 100)
    with pytest.raises(StoreError, match="cannot open the store: file is not a database"):
        probe(f"sqlite:///{path}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "postgresql+psycopg2://u@127.0.0.1:1/db",
            "the store's database driver psycopg2 is not installed: write postgresql+psycopg:// "
            "and pip install 'newsmon[postgres]'",
        ),
        (
            "postgresql+pg8000://u@127.0.0.1:1/db",
            "the store's database driver pg8000 is not installed: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB",
        ),
        (
            "oracle9://u@127.0.0.1:1/db",
            "not a store URL newsmon can use: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        ),
    ],
)
def test_a_driver_that_is_missing_says_what_to_install(url: str, reason: str) -> None:
    for attempt in (probe, Store.open):
        with pytest.raises(StoreError) as caught:
            attempt(url)
        assert str(caught.value) == reason


def test_a_server_that_does_not_answer() -> None:
    with pytest.raises(StoreError, match="cannot open the store: connection failed"):
        probe("postgresql+psycopg://nobody@127.0.0.1:1/none")
