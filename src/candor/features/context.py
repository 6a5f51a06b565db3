"""Multi-timeframe context: features of a coarser timeframe joined onto the fine bars.

The coarse features (daily RSI, daily returns, daily distance to its SMA 20, ...) are computed on
``resample(bars, tf)`` — complete coarse bars only — and joined so that **a coarse bar is used
only after it has closed**: fine row ``i`` sees the latest coarse bar whose last constituent fine
row is at position ``<= i`` (from :func:`candor.data.resample.period_labels`). On the fine row
that completes a day, that day's bar becomes visible; on every earlier row of the day the
previous complete day is used. Truncating the fine series at any row therefore reproduces the
full computation's row exactly, which is the causality test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from candor.data.bars import INTRADAY, TIMEFRAMES
from candor.errors import ConfigError
from candor.features import indicators as ind
from candor.features.indicators import Inputs, Spec, lookback, rel

CoarseRow = tuple[str, int, Callable[[Inputs], np.ndarray]]
SESSION_MINUTES = 390  # one regular US equity session; the basis for bar counts on exchange calendars


def auto_context(timeframe: str) -> tuple[str, ...]:
    """Default context: intraday → daily, daily → weekly, weekly → none."""
    if timeframe in INTRADAY:
        return ("d1",)
    return ("w1",) if timeframe == "d1" else ()


def resolve_context(timeframes: tuple[str, ...] | None, timeframe: str) -> tuple[str, ...]:
    """The context timeframes to use for bars of ``timeframe``; each must be strictly coarser."""
    chosen = auto_context(timeframe) if timeframes is None else timeframes
    for tf in chosen:
        if TIMEFRAMES[tf] <= TIMEFRAMES[timeframe]:
            raise ConfigError(
                f"`context_timeframes` must be coarser than the bars' timeframe ({timeframe}). "
                f"Got {tf!r}; pick one of "
                f"{', '.join(t for t in TIMEFRAMES if TIMEFRAMES[t] > TIMEFRAMES[timeframe]) or 'none'}."
            )
    return tuple(chosen)


def bars_per_period(fine: str, coarse: str, calendar: str | None) -> int:
    """How many ``fine`` bars make one ``coarse`` bar (exchange sessions of 6.5 h, else 24/7)."""
    continuous = calendar is None or calendar == "24/7"

    def minutes(tf: str) -> float:
        if tf in ("d1", "w1"):
            day = 1440 if continuous else SESSION_MINUTES
            return day * (1 if tf == "d1" else (7 if continuous else 5))
        length = TIMEFRAMES[tf].total_seconds() / 60
        return length if continuous else min(length, SESSION_MINUTES)

    return max(1, math.ceil(minutes(coarse) / minutes(fine)))


def coarse_rows(s: int) -> list[CoarseRow]:
    """Features computed on the coarse bars: name (without prefix), coarse warm-up, function."""
    return [
        ("ret_1", 1, lambda x: ind.ret(x, 1)),
        ("ret_5", 5, lambda x: ind.ret(x, 5)),
        (f"rsi_{s}", lookback("RSI", timeperiod=s), lambda x: talib.RSI(x.close, s)),
        (f"atr_pct_{s}", lookback("ATR", timeperiod=s), lambda x: 100.0 * ind.atr(x, s) / x.close),
        (f"adx_{s}", lookback("ADX", timeperiod=s), lambda x: talib.ADX(x.high, x.low, x.close, s)),
        ("close_sma_20_ratio", lookback("SMA", timeperiod=20),
         lambda x: rel(x.close, ind.sma(x, "close", x.close, 20))),
        ("bb_pctb_20", lookback("BBANDS", timeperiod=20),
         lambda x: ind.div(x.close - ind.bbands(x, 20)[2],
                           ind.bbands(x, 20)[0] - ind.bbands(x, 20)[2], fill=0.5)),
        ("linreg_slope_10_pct", lookback("LINEARREG_SLOPE", timeperiod=10),
         lambda x: 100.0 * talib.LINEARREG_SLOPE(x.close, 10) / x.close),
    ]


def context_specs(s: int, timeframes: tuple[str, ...], timeframe: str, calendar: str | None) -> list[Spec]:
    """Column specs for every context timeframe; warm-ups are counted in *fine* bars.

    A coarse column with coarse warm-up ``w`` is first valid on the fine row that closes coarse
    bar ``w``; when the data starts mid-period the first partial period adds up to ``per - 1``
    rows, so the bound is ``(w + 2) * per - 1``.
    """
    specs: list[Spec] = []
    for tf in timeframes:
        per = bars_per_period(timeframe, tf, calendar)
        for name, warm, _ in coarse_rows(s):
            specs.append(Spec(f"{tf}_{name}", "context", (warm + 2) * per - 1,
                              lambda x, tf=tf, name=name: joined(x, tf, s)[name]))
        specs.append(Spec(f"close_{tf}_close_ratio", "context", 2 * per - 1,
                          lambda x, tf=tf: joined(x, tf, s)["fine_close"]))
        specs.append(Spec(f"close_{tf}_sma_20_ratio", "context", (lookback("SMA", timeperiod=20) + 2) * per - 1,
                          lambda x, tf=tf: joined(x, tf, s)["fine_sma"]))
    return specs


def joined(x: Inputs, tf: str, s: int) -> dict[str, np.ndarray]:
    """All context columns of ``tf`` for the fine bars in ``x`` (computed once per call)."""
    return x.memo(("context", tf), lambda: _compute_joined(x, tf, s))


def _compute_joined(x: Inputs, tf: str, s: int) -> dict[str, np.ndarray]:
    from candor.data.resample import resample

    coarse = resample(x.bars, tf)
    src = source_rows(x.bars, coarse.index, tf)
    cx = Inputs(coarse)
    out = {name: _take(fn(cx), src) for name, _, fn in coarse_rows(s)}
    out["fine_close"] = rel(x.close, _take(cx.close, src))
    out["fine_sma"] = rel(x.close, _take(ind.sma(cx, "close", cx.close, 20), src))
    return out


def _take(values: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``values[src]`` with NaN where no coarse bar has closed yet (``src == -1``)."""
    if len(values) == 0:
        return np.full(len(src), np.nan)
    out = values[np.maximum(src, 0)]
    out[src < 0] = np.nan
    return out


def source_rows(bars: pd.DataFrame, coarse_index: pd.DatetimeIndex, tf: str) -> np.ndarray:
    """For each fine row, the position of the latest *closed* coarse bar in ``coarse_index``.

    A coarse bar closes at its last constituent fine row (the greatest fine position labelled
    with it by ``period_labels``); from that row on it is visible. ``-1`` = none closed yet.
    """
    from candor.data.resample import period_labels

    n = len(bars)
    codes = _codes(pd.DatetimeIndex(period_labels(bars, tf)), coarse_index)
    rows = np.flatnonzero(codes >= 0)
    cv = codes[rows]
    if len(cv) and np.any(cv[1:] < cv[:-1]):
        raise ConfigError("`bars` must be sorted by time to join context features; sort them first.")
    last = np.ones(len(cv), dtype=bool)
    last[:-1] = cv[1:] != cv[:-1]
    src = np.full(n, -1, dtype=np.int64)
    src[rows[last]] = cv[last]
    return np.maximum.accumulate(src) if n else src


def _codes(labels: pd.DatetimeIndex, coarse_index: pd.DatetimeIndex) -> np.ndarray:
    """Position of each fine row's period label in ``coarse_index``; -1 for NaT or not emitted."""
    lab = labels.as_unit("ns").asi8
    ref = pd.DatetimeIndex(coarse_index).as_unit("ns").asi8
    if len(ref) == 0:
        return np.full(len(lab), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(ref, lab), len(ref) - 1)
    hit = ref[pos] == lab  # NaT is int64 min and never matches a real label
    return np.where(hit, pos, -1).astype(np.int64)
