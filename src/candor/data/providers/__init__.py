"""Live bars from data providers: yfinance (Yahoo) and ccxt (crypto exchanges), optional extras.

``fetch_bars`` downloads one series and holds it to the same rules as every file
(:func:`candor.data.validate.validate_bars`, the gap policy of :mod:`candor.data.gaps`) plus two
that only a feed can break: one time alignment for every bar (a provider that switches time zone
or session hours mid-series is refused, not stored), and only *closed* bars (the still-forming
last candle of a live feed would otherwise be stored and never corrected). ``candor.application.ingest.store_bars``
puts them into ``ohlc_bars`` idempotently.

Symbols: a provider's symbol is stored under :func:`stored_symbol` — ``/`` and ``:`` become ``-``
(``BTC/USDT`` → ``BTC-USDT``, ``BTC/USDT:USDT`` → ``BTC-USDT-USDT``), everything else is kept
(``^GSPC``, ``EURUSD=X``, ``BRK-B``) and must pass :func:`candor.data.bars.check_symbol`, so a
symbol such as ``../x`` is refused before any request is made.

The provider libraries are imported only when a fetch asks for them: without the extra installed
the error is one line naming the ``pip install`` to run (exit code 1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from candor.data.bars import check_timeframe, timeframe_of
from candor.data.gaps import apply_gap_policy, check_calendar, check_gap_policy
from candor.data.providers.checks import (
    DEFAULT_EXCHANGE,
    PROVIDERS,
    check_alignment,
    check_provider,
    closed_bars,
    import_extra,
    parse_period,
    stored_symbol,
)
from candor.data.resample import resample
from candor.data.validate import validate_bars
from candor.errors import ConfigError, DataError


def _checked(origin: str, check: Callable[[], Any]) -> Any:
    """Run a check; a data error names the provider request it came from."""
    try:
        return check()
    except ConfigError:
        raise
    except DataError as exc:
        raise DataError(f"{origin}: {exc}") from None


def check_fetch(provider: str, symbol: str, timeframe: str, period: str, *, exchange: str | None = None,
                calendar: str | None = None, gaps: str = "refuse") -> tuple[pd.DateOffset, str, str | None]:
    """Every option of :func:`fetch_bars` checked without a request (ConfigError naming the option),
    and the provider's package installed (its optional extra): the period's offset, the stored
    symbol and the calendar override, as ``fetch_bars`` uses them."""
    check_provider(provider)
    check_timeframe(timeframe)
    offset = parse_period(period)
    name = stored_symbol(symbol)
    check_gap_policy(gaps)
    calendar = check_calendar(calendar)
    if exchange is not None and provider != "ccxt":
        raise ConfigError(f"`exchange` applies to the ccxt provider only. Got {exchange!r} with {provider}.")
    module = import_extra(provider)
    if provider == "ccxt":
        from candor.data.providers.exchange import check_exchange

        check_exchange(module, exchange or DEFAULT_EXCHANGE)
    return offset, name, calendar


def fetch_bars(
    provider: str,
    symbol: str,
    timeframe: str,
    period: str,
    *,
    exchange: str | None = None,
    end: datetime | pd.Timestamp | None = None,
    calendar: str | None = None,
    gaps: str = "refuse",
    session: Any = None,
    cache_dir: str | None = None,
) -> pd.DataFrame:
    """Download ``period`` of ``timeframe`` bars of ``symbol`` ending at ``end`` (default now, UTC).

    Returns a validated bar frame named :func:`stored_symbol` (``attrs`` symbol/timeframe/
    calendar). ``exchange`` (ccxt only; default binance) picks the exchange; ``calendar``
    overrides the one inferred (ccxt: 24/7; yfinance: XNYS for New York listings, 24/7 for
    crypto, else none); ``gaps`` is the policy for missing bars (refuse, report, ffill);
    ``session`` is the HTTP session the provider library talks through (a ``requests.Session``;
    default: the library's own); ``cache_dir`` is where yfinance keeps its caches.
    """
    offset, name, calendar = check_fetch(provider, symbol, timeframe, period, exchange=exchange, calendar=calendar,
                                         gaps=gaps)
    stop = pd.Timestamp(end if end is not None else datetime.now(UTC))
    stop = stop.tz_localize("UTC") if stop.tzinfo is None else stop.tz_convert("UTC")
    start = stop - offset
    if provider == "ccxt":
        from candor.data.providers.exchange import download

        origin = f"ccxt {exchange or DEFAULT_EXCHANGE} {symbol} {timeframe}"
        raw = download(import_extra("ccxt"), exchange or DEFAULT_EXCHANGE, symbol, name, timeframe, start, stop,
                       session=session, origin=origin)
    else:
        from candor.data.providers.yahoo import download

        origin = f"yfinance {symbol} {timeframe}"
        raw = download(import_extra("yfinance"), symbol, name, timeframe, start, stop, session=session,
                       cache_dir=cache_dir, origin=origin)
    if calendar is not None:
        raw.attrs["calendar"] = None if calendar == "none" else calendar
    if raw.empty:
        raise DataError(f"{origin}: the provider returned no bars from {start} to {stop}; check the symbol "
                        "and the period (some providers keep only weeks of intraday history).")
    _checked(origin, lambda: validate_bars(raw))
    check_alignment(raw, origin)
    bars = _checked(origin, lambda: closed_bars(raw, stop))
    if timeframe_of(bars) != timeframe:
        bars = _checked(origin, lambda: resample(bars, timeframe))
    if bars.empty:
        raise DataError(f"{origin}: no bar had closed by {stop}; fetch a longer period.")
    filled, _ = _checked(origin, lambda: apply_gap_policy(bars, gaps))
    return filled

__all__ = [
    "DEFAULT_EXCHANGE", "PROVIDERS", "check_alignment", "check_fetch", "check_provider", "closed_bars",
    "fetch_bars", "import_extra", "parse_period", "stored_symbol",
]
