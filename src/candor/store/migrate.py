"""Alembic migrations run from Python, and the "is this database at our schema?" check.

Why programmatic: ``candor db upgrade`` must work from an installed wheel with no ``alembic.ini``
in the working directory, and must refuse a database that a *newer* candor already migrated
(running old code on a newer schema corrupts data quietly) instead of failing with Alembic's
"Can't locate revision".
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine

from candor.errors import StoreError
from candor.store.engine import make_engine, open_connection, safe_url, translate_errors


@dataclass(frozen=True)
class UpgradeResult:
    """What ``upgrade`` did: the revision before (None = empty database) and after."""

    url: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config() -> AlembicConfig:
    """The packaged ``alembic.ini`` (its ``script_location`` is relative to the file)."""
    ini = Path(str(resources.files("candor.store") / "alembic.ini"))
    return AlembicConfig(str(ini))


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this candor knows."""
    head = _script().get_current_head()
    assert head is not None, "candor ships at least one migration"
    return head


def _revision_of(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def _refuse_newer(revision: str | None) -> None:
    """A revision this candor does not know was written by a newer candor: refuse to touch it."""
    if revision is None:
        return
    known = {script.revision for script in _script().walk_revisions()}
    if revision not in known:
        raise StoreError(
            f"database schema is at revision {revision}, newer than this candor "
            f"(head {head_revision()}); upgrade candor"
        )


def revision_of(engine: Engine) -> str | None:
    """The database's current revision (None when never migrated)."""
    with open_connection(engine) as connection, translate_errors(engine):
        return _revision_of(connection)


def current_revision(url: str | URL) -> str | None:
    """The current revision of the database at ``url``."""
    engine = make_engine(url)
    try:
        return revision_of(engine)
    finally:
        engine.dispose()


#: PostgreSQL advisory-lock key ("candor" in ASCII) held while migrating.
_UPGRADE_LOCK = 0x63616E646F72


def _serialize_upgrades(connection: Connection) -> None:
    """Two concurrent ``candor db upgrade`` runs must not both create the tables: the second waits
    for the first (PostgreSQL advisory lock; SQLite write lock via BEGIN IMMEDIATE), then finds
    the schema at head and does nothing."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        connection.begin()


def upgrade_engine(engine: Engine) -> UpgradeResult:
    """Migrate the database behind ``engine`` to head, in one transaction where the dialect allows."""
    config = alembic_config()
    with open_connection(engine) as connection, translate_errors(engine):
        _serialize_upgrades(connection)
        before = _revision_of(connection)
        _refuse_newer(before)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        after = _revision_of(connection)
    return UpgradeResult(url=safe_url(engine.url), before=before, after=after or head_revision())


def upgrade(url: str | URL) -> UpgradeResult:
    """Migrate the database at ``url`` to head."""
    engine = make_engine(url)
    try:
        return upgrade_engine(engine)
    finally:
        engine.dispose()


def ensure_head(engine: Engine) -> UpgradeResult | None:
    """Migrate the database behind ``engine`` to head when it is behind (an empty one included);
    None when it already is. A newer schema is refused as by :func:`require_head`. For the embedded
    default database, whose schema candor creates on first use."""
    if revision_of(engine) == head_revision():
        return None
    return upgrade_engine(engine)


def refuse_newer(engine: Engine) -> None:
    """Refuse a database that a newer candor migrated, only reading it: the up-front check of one that
    is migrated on first use (:func:`ensure_head`; an empty or older one passes)."""
    _refuse_newer(revision_of(engine))


def require_head(engine: Engine) -> None:
    """Refuse to work on a database that is not exactly at this candor's schema, saying what to do."""
    revision = revision_of(engine)
    _refuse_newer(revision)
    head = head_revision()
    if revision != head:
        state = "has no candor schema" if revision is None else f"is at revision {revision} (head {head})"
        raise StoreError(f"database {safe_url(engine.url)} {state}; run: candor db upgrade")
