"""Shared fixtures: stores on SQLite and PostgreSQL, the loopback test site, configs."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Tables are checked at their piped width: pytest-xdist's workers set COLUMNS=80.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="newsmon-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from monitors import config as config_mod  # noqa: E402
from monitors.config import Config  # noqa: E402
from monitors.store import Store  # noqa: E402
from tests.httpserver import LoopbackServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# The modules whose tests share the session's prefect_harness: xdist runs them on one
# worker, which starts one Prefect server for them all.
PREFECT_HARNESS_MODULES = frozenset(
    {"tests/cli/test_serve.py", "tests/flows/test_backfill_flow.py", "tests/flows/test_flow.py"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with the most `slow` tests first (the order is otherwise kept): xdist,
    told --no-loadscope-reorder, hands out modules in this order, so the longest start
    early and the short ones fill in around them, leaving no worker alone at the end."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's loadfile, the PREFECT_HARNESS_MODULES counting as one file."""
    from xdist.scheduler import LoadFileScheduling

    if config.getvalue("dist") != "loadfile":
        return None

    class SharedHarness(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = str(super()._split_scope(nodeid))
            return "prefect harness" if scope in PREFECT_HARNESS_MODULES else scope

    return SharedHarness(config, log)


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$NEWSMON_CACHE_DIR for the session and the processes it starts, so that no test
    writes the language model's cache into the home directory; shared by xdist's workers
    (the first to build it writes it, the others read it)."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # the run's directory, above each worker's
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSMON_CACHE_DIR", str(root / "newsmon-cache"))
        yield root / "newsmon-cache"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end.

    The server is $NEWSMON_TEST_POSTGRES (default: local, trust auth). Without a
    server the tests skip, unless NEWSMON_REQUIRE_POSTGRES=1 (CI), where they fail.
    """
    server = os.environ.get("NEWSMON_TEST_POSTGRES", PG_DEFAULT)
    name = f"newsmon_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 (any failure means: no server here)
        reason = (
            f"PostgreSQL not reachable at {server} ({type(exc).__name__}); "
            "set NEWSMON_TEST_POSTGRES"
        )
        if os.environ.get("NEWSMON_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on an empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'newsmon.db'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A Prefect server on a temporary database (prefect_test_harness), one for the
    session: the tests that use it run on one xdist worker (see pytest_xdist_make_scheduler)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


@pytest.fixture
def site() -> Iterator[LoopbackServer]:
    """The test news site (tests/data/site) on a loopback server."""
    with LoopbackServer() as server:
        server.serve_dir("/site", DATA / "site")
        yield server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TEST_RULES: list[dict[str, Any]] = [
    {
        "id": "security-guarantees",
        "title": "Security guarantees",
        "query": '("security guarantee*" OR "Article 5") AND (Ukrain* OR Kyiv)',
        "notify": ["desk"],
    },
    {
        "id": "donbas-withdrawal",
        "query": "Donbas AND (withdraw* OR pull*)",
        "notify": ["desk"],
    },
]


def make_config(
    store_url: str, feeds: list[str] | list[dict[str, Any]], channel_url: str, **extra: Any
) -> Config:
    """A config for tests: the given feeds (URLs or feed entries), one channel `desk`,
    the test rules."""
    raw: dict[str, Any] = {
        "store": store_url,
        "feeds": [{"url": f} if isinstance(f, str) else f for f in feeds],
        "channels": {"desk": channel_url},
        "rules": TEST_RULES,
        "fetch": {"allow_private_networks": "127.0.0.1/32", "retries": 0, "timeout": 5},
        "delivery": {"backoff": 0.001},
        **extra,
    }
    return config_mod.from_dict(raw, "test-config", env={})
