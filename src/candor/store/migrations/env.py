"""Alembic environment for candor's operational store.

candor runs migrations programmatically (:mod:`candor.store.migrate`) and hands over an open
connection in ``config.attributes["connection"]``; the plain ``alembic`` command line works too,
taking the URL from ``-x url=…``, then ``sqlalchemy.url``, then candor's usual resolution.
Logging is left alone on purpose: candor's CLI owns it.
"""

from __future__ import annotations

from alembic import context

from candor.store.engine import make_engine
from candor.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    """``alembic upgrade --sql``: print the DDL instead of running it."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
