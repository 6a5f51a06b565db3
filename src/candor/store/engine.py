"""Engine creation and translation of driver errors into candor errors.

Why a module of its own: every query module and the CLI need an engine set up the same way on
SQLite and PostgreSQL, and one-line errors that name the database *without its password*. Which
database is the config's business (:attr:`candor.config.Config.store_url`): URLs arrive here
explicit, and nothing here reads the environment or keeps global state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc as sa_exc
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert, insert as postgres_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert, insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine, make_url

from candor.config import safe_uri
from candor.errors import ConfigError, StoreError

#: Seconds to wait for a PostgreSQL server before giving up (an unreachable host must fail fast).
CONNECT_TIMEOUT_S = 5


def parse_url(url: str | URL) -> URL:
    """Parse ``url`` into a SQLAlchemy URL; ``postgresql://`` means psycopg 3 (the installed driver)."""
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is no number ('p@ss:SECRET@h')
            scheme = str(url).split(":", 1)[0]
            raise ConfigError(
                f"`database url` is not a valid SQLAlchemy URL (scheme {scheme!r}); use "
                "sqlite:///path/to/candor.db or postgresql+psycopg://user@host:5432/db."
            ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The database URL as candor prints it: the driver named, every credential masked by the one
    masking rule (:func:`candor.config.safe_uri`: userinfo and ``?password=``-style parameters)."""
    try:
        return safe_uri(parse_url(url).render_as_string(hide_password=False))
    except ConfigError:
        return "<invalid database url>"


def _finite(value: Any) -> Any:
    """Replace NaN/inf by None recursively: PostgreSQL JSON rejects them, SQLite would store junk."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    """Let numpy scalars/arrays, timestamps and paths through ``json.dumps``."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps_json(value: Any) -> str:
    """JSON for the JSON columns: numpy-aware, non-finite floats stored as null."""
    plain = json.loads(json.dumps(value, default=_json_default, allow_nan=True))
    return json.dumps(_finite(plain), allow_nan=False)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on, and let SQLAlchemy (not the sqlite3 module) decide where transactions start.

    Python's sqlite3 module only opens a transaction before INSERT/UPDATE/DELETE, so reads and DDL
    (migrations!) would run outside it; with ``isolation_level=None`` plus an explicit BEGIN in
    :func:`_sqlite_begin` every SQLAlchemy transaction is a real SQLite transaction — atomic DDL
    included (SQLAlchemy's documented pysqlite recipe).
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN, or ``BEGIN IMMEDIATE`` where a caller needs the write lock up front (migrations)."""
    connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_engine(url: str | URL) -> Engine:
    """Create an engine for ``url``; connects lazily. (``<home>``, where the default SQLite file
    lives, is created by :func:`candor.services.ensure_home`.)"""
    parsed = parse_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = sa.create_engine(
            parsed, connect_args=connect_args, json_serializer=dumps_json, pool_pre_ping=True
        )
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"cannot use database url {safe_url(parsed)}: {exc}; use sqlite:///path or "
            "postgresql+psycopg://user@host:5432/db."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def short_reason(error: BaseException) -> str:
    """The driver's reason in a few words, e.g. "connection refused" — one line, no SQL."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    reason = text.rsplit(": ", 1)[-1].strip() if "failed: " in text else text
    return reason[:1].lower() + reason[1:]


def _missing_table(error: BaseException) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def open_connection(engine: Engine) -> Connection:
    """Connect, turning any driver failure into ``StoreError("cannot connect to <url>: <why>")``."""
    try:
        return engine.connect()
    except sa_exc.DBAPIError as exc:
        raise StoreError(f"cannot connect to {safe_url(engine.url)}: {short_reason(exc)}") from exc


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Re-raise database errors as one-line :class:`StoreError` naming the (password-free) URL."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        where = safe_url(engine.url)
        if _missing_table(exc):
            raise StoreError(
                f"database {where} has no candor tables ({short_reason(exc)}); run: candor db upgrade"
            ) from exc
        raise StoreError(f"database error on {where}: {short_reason(exc)}") from exc


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One transaction per call: commit on success, roll back on any error.

    Given a Connection, the caller owns the transaction (so several store calls can be grouped);
    given an Engine, a fresh connection and transaction are opened and closed here.
    """
    if isinstance(bind, Connection):
        with translate_errors(bind.engine):
            yield bind
        return
    connection = open_connection(bind)
    with connection, translate_errors(bind):
        with connection.begin():
            yield connection


def check_connection(engine: Engine) -> None:
    """Fail early with one line when the database cannot be reached."""
    with open_connection(engine) as connection, translate_errors(engine):
        connection.execute(sa.text("SELECT 1"))


def dialect_insert(connection: Connection, table: sa.Table) -> PostgresInsert | SqliteInsert:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on the connection's dialect."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgres_insert(table)
    if name == "sqlite":
        return sqlite_insert(table)
    raise StoreError(f"database dialect {name!r} is not supported; use SQLite or PostgreSQL")
