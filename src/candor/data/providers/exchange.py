"""The ccxt adapter: OHLCV candles from a crypto exchange, paged through ccxt's unified API.

ccxt does the exchange's wire format, symbol mapping (``BTC/USDT`` → ``BTCUSDT``), rate limits and
error classes; candor pages by time (``since`` = the last candle + one bar, ``until`` = the end of
the window) so no candle is asked for twice — a duplicate in the result is the exchange's, and
validation refuses it instead of it being silently merged away.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pandas as pd

from candor.data.bars import OHLCV, TIMEFRAMES, make_bars
from candor.data.gaps import CONTINUOUS
from candor.errors import ConfigError, DataError

#: candor timeframe → ccxt's unified timeframe.
TIMEFRAME_CODES = {"m1": "1m", "m5": "5m", "m15": "15m", "h1": "1h", "h4": "4h", "d1": "1d", "w1": "1w"}
#: Candles asked for per request (exchanges cap it, e.g. Binance at 1000; a smaller cap just pages more).
PAGE_LIMIT = 1000


def check_exchange(ccxt: ModuleType, exchange: str) -> str:
    """``exchange`` is an exchange id ccxt knows (no request made)."""
    if exchange not in ccxt.exchanges:
        raise ConfigError(f"`exchange` must be a ccxt exchange id such as binance, kraken or coinbase. "
                          f"Got {exchange!r}.")
    return exchange


def make_client(ccxt: ModuleType, exchange: str, session: Any = None) -> Any:
    """The ccxt exchange object (public endpoints only; no API keys are needed for candles)."""
    check_exchange(ccxt, exchange)
    # the last response kept, raw and parsed: a body that is not JSON (truncated) is told from an empty page
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": 30_000, "enableLastHttpResponse": True,
                              "enableLastJsonResponse": True}
    if session is not None:
        config["session"] = session
    return getattr(ccxt, exchange)(config)


def _unreadable(client: Any) -> str | None:
    """Why the last response cannot be candles: a body that is not JSON (cut off in transit, an HTML
    error page served with status 200). ccxt turns such a body into an empty page without a word,
    which would read as "no candles for this symbol"."""
    body = client.last_http_response
    if client.last_json_response is None and isinstance(body, str) and body.strip():
        return (f"the exchange's response was truncated or is not valid JSON ({len(body):,} characters, "
                f"starting {body.strip()[:40]!r}); try again, or check the exchange's status")
    return None


def _pages(client: Any, symbol: str, code: str, since: int, until: int, step: int, origin: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    while since <= until:
        page = client.fetch_ohlcv(symbol, code, since=since, limit=PAGE_LIMIT, params={"until": until})
        reason = _unreadable(client)
        if reason is None and any(row is None or len(row) < 6 or row[0] is None for row in page):
            reason = "the exchange's response holds a candle without a time or with fewer than 6 fields (truncated?)"
        if reason is not None:
            raise DataError(f"{origin}: {reason}.")
        if not page:
            break
        rows.extend(page)
        following = int(page[-1][0]) + step
        if following <= since:  # the exchange did not move forward: stop rather than ask forever
            break
        since = following
    return rows


def download(ccxt: ModuleType, exchange: str, symbol: str, name: str, timeframe: str, start: pd.Timestamp,
             stop: pd.Timestamp, *, session: Any = None, origin: str) -> pd.DataFrame:
    """Candles of ``symbol`` opening in [start, stop] on ``exchange``, as a 24/7 bar frame."""
    client = make_client(ccxt, exchange, session)
    if not client.has.get("fetchOHLCV"):
        raise ConfigError(f"`exchange` {exchange!r} offers no OHLCV candles in ccxt; choose another exchange.")
    code = TIMEFRAME_CODES[timeframe]
    if code not in (client.timeframes or {}):
        raise ConfigError(f"`timeframe` {timeframe} ({code}) is not offered by {exchange}; it offers "
                          f"{', '.join(client.timeframes or {}) or 'none'}.")
    since, until = start.value // 1_000_000, stop.value // 1_000_000
    try:
        client.load_markets()
        rows = _pages(client, symbol, code, since, until, TIMEFRAMES[timeframe].value // 1_000_000, origin)
    except ccxt.BaseError as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"{origin}: {type(exc).__name__}: {reason}") from None
    frame = pd.DataFrame(rows, columns=["ts", *OHLCV], dtype="float64") if rows else pd.DataFrame(
        columns=["ts", *OHLCV], dtype="float64")
    frame = frame[(frame["ts"] >= since) & (frame["ts"] <= until)]
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("ts").astype("int64"), unit="ms", utc=True), name="ts")
    return make_bars(frame, name, timeframe, CONTINUOUS)
