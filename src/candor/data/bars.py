"""The bar frame contract shared by every part of candor.

A bar frame is a ``pandas.DataFrame`` with

* a UTC ``DatetimeIndex`` named ``ts`` — the bar's *open* time (bars are labelled at their start),
* float64 columns ``open high low close volume``,
* ``attrs["symbol"]`` and ``attrs["timeframe"]`` (one of :data:`TIMEFRAMES`),
* ``attrs["calendar"]``: ``"XNYS"`` (or another exchange_calendars code) for exchange-traded
  bars, ``"24/7"`` for crypto-style continuous markets, or ``None`` when unknown.
"""

from __future__ import annotations

import re

import pandas as pd

from candor.errors import ConfigError, DataError

OHLCV = ("open", "high", "low", "close", "volume")

#: Supported timeframes, finest first, with their nominal bar length.
TIMEFRAMES: dict[str, pd.Timedelta] = {
    "m1": pd.Timedelta(minutes=1),
    "m5": pd.Timedelta(minutes=5),
    "m15": pd.Timedelta(minutes=15),
    "h1": pd.Timedelta(hours=1),
    "h4": pd.Timedelta(hours=4),
    "d1": pd.Timedelta(days=1),
    "w1": pd.Timedelta(weeks=1),
}

INTRADAY = frozenset({"m1", "m5", "m15", "h1", "h4"})


def check_timeframe(timeframe: str) -> str:
    """Return ``timeframe`` if supported, else raise :class:`ConfigError` naming the choices."""
    if timeframe not in TIMEFRAMES:
        raise ConfigError(
            f"`timeframe` must be one of {', '.join(TIMEFRAMES)}. Got {timeframe!r}."
        )
    return timeframe


#: The one identifier rule for symbols (CLI, files, store, API, artifact paths). Tickers as
#: exchanges and data vendors write them (SPX, BRK.B, ^GSPC, EURUSD=X, BTC-USDT). No path
#: separators and no leading dot: a symbol names folders under ``<home>/models``.
SYMBOL_PATTERN = r"^[A-Za-z0-9^][A-Za-z0-9._^=-]{0,31}$"
_SYMBOL = re.compile(SYMBOL_PATTERN)


def check_symbol(symbol: str) -> str:
    """Return ``symbol`` if it is a safe ticker, else raise :class:`ConfigError` with the rule.

    A symbol never ends in a timeframe (``GOOD.d1``, ``h4``): registered names are
    ``candor.<SYMBOL>.<timeframe>[.h<horizon>]``, and ``GOOD.d1`` at h4 would be registered as
    ``candor.GOOD.d1.h4`` — the name of GOOD/d1 at horizon 4. With this rule every name reads back
    as exactly one series (``candor.registry.common.parse_model_name``)."""
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol) or ".." in symbol:
        raise ConfigError(
            "`symbol` must be 1-32 letters, digits or . _ ^ = - (no slashes, no '..', no leading dot), "
            f"e.g. SPX, BRK.B, BTC-USDT. Got {symbol!r}."
        )
    if symbol.rpartition(".")[2] in TIMEFRAMES:
        raise ConfigError(
            f"`symbol` must not end in a timeframe ({', '.join(TIMEFRAMES)}), alone or after a '.': registered "
            f"names are candor.<SYMBOL>.<timeframe>[.h<horizon>] and would read it as one. Got {symbol!r}; "
            "rename the series (e.g. GOOD-d1 for GOOD.d1)."
        )
    return symbol


def make_bars(
    frame: pd.DataFrame,
    symbol: str,
    timeframe: str,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Return a bar frame: OHLCV float columns, UTC ``ts`` index, symbol/timeframe/calendar attrs.

    ``frame`` must already have a DatetimeIndex (naive = UTC) and the five OHLCV columns.
    """
    check_timeframe(timeframe)
    check_symbol(symbol)
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing:
        raise DataError(f"bars are missing column(s) {', '.join(missing)}; need {', '.join(OHLCV)}.")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex of bar open times.")
    booleans = [c for c in OHLCV if pd.api.types.is_bool_dtype(frame[c])]
    if booleans:  # a boolean column would silently become 0/1
        raise DataError(f"column {booleans[0]!r} holds bool values, not numbers; fix the file's column types.")
    index = frame.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    bars = pd.DataFrame(
        {c: frame[c].to_numpy(dtype="float64") for c in OHLCV},
        # Nanoseconds always: a millisecond index (from Parquet or a provider) would otherwise be
        # read as nanoseconds by every rule that works on the int64 stamps.
        index=pd.DatetimeIndex(index, name="ts").as_unit("ns"),
    )
    bars.attrs.update(symbol=symbol, timeframe=timeframe, calendar=calendar)
    return bars


def with_attrs_of(frame: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """Copy the bar-frame attrs of ``template`` onto ``frame`` (pandas drops them in many ops)."""
    frame.attrs.update(
        symbol=template.attrs.get("symbol"),
        timeframe=template.attrs.get("timeframe"),
        calendar=template.attrs.get("calendar"),
    )
    return frame


def symbol_of(bars: pd.DataFrame) -> str:
    return str(bars.attrs.get("symbol") or "UNKNOWN")


def timeframe_of(bars: pd.DataFrame) -> str:
    timeframe = bars.attrs.get("timeframe")
    if timeframe is None:
        raise DataError("bar frame has no timeframe attribute; build it with candor.data.make_bars().")
    return str(timeframe)


#: ``--period`` choices (the seed train script's): calendar years of history ending at the last bar.
PERIODS: dict[str, int] = {"1y": 1, "2y": 2, "3y": 3, "5y": 5, "10y": 10}


def check_period(period: str | None) -> str | None:
    """Return ``period`` if it is one of :data:`PERIODS` (or None), else raise :class:`ConfigError`."""
    if period is not None and period not in PERIODS:
        raise ConfigError(f"`period` must be one of {', '.join(PERIODS)}. Got {period!r}.")
    return period


def last_period(bars: pd.DataFrame, period: str, *, min_rows: int = 1) -> pd.DataFrame:
    """The bars of the ``period`` (e.g. ``"5y"``) that ends at the last bar, attrs kept.

    A bar is inside when it opens after ``last bar − N calendar years``, so ``1y`` of daily bars
    is one year of sessions (about 252), whatever source the bars came from. Fewer than
    ``min_rows`` bars left is a :class:`DataError` naming the period and what is left.
    """
    check_period(period)
    if len(bars) == 0:
        raise DataError(f"`period` {period}: there are no bars to take it from.")
    start = bars.index[-1] - pd.DateOffset(years=PERIODS[period])
    window = with_attrs_of(bars.loc[bars.index > start].copy(), bars)
    if len(window) < min_rows:
        raise DataError(f"`period` {period} leaves {len(window)} bar(s) ({window.index[0]:%Y-%m-%d} .. "
                        f"{window.index[-1]:%Y-%m-%d}) of {len(bars)}; training needs at least {min_rows} — "
                        "pass a longer --period or leave it out to use all the bars.")
    return window
