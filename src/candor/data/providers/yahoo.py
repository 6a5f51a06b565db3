"""The yfinance adapter: Yahoo's chart API through yfinance's own session, parsing and errors.

Prices are as traded — ``auto_adjust=False``, Yahoo's close (split-adjusted, not dividend-
adjusted): dividend-adjusted history is rewritten at every dividend, which would make the stored
series disagree with itself; a later split shows up as a revision that :func:`store_bars`
refuses. Daily and weekly bars are labelled at their session date 00:00 UTC (candor's rule), not
at the exchange's local midnight; intraday bars at their UTC open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pandas as pd

from candor.data.bars import OHLCV, make_bars
from candor.data.gaps import CONTINUOUS, FX
from candor.errors import DataError

#: candor timeframe → (Yahoo interval, the timeframe Yahoo returns; h4 is resampled from h1).
INTERVALS: dict[str, tuple[str, str]] = {
    "m1": ("1m", "m1"), "m5": ("5m", "m5"), "m15": ("15m", "m15"), "h1": ("1h", "h1"),
    "h4": ("1h", "h1"), "d1": ("1d", "d1"), "w1": ("1wk", "w1"),
}
_NEW_YORK_LISTINGS = frozenset({"EQUITY", "ETF", "INDEX", "MUTUALFUND"})


@contextmanager
def _exceptions_raised(yf: ModuleType) -> Iterator[None]:
    """yfinance logs errors and returns an empty frame by default; candor needs the reason."""
    debug = yf.config.debug
    saved = debug.hide_exceptions
    debug.hide_exceptions = False
    try:
        yield
    finally:
        debug.hide_exceptions = saved


def _calendar(meta: dict[str, Any]) -> str | None:
    """24/7 for crypto, 24/5 for currencies, XNYS for New York listings, else unknown (no gap
    check; --calendar sets one)."""
    kind = str(meta.get("instrumentType") or "").upper()
    if kind == "CRYPTOCURRENCY":
        return CONTINUOUS
    if kind == "CURRENCY":
        return FX
    if kind in _NEW_YORK_LISTINGS and meta.get("exchangeTimezoneName") == "America/New_York":
        return "XNYS"
    return None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _utc_index(index: pd.DatetimeIndex, native: str) -> pd.DatetimeIndex:
    if native in ("d1", "w1"):  # the exchange's local session date, labelled 00:00 UTC
        local = index.tz_localize(None) if index.tz is not None else index
        return pd.DatetimeIndex(local.normalize()).tz_localize("UTC")
    return index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")


def download(yf: ModuleType, symbol: str, name: str, timeframe: str, start: pd.Timestamp, stop: pd.Timestamp,
             *, session: Any = None, cache_dir: str | None = None, origin: str) -> pd.DataFrame:
    """Bars of ``symbol`` in [start, stop) at Yahoo's interval for ``timeframe``, as a bar frame."""
    interval, native = INTERVALS[timeframe]
    if cache_dir is not None:  # yfinance keeps time-zone and cookie caches; keep them under <home>
        yf.set_tz_cache_location(str(cache_dir))
    # yfinance memoises past-range responses per process; a fetch must see what the provider says now.
    yf.data.YfData.cache_get.cache_clear()
    try:
        ticker = yf.Ticker(symbol, session=session)
        with _exceptions_raised(yf):
            frame = ticker.history(start=start.to_pydatetime(), end=stop.to_pydatetime(), interval=interval,
                                   auto_adjust=False, actions=False, timeout=30)
        meta = ticker.get_history_metadata() or {}
    except Exception as exc:  # yfinance, its HTTP backend and JSON parsing raise many unrelated classes
        raise DataError(f"{origin}: {_reason(exc)}") from None
    frame = frame.rename(columns=str.lower)
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing and not frame.empty:
        raise DataError(f"{origin}: the response has no {', '.join(missing)} column(s).")
    table = pd.DataFrame({c: frame[c].to_numpy(dtype="float64") if c in frame else [] for c in OHLCV},
                         index=_utc_index(pd.DatetimeIndex(frame.index), native))
    return make_bars(table, name, native, _calendar(meta))
