"""Suite-wide fixtures: a scratch CANDOR_HOME per test, pinned threads, no network, and the
CI PostgreSQL server.

PostgreSQL isolation: each test that asks for ``postgres_url`` gets its own freshly created schema
(unique per pytest worker and test, so ``-n 2`` workers and other sessions never collide) and a URL
whose ``options`` set ``search_path`` to it — the code under test sees an empty database. The
schema is dropped afterwards. The server comes from ``CANDOR_TEST_POSTGRES_URL`` (default: the
local trust-auth server). If it cannot be reached the PostgreSQL cases are skipped on a developer
machine but FAIL when ``CI`` is set: CI must never pass by skipping them.
"""

from __future__ import annotations

import os

# Two pytest workers on two cores: each model fit gets one thread (see DEVELOPERS note on oversubscription).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

# Scratch files in memory where the machine has room for them: the suite commits to SQLite thousands
# of times (MLflow's store alone runs ~50 migrations), and each commit waits for an fsync of the
# disk — 3 ms on an idle disk, tens of ms while other processes write, so the suite's time followed
# the neighbours' I/O. No test is about surviving a power cut (the SIGKILL tests kill a process; the
# page cache outlives it), so a tmpfs changes no claim. An explicit TMPDIR wins; a small /dev/shm
# (a container's 64 MB default) is left alone. Set here, before anything asks for a temp folder, so
# pytest's basetemp, xdist's workers and every process a test starts inherit it.
_SHM, _SHM_MIN_FREE = "/dev/shm", 2 * 1024**3


def _use_memory_tmpdir() -> bool:
    if os.environ.get("TMPDIR") or not (os.path.isdir(_SHM) and os.access(_SHM, os.W_OK)):
        return False
    stats = os.statvfs(_SHM)
    return stats.f_bavail * stats.f_frsize >= _SHM_MIN_FREE


if _use_memory_tmpdir():
    os.environ["TMPDIR"] = _SHM
    tempfile.tempdir = None  # recomputed from TMPDIR on next use

# A home of its own for every test process: a config built with ``environ={}`` and no ``home``
# resolves ~/.candor, which must never be the developer's own (a test once left stores there).
# ``no_default_home_written`` below fails the run if anything still writes it.
os.environ["HOME"] = tempfile.mkdtemp(prefix="candor-tests-home-")
atexit.register(shutil.rmtree, os.environ["HOME"], ignore_errors=True)  # caches libraries put there

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    return os.environ.get("CANDOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(autouse=True)
def no_default_home_written() -> Iterator[None]:
    """Every test names its home; none may fall back to the default ``~/.candor`` (checked after
    each test, so the error names the test that wrote it)."""
    yield
    default = os.path.join(os.environ["HOME"], ".candor")
    assert not os.path.exists(default), f"this test wrote the default home {default}: give it a home"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the test server, or fail (CI) / skip (dev) when it is down."""
    engine = sa.create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {make_url(postgres_server_url()).render_as_string(hide_password=True)}: {exc.orig}"
        if in_ci():
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_schema_url: str) -> str:
    """The PostgreSQL URL store tests use: a fresh, empty schema (``postgres_schema_url``)."""
    return postgres_schema_url


@pytest.fixture
def postgres_schema_url(postgres_admin: Engine) -> Iterator[str]:
    """A URL onto a fresh, empty schema of the test server; dropped after the test."""
    schema = f"candor_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_server_url()).update_query_dict({"options": f"-csearch_path={schema}"})
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


@pytest.fixture(autouse=True)
def candor_home(tmp_path, monkeypatch):
    """Point everything candor writes at a per-test scratch folder."""
    home = tmp_path / "candor-home"
    home.mkdir()
    monkeypatch.setenv("CANDOR_HOME", str(home))
    return home
