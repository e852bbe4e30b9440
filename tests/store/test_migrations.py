"""Alembic migrations: the migrated schema is the code's, workers starting together
migrate once, and a store from a newer newsmon is refused with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

import monitors.stories.minhash  # noqa: F401  (its tables join the metadata)
from monitors.delivery import Outbox
from monitors.errors import StoreError
from monitors.store import Store, connect, migrate
from monitors.store import revisions as migrations
from monitors.store.schema import alerts, articles, entries, metadata, stories
from newsmon.cli import app
from tests.conftest import make_config
from tests.factories import STORY, record

OPEN_STORE = "import sys; from monitors.store import Store; Store.open(sys.argv[1]).close()"


def schema_diff(url: str) -> list[object]:
    """What the store's schema lacks or has beyond the code's (indexes made for another
    database left out)."""
    engine = connect(url)

    def here(item: object, *_: object) -> bool:
        only = getattr(item, "_ddl_if", None)
        return only is None or only.dialect in (None, engine.dialect.name)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": here})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    return list(diff)


def revisions(url: str) -> list[str]:
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    return list(rows)


def test_opening_a_store_migrates_it_to_the_code_schema(store_url: str) -> None:
    Store.open(store_url).close()
    assert revisions(store_url) == [migrations.head()]
    assert schema_diff(store_url) == []


def test_downgrade_to_empty_and_upgrade_again(store_url: str) -> None:
    assert migrate(store_url) == (None, migrations.head())
    assert migrate(store_url) == (migrations.head(), migrations.head())
    engine = connect(store_url)
    migrations.downgrade(engine, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate(store_url)
    assert schema_diff(store_url) == []


def test_a_store_from_before_migrations_is_stamped_and_kept(store_url: str) -> None:
    engine = connect(store_url)
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # the code's schema holds trigram indexes
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION pg_trgm"))
    metadata.create_all(engine)
    with engine.begin() as conn:  # the schema before migrations: the baseline's
        conn.execute(sa.text("ALTER TABLE feeds DROP COLUMN skipped"))
        conn.execute(sa.text("DROP TABLE article_terms"))
        conn.execute(sa.text("DROP TABLE push_subscriptions"))
        conn.execute(sa.text("ALTER TABLE entries DROP COLUMN seen_via"))
        for column in ("published_at", "seen_at", "seen_via"):
            conn.execute(sa.text(f"ALTER TABLE alerts DROP COLUMN {column}"))
        conn.execute(sa.text("DROP TABLE article_revisions"))
        for column in ("fingerprint", "rereads", "reread_at"):
            conn.execute(sa.text(f"ALTER TABLE entries DROP COLUMN {column}"))
        conn.execute(sa.text("ALTER TABLE articles DROP COLUMN revision"))
        if postgres:
            conn.execute(sa.text("DROP TABLE alerts CASCADE"))  # with the deliveries' key
        else:
            conn.execute(sa.text("DROP TABLE alerts"))
        _baseline_alerts().create(conn)
        if postgres:
            conn.execute(
                sa.text(
                    "ALTER TABLE deliveries ADD CONSTRAINT deliveries_alert_id_fkey "
                    "FOREIGN KEY (alert_id) REFERENCES alerts (id)"
                )
            )
        conn.execute(sa.text("DROP INDEX ix_stories_revision"))
        conn.execute(sa.text("ALTER TABLE stories DROP COLUMN revision"))
        for column in ("article_id", "page", "feed_id", "recorded"):
            conn.execute(sa.text(f"ALTER TABLE backfill_items DROP COLUMN {column}"))
        for index in (
            "ix_alerts_story_id",
            "ix_articles_site_story",
            "ix_articles_language_story",
            "ix_articles_title_story",
            *(("ix_articles_title_trgm", "ix_stories_headline_trgm") if postgres else ()),
        ):
            conn.execute(sa.text(f"DROP INDEX {index}"))
        conn.execute(sa.text("INSERT INTO feeds (url) VALUES ('u')"))
    engine.dispose()
    assert migrate(store_url) == (migrations.BASELINE, migrations.head())
    assert schema_diff(store_url) == []
    engine = connect(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT url FROM feeds")).scalars().all() == ["u"]
    engine.dispose()


def _baseline_alerts() -> sa.Table:
    """The alerts table of the baseline: one alert per rule and article, no times."""
    before = sa.MetaData()
    for table in (articles, stories):
        table.to_metadata(before)
    later = {"revision", "published_at", "seen_at", "seen_via"}
    columns = [
        sa.Column(
            c.name, *[sa.ForeignKey(k.target_fullname) for k in c.foreign_keys], nullable=c.nullable
        )
        if c.foreign_keys
        else c._copy()
        for c in alerts.columns
        if c.name not in later
    ]
    new = sa.text("kind = 'new'")
    return sa.Table(
        "alerts",
        before,
        *columns,
        sa.UniqueConstraint("rule_id", "article_id", name="uq_alerts_rule_article"),
        sa.Index("ix_alerts_story_id", "story_id"),
        sa.Index(
            "uq_alerts_rule_story_new",
            "rule_id",
            "story_id",
            unique=True,
            sqlite_where=new,
            postgresql_where=new,
        ),
    )


def test_alerts_from_before_0005_get_the_sources_their_story_had(store_url: str) -> None:
    store = Store.open(store_url)
    outbox = Outbox.of(make_config(store_url, [], "json://127.0.0.1:9/"), store)
    record(store, outbox, "https://harbour.example/a", "Harbour Gazette", STORY)
    record(store, outbox, "https://coast.example/b", "Coast", STORY, rule_id="donbas-withdrawal")
    record(store, outbox, "https://delta.example/c", "Delta", STORY)  # joins; no alert
    engine = store.engine
    with engine.begin() as conn:
        decided = dict(conn.execute(sa.select(alerts.c.id, alerts.c.sources)).all())
        for alert_id, article_id in conn.execute(sa.select(alerts.c.id, alerts.c.article_id)):
            site, url = conn.execute(
                sa.select(articles.c.site, articles.c.canonical_url).where(
                    articles.c.id == article_id
                )
            ).one()
            conn.execute(
                alerts.update()
                .where(alerts.c.id == alert_id)
                .values(sources=json.dumps([[site, url]]))
            )
    migrations.downgrade(engine, "0004")
    store.close()
    assert migrate(store_url) == ("0004", migrations.head())
    engine = connect(store_url)
    with engine.connect() as conn:
        migrated = dict(conn.execute(sa.select(alerts.c.id, alerts.c.sources)).all())
    engine.dispose()
    assert migrated == decided
    assert [len(json.loads(sources)) for _, sources in sorted(migrated.items())] == [1, 2]


def test_alerts_from_before_0014_get_their_article_and_entry_times(store_url: str) -> None:
    store = Store.open(store_url)
    outbox = Outbox.of(make_config(store_url, [], "json://127.0.0.1:9/"), store)
    record(store, outbox, "https://harbour.example/a", "Harbour Gazette", STORY)
    migrations.downgrade(store.engine, "0012")
    store.close()
    assert migrate(store_url) == ("0012", migrations.head())
    engine = connect(store_url)
    with engine.connect() as conn:
        [alert] = conn.execute(sa.select(alerts)).all()
        seen = conn.scalar(sa.select(entries.c.first_seen_at))
        via = conn.scalar(sa.select(entries.c.seen_via))
    engine.dispose()
    assert (alert.seen_at, alert.seen_via, via) == (seen, "poll", "poll")


def test_workers_starting_together_on_an_empty_store_migrate_once(store_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, store_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [proc.communicate(timeout=90)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, errors
    assert revisions(store_url) == [migrations.head()]


def test_a_store_from_a_newer_newsmon_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    engine = connect(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 'ffff'.*upgrade newsmon"):
        Store.open(store_url)


def test_db_commands(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(f"store: sqlite:///{tmp_path / 's.db'}\nfeeds: []\nrules: []\n")
    runner = CliRunner()
    current = runner.invoke(app, ["db", "current", "--config", str(path)])
    assert current.exit_code == 0, current.output
    assert f"no store at {tmp_path / 's.db'} yet" in current.output
    assert not (tmp_path / "s.db").exists()  # `current` does not make the store
    first = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert first.exit_code == 0
    assert f"migrated from empty to {migrations.head()}" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert f"already at {migrations.head()}" in again.output
    current = runner.invoke(app, ["db", "current", "--config", str(path)])
    assert "up to date" in current.output


def test_db_upgrade_to_an_unknown_revision_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(f"store: sqlite:///{tmp_path / 's.db'}\nfeeds: []\nrules: []\n")
    result = CliRunner().invoke(app, ["db", "upgrade", "bogus", "--config", str(path)])
    assert result.exit_code == 2
    known = ", ".join(migrations.known_revisions())
    assert f"Error: no revision 'bogus' (revisions: {known}, head)" in result.output
    assert "Store unavailable" not in result.output and known.startswith("0001, 0002")


def test_db_upgrade_on_an_unreachable_store_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text("store: postgresql+psycopg://nobody@127.0.0.1:1/none\nfeeds: []\nrules: []\n")
    result = CliRunner().invoke(app, ["db", "upgrade", "--config", str(path)])
    assert result.exit_code == 3
    assert "Store unavailable" in result.output


@pytest.mark.postgres
def test_headlines_and_titles_get_trigram_indexes(postgres_url: str) -> None:
    engine = connect(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    Store.open(postgres_url).close()
    with engine.connect() as conn:
        made = dict(
            conn.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%trgm'")
            ).all()
        )
    engine.dispose()
    assert sorted(made) == ["ix_articles_title_trgm", "ix_stories_headline_trgm"]
    assert all("USING gin" in d and "gin_trgm_ops" in d for d in made.values())


@pytest.mark.postgres
def test_a_role_that_cannot_create_pg_trgm_still_gets_a_store(postgres_url: str) -> None:
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"newsmon_plain_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    owner = sa.create_engine(
        sa.engine.make_url(postgres_url).set(database=name), isolation_level="AUTOCOMMIT"
    )
    with owner.connect() as conn:  # may make tables, not extensions
        conn.execute(sa.text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{name}"'))
    owner.dispose()
    url = sa.engine.make_url(postgres_url).set(username=name, database=name)
    try:
        store = Store.open(url.render_as_string(hide_password=False))
        store.close()
        engine = connect(url.render_as_string(hide_password=False))
        with engine.connect() as conn:
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("articles")}
        engine.dispose()
        assert "ix_articles_title_story" in indexes and "ix_articles_title_trgm" not in indexes
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def test_the_migration_files_name_alembics_chain_of_revisions() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    chain = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    assert migrations.known_revisions() == chain
    assert migrations.head() == scripts.get_current_head()


def test_a_store_at_the_newest_revision_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store.open(url).close()  # created and migrated
    code = OPEN_STORE + "; print(any(m.startswith('alembic') for m in sys.modules))"
    opened = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    )
    assert opened.stdout.strip() == "False"
    assert revisions(url) == [migrations.head()]
