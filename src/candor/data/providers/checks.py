"""The checks a provider feed must pass beyond the file rules, and the names it is stored under."""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pandas as pd

from candor.data.bars import TIMEFRAMES, check_symbol, timeframe_of
from candor.data.resample import bar_close_times
from candor import extras
from candor.errors import ConfigError, DataError

PROVIDERS: tuple[str, ...] = ("yfinance", "ccxt")
DEFAULT_EXCHANGE = "binance"

_PERIOD = re.compile(r"^(\d{1,4})(d|w|mo|y)$")
_PERIOD_UNITS = {"d": "days", "w": "weeks", "mo": "months", "y": "years"}

#: Weeks open on Monday 00:00 UTC (how w1 bars are labelled); 1970-01-01 was a Thursday, so week
#: offsets are counted from the first Monday, 1970-01-05.
_MONDAY_NS = pd.Timestamp("1970-01-05", tz="UTC").value


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise ConfigError(f"`provider` must be one of {', '.join(PROVIDERS)}. Got {provider!r}.")
    return provider


def parse_period(period: str) -> pd.DateOffset:
    """``30d``, ``2w``, ``6mo``, ``5y`` → the calendar offset back from the end of the window."""
    match = _PERIOD.match(str(period).strip().lower()) if isinstance(period, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError("`period` must be a positive number and a unit d, w, mo or y "
                          f"(e.g. 30d, 6mo, 5y). Got {period!r}.")
    return pd.DateOffset(**{_PERIOD_UNITS[match.group(2)]: int(match.group(1))})


def stored_symbol(symbol: str) -> str:
    """The name a provider's symbol is stored under: ``/`` and ``:`` → ``-``, then the symbol rule."""
    if not isinstance(symbol, str) or not symbol:
        raise ConfigError(f"`symbol` must name the provider's symbol, e.g. SPY or BTC/USDT. Got {symbol!r}.")
    try:
        return check_symbol(symbol.replace("/", "-").replace(":", "-"))
    except ConfigError:
        raise ConfigError(
            "`symbol` must be the provider's ticker: letters, digits, . _ ^ = - and, for crypto pairs, / or : "
            f"(stored with - instead), no '..', no leading dot or slash, e.g. SPY, ^GSPC, BTC/USDT. Got {symbol!r}."
        ) from None


def import_extra(provider: str) -> ModuleType:
    """Import the provider's library, or one line naming the extra to install (exit code 1)."""
    return extras.import_extra(provider, provider, f"the {provider} provider", DataError)


def _fmt_offset(value: int) -> str:
    minutes = value // 60_000_000_000
    days, rest = divmod(minutes, 24 * 60)
    return (f"{days}d " if days else "") + f"{rest // 60:02d}:{rest % 60:02d}"


def check_alignment(bars: pd.DataFrame, origin: str) -> None:
    """Every bar must open at the same offset into its period (minute, hour, day or week, UTC).

    Honest feeds keep one alignment (hourly bars at :00, or at :30 for a 09:30 session; daily bars
    at one time of day). A second alignment means the feed changed time zone or session hours
    mid-series: stored as it is, the bars would be mislabelled on one side of the change.
    """
    if len(bars) < 2:
        return
    timeframe = timeframe_of(bars)
    length = TIMEFRAMES[timeframe].value
    offsets = (bars.index.as_unit("ns").asi8 - (_MONDAY_NS if timeframe == "w1" else 0)) % length
    changed = offsets != offsets[0]
    if changed.any():
        first = int(np.argmax(changed))
        raise DataError(
            f"{origin}: bars change time alignment at {bars.index[first]} (time zone change?): "
            f"{first} bar(s) open at +{_fmt_offset(int(offsets[0]))} into the {timeframe} period (UTC), "
            f"{int(changed.sum())} at another offset (+{_fmt_offset(int(offsets[first]))}); the provider switched "
            "time zone or session hours — fetch a period on one side of the change."
        )


def closed_bars(bars: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Only bars that had closed by ``end`` (a live feed's last candle is still forming)."""
    if bars.empty:
        return bars
    closes = bar_close_times(bars)
    return bars.loc[(closes <= end).to_numpy()]
