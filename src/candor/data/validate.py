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


def _value_rules(bars: pd.DataFrame) -> None:
    o, h, l, c, v = (bars[col].to_numpy(dtype="float64") for col in OHLCV)
    idx = bars.index
    prices = np.column_stack([o, h, l, c])
    finite = np.isfinite(prices).all(axis=1) & np.isfinite(v)
    _fail("finite", idx, ~finite, "open/high/low/close/volume must be finite numbers (no NaN, no inf)")
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
    _value_rules(bars)
    if len(bars) < min_rows:
        first = bars.index[0] if len(bars) else None
        raise BarValidationError(
            "min_rows", first, len(bars),
            f"need at least {min_rows} rows (longest lookback + horizon), got {len(bars)}",
        )
