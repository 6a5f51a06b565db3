"""Bar validation: one function, one error class, one rule per check.

Bad bars must fail *before* anything is computed or written, with a message that names the rule,
the first offending bar and how many bars break it, so a user can find the row in their file.
Checks run in a fixed order (:data:`RULES`); the first failing rule is raised. Everything is
vectorised: validation runs on every load, including million-bar frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.data.bars import OHLCV, TIMEFRAMES, check_symbol
from candor.errors import BarValidationError, DataError

#: The rules, in the order they are checked.
RULES: tuple[str, ...] = (
    "sorted",
    "unique_ts",
    "spacing",
    "alignment",
    "finite",
    "positive_prices",
    "high_ge_low",
    "high_ge_open_close",
    "low_le_open_close",
    "nonnegative_volume",
    "min_rows",
)


def _fail(rule: str, index: pd.Index, bad: np.ndarray, detail: str) -> None:
    """Raise for ``rule`` if any element of the boolean mask ``bad`` is set."""
    count = int(bad.sum())
    if count:
        first = index[int(np.argmax(bad))]
        raise BarValidationError(rule, first, count, detail)


def _check_shape(bars: pd.DataFrame) -> None:
    """A frame that is not a bar frame at all is a usage problem, not a rule violation."""
    missing = [c for c in OHLCV if c not in bars.columns]
    if missing:
        raise DataError(
            f"bars are missing column(s) {', '.join(missing)}; build them with candor.data.make_bars()."
        )
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex of bar open times; build them with make_bars().")
    # The symbol names directories and registered models: one set in attrs by hand (``--symbol``
    # over a dataset) must pass the same rule as make_bars', or ``../x`` escapes the home.
    if bars.attrs.get("symbol") is not None:
        check_symbol(str(bars.attrs["symbol"]))


def _order_rules(index: pd.DatetimeIndex) -> None:
    values = index.asi8
    if len(values) > 1:
        # A bar that opens before its predecessor; NaT (min int64) counts as out of order too.
        backwards = np.concatenate([[False], values[1:] < values[:-1]])
        _fail("sorted", index, backwards, "timestamps must increase; sort the file by time")
    _fail("unique_ts", index, index.duplicated(keep="first"),
          "each bar open time may appear once; remove the duplicate rows")


def _spacing_rule(bars: pd.DataFrame) -> None:
    """Bars closer together than half a bar of their timeframe are another series mixed in: daily
    and hourly rows in one file, or one session written twice at two UTC offsets. (Half, not
    one: daylight-saving shifts and holiday-anchored weeks make honest steps a little short.)"""
    timeframe = bars.attrs.get("timeframe")
    if timeframe not in TIMEFRAMES or len(bars) < 2:
        return
    half = TIMEFRAMES[timeframe].value // 2
    steps = np.diff(bars.index.asi8)
    too_close = np.concatenate([[False], (steps > 0) & (steps < half)])
    _fail("spacing", bars.index, too_close,
          f"bars of timeframe {timeframe} must be at least half a bar apart; the file mixes timeframes or "
          "repeats a session at another UTC offset — split it, or give the right --timeframe / --tz")


_GRID = {"m1": "minute", "m5": "5 minutes", "m15": "15 minutes", "h1": "hour", "h4": "4 hours"}
_HOUR = 3_600_000_000_000
_DAY = 24 * _HOUR
#: The largest price or volume magnitude accepted: squares and products of such values (variances,
#: price × volume) stay finite in float64, so no feature overflows to inf on an honest-looking row.
MAX_VALUE = 1e100


def _alignment_rule(bars: pd.DataFrame) -> None:
    """Every bar opens at one phase of its timeframe: daily and weekly bars at one time of day (UTC),
    intraday bars on one grid of their bar length. A second phase is two series or two time zones
    mixed (00:00 and 19:00 daily bars, naive dates beside ``-05:00`` ones), which no gap rule sees once
    the calendar is 24/7. One exception: two phases exactly one hour apart are a local label across a
    daylight-saving change (04:00/05:00 UTC for New York midnight; XNYS h4 bars at 13:30/14:30)."""
    timeframe = bars.attrs.get("timeframe")
    if timeframe not in TIMEFRAMES or len(bars) < 2:
        return
    period = _DAY if timeframe in ("d1", "w1") else TIMEFRAMES[timeframe].value
    phase = bars.index.asi8 % period
    values, counts = np.unique(phase, return_counts=True)
    if len(values) == 1:
        return
    main = int(values[np.argmax(counts)])
    allowed = [main]
    if period > _HOUR:
        shifted = {(main + _HOUR) % period: 0, (main - _HOUR) % period: 0}
        for value, count in zip(values.tolist(), counts.tolist()):
            if value in shifted:
                shifted[value] = count
        partner, seen = max(shifted.items(), key=lambda item: item[1])
        if seen:
            allowed.append(partner)
    bad = ~np.isin(phase, allowed)
    if bad.any():
        one, other = bars.index[int(np.argmax(phase == main))], bars.index[int(np.argmax(bad))]
        where = ("at one time of day (UTC)" if period == _DAY
                 else f"on one {timeframe} grid (at the same offset into every {_GRID[timeframe]}, UTC)")
        _fail("alignment", bars.index, bad,
              f"bars of timeframe {timeframe} must open {where}; {one} and {other} do not agree — the bars mix "
              "UTC offsets or time zones, or two series; write every time in one offset, or give the right --tz")


def _value_rules(bars: pd.DataFrame) -> None:
    o, h, l, c, v = (bars[col].to_numpy(dtype="float64") for col in OHLCV)
    idx = bars.index
    prices = np.column_stack([o, h, l, c])
    values = np.column_stack([prices, v])
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (np.abs(values) <= MAX_VALUE)
    if not ok.all():
        row, col = np.argwhere(~ok)[0]
        _fail("finite", idx, ~ok.all(axis=1),
              f"open/high/low/close/volume must be finite numbers (no NaN, no inf) of magnitude at most "
              f"{MAX_VALUE:.0e}, or the features overflow; {OHLCV[col]} is {float(values[row, col]):g} there")
    _fail("positive_prices", idx, (prices <= 0).any(axis=1), "open/high/low/close must be > 0")
    _fail("high_ge_low", idx, h < l, "high must be >= low")
    _fail("high_ge_open_close", idx, h < np.maximum(o, c), "high must be >= max(open, close)")
    _fail("low_le_open_close", idx, l > np.minimum(o, c), "low must be <= min(open, close)")
    _fail("nonnegative_volume", idx, v < 0, "volume must be >= 0")


def validate_bars(bars: pd.DataFrame, *, min_rows: int = 0) -> None:
    """Raise :class:`BarValidationError` for the first rule in :data:`RULES` that ``bars`` break.

    ``min_rows`` is what the caller needs: its longest lookback plus the label horizon. Returns
    ``None`` when every rule passes.
    """
    _check_shape(bars)
    _order_rules(bars.index)
    _spacing_rule(bars)
    _alignment_rule(bars)
    _value_rules(bars)
    if len(bars) < min_rows:
        first = bars.index[0] if len(bars) else None
        raise BarValidationError(
            "min_rows", first, len(bars),
            f"need at least {min_rows} rows (longest lookback + horizon), got {len(bars)}",
        )
