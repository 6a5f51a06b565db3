"""``paper_ledger``: the paper ledger's booked days (migration 0006), one row per series × horizon × UTC day.

Why the rules: a booked day is a record of what the served forecasts earned, so it does not move.
Forecasts resolve in bar order, so a recomputed ledger only adds days after the last booked one —
or grows that last day, when it was booked part-way through (an intraday series' day takes
several periods). Any other change means a forecast resolved out of order, after later days were
booked: the whole booking is refused in one line and nothing is written; :func:`clear_days` lets
a caller re-book the series on purpose (``candor paper --rebuild``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.errors import DataError
from candor.store._rows import fetch_all
from candor.store.engine import transaction
from candor.store.schema import PaperDayRow, utc_now

VALUES = ("live_return", "buy_and_hold", "position")
#: Two bookings of one day agree when every value is this close (floating-point noise only).
TOLERANCE = 1e-9
_TABLE = PaperDayRow.__table__


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def booked_days(bind: Engine | Connection, symbol: str, timeframe: str,
                horizon: int | None = None) -> list[PaperDayRow]:
    """The booked days of one series (one horizon, or all), oldest first."""
    query = sa.select(PaperDayRow).where(PaperDayRow.symbol == symbol, PaperDayRow.timeframe == timeframe)
    if horizon is not None:
        query = query.where(PaperDayRow.horizon == int(horizon))
    return fetch_all(bind, query.order_by(PaperDayRow.horizon, PaperDayRow.day))


def book_days(bind: Engine | Connection, symbol: str, timeframe: str, horizon: int,
              days: Iterable[Mapping[str, Any]]) -> int:
    """Book ``days`` (``day``, ``live_return``, ``buy_and_hold``, ``position``) in one transaction;
    return how many days were new. Idempotent: a day booked with the same values is left alone.

    Raises :class:`DataError` — nothing written — when a day before the last booked one would change
    or a new day would land before it (a forecast resolved out of order)."""
    wanted = {_day(d["day"]): {k: float(d[k]) for k in VALUES} for d in days}
    with transaction(bind) as connection:
        booked = {row.day: row for row in booked_days(connection, symbol, timeframe, horizon)}
        refusal = out_of_order(symbol, timeframe, horizon, booked, wanted)
        if refusal:
            raise DataError(refusal)
        last = max(booked) if booked else None
        new = [{"symbol": symbol, "timeframe": timeframe, "horizon": int(horizon), "day": day, **values,
                "booked_at": utc_now()} for day, values in wanted.items() if day not in booked]
        if new:
            connection.execute(sa.insert(_TABLE), new)
        if last is not None and last in wanted and differs(booked[last], wanted[last]):
            connection.execute(sa.update(_TABLE).where(_TABLE.c.id == booked[last].id)
                               .values(**wanted[last], booked_at=utc_now()))
        return len(new)


def differs(row: PaperDayRow, values: Mapping[str, float]) -> bool:
    """Whether a booked day and freshly computed values disagree beyond floating-point noise."""
    return any(abs(getattr(row, k) - values[k]) > TOLERANCE for k in VALUES)


def out_of_order(symbol: str, timeframe: str, horizon: int, booked: Mapping[dt.date, PaperDayRow],
                 wanted: Mapping[dt.date, Mapping[str, float]]) -> str | None:
    """The one-line refusal when ``wanted`` would change a day before the last booked one, or add
    a day before it (a forecast resolved out of order); None when it only appends or grows the last."""
    if not booked:
        return None
    last = max(booked)
    for day in sorted(d for d in wanted if d < last):
        old = booked.get(day)
        if old is None or differs(old, wanted[day]):
            was = "is not booked" if old is None else f"was booked at {old.live_return:+.4%}"
            return (f"paper ledger {symbol}/{timeframe} h{horizon}: {day} {was} and now comes to "
                    f"{wanted[day]['live_return']:+.4%}, but {last} is booked already — a forecast resolved out "
                    f"of order; nothing written (`candor paper --rebuild --symbol {symbol} --timeframe {timeframe}` "
                    "re-books the series from its forecasts)")
    return None


def clear_days(bind: Engine | Connection, symbol: str, timeframe: str, horizon: int | None = None) -> int:
    """Delete one series' booked days (one horizon, or all); return how many."""
    query = sa.delete(_TABLE).where(_TABLE.c.symbol == symbol, _TABLE.c.timeframe == timeframe)
    if horizon is not None:
        query = query.where(_TABLE.c.horizon == int(horizon))
    with transaction(bind) as connection:
        return int(connection.execute(query).rowcount or 0)
