"""Gap detection that knows markets, and the refuse / report / forward-fill policy.

A "gap" is an expected bar that is not in the data. What is expected depends on the market:

* an exchange calendar code (``"XNYS"`` or any ``exchange_calendars`` name): one ``d1`` bar per
  session (labelled at the session date 00:00 UTC), one ``w1`` bar per week with a session
  (labelled at Monday 00:00 UTC), and intraday bars opening at ``session open + phase + k*step``
  inside each session (phase measured from the data, so 09:30/10:30 hourly bars and clock-aligned
  10:00/11:00 bars both work; the session open itself is always expected). Weekends, holidays and
  early closes are therefore not gaps;
* ``"24/7"``: every period from the first bar to the last;
* ``"24/5"`` (FX): the foreign-exchange week, Sunday 17:00 to Friday 17:00 New York time —
  every intraday bar that overlaps it, one ``d1`` bar per weekday (00:00 UTC), every week;
* ``None``: unknown market — no gap check, and the report says so.

Only the data's own span (first to last bar) is checked: a series that starts in 2010 has no gaps
in 2009. ``exchange_calendars`` objects are slow to build (~0.5 s), so they are cached per
calendar and decade and built only for the decades the data covers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from candor.data.bars import INTRADAY, OHLCV, TIMEFRAMES, timeframe_of, with_attrs_of
from candor.errors import ConfigError, DataError

CONTINUOUS = "24/7"
#: The FX calendar: open from Sunday 17:00 to Friday 17:00 New York time (DST followed).
FX = "24/5"
_FX_ZONE = "America/New_York"
_FX_TURN_MINUTES = 17 * 60
GAP_POLICIES: tuple[str, ...] = ("refuse", "report", "ffill")


@functools.lru_cache(maxsize=1)
def _calendar_names() -> frozenset[str]:
    import exchange_calendars as xcals  # lazy: 0.2 s of imports that '24/7', '24/5' and 'none' never need

    return frozenset(xcals.get_calendar_names(include_aliases=True))


def check_calendar(calendar: str | None) -> str | None:
    """Return ``calendar`` if it is None, "none", "24/7", "24/5" or an exchange_calendars code."""
    if calendar is None or calendar in ("none", CONTINUOUS, FX) or calendar in _calendar_names():
        return calendar
    raise ConfigError(f"`calendar` must be an exchange_calendars code (e.g. XNYS), '24/7', '24/5' (FX) or 'none'. "
                      f"Got {calendar!r}.")


def fx_open(stamps: np.ndarray) -> np.ndarray:
    """Per UTC instant (int64 ns), whether the FX market is open: from Sunday 17:00 to Friday
    17:00 New York time, so the weekly close is 21:00 UTC in summer and 22:00 UTC in winter."""
    local = pd.DatetimeIndex(np.asarray(stamps, dtype="int64").astype("datetime64[ns]")).tz_localize(
        "UTC").tz_convert(_FX_ZONE)
    day, minutes = local.dayofweek.to_numpy(), (local.hour * 60 + local.minute).to_numpy()
    closed = (day == 5) | ((day == 4) & (minutes >= _FX_TURN_MINUTES)) | ((day == 6) & (minutes < _FX_TURN_MINUTES))
    return ~closed


def fx_last_closed(timeframe: str, now: pd.Timestamp) -> pd.Timestamp | None:
    """Open time of the newest bar of ``timeframe`` on the FX calendar that has ended by ``now``
    (UTC): what the forecast job expects to be stored (a Monday morning expects Friday's d1 bar)."""
    step = TIMEFRAMES[timeframe]
    start = week_labels(pd.DatetimeIndex([pd.Timestamp(now) - pd.Timedelta(days=21)]))[0]
    grid = pd.date_range(start, now, freq=step)
    if timeframe in INTRADAY:
        grid = grid[fx_bar_open(ns(grid), step)]
    elif timeframe == "d1":
        grid = grid[grid.dayofweek < 5]
    grid = grid[grid + step <= now]
    return grid[-1] if len(grid) else None


def fx_bar_open(stamps: np.ndarray, step: pd.Timedelta) -> np.ndarray:
    """Per intraday bar open (int64 ns), whether the bar overlaps the FX week (the weekend close
    is 48 hours, longer than any bar, so checking both ends is enough)."""
    stamps = np.asarray(stamps, dtype="int64")
    return fx_open(stamps) | fx_open(stamps + int(step.value) - 1)


@functools.lru_cache(maxsize=16)
def _calendar(code: str, first_decade: int, last_decade: int):
    """Build (once) the exchange calendar ``code`` for the decades ``first..last`` inclusive."""
    import exchange_calendars as xcals  # lazy, as in _calendar_names

    try:
        return xcals.get_calendar(code, start=f"{first_decade}-01-01", end=f"{last_decade + 9}-12-31")
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(
            f"`calendar` must be an exchange_calendars code (e.g. XNYS), '24/7' or None. Got {code!r}."
        ) from None


def session_table(calendar: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Sessions of ``calendar`` whose date lies in ``[start, end]`` (dates, tz ignored).

    Returns a frame indexed by the naive session date with UTC columns ``open``, ``close``,
    ``break_start`` and ``break_end`` (NaT where the market has no lunch break).
    """
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    first = first.tz_convert(None) if first.tzinfo else first
    last = last.tz_convert(None) if last.tzinfo else last
    cal = _calendar(calendar, first.year // 10 * 10, last.year // 10 * 10)
    schedule = cal.schedule
    return schedule.loc[first.normalize():last.normalize()]


DAY_NS = 86_400_000_000_000


def ns(values: pd.Series | pd.Index) -> np.ndarray:
    """UTC nanoseconds since the epoch as int64 (NaT becomes the int64 minimum)."""
    index = values if isinstance(values, pd.DatetimeIndex) else pd.DatetimeIndex(values)
    return index.as_unit("ns").asi8


def session_dates_utc(sessions: pd.DataFrame) -> pd.DatetimeIndex:
    """Session labels as bar timestamps: the session date at 00:00 UTC (how d1 bars are labelled)."""
    return pd.DatetimeIndex(sessions.index).tz_localize("UTC")


def week_labels(ts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Monday 00:00 UTC of the week each timestamp falls in (how w1 bars are labelled)."""
    labels = pd.DatetimeIndex(week_label_ns(ns(ts)).astype("datetime64[ns]"))
    return labels.tz_localize("UTC") if ts.tz is not None else labels


def week_label_ns(stamps: np.ndarray) -> np.ndarray:
    """:func:`week_labels` on int64 UTC nanoseconds: integer arithmetic, no calendar objects
    (a d1 series' w1 context paid 0.6 ms per call for pandas' ``normalize``/``dayofweek``)."""
    day = stamps // DAY_NS
    shifted = day + 3  # 1970-01-01 was a Thursday: Monday is 0 after the shift
    return (day - (shifted - shifted // 7 * 7)) * DAY_NS


@dataclass(frozen=True)
class GapReport:
    """What the gap check expected and found. ``checked`` is False when no calendar is known."""

    calendar: str | None
    timeframe: str
    expected: int
    missing: pd.DatetimeIndex = field(repr=False)
    unexpected: pd.DatetimeIndex = field(repr=False)
    checked: bool = True
    #: The part of ``unexpected`` that falls when the market is closed (:func:`outside_sessions`);
    #: the rest are bars inside sessions but not at one of the calendar's bar labels.
    closed: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([], tz="UTC", name="ts"), repr=False)

    @property
    def count(self) -> int:
        return len(self.missing)

    def summary(self) -> str:
        """One line for humans: how many bars were expected and which are missing."""
        if not self.checked:
            return "gaps: not checked (calendar unknown; pass a calendar such as XNYS or 24/7)"
        line = f"gaps ({self.calendar}, {self.timeframe}): {self.count} missing of {self.expected} expected"
        if self.count:
            line += f", first at {self.missing[0]}"
        if len(self.unexpected):
            line += f"; {self.off_calendar()} (wrong --tz or --calendar?)"
        return line

    def off_calendar(self) -> str:
        """The bars off the calendar, split into those when it is closed and those between its labels."""
        parts = []
        if len(self.closed):
            parts.append(f"{len(self.closed)} when it is closed, first at {self.closed[0]}")
        between = self.unexpected.difference(self.closed)
        if len(between):
            label = ("on its grid" if self.calendar in (CONTINUOUS, FX)
                     else _LABELS.get(self.timeframe, "on its session grid"))
            parts.append(f"{len(between)} not at a {self.timeframe} label ({label}), first at {between[0]}")
        return f"{len(self.unexpected)} bar(s) off the {self.calendar} calendar: {'; '.join(parts)}"


_LABELS = {"d1": "00:00 UTC of the session date", "w1": "Monday 00:00 UTC"}


def _intraday_phase(index: pd.DatetimeIndex, opens: np.ndarray, step: int) -> int:
    """Most common offset of the bars from their session open, modulo the bar length (ns)."""
    pos = np.searchsorted(opens, ns(index), side="right") - 1
    ok = pos >= 0
    offsets = (ns(index)[ok] - opens[pos[ok]]) % step
    offsets = offsets[offsets != 0]
    if len(offsets) == 0:
        return 0
    values, counts = np.unique(offsets, return_counts=True)
    return int(values[np.argmax(counts)])


def _intraday_expected(index: pd.DatetimeIndex, calendar: str, step: pd.Timedelta) -> pd.DatetimeIndex:
    """Expected bar opens in every session of the span, vectorised as a sessions × k grid."""
    day = pd.Timedelta(days=1)  # a session may open on the previous UTC date (e.g. Sydney)
    sessions = session_table(calendar, index[0] - day, index[-1] + day)
    opens = ns(sessions["open"])
    closes = ns(sessions["close"])
    step_ns = int(step.value)
    phase = _intraday_phase(index, opens, step_ns)
    longest = int((closes - opens).max()) if len(opens) else 0
    k = np.arange(longest // step_ns + 2, dtype="int64")
    grid = opens[:, None] + phase + k[None, :] * step_ns
    keep = (grid < closes[:, None]) & (grid > opens[:, None]) if phase else (grid < closes[:, None])
    values = np.unique(np.concatenate([grid[keep]] + ([opens] if phase else [])))
    if not pd.isna(sessions["break_start"]).all():
        bs = ns(sessions["break_start"])
        be = ns(sessions["break_end"])
        pos = np.searchsorted(opens, values, side="right") - 1
        in_break = (values >= bs[pos]) & (values < be[pos]) & (bs[pos] != np.iinfo("int64").min)
        values = values[~in_break]
    return pd.DatetimeIndex(values.astype("datetime64[ns]")).tz_localize("UTC")


def outside_sessions(bars: pd.DataFrame, calendar: str | None = None) -> np.ndarray:
    """Per bar, whether it falls when the exchange of ``calendar`` (default: the bars') is closed:
    an intraday bar outside every session's [open, close), a d1 bar whose UTC date is no session,
    a w1 bar in a week without one. The one count of such bars: the gap report
    (``validate``) and resampling's refusal both take it from here. All False for 24/7 or None."""
    calendar = calendar or bars.attrs.get("calendar")
    index = bars.index
    if calendar in (None, "none", CONTINUOUS) or len(index) == 0:
        return np.zeros(len(index), dtype=bool)
    if calendar == FX:
        timeframe = timeframe_of(bars)
        if timeframe in INTRADAY:
            return ~fx_bar_open(ns(index), TIMEFRAMES[timeframe])
        if timeframe == "d1":
            return ((ns(index) // DAY_NS + 3) % 7) >= 5  # Saturday or Sunday (1970-01-01 was a Thursday)
        return np.zeros(len(index), dtype=bool)
    day = pd.Timedelta(days=1)
    sessions = session_table(calendar, index.min() - day, index.max() + day)
    if len(sessions) == 0:
        return np.ones(len(index), dtype=bool)
    ts = ns(index)
    timeframe = timeframe_of(bars)
    if timeframe in INTRADAY:
        opens, closes = ns(sessions["open"]), ns(sessions["close"])
        pos = np.searchsorted(opens, ts, side="right") - 1
        return (pos < 0) | (ts >= closes[np.maximum(pos, 0)])
    days = ns(session_dates_utc(sessions))
    if timeframe == "w1":
        return ~np.isin(week_label_ns(ts), week_label_ns(days))
    return ~np.isin(ts // DAY_NS * DAY_NS, days)


def _labels(bars: pd.DataFrame) -> pd.DatetimeIndex:
    """The calendar label each bar stands for: its UTC date (d1) or its week's Monday (w1) on an
    exchange calendar, so a bar labelled 04:00 UTC still counts for its session; else the bar itself."""
    calendar, timeframe = bars.attrs.get("calendar"), timeframe_of(bars)
    if calendar in (None, CONTINUOUS) or timeframe in INTRADAY:
        return bars.index
    stamps = ns(bars.index)
    stamps = week_label_ns(stamps) if timeframe == "w1" else stamps // DAY_NS * DAY_NS
    return pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize("UTC")


def expected_index(bars: pd.DataFrame) -> pd.DatetimeIndex | None:
    """Bar opens the market calendar expects within the data's span; None if calendar unknown."""
    calendar = bars.attrs.get("calendar")
    timeframe = timeframe_of(bars)
    index = bars.index
    if calendar is None or len(index) == 0:
        return None
    first, last = _labels(bars).min(), index.max()
    if calendar == CONTINUOUS:
        return pd.date_range(first, last, freq=TIMEFRAMES[timeframe], name="ts")
    if calendar == FX:
        grid = pd.date_range(first, last, freq=TIMEFRAMES[timeframe], name="ts")
        if timeframe in INTRADAY:
            return grid[fx_bar_open(ns(grid), TIMEFRAMES[timeframe])]
        return grid[grid.dayofweek < 5] if timeframe == "d1" else grid
    if timeframe in INTRADAY:
        expected = _intraday_expected(index, calendar, TIMEFRAMES[timeframe])
    else:
        expected = session_dates_utc(session_table(calendar, first, last))
        if timeframe == "w1":
            expected = week_labels(expected).unique()
    expected = expected[(expected >= first) & (expected <= last)]
    return pd.DatetimeIndex(expected, name="ts")


def find_gaps(bars: pd.DataFrame) -> GapReport:
    """Compare the bars with their calendar: missing expected bars, and bars off the calendar."""
    timeframe = timeframe_of(bars)
    calendar = bars.attrs.get("calendar")
    expected = expected_index(bars)
    empty = pd.DatetimeIndex([], tz="UTC", name="ts")
    if expected is None:
        return GapReport(calendar, timeframe, 0, empty, empty, checked=False)
    labels = _labels(bars)
    missing = expected.difference(labels)
    # off the calendar: on a day (or hour) the market is closed, or not at the label of its period
    closed = outside_sessions(bars)
    off = closed | ~labels.isin(expected) | (labels != bars.index)
    unexpected = pd.DatetimeIndex(bars.index[off], name="ts")
    closed = pd.DatetimeIndex(bars.index[closed], name="ts")
    return GapReport(calendar, timeframe, len(expected), missing, unexpected, closed=closed)


def _forward_fill(bars: pd.DataFrame, missing: pd.DatetimeIndex) -> pd.DataFrame:
    """Insert ``missing`` bars as flat bars at the previous close with zero volume."""
    full = bars.reindex(bars.index.union(missing))
    close = full["close"].ffill()
    inserted = full.index.isin(missing)
    for col in ("open", "high", "low", "close"):
        full[col] = np.where(inserted, close, full[col])
    full["volume"] = np.where(inserted, 0.0, full["volume"])
    full.index.name = "ts"
    return with_attrs_of(full[list(OHLCV)], bars)


def check_gap_policy(policy: str) -> str:
    """Return ``policy`` if it is one of :data:`GAP_POLICIES`, else raise :class:`ConfigError`."""
    if policy not in GAP_POLICIES:
        raise ConfigError(f"`gaps` must be one of {', '.join(GAP_POLICIES)}. Got {policy!r}.")
    return policy


def apply_gap_policy(bars: pd.DataFrame, policy: str) -> tuple[pd.DataFrame, GapReport]:
    """Apply ``policy`` to the gaps of ``bars``; return the (possibly filled) bars and the report.

    ``refuse`` raises :class:`DataError` naming the first gap and the count; ``report`` returns
    the bars unchanged; ``ffill`` inserts each missing bar as O=H=L=C=previous close, volume 0
    (flat, so it adds no fake movement; zero volume marks it as filled).
    """
    check_gap_policy(policy)
    report = find_gaps(bars)
    if policy == "refuse" and report.count:
        raise DataError(
            f"{report.count} missing bar(s) against the {report.calendar} calendar, first at "
            f"{report.missing[0]}; fill them (gaps='ffill') or accept them (gaps='report')."
        )
    if policy == "refuse" and len(report.unexpected):
        raise DataError(f"{report.off_calendar()}; pass the right --tz or --calendar, or accept them "
                        "(gaps='report').")
    if policy == "ffill" and report.count:
        if len(report.unexpected.difference(report.closed)):  # filled bars would sit at other times than these
            raise DataError(f"cannot fill the gaps: {report.off_calendar()}; pass the right --tz or --calendar.")
        return _forward_fill(bars, report.missing), report
    return bars, report
