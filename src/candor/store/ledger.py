"""``ledger_trials``: the trial ledger — append, count and read; never update, never delete.

Why in the operational store: a Deflated Sharpe must deflate for every configuration tried on a
target, and those tries happen in many processes and sessions (``candor train`` today, a
universe run tomorrow, a dry run in between). The store is the one place they all reach. Rows are
:class:`candor.records.ledger.Trial` records in and out (the stored form is the live form).

There is deliberately no function that deletes or edits a row: the ledger only grows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.data.bars import check_symbol, check_timeframe
from candor.errors import DataError
from candor.records.ledger import TargetSummary, Trial
from candor.store._rows import check_finite, columns_of
from candor.store.engine import transaction
from candor.store.schema import LedgerTrial, utc_now

_COLUMNS = tuple(c for c in columns_of(LedgerTrial) if c != "id")
_NUMBERS = ("lift", "lift_ci_low", "lift_ci_high", "p_value", "sharpe", "deflated_sharpe")


def record_trial(bind: Engine | Connection, trial: Trial) -> int:
    """Append ``trial`` and return its id (``recorded_at`` defaults to now)."""
    check_symbol(trial.symbol)
    check_timeframe(trial.timeframe)
    if trial.horizon < 1 or trial.n_trials < 1 or trial.tuning_trials < 0 or trial.prior_trials < 0:
        raise DataError(f"a ledger trial needs horizon >= 1, n_trials >= 1 and no negative count. Got horizon "
                        f"{trial.horizon}, n_trials {trial.n_trials}, tuning_trials {trial.tuning_trials}, "
                        f"prior_trials {trial.prior_trials}.")
    values = trial.model_dump(include=set(_COLUMNS))
    check_finite("ledger_trials", values, _NUMBERS)
    values["recorded_at"] = trial.recorded_at or utc_now()
    with transaction(bind) as connection:
        statement = sa.insert(LedgerTrial).values(**values).returning(LedgerTrial.id)
        return int(connection.execute(statement).scalar_one())


def _where(query: sa.Select, *, symbol: str | None = None, timeframe: str | None = None,
           horizon: int | None = None, label_kind: str | None = None,
           since: dt.datetime | None = None) -> sa.Select:
    for column, value in (("symbol", symbol), ("timeframe", timeframe), ("horizon", horizon),
                          ("label_kind", label_kind)):
        if value is not None:
            query = query.where(getattr(LedgerTrial, column) == value)
    if since is not None:
        query = query.where(LedgerTrial.recorded_at >= since)
    return query


def trial_count(bind: Engine | Connection, symbol: str, timeframe: str, horizon: int, label_kind: str) -> int:
    """Every trial the ledger holds for one target, all runs and sessions (0 when none)."""
    query = _where(sa.select(sa.func.coalesce(sa.func.sum(LedgerTrial.n_trials), 0)),
                   symbol=symbol, timeframe=timeframe, horizon=horizon, label_kind=label_kind)
    with transaction(bind) as connection:
        return int(connection.execute(query).scalar_one())


def trials(bind: Engine | Connection, *, symbol: str | None = None, timeframe: str | None = None,
           horizon: int | None = None, label_kind: str | None = None,
           since: dt.datetime | None = None) -> list[Trial]:
    """The ledger's rows, oldest first (ties in insertion order), optionally for one target and
    from ``since`` on."""
    query = _where(sa.select(LedgerTrial.__table__), symbol=symbol, timeframe=timeframe, horizon=horizon,
                   label_kind=label_kind, since=since).order_by(LedgerTrial.recorded_at, LedgerTrial.id)
    with transaction(bind) as connection:
        return [Trial.model_validate(dict(row)) for row in connection.execute(query).mappings()]


def _best(rows: Sequence[Trial], key: str) -> Trial | None:
    scored = [r for r in rows if getattr(r, key) is not None]
    return max(scored, key=lambda r: getattr(r, key)) if scored else None


def summarise(rows: Iterable[Trial]) -> list[TargetSummary]:
    """One summary per target (symbol, timeframe, horizon, label kind), in target order.

    The smallest p-value is also given after Bonferroni over the target's trials: with N tries, a
    p of 0.01 is worth ``min(1, N × 0.01)``."""
    groups: dict[tuple[str, str, int, str], list[Trial]] = {}
    for row in rows:
        groups.setdefault((row.symbol, row.timeframe, row.horizon, row.label_kind), []).append(row)
    out = []
    for (symbol, timeframe, horizon, kind), group in sorted(groups.items()):
        n = sum(r.n_trials for r in group)
        p_values = [r.p_value for r in group if r.p_value is not None]
        best_p = min(p_values) if p_values else None
        best_lift, best_sharpe = _best(group, "lift"), _best(group, "sharpe")
        dsr = [r for r in group if r.deflated_sharpe is not None]
        out.append(TargetSummary(
            symbol=symbol, timeframe=timeframe, horizon=horizon, label_kind=kind, rows=len(group), trials=n,
            dry_runs=sum(r.dry_run for r in group), first=group[0].recorded_at, last=group[-1].recorded_at,
            best_lift=None if best_lift is None else best_lift.lift, best_p_value=best_p,
            best_p_adjusted=None if best_p is None else min(1.0, n * best_p),
            best_sharpe=None if best_sharpe is None else best_sharpe.sharpe,
            latest_deflated_sharpe=dsr[-1].deflated_sharpe if dsr else None,
        ))
    return out
