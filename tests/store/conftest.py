"""Store fixtures: every store test runs on SQLite *and* PostgreSQL.

PostgreSQL isolation: each test gets its own freshly created schema (unique per pytest worker and
test, so two ``-n 2`` workers and other sessions never collide) and a URL whose ``options``
set ``search_path`` to it — the code under test sees an empty database. The schema is dropped
afterwards. The server comes from ``CANDOR_TEST_POSTGRES_URL`` (default: the local trust-auth
server). If it cannot be reached the PostgreSQL cases are skipped on a developer machine but
FAIL when ``CI`` is set: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from candor.store import connect_store, upgrade
from candor.store.connect import Store

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("CANDOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the test server, or fail (CI) / skip (dev) when it is down."""
    engine = sa.create_engine(_postgres_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {make_url(_postgres_url()).render_as_string(hide_password=True)}: {exc.orig}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    yield engine
    engine.dispose()


def _schema_name() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"candor_test_{worker}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A URL onto a fresh, empty schema of the test server; dropped after the test."""
    schema = _schema_name()
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(_postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_admin.connect() as connection:
        connection.execute(sa.text("SET lock_timeout = '20s'"))
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated database behind a checked Store; pooled connections released afterwards."""
    upgrade(store_url)
    with connect_store(store_url) as connected:
        yield connected


@pytest.fixture
def engine(store: Store) -> Engine:
    return store.engine
