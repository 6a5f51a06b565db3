"""Crash-safe alias moves: write-ahead audit rows, ordered MLflow reassigns, roll-forward reconcile.

The problem: the alias lives in MLflow's database, the audit trail (``alias_events``) in candor's
operational store. Two databases admit no shared transaction, and a promotion touches two
aliases (``previous`` ← old champion, ``champion`` ← new version). A SIGKILL can land anywhere.

The design, and why each piece holds under a kill:

1. **The champion can never be missing or doubled.** MLflow stores an alias as one row keyed by
   (model, alias) and ``set_registered_model_alias`` is a single upsert in one SQL transaction,
   so ``champion`` always names exactly one version — the old or the new, never none or two.
   Candor never *deletes* the ``champion`` alias (archive/delete refuse the champion), and only
   ever points it at a version that passed the gates (or one forced, which the trail records).

2. **Write-ahead intent.** Before touching MLflow, every move of one operation is written to
   ``alias_events`` in *one* store transaction (SQLite journal / PostgreSQL commit: all rows or
   none). The audit row *is* the intent; it carries who, why, when and from → to.

3. **Ordered application, champion last.** The moves are then applied in order with the
   ``champion`` reassign last. That reassign is the commit point: before it, the old champion
   still serves; after it, the new one does.

4. **Reconcile = roll forward.** :func:`reconcile` compares, per alias, the newest event's
   ``to_version`` with where the alias actually points. If the alias still sits at that event's
   ``from_version`` the operation was interrupted after its intent was durable: the move is
   completed (the caller had decided it; the target was checked before the intent was written
   and is re-checked now). Anything else (an alias moved by hand in the MLflow UI, or a target
   that has since disappeared) is *recorded* as a new event from the audited version to the
   actual one, so the trail always ends where the alias is. Every mutating registry operation
   reconciles first, so the log is never more than one operation ahead of MLflow.

Kill points, for a promote (old champion C, previous P, new V):
before/during the audit transaction → nothing written, C still champion;
after it → trail says P→C, C→V, aliases unchanged → reconcile applies both;
after ``previous`` moved → previous=C, champion=C → reconcile moves champion to V;
after ``champion`` moved → done. Rollback is the same with V = P.

Concurrency: two processes moving aliases of the *same* model at the same moment are serialised
by the audit transaction (a per-model lock); the one that finds the trail moved since it read the
aliases is refused with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from candor.errors import RegistryError
from candor.store import alias_events, record_alias_event
from candor.store.engine import open_connection, translate_errors

CHAMPION = "champion"
PREVIOUS = "previous"
#: A validated, non-champion version whose forecasts are written (flagged, never served) and
#: compared with the champion's by the drift job; one per model (:meth:`Registry.shadow`).
SHADOW = "shadow"
RECONCILE_ACTOR = "candor-reconcile"


@dataclass(frozen=True)
class AliasMove:
    """One alias reassignment; ``to_version=None`` removes the alias."""

    alias: str
    from_version: str | None
    to_version: str | None


@dataclass(frozen=True)
class ReconcileFix:
    """What :func:`reconcile` did for one alias: ``rolled_forward`` or ``recorded``."""

    alias: str
    kind: str
    from_version: str | None
    to_version: str | None


def current_aliases(client: Any, name: str) -> dict[str, str]:
    """Where each alias of ``name`` points now (versions as strings, like the audit trail)."""
    return {alias: str(version) for alias, version in client.get_registered_model(name).aliases.items()}


def _set_alias(client: Any, name: str, alias: str, version: str | None) -> None:
    if version is None:
        client.delete_registered_model_alias(name, alias)
    else:
        client.set_registered_model_alias(name, alias, version)


def _champion_last(moves: Sequence[AliasMove]) -> list[AliasMove]:
    return sorted(moves, key=lambda move: move.alias == CHAMPION)


def apply_moves(client: Any, engine: Engine, name: str, moves: Sequence[AliasMove], *,
                action: str, actor: str, reason: str | None) -> list[AliasMove]:
    """Record every move in one store transaction, then apply them to MLflow, champion last.

    The transaction holds a per-model lock (PostgreSQL advisory lock; SQLite's write lock) and
    refuses moves whose ``from_version`` is no longer where the trail says the alias is: of two
    promotions at the same instant one wins and the other is told, instead of both claiming it.
    """
    effective = _champion_last([m for m in moves if m.from_version != m.to_version])
    if not effective:
        return []
    with open_connection(engine) as connection, translate_errors(engine):
        if connection.dialect.name == "sqlite":
            connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
            last = {event.alias: event for event in alias_events(connection, name)}
            for move in effective:
                event = last.get(move.alias)
                if event is not None and event.to_version != move.from_version:
                    raise RegistryError(f"{move.alias} of {name} was moved to {event.to_version or 'none'} by "
                                        f"{event.actor} meanwhile (this {action} expected {move.from_version or 'none'}); "
                                        "nothing was changed — check `candor registry history` and retry.")
            for move in effective:
                record_alias_event(connection, model_name=name, alias=move.alias, action=action,
                                   from_version=move.from_version, to_version=move.to_version,
                                   reason=reason, actor=actor)
    for move in effective:
        _set_alias(client, name, move.alias, move.to_version)
    return effective


def champion_moved_within(engine: Engine, name: str, hours: float, now: datetime | None = None) -> tuple[float, Any] | None:
    """(age in hours, the audit row) of ``name``'s last champion move when it is younger than
    ``hours`` — the cool-down that the automatic rollback and the shadow's promotion both keep, so a
    new champion is judged on its own forecasts first — else None (``hours`` ≤ 0: no cool-down)."""
    moves = alias_events(engine, name, CHAMPION)
    if not moves or hours <= 0:
        return None
    moved = moves[-1].created_at
    moved = moved.replace(tzinfo=UTC) if moved.tzinfo is None else moved
    age_h = ((now or datetime.now(UTC)) - moved).total_seconds() / 3600
    return (age_h, moves[-1]) if age_h < hours else None


def _last_events(engine: Engine, name: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for event in alias_events(engine, name):
        last[event.alias] = event
    return last


def reconcile(client: Any, engine: Engine, name: str,
              target_ok: Callable[[str, str, str], bool]) -> list[ReconcileFix]:
    """Make ``name``'s aliases and audit trail agree; return what was done (empty: they agreed).

    ``target_ok(alias, version, action)`` says whether an interrupted move may still be
    completed (the version exists and, for the champion, is validated or was forced).
    """
    actual = current_aliases(client, name)
    last = _last_events(engine, name)
    fixes: list[ReconcileFix] = []
    for alias in _champion_order(set(last) | {a for a in actual if a in (CHAMPION, PREVIOUS)}):
        event = last.get(alias)
        audited = event.to_version if event is not None else None
        now = actual.get(alias)
        if now == audited:
            continue
        if event is not None and now == event.from_version \
                and (audited is None or target_ok(alias, audited, event.action)):
            _set_alias(client, name, alias, audited)
            fixes.append(ReconcileFix(alias, "rolled_forward", now, audited))
            continue
        record_alias_event(
            engine, model_name=name, alias=alias, action="promote" if now is not None else "delete",
            from_version=audited, to_version=now, actor=RECONCILE_ACTOR,
            reason=f"reconcile: alias found at {now or 'none'} while the audit trail said "
                   f"{audited or 'none'} (moved outside candor, or an interrupted move that could not be completed)",
        )
        fixes.append(ReconcileFix(alias, "recorded", audited, now))
    return fixes


def _champion_order(aliases: set[str]) -> list[str]:
    return sorted(aliases, key=lambda alias: (alias == CHAMPION, alias))
