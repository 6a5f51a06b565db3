"""Backtest settings and annualisation.

:class:`BacktestConfig` (the ``[backtest]`` section, validated once when it is built) is defined
in :mod:`candor.records.specs` and re-exported here. There is deliberately no option for
same-bar execution: a signal formed at the close of bar t can only trade at bar t+1 (its open or
its close), so a backtest cannot peek at the bar that produced the signal however it is configured.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from candor.data.bars import INTRADAY, TIMEFRAMES
from candor.data.gaps import FX, ns, session_table, week_labels
from candor.errors import DataError
from candor.records.specs import EXECUTIONS, BacktestConfig

Execution = Literal["next_open", "next_close"]

#: An unknown exchange: 252 sessions a year; continuous markets: 365 days of 24 hours. A known
#: exchange calendar's sessions are counted instead (:func:`infer_periods_per_year`).
TRADING_DAYS = 252.0
CALENDAR_DAYS = 365.0

__all__ = ["CALENDAR_DAYS", "EXECUTIONS", "TRADING_DAYS", "BacktestConfig", "Execution", "infer_periods_per_year",
           "session_bar_counts"]


def infer_periods_per_year(bars: pd.DataFrame) -> float:
    """Bars per year as candor builds them on the bars' calendar — the one annualisation factor.

    Counted from the calendar, not from the bars (a short or gappy series would mislead):

    * continuous (``"24/7"``, or no calendar and some bars on a weekend): 365 days of 24 hours —
      d1 365, h1 8,760, w1 365/7;
    * an exchange calendar code: the calendar's sessions over the whole calendar years the bars
      span, times the bars per session as candor anchors them (from the session open, the last
      bar cut at the close, so a 6.5 h XNYS session holds 7 h1 and 2 h4 bars and an early close
      4 and 1; bars wholly inside a lunch break are not counted), divided by those years — XNYS
      h1 about 1,750 and h4 about 500 (not 252 x 6.5 = 1,638 / 409.5), d1 its real sessions
      (252 in 2024, 250 in 2025), w1 the weeks with a session;
    * no calendar and no weekend bars (an unknown exchange): 252 sessions of the median number
      of bars the series has per day.

    * FX (``"24/5"``): 5 days of 24 hours a week — d1 about 261, h1 about 6,257, w1 365/7.
    """
    timeframe = bars.attrs.get("timeframe")
    if timeframe not in TIMEFRAMES:
        raise DataError(
            f"cannot infer periods per year: bars have timeframe {timeframe!r}; build them with "
            "candor.data.make_bars() or set BacktestConfig(periods_per_year=...)."
        )
    step = TIMEFRAMES[timeframe]
    if _continuous(bars):
        return CALENDAR_DAYS / 7.0 if timeframe == "w1" else CALENDAR_DAYS * (pd.Timedelta(days=1) / step)
    calendar = bars.attrs.get("calendar")
    if calendar == FX:  # five 24-hour days a week
        return CALENDAR_DAYS / 7.0 * (1 if timeframe == "w1" else 5 * (pd.Timedelta(days=1) / step))
    if calendar is None or str(calendar) == "none" or len(bars.index) == 0:
        return _measured_per_year(bars, timeframe)
    return _calendar_per_year(str(calendar), timeframe, bars.index[0], bars.index[-1])


def _calendar_per_year(calendar: str, timeframe: str, first: pd.Timestamp, last: pd.Timestamp) -> float:
    """Sessions (d1), weeks with a session (w1) or session-anchored bars per calendar year."""
    years = range(pd.Timestamp(first).year, pd.Timestamp(last).year + 1)
    sessions = session_table(calendar, pd.Timestamp(f"{years[0]}-01-01"), pd.Timestamp(f"{years[-1]}-12-31"))
    if timeframe == "d1":
        count = float(len(sessions))
    elif timeframe == "w1":
        count = float(len(week_labels(pd.DatetimeIndex(sessions.index).tz_localize("UTC")).unique()))
    else:
        count = float(session_bar_counts(sessions, TIMEFRAMES[timeframe]).sum())
    return count / len(years)


def session_bar_counts(sessions: pd.DataFrame, step: pd.Timedelta) -> np.ndarray:
    """Bars of length ``step`` per session, anchored at the open and cut at the close (as
    :func:`candor.data.resample.resample` builds them), less those wholly inside a break."""
    opens, closes = ns(sessions["open"]), ns(sessions["close"])
    width = step.value
    bars = -((opens - closes) // width)  # ceil((close - open) / step)
    if "break_start" in sessions and sessions["break_start"].notna().any():
        has = sessions["break_start"].notna().to_numpy() & sessions["break_end"].notna().to_numpy()
        start, end = ns(sessions["break_start"].fillna(sessions["open"])), ns(sessions["break_end"].fillna(sessions["open"]))
        first_in = -((opens - start) // width)  # first k with open + k*step >= break start
        last_in = (end - opens) // width - 1     # last k with open + (k+1)*step <= break end
        bars = bars - np.where(has, np.maximum(last_in - first_in + 1, 0), 0)
    return bars


def _measured_per_year(bars: pd.DataFrame, timeframe: str) -> float:
    """An unknown exchange: 252 sessions (52 weeks) of the series' median bars per day."""
    if timeframe == "w1":
        return 52.0
    if timeframe not in INTRADAY or len(bars.index) == 0:
        return TRADING_DAYS
    days = pd.DatetimeIndex(bars.index).asi8 // 86_400_000_000_000
    return TRADING_DAYS * float(np.median(np.unique(days, return_counts=True)[1]))


def _continuous(bars: pd.DataFrame) -> bool:
    calendar = bars.attrs.get("calendar")
    if calendar is not None:
        return str(calendar) == "24/7"
    index = bars.index
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return False
    days = index.asi8 // 86_400_000_000_000  # 1970-01-01 was a Thursday (dayofweek 3)
    return bool((((days + 3) % 7) >= 5).any())
