"""``drift_monitoring``: one row per symbol × timeframe × horizon × judged bar; a re-run replaces it.

Why the bar, not the day (migration 0005): a replay or a backfill judges many bars in one day, and
each verdict is history the live-accuracy chart draws. Why replace rather than append: the monitor
may run several times on the same bar (retries, a manual ``candor drift``); the dashboard and
alerting want that bar's latest verdict, not a pile of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.data.bars import check_timeframe
from candor.errors import DataError
from candor.records.status import DriftStatus
from candor.store._rows import check_finite, fetch_all, where_equal
from candor.store.engine import dialect_insert, transaction
from candor.store.schema import DriftRow, utc_now

_NUMBERS = ("accuracy", "baseline", "margin", "calibration_error", "max_feature_psi", "prediction_psi")
_TABLE = DriftRow.__table__
_KEY = ("symbol", "timeframe", "horizon", "bar_ts")


def _as_date(value: dt.date | str | pd.Timestamp) -> dt.date:
    if isinstance(value, dt.datetime | pd.Timestamp):
        return pd.Timestamp(value).date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        raise DataError(f"`date` must be a date. Got {value!r}.") from None


def _bar_ts(value: object) -> dt.datetime:
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT or ts.tzinfo is None:
        raise DataError(f"`bar_ts` must be a timezone-aware time. Got {value!r}.")
    return ts.tz_convert("UTC").to_pydatetime()


def _values(symbol: str, timeframe: str, horizon: int, bar_ts: object, date: object, n: int, status: str,
            numbers: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    check_timeframe(timeframe)
    if int(horizon) < 1:
        raise DataError(f"`horizon` must be >= 1. Got {horizon}.")
    if status not in set(DriftStatus):
        raise DataError(f"`status` must be one of {', '.join(DriftStatus)}. Got {status!r}.")
    if int(n) < 0:
        raise DataError(f"`n` must be >= 0. Got {n}.")
    floats = {k: None if v is None else float(v) for k, v in numbers.items()}
    check_finite("drift_monitoring", floats, floats)
    return {"symbol": symbol, "timeframe": timeframe, "horizon": int(horizon), "bar_ts": _bar_ts(bar_ts),
            "date": _as_date(date), "n": int(n),  # type: ignore[arg-type]
            "status": str(status), "details": details, "created_at": utc_now(), **floats}


def upsert_drift_row(
    bind: Engine | Connection,
    *,
    symbol: str,
    timeframe: str,
    horizon: int,
    bar_ts: dt.datetime | pd.Timestamp | str,
    date: dt.date | str,
    n: int,
    status: str,
    accuracy: float | None = None,
    baseline: float | None = None,
    margin: float | None = None,
    calibration_error: float | None = None,
    max_feature_psi: float | None = None,
    prediction_psi: float | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Store the drift verdict of one series × horizon on the bar ``bar_ts`` (replacing an earlier
    verdict on that bar); ``date`` is the day the check ran. Return the row id."""
    numbers = {"accuracy": accuracy, "baseline": baseline, "margin": margin, "calibration_error": calibration_error,
               "max_feature_psi": max_feature_psi, "prediction_psi": prediction_psi}
    values = _values(symbol, timeframe, horizon, bar_ts, date, n, status, numbers, details)
    with transaction(bind) as connection:
        insert = dialect_insert(connection, _TABLE).values(**values)
        updates = {k: insert.excluded[k] for k in values if k not in _KEY}
        statement = insert.on_conflict_do_update(index_elements=list(_KEY), set_=updates)
        return int(connection.execute(statement.returning(_TABLE.c.id)).scalar_one())


def drift_rows(
    bind: Engine | Connection,
    symbol: str | None = None,
    timeframe: str | None = None,
    *,
    since: dt.date | str | None = None,
) -> list[DriftRow]:
    """Stored drift verdicts, oldest judged bar first (per symbol/timeframe; horizons of one bar in
    order); ``since`` keeps the checks run on or after that day."""
    query = where_equal(sa.select(DriftRow), DriftRow, symbol=symbol, timeframe=timeframe)
    if since is not None:
        query = query.where(DriftRow.date >= _as_date(since))
    return fetch_all(bind, query.order_by(DriftRow.symbol, DriftRow.timeframe, DriftRow.bar_ts, DriftRow.horizon,
                                          DriftRow.id))


def latest_drift_row(bind: Engine | Connection, symbol: str, timeframe: str, horizon: int) -> DriftRow | None:
    """The verdict on the newest judged bar of one series × horizon (None before the first check)."""
    query = (where_equal(sa.select(DriftRow), DriftRow, symbol=symbol, timeframe=timeframe)
             .where(DriftRow.horizon == int(horizon)).order_by(DriftRow.bar_ts.desc(), DriftRow.id.desc()).limit(1))
    rows = fetch_all(bind, query)
    return rows[0] if rows else None
