"""The price, volume, momentum, volatility and trend groups as lists of :class:`Spec`.

Periods come from the :class:`~candor.features.catalog.FeatureSet` (``s``hort, ``m``edium,
``l``ong); classic fixed settings (MACD 12/26/9, Bollinger 20/2) keep their usual values so
names like ``macd_hist_pct`` mean what a trader expects. Warm-ups are TA-Lib's ``lookback``
(+1 where the input is a 1-bar return, whose first value is NaN); a recursion's warm-up adds the
bars its seed needs to settle (:func:`converged`; the measurement is ``benchmarks/feature_warmup.py``).
"""

from __future__ import annotations

import numpy as np
import talib

from candor.features import indicators as ind
from candor.features.indicators import Inputs, Spec, div, ema_alpha, lookback, rel, settle, wilder

BB_PERIOD = 20
#: Parabolic SAR's acceleration: it starts at 0.02 after each reversal (TA-Lib's default).
SAR_ACCELERATION = 0.02
#: KAMA's fastest and slowest EMA periods (TA-Lib's, fixed).
KAMA_FAST, KAMA_SLOW = 2, 30

#: A column's warm-up: a bar count (its value is exact from there), or ``(warm-up, first)`` for a
#: recursion whose output starts at ``first`` but is used from ``warm-up`` on.
Warm = int | tuple[int, int]


def converged(first: int, *alphas: float) -> tuple[int, int]:
    """A recursion's ``(warm-up, first)``: TA-Lib's first output plus the bars its seed error needs
    to decay below :data:`~candor.features.indicators.DECAY` through stages ``alphas``."""
    return first + settle(*alphas), first


def kama_alpha(p: int) -> float:
    """KAMA's per-bar smoothing at an efficiency ratio of ``1 / (2 sqrt(p))`` — half a random walk's
    typical ``1 / sqrt(p)`` — so choppier stretches than a random walk's are covered too."""
    er = 0.5 / p ** 0.5
    return (er * (ema_alpha(KAMA_FAST) - ema_alpha(KAMA_SLOW)) + ema_alpha(KAMA_SLOW)) ** 2


def _specs(group: str, rows: list[tuple[str, Warm, object]]) -> list[Spec]:
    specs = []
    for name, warm, fn in rows:
        warmup, first = warm if isinstance(warm, tuple) else (warm, None)
        specs.append(Spec(name, group, warmup, fn, first))  # type: ignore[arg-type]
    return specs


def return_periods(s: int, m: int) -> list[int]:
    """Log-return horizons: a fixed short ladder plus the short and medium periods."""
    return sorted({1, 2, 3, 5, 10, s, m})


def _candle(x: Inputs, part: str) -> np.ndarray:
    """Candle shape relative to price: range, body, wicks, close location (prices are > 0)."""
    o, h, lo, c, d = x.open, x.high, x.low, x.close, x.dest
    if part == "loc":
        return div(c - lo, h - lo, fill=0.5, out=d)
    if part == "range":
        q, base = np.subtract(h, lo, out=d), c
    elif part == "body":
        q, base = np.subtract(c, o, out=d), o
    elif part == "upper":
        q, base = np.subtract(h, np.maximum(o, c, out=d), out=d), c
    else:
        q, base = np.subtract(np.minimum(o, c, out=d), lo, out=d), c
    q /= base
    return q


def _gap(x: Inputs) -> np.ndarray:
    """Opening gap: open over the previous close, minus 1."""
    out = np.empty_like(x.close) if x.dest is None else x.dest
    out[0] = ind.NAN
    np.divide(x.open[1:], x.close[:-1], out=out[1:])
    out[1:] -= 1.0
    return out


def _ret(x: Inputs, k: int) -> np.ndarray:
    """Log return over ``k`` bars (the shared 1-bar series, others straight into the result)."""
    return ind.ret(x, 1) if k == 1 else ind.lag_diff(ind.log_close(x), k, out=x.dest)


def returns_specs(s: int, m: int, l: int) -> list[Spec]:
    """Returns and price position: log returns, distance to moving averages and extremes."""
    rows: list[tuple[str, Warm, object]] = [
        (f"ret_{k}", k, lambda x, k=k: _ret(x, k)) for k in return_periods(s, m)
    ]
    for p in (s, m, l):
        rows.append((f"close_sma_{p}_ratio", lookback("SMA", timeperiod=p),
                     lambda x, p=p: ind.ratio_pos(x.close, ind.sma(x, "close", x.close, p), out=x.dest)))
    rows.append((f"close_zscore_{m}", lookback("STDDEV", timeperiod=m),
                 lambda x: ind.zscore(x, "close", x.close, m)))
    for p in (s, m):
        rows.append((f"close_max_{p}_ratio", lookback("MAX", timeperiod=p),
                     lambda x, p=p: ind.ratio_pos(x.close, talib.MAX(x.high, p), out=x.dest)))
        rows.append((f"close_min_{p}_ratio", lookback("MIN", timeperiod=p),
                     lambda x, p=p: ind.ratio_pos(x.close, talib.MIN(x.low, p), out=x.dest)))
    for name, part in (("hl_range_pct", "range"), ("body_pct", "body"), ("upper_wick_pct", "upper"),
                       ("lower_wick_pct", "lower"), ("close_loc", "loc")):
        rows.append((name, 0, lambda x, part=part: _candle(x, part)))
    rows.append(("gap_pct", 1, _gap))
    return _specs("returns", rows)


def volume_specs(s: int, m: int, l: int) -> list[Spec]:
    """Volume relative to its own history, and price-volume flow (OBV, MFI, A/D, VWAP)."""
    v = lambda x: x.volume  # noqa: E731
    rows: list[tuple[str, Warm, object]] = []
    for p in (s, m):
        rows.append((f"volume_ratio_{p}", lookback("SMA", timeperiod=p),
                     lambda x, p=p: rel(x.volume, ind.sma(x, "volume", v(x), p), out=x.dest)))
    rows += [
        (f"volume_zscore_{m}", lookback("STDDEV", timeperiod=m),
         lambda x: ind.zscore(x, "volume", x.volume, m)),
        (f"volume_sma_{s}_{m}_ratio", lookback("SMA", timeperiod=m),
         lambda x: rel(ind.sma(x, "volume", x.volume, s), ind.sma(x, "volume", x.volume, m), out=x.dest)),
        (f"obv_slope_{s}", lookback("LINEARREG_SLOPE", timeperiod=s),
         lambda x: div(talib.LINEARREG_SLOPE(ind.obv(x), s), ind.sma(x, "volume", x.volume, s), out=x.dest)),
        (f"mfi_{s}", lookback("MFI", timeperiod=s),
         lambda x: talib.MFI(x.high, x.low, x.close, x.volume, s)),
        ("adosc_ratio", converged(lookback("ADOSC", fastperiod=3, slowperiod=10), ema_alpha(10)),
         lambda x: div(talib.ADOSC(x.high, x.low, x.close, x.volume, 3, 10),
                       ind.sma(x, "volume", x.volume, 10), out=x.dest)),
    ]
    return _specs("volume", rows)


def momentum_specs(s: int, m: int, l: int) -> list[Spec]:
    """Bounded oscillators and vol-normalised momentum."""
    half, dbl = max(2, s // 2), 2 * s
    rows: list[tuple[str, Warm, object]] = [
        (f"rsi_{p}", converged(lookback("RSI", timeperiod=p), wilder(p)), lambda x, p=p: talib.RSI(x.close, p))
        for p in (half, s, dbl)
    ]
    macd_lb = lookback("MACD", fastperiod=12, slowperiod=26, signalperiod=9)
    macd_stages = ((ema_alpha(26),), (ema_alpha(26), ema_alpha(9)), (ema_alpha(26), ema_alpha(9)))
    for i, name in enumerate(("macd_pct", "macd_signal_pct", "macd_hist_pct")):
        rows.append((name, converged(macd_lb, *macd_stages[i]),
                     lambda x, i=i: ind.pct(ind.macd(x)[i], x.close, out=x.dest)))
    stoch_lb = lookback("STOCH", fastk_period=s, slowk_period=3, slowd_period=3)
    rows += [
        (f"stoch_k_{s}", stoch_lb, lambda x: ind.stoch(x, s)[0]),
        (f"stoch_d_{s}", stoch_lb, lambda x: ind.stoch(x, s)[1]),
        (f"cci_{s}", lookback("CCI", timeperiod=s), lambda x: talib.CCI(x.high, x.low, x.close, s)),
        (f"willr_{s}", lookback("WILLR", timeperiod=s), lambda x: talib.WILLR(x.high, x.low, x.close, s)),
        (f"mom_{s}_atr", converged(max(lookback("MOM", timeperiod=s), lookback("ATR", timeperiod=s)), wilder(s)),
         lambda x: div(talib.MOM(x.close, s), ind.atr(x, s), out=x.dest)),
        (f"ultosc_{half}_{s}_{dbl}", lookback("ULTOSC", timeperiod1=half, timeperiod2=s, timeperiod3=dbl),
         lambda x: talib.ULTOSC(x.high, x.low, x.close, half, s, dbl)),
    ]
    return _specs("momentum", rows)


def _parkinson(x: Inputs, p: int) -> np.ndarray:
    """Parkinson range volatility per bar: sqrt(mean(ln(H/L)^2) / (4 ln 2))."""
    hl = ind.hl_log(x)
    mean = talib.SMA(np.multiply(hl, hl, out=x.dest), p)
    mean *= 1.0 / (4.0 * ind.LN2)
    return np.sqrt(mean, out=x.dest)


def _bb(x: Inputs, part: str) -> np.ndarray:
    """Bollinger %B (0 at the lower band, 1 at the upper) or band width over the middle."""
    upper, middle, lower = ind.bbands(x, BB_PERIOD)
    width = x.memo(("bb_width", BB_PERIOD), lambda: np.subtract(upper, lower))
    if part == "pctb":
        return div(np.subtract(x.close, lower, out=x.dest), width, fill=0.5, out=x.dest)
    return div(width, middle, out=x.dest)


def volatility_specs(s: int, m: int, l: int) -> list[Spec]:
    """Range- and return-based volatility, its regime ratios, and position in the bands."""
    rows: list[tuple[str, Warm, object]] = [
        (f"atr_pct_{p}", converged(lookback("NATR", timeperiod=p), wilder(p)),
         lambda x, p=p: ind.pct(ind.atr(x, p), x.close, out=x.dest)) for p in (s, m)
    ]
    bb_lb = lookback("BBANDS", timeperiod=BB_PERIOD)
    rows += [
        ("tr_pct", lookback("TRANGE"), lambda x: ind.pct(talib.TRANGE(x.high, x.low, x.close), x.close, out=x.dest)),
        (f"atr_ratio_{s}_{m}", converged(lookback("ATR", timeperiod=m), wilder(m)), lambda x: div(ind.atr(x, s), ind.atr(x, m), out=x.dest)),
        (f"bb_pctb_{BB_PERIOD}", bb_lb, lambda x: _bb(x, "pctb")),
        (f"bb_width_{BB_PERIOD}", bb_lb, lambda x: _bb(x, "width")),
    ]
    rows += [(f"rvol_{p}", 1 + lookback("STDDEV", timeperiod=p), lambda x, p=p: ind.rvol(x, p)) for p in (s, m)]
    rows += [
        (f"rvol_ratio_{s}_{m}", 1 + lookback("STDDEV", timeperiod=m),
         lambda x: div(ind.rvol(x, s), ind.rvol(x, m), fill=1.0, out=x.dest)),
        (f"parkinson_vol_{s}", lookback("SMA", timeperiod=s), lambda x: _parkinson(x, s)),
    ]
    return _specs("volatility", rows)


def _sar_dist(x: Inputs) -> np.ndarray:
    """Close vs Parabolic SAR in percent: positive above the stop (uptrend), negative below."""
    q = ind.ratio_pos(x.close, talib.SAR(x.high, x.low), out=x.dest)
    q *= 100.0
    return q


def _er(x: Inputs, p: int) -> np.ndarray:
    """Kaufman efficiency ratio: net move over path length, 0 (chop) .. 1 (straight line)."""
    path = talib.SUM(np.abs(ind.close_diff(x)), p)
    net = np.abs(ind.lag_diff(x.close, p, out=x.dest), out=x.dest)
    return div(net, path, out=x.dest)


def trend_specs(s: int, m: int, l: int) -> list[Spec]:
    """Direction and strength of the trend: DMI/ADX, Aroon, SAR, regression slopes, MA stacks."""
    di = converged(lookback("PLUS_DI", timeperiod=s), wilder(s))
    rows: list[tuple[str, Warm, object]] = [
        # ADX: Wilder's smoothing of DX, itself a ratio of Wilder-smoothed sums: two stages.
        (f"adx_{s}", converged(lookback("ADX", timeperiod=s), wilder(s), wilder(s)),
         lambda x: talib.ADX(x.high, x.low, x.close, s)),
        (f"plus_di_{s}", di, lambda x: ind.plus_di(x, s)),
        (f"minus_di_{s}", di, lambda x: ind.minus_di(x, s)),
        (f"aroon_down_{s}", lookback("AROON", timeperiod=s), lambda x: ind.aroon(x, s)[0]),
        (f"aroon_up_{s}", lookback("AROON", timeperiod=s), lambda x: ind.aroon(x, s)[1]),
        # SAR trails the extreme by at least SAR_ACCELERATION per bar until the two paths reverse together.
        ("sar_dist_pct", converged(lookback("SAR"), SAR_ACCELERATION), lambda x: _sar_dist(x)),
    ]
    rows += [
        (f"linreg_slope_{p}_pct", lookback("LINEARREG_SLOPE", timeperiod=p),
         lambda x, p=p: ind.pct(talib.LINEARREG_SLOPE(x.close, p), x.close, out=x.dest)) for p in (s, m)
    ]
    rows += [
        (f"sma_{m}_{l}_ratio", lookback("SMA", timeperiod=l),
         lambda x: ind.ratio_pos(ind.sma(x, "close", x.close, m), ind.sma(x, "close", x.close, l), out=x.dest)),
        (f"ema_{s}_{m}_ratio", converged(lookback("EMA", timeperiod=m), ema_alpha(m)), lambda x: ind.ratio_pos(ind.ema(x, s), ind.ema(x, m), out=x.dest)),
        (f"close_max_{l}_ratio", lookback("MAX", timeperiod=l), lambda x: ind.ratio_pos(x.close, talib.MAX(x.high, l), out=x.dest)),
        (f"close_min_{l}_ratio", lookback("MIN", timeperiod=l), lambda x: ind.ratio_pos(x.close, talib.MIN(x.low, l), out=x.dest)),
        (f"kama_{s}_ratio", converged(lookback("KAMA", timeperiod=s), kama_alpha(s)), lambda x: ind.ratio_pos(x.close, talib.KAMA(x.close, s), out=x.dest)),
        (f"efficiency_ratio_{s}", 1 + lookback("SUM", timeperiod=s), lambda x: _er(x, s)),
    ]
    return _specs("trend", rows)
