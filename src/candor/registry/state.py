"""An in-process snapshot of registry state (models, aliases, version counts, histories), kept
fresh by a high-water mark of the operational store instead of an MLflow round trip per read.

Why: the dashboard and ``/api/models`` asked MLflow for every registered model and every version
on each request (~1 ms of ORM work per model per request on a local SQLite MLflow, far more on a
tracking server); under 20 connections p50 went from 66 ms to 2.6 s. What they show changes only
when an alias moves or a model is trained, and both leave a row in candor's own store:

* every alias move writes ``alias_events`` first (:mod:`candor.registry.aliases`), in this or any
  other process (``candor registry promote``, the drift monitor's rollback, the API);
* every training records a ``training_runs`` row after registering its version.

So one cheap query — ``max(id)`` and ``count`` of both tables, primary-key lookups — tells whether
anything changed since the snapshot was taken. It runs on every read by default
(``check_interval_s=0``): the next read after a promotion elsewhere shows the new champion.

The one race, and why it is closed: an alias move commits its audit row *before* it moves the
MLflow alias (write-ahead). A snapshot taken in between would read the old alias under the new
mark and keep it. Each snapshot therefore compares MLflow's aliases with the trail's last word per
alias; a disagreement (a move in flight, or an alias moved by hand outside candor) leaves the
snapshot unsettled, and every read rebuilds it until they agree — a reader waiting for a rebuild
takes another thread's only when that one started after the reader arrived, so the first read after
a move completes shows it. A disagreement that outlives ``settle_s`` is no move in flight (a move
takes milliseconds) but an alias moved by hand: from then on it is rebuilt at most every ``retry_s``.

Changes that leave no row — a version registered by hand without training, a tag edited in the
MLflow UI — are picked up after ``max_age_s`` at the latest. Mutations through this process's
:class:`~candor.registry.Registry` invalidate at once.

Who pays for a rebuild (one MLflow round trip per model: ~40 ms at 50 series on a local SQLite
MLflow, far more on a tracking server): when the mark moved, the snapshot is unsettled or was
invalidated, every reader waits for the rebuild — what they would be served is known to be wrong.
When only ``max_age_s`` has passed and the mark still holds, the snapshot is not known to be
wrong, just old: the first reader rebuilds it and the readers that arrive meanwhile are served
the old one (stale-while-revalidate) instead of queueing behind the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from candor.errors import StoreError
from candor.registry.aliases import CHAMPION, PREVIOUS
from candor.registry.common import HistoryRow, ModelSummary
from candor.store.engine import open_connection, translate_errors
from candor.store.schema import AliasEvent, TrainingRun

Mark = tuple[Any, ...]


def store_mark(engine: Engine) -> Mark:
    """The high-water mark of what changes registry state: (max id, count) of ``alias_events`` and
    ``training_runs`` — a deleted row lowers a count even when the max id stays."""
    query = sa.select(*(sa.select(fn(table.id)).scalar_subquery() for table in (AliasEvent, TrainingRun)
                        for fn in (sa.func.max, sa.func.count)))
    with open_connection(engine) as connection, translate_errors(engine):
        return tuple(connection.execute(query).one())


def trail_aliases(engine: Engine) -> dict[tuple[str, str], str | None]:
    """(model, alias) → the version the audit trail says the alias points at (its newest event)."""
    newest = sa.select(sa.func.max(AliasEvent.id)).group_by(AliasEvent.model_name, AliasEvent.alias)
    query = sa.select(AliasEvent.model_name, AliasEvent.alias, AliasEvent.to_version).where(AliasEvent.id.in_(newest))
    with open_connection(engine) as connection, translate_errors(engine):
        return {(name, alias): version for name, alias, version in connection.execute(query)}


def settled(models: list[ModelSummary], trail: dict[tuple[str, str], str | None]) -> bool:
    """Whether MLflow's champion/previous agree with the trail's last word for every model."""
    for model in models:
        for alias, actual in ((CHAMPION, model.champion), (PREVIOUS, model.previous)):
            key = (model.name, alias)
            if key in trail and trail[key] != actual:
                return False
    return True


@dataclass
class _Snapshot:
    mark: Mark | None  # None: unsettled, rebuild on the next read
    taken: float  # when its rebuild started: what it shows was read after this moment
    models: list[ModelSummary]
    unsettled_since: float | None = None  # when the disagreement it carries was first seen
    histories: dict[str, list[HistoryRow]] = field(default_factory=dict)
    derived: dict[str, tuple[Mark, float, Any]] = field(default_factory=dict)


class RegistryState:
    """The cached read side of a registry: ``models()`` and ``history(name)``, thread-safe.

    ``list_models`` and ``history`` are the registry's own MLflow reads (passed in, so this module
    sits below :class:`~candor.registry.Registry`). ``check_interval_s`` throttles the mark query
    (0 = every read), ``max_age_s`` bounds how long any snapshot serves, ``settle_s`` how long an
    unsettled one is rebuilt on every read and ``retry_s`` how often after that, ``derived_kept``
    how many derived values one snapshot keeps.
    """

    def __init__(self, engine: Engine, list_models: Callable[[], list[ModelSummary]],
                 history: Callable[[str], list[HistoryRow]], *, check_interval_s: float = 0.0,
                 max_age_s: float = 30.0, settle_s: float = 5.0, retry_s: float = 0.25,
                 derived_kept: int = 64) -> None:
        self.engine = engine
        self._list_models = list_models
        self._history = history
        self.check_interval_s = check_interval_s
        self.max_age_s = max_age_s
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.derived_kept = derived_kept
        self._snapshot: _Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()  # one rebuild at a time; readers of a fresh snapshot never wait
        self._key_locks: dict[str, threading.Lock] = {}  # one computation of each derived value at a time
        self.rebuilds = 0

    def invalidate(self) -> None:
        """Forget the snapshot (this process moved an alias, registered or tagged a version)."""
        self._snapshot = None

    def models(self) -> list[ModelSummary]:
        try:
            return list(self._current().models)
        except StoreError:  # a store without candor's tables (``db`` commands): read MLflow directly
            return self._list_models()

    def history(self, name: str) -> list[HistoryRow]:
        try:
            snapshot = self._current()
        except StoreError:
            return self._history(name)
        rows = snapshot.histories.get(name)
        if rows is None:
            rows = snapshot.histories[name] = self._history(name)
        return list(rows)

    def derived(self, key: str, mark: Callable[[], Mark], compute: Callable[[], Any], max_age_s: float) -> Any:
        """A value computed from registry state *and* other store tables (the dashboard's overview),
        kept with this snapshot: recomputed when the snapshot is rebuilt, when ``mark()`` (a cheap
        high-water mark of those tables) changes, or after ``max_age_s`` (for rows updated in
        place, which move no mark). One thread computes a key at a time: when a mark moved the
        others wait for it; when the value is merely older than ``max_age_s`` they keep the old
        one meanwhile. At most ``derived_kept`` keys per snapshot (the oldest goes first)."""
        try:
            snapshot = self._current()
        except StoreError:
            return compute()
        stamp, now = mark(), time.monotonic()
        found = snapshot.derived.get(key)
        if found is not None and found[0] == stamp:
            if now - found[1] < max_age_s:
                return found[2]
            # Only old (no mark moved): one reader recomputes, the others keep the value meanwhile.
            lock = self._key_lock(key)
            if not lock.acquire(blocking=False):
                return found[2]
        else:
            lock = self._key_lock(key)
            lock.acquire()  # known to be out of date: wait for one computation
        try:
            again = snapshot.derived.get(key)
            if again is not None and again is not found and again[0] == stamp:
                return again[2]  # another thread computed it while this one waited
            value = compute()
            if len(snapshot.derived) >= self.derived_kept and key not in snapshot.derived:
                snapshot.derived.pop(next(iter(snapshot.derived)), None)  # the oldest key goes
            snapshot.derived[key] = (stamp, time.monotonic(), value)
            return value
        finally:
            lock.release()

    def _key_lock(self, key: str) -> threading.Lock:
        if len(self._key_locks) > 4 * self.derived_kept:  # keys come from query strings: stay bounded
            self._key_locks.clear()
        return self._key_locks.setdefault(key, threading.Lock())

    # ---- freshness --------------------------------------------------------------------------
    def _mark_holds(self, snapshot: _Snapshot, now: float) -> bool:
        if now - self._checked < self.check_interval_s:
            return True
        self._checked = now
        return store_mark(self.engine) == snapshot.mark

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        now = time.monotonic()
        if snapshot is not None and snapshot.mark is not None and self._mark_holds(snapshot, now):
            if now - snapshot.taken <= self.max_age_s:
                return snapshot
            # Old, not known to be wrong: one reader rebuilds; whoever comes meanwhile keeps it.
            if not self._lock.acquire(blocking=False):
                return snapshot
            try:
                if self._snapshot is not None and self._snapshot is not snapshot:
                    return self._snapshot
                return self._rebuild()
            finally:
                self._lock.release()
        if (snapshot is not None and snapshot.mark is None and snapshot.unsettled_since is not None
                and snapshot.taken - snapshot.unsettled_since > self.settle_s and now - snapshot.taken < self.retry_s):
            return snapshot  # unsettled for longer than any move takes (an alias moved by hand): throttled
        with self._lock:  # invalidated, the mark moved, or unsettled: nobody may read the old one
            rebuilt = self._snapshot
            if rebuilt is not None and rebuilt is not snapshot and rebuilt.taken >= now:
                return rebuilt  # another thread rebuilt it, reading after this reader arrived
            return self._rebuild()

    def _rebuild(self) -> _Snapshot:
        started = time.monotonic()
        mark = store_mark(self.engine)  # read before MLflow: a change after it shows as a new mark
        models = self._list_models()
        stable = settled(models, trail_aliases(self.engine))
        before = self._snapshot
        since = None if stable else (before.unsettled_since if before is not None and before.mark is None
                                     and before.unsettled_since is not None else started)
        snapshot = _Snapshot(mark if stable else None, started, models, unsettled_since=since)
        self._snapshot, self._checked = snapshot, time.monotonic()
        self.rebuilds += 1
        return snapshot


__all__ = ["RegistryState", "settled", "store_mark", "trail_aliases"]
