"""``connect_store``: an engine that is known to reach a database at this candor's schema.

Why: every command that reads or writes the store should fail at the start, with one line and
the fix ("run: candor db upgrade"), rather than half-way through a job. No global: the caller
keeps the :class:`Store` and passes ``store.engine`` to the query functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import URL, Engine

from candor.store.engine import check_connection, make_engine, safe_url
from candor.store.migrate import ensure_head, require_head


@dataclass(frozen=True)
class Store:
    """A checked engine plus its printable (password-free) URL."""

    engine: Engine

    @property
    def url(self) -> str:
        return safe_url(self.engine.url)

    def close(self) -> None:
        """Release pooled connections (tests and short-lived commands call this)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_store(url: str | URL, *, require_schema: bool = True, create_schema: bool = False) -> Store:
    """Connect to ``url`` and check it.

    Raises :class:`~candor.errors.StoreError` when the database is unreachable, or (unless
    ``require_schema=False``) when its schema is missing, older or newer than this candor's.
    ``create_schema=True`` (the embedded default database) migrates a missing or older schema to
    head instead of refusing it; a newer one is still refused.
    """
    engine = make_engine(url)
    try:
        check_connection(engine)
        if create_schema:
            ensure_head(engine)
        elif require_schema:
            require_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)
