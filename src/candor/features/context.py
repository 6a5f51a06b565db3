"""Multi-timeframe context: features of a coarser timeframe joined onto the fine bars.

The coarse features (daily RSI, daily returns, daily distance to its SMA 20, ...) are computed on
``resample(bars, tf)`` — complete coarse bars only — and joined so that **a coarse bar is used
only after it has closed, as far as the bars that exist at that time can tell**: fine row ``i``
sees the latest coarse bar whose period has ended by the close of row ``i`` (some fine row up to
``i`` closes at or after the period end, from :func:`candor.data.resample.period_bounds_ns`) and
whose constituent rows are all at positions ``<= i``. On the fine row that completes a day, that
day's bar becomes visible; on every earlier row of the day the previous complete day is used.

Why the period end and not only the last constituent row: when a session's last bar is missing
(early closes in ``aapl_h1`` stop at 12:30, not 13:00; a Friday missing from a week), the last
row present is not known to be the last until a later bar arrives. A live forecast at that row
cannot know it either, so the day (week) becomes visible on the next row — the first bar after
its end — in training exactly as live. Truncating the fine series at any row therefore
reproduces the full computation's row exactly, which is the causality test.

Every coarse column is a finite window: its value does not depend on where the series starts, so
its warm-up is exact. RSI, ATR and ADX on the coarse bars are therefore their simple-average
forms (Cutler's RSI; the mean true range; DI from summed directional movement, ADX the mean DX),
named ``rsi_sma_14``…: Wilder's recursions on weekly bars would need about 150 weeks (1,077 daily
bars around the clock) before their value stops depending on the first bar
(``benchmarks/feature_warmup.py``), against 27 weeks for the windowed forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

from candor.data.bars import INTRADAY, TIMEFRAMES, make_bars, symbol_of
from candor.data.resample import period_bounds_ns
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
    continuous = calendar is None or calendar in ("24/7", "24/5")  # FX (24/5): round-the-clock days

    def minutes(tf: str) -> float:
        if tf in ("d1", "w1"):
            day = 1440 if continuous else SESSION_MINUTES
            return day * (1 if tf == "d1" else (7 if continuous else 5))
        length = TIMEFRAMES[tf].total_seconds() / 60
        return length if continuous else min(length, SESSION_MINUTES)

    return max(1, math.ceil(minutes(coarse) / minutes(fine)))


def _true_range(x: Inputs) -> np.ndarray:
    return x.memo("trange", lambda: talib.TRANGE(x.high, x.low, x.close))


def sma_rsi(x: Inputs, p: int) -> np.ndarray:
    """Cutler's RSI: 100 × the summed gains over the summed moves of the last ``p`` closes (50 when flat)."""
    move = ind.lag_diff(x.close, 1)
    gains, losses = talib.SUM(np.maximum(move, 0.0), p), talib.SUM(np.maximum(-move, 0.0), p)
    return ind.div(100.0 * gains, gains + losses, fill=50.0)


def sma_atr_pct(x: Inputs, p: int) -> np.ndarray:
    """The mean true range of the last ``p`` bars, in percent of the close."""
    return 100.0 * talib.SMA(_true_range(x), p) / x.close


def sma_adx(x: Inputs, p: int) -> np.ndarray:
    """ADX from windowed sums: +DI / -DI are the ``p``-bar sums of Wilder's directional movement over
    the summed true range, DX = 100 |+DI - -DI| / (+DI + -DI), ADX its ``p``-bar mean (2p - 1 bars)."""
    up, down = ind.lag_diff(x.high, 1), -ind.lag_diff(x.low, 1)
    plus = np.where((up > down) & (up > 0), up, 0.0)
    minus = np.where((down > up) & (down > 0), down, 0.0)
    plus[:1] = minus[:1] = ind.NAN
    true_range = talib.SUM(_true_range(x), p)
    plus_di = ind.div(100.0 * talib.SUM(plus, p), true_range)
    minus_di = ind.div(100.0 * talib.SUM(minus, p), true_range)
    dx = ind.div(100.0 * np.abs(plus_di - minus_di), plus_di + minus_di)
    return talib.SMA(dx, p)


def coarse_rows(s: int) -> list[CoarseRow]:
    """Features computed on the coarse bars: name (without prefix), coarse warm-up, function."""
    return [
        ("ret_1", 1, lambda x: ind.ret(x, 1)),
        ("ret_5", 5, lambda x: ind.ret(x, 5)),
        (f"rsi_sma_{s}", s, lambda x: sma_rsi(x, s)),
        (f"atr_sma_pct_{s}", s, lambda x: sma_atr_pct(x, s)),
        (f"adx_sma_{s}", 2 * s - 1, lambda x: sma_adx(x, s)),
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
                              lambda x, tf=tf, name=name: _gather(x, tf, s, name)))
        specs.append(Spec(f"close_{tf}_close_ratio", "context", 2 * per - 1,
                          lambda x, tf=tf: _fine_vs(x, tf, s, "close")))
        specs.append(Spec(f"close_{tf}_sma_20_ratio", "context", (lookback("SMA", timeperiod=20) + 2) * per - 1,
                          lambda x, tf=tf: _fine_vs(x, tf, s, "sma_20")))
    return specs


def _gather(x: Inputs, tf: str, s: int, name: str) -> np.ndarray:
    """Coarse column ``name`` spread over the fine rows: row i gets the latest closed bar's value."""
    index, table = x.memo(("context", tf), lambda: _compute_joined(x, tf, s))
    out = np.empty(x.n) if x.dest is None else x.dest
    return np.take(table[name], index, out=out)


def _fine_vs(x: Inputs, tf: str, s: int, name: str) -> np.ndarray:
    """The fine close relative to the latest closed coarse close / SMA 20, minus 1."""
    level = _gather(x, tf, s, name)
    return rel(x.close, level, out=level)


def _compute_joined(x: Inputs, tf: str, s: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per fine row the index into the per-coarse-bar tables (0 = none closed yet → NaN),
    and those tables: every coarse column plus the coarse close and SMA 20."""
    codes, _, agg, ends, bar_close = _coarse_arrays(x.bars, tf)
    index = source_rows(codes, ends, bar_close) + 1
    cx = Inputs.of_arrays(agg)
    columns = {name: fn(cx) for name, _, fn in coarse_rows(s)}
    columns["close"] = cx.close
    columns["sma_20"] = ind.sma(cx, "close", cx.close, 20)
    return index, {name: np.concatenate(([np.nan], values)) for name, values in columns.items()}


def coarse_bars(bars: pd.DataFrame, tf: str) -> tuple[np.ndarray, pd.DataFrame]:
    """The complete coarse bars of ``bars`` and, per fine row, the position of its coarse bar.

    Equal to :func:`candor.data.resample.resample` (same labels from ``period_labels``, same
    first/max/min/last/sum aggregation — a test checks it) but done with ``np.*.reduceat`` over
    the contiguous runs of each label, which keeps the 1M-bar benchmark in milliseconds.
    Returns ``codes`` (-1 where the fine row's period is incomplete) and the coarse frame.
    """
    codes, coarse, _, _ = _coarse_with_bounds(bars, tf)
    return codes, coarse


def _coarse_with_bounds(bars: pd.DataFrame, tf: str) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`coarse_bars` plus each coarse bar's period end and each fine row's close (ns)."""
    codes, labels, agg, ends, bar_close = _coarse_arrays(bars, tf)
    index = pd.DatetimeIndex(labels.astype("datetime64[ns]")).tz_localize("UTC")
    coarse = make_bars(pd.DataFrame(agg, index=index), symbol_of(bars), tf, bars.attrs.get("calendar"))
    return codes, coarse, ends, bar_close


def _coarse_arrays(bars: pd.DataFrame, tf: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray],
                                                            np.ndarray, np.ndarray]:
    """Per fine row its coarse bar (``codes``), then per coarse bar its label (int64 ns) and
    OHLCV arrays, each coarse bar's period end, and each fine row's close (ns)."""
    lab, end, bar_close = period_bounds_ns(bars, tf)
    rows = np.flatnonzero(lab != np.iinfo(np.int64).min)
    lv = lab[rows]
    if len(lv) and np.any(lv[1:] < lv[:-1]):
        raise ConfigError("`bars` must be sorted by time to join context features; sort them first.")
    first = np.ones(len(lv), dtype=bool)
    first[1:] = lv[1:] != lv[:-1]
    starts = np.flatnonzero(first)
    # No complete coarse period yet (a very short history) leaves nothing to aggregate.
    ends = np.r_[starts[1:], len(lv)] - 1 if len(starts) else np.empty(0, dtype=np.int64)
    codes = np.full(len(bars), -1, dtype=np.int64)
    codes[rows] = np.cumsum(first) - 1
    agg = {
        "open": x_at(bars, "open", rows[starts]),
        "high": np.maximum.reduceat(x_at(bars, "high", rows), starts) if len(rows) else np.empty(0),
        "low": np.minimum.reduceat(x_at(bars, "low", rows), starts) if len(rows) else np.empty(0),
        "close": x_at(bars, "close", rows[ends]),
        "volume": np.add.reduceat(x_at(bars, "volume", rows), starts) if len(rows) else np.empty(0),
    }
    return codes, lv[starts], agg, end[rows[starts]], bar_close


def x_at(bars: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """``bars[column]`` at ``rows`` — a view when ``rows`` is one contiguous run (the usual case)."""
    values = bars[column].to_numpy(dtype="float64")
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return values[rows[0]: rows[-1] + 1]
    return values[rows]


def source_rows(codes: np.ndarray, ends: np.ndarray, bar_close: np.ndarray) -> np.ndarray:
    """For each fine row, the position of the latest *closed* coarse bar (``-1``: none yet).

    ``codes`` gives each fine row's coarse bar (-1 for an incomplete period), ``ends`` each
    coarse bar's period end and ``bar_close`` each fine row's close (int64 ns). A coarse bar is
    visible from the first row that both is at or after its last constituent row and closes at
    or after its period end — the last constituent itself when the period's last bar is there,
    the next row when it is missing (see the module docstring); earlier rows see the previous one.
    """
    rows = np.flatnonzero(codes >= 0)
    cv = codes[rows]
    last = np.ones(len(cv), dtype=bool)
    last[:-1] = cv[1:] != cv[:-1]
    src = np.full(len(codes), -1, dtype=np.int64)
    if not len(rows):
        return src
    # One search per coarse bar (not per fine row): the first row whose close reaches its end.
    ended_at = np.searchsorted(np.maximum.accumulate(bar_close), ends, side="left")
    at = np.maximum(rows[last], ended_at)
    inside = at < len(codes)
    np.maximum.at(src, at[inside], cv[last][inside])
    return np.maximum.accumulate(src)
