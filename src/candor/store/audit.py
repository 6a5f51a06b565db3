"""``alias_events``: the audit trail of registry alias moves (who, why, when, from → to).

Why in the operational database: MLflow keeps only where an alias points now, not how it got
there. The registry writes one row per move; pass a Connection to put the row in the same
transaction as other store writes.
"""

from __future__ import annotations

import datetime as dt
import getpass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.errors import DataError
from candor.store._rows import fetch_all, to_utc
from candor.store.engine import transaction
from candor.store.schema import ALIAS_ACTIONS, AliasEvent, utc_now


def _default_actor() -> str:
    """Who moved the alias when the caller does not say: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_alias_event(
    bind: Engine | Connection,
    *,
    model_name: str,
    alias: str,
    action: str,
    from_version: str | int | None,
    to_version: str | int | None,
    reason: str | None = None,
    actor: str | None = None,
    created_at: dt.datetime | None = None,
) -> int:
    """Append one alias move and return its id; an unknown ``action`` is refused."""
    if action not in ALIAS_ACTIONS:
        raise DataError(f"`action` must be one of {', '.join(ALIAS_ACTIONS)}. Got {action!r}.")
    if not model_name or not alias:
        raise DataError("an alias event needs a model_name and an alias")
    values = {
        "model_name": model_name, "alias": alias, "action": action,
        "from_version": None if from_version is None else str(from_version),
        "to_version": None if to_version is None else str(to_version),
        "reason": reason, "actor": actor or _default_actor(),
        "created_at": to_utc(created_at) if created_at is not None else utc_now(),
    }
    with transaction(bind) as connection:
        statement = sa.insert(AliasEvent).values(**values).returning(AliasEvent.id)
        return int(connection.execute(statement).scalar_one())


def alias_events(bind: Engine | Connection, model_name: str, alias: str | None = None) -> list[AliasEvent]:
    """A model's alias moves, oldest first (ties broken by insertion order)."""
    query = sa.select(AliasEvent).where(AliasEvent.model_name == model_name)
    if alias is not None:
        query = query.where(AliasEvent.alias == alias)
    return fetch_all(bind, query.order_by(AliasEvent.created_at, AliasEvent.id))
