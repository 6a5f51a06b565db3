"""A read path to the registry's aliases and versions straight from MLflow's SQL tables, without MLflow.

Why: ``candor forecast`` and ``candor drift`` only *read* the registry — which version is each
series' champion (or shadow), with its tags and artifact location. Through MLflow that read costs
the ``mlflow`` import (about 1.1 s: its ``__init__`` loads the GenAI and tracing packages) and its
SQLAlchemy stores (0.5 s of ORM models), twice in every daily session, for a few milliseconds of
SQL. This module reads the same rows of the same database — MLflow's registry stays the one
source of truth; nothing here writes or caches.

What it reads (MLflow's model-registry schema, stable since MLflow 2.x): ``registered_model_aliases``
(name, alias, version), ``model_versions`` (name, version, source, run_id, current_stage) and
``model_version_tags`` (name, version, key, value); versions MLflow deleted
(``current_stage = 'Deleted_Internal'``) are invisible, as they are through MLflow; with MLflow's
``workspace`` column, the default workspace only.

When it steps aside (:func:`direct_reader` returns None, or a read returns None, and the caller asks
MLflow): the tracking URI is not a SQL database (an HTTP tracking server: its REST API is the only
way in), the SQLite file does not exist yet, MLflow workspaces are enabled, or the tables do not
read as expected (an older or newer MLflow schema). Writes always go through MLflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from candor.registry.common import PREFIX
from candor.registry.tracking import _SQL_CONNECT_TIMEOUT, PROBE_TIMEOUT_S, SQL_BACKENDS

#: MLflow's marker of a deleted model version (``STAGE_DELETED_INTERNAL``).
DELETED = "Deleted_Internal"
#: MLflow's default workspace name (``DEFAULT_WORKSPACE_NAME``).
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class VersionRow:
    """One model version as the loaders use it: what an MLflow ``ModelVersion`` offers them."""

    name: str
    version: str
    source: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)


_META = sa.MetaData()
_ALIASES = sa.Table("registered_model_aliases", _META, sa.Column("name", sa.String), sa.Column("alias", sa.String),
                    sa.Column("version", sa.Integer), sa.Column("workspace", sa.String))
_VERSIONS = sa.Table("model_versions", _META, sa.Column("name", sa.String), sa.Column("version", sa.Integer),
                     sa.Column("source", sa.String), sa.Column("run_id", sa.String),
                     sa.Column("current_stage", sa.String), sa.Column("workspace", sa.String))
_TAGS = sa.Table("model_version_tags", _META, sa.Column("name", sa.String), sa.Column("version", sa.Integer),
                 sa.Column("key", sa.String), sa.Column("value", sa.String), sa.Column("workspace", sa.String))


class DirectReader:
    """Aliases and versions of candor's registered models, read from MLflow's database."""

    def __init__(self, engine: Engine, workspaces: bool) -> None:
        self.engine = engine
        self.workspaces = workspaces  # the tables carry MLflow's `workspace` column

    def _versions(self, where: Any, alias: str | None = None) -> list[VersionRow] | None:
        v = _VERSIONS
        query = sa.select(v.c.name, v.c.version, v.c.source, v.c.run_id).where(
            v.c.name.like(f"{PREFIX}%"), sa.or_(v.c.current_stage.is_(None), v.c.current_stage != DELETED), where)
        if alias is not None:
            a = _ALIASES
            query = query.join(a, sa.and_(a.c.name == v.c.name, a.c.version == v.c.version, a.c.alias == alias,
                                          *([a.c.workspace == DEFAULT_WORKSPACE] if self.workspaces else [])))
        if self.workspaces:
            query = query.where(v.c.workspace == DEFAULT_WORKSPACE)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
                keys = {(str(r.name), int(r.version)) for r in rows}
                tags: dict[tuple[str, int], dict[str, str]] = {k: {} for k in keys}
                if keys:
                    t = _TAGS
                    names = sorted({name for name, _ in keys})
                    tag_query = sa.select(t.c.name, t.c.version, t.c.key, t.c.value).where(t.c.name.in_(names))
                    if self.workspaces:
                        tag_query = tag_query.where(t.c.workspace == DEFAULT_WORKSPACE)
                    for name, version, key, value in connection.execute(tag_query):
                        if (name, int(version)) in tags:
                            tags[(name, int(version))][str(key)] = "" if value is None else str(value)
        except sa.exc.SQLAlchemyError:
            return None  # not the schema this reader knows: the caller asks MLflow
        return [VersionRow(str(r.name), str(r.version), str(r.source), r.run_id, tags[(str(r.name), int(r.version))])
                for r in rows]

    def aliased(self, alias: str) -> dict[str, VersionRow] | None:
        """Registered name → the version in ``alias`` for every candor model that has it."""
        rows = self._versions(sa.true(), alias)
        return None if rows is None else {r.name: r for r in rows}

    def version(self, name: str, version: str) -> VersionRow | None:
        """``name``'s version by number (``"3"``) or alias (``"champion"``); None when not found here."""
        where = _VERSIONS.c.name == name
        rows = (self._versions(sa.and_(where, _VERSIONS.c.version == int(version))) if version.isdigit()
                else self._versions(where, version))
        return rows[0] if rows else None


def direct_reader(uri: str) -> DirectReader | None:
    """A reader over the MLflow database at ``uri``, or None where MLflow must be asked (module note)."""
    if os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() in ("1", "true", "yes"):
        return None
    try:
        url = make_url(uri)
    except sa.exc.ArgumentError:
        return None
    backend = url.get_backend_name()
    if backend not in SQL_BACKENDS:
        return None
    if backend == "sqlite" and (not url.database or url.database == ":memory:" or not Path(url.database).is_file()):
        return None  # MLflow creates the file and its tables on first use
    timeout = _SQL_CONNECT_TIMEOUT.get(backend)  # a server gone mid-run: seconds, as MLflow's own store
    try:
        engine = sa.create_engine(url, poolclass=NullPool,
                                  connect_args={timeout: PROBE_TIMEOUT_S} if timeout else {})
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("registered_model_aliases")}
    except (sa.exc.SQLAlchemyError, ImportError):
        return None
    if not {"name", "alias", "version"} <= columns:
        return None
    return DirectReader(engine, "workspace" in columns)
