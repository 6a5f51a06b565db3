"""The price, volume, momentum, volatility and trend groups as lists of :class:`Spec`.

Periods come from the :class:`~candor.features.catalog.FeatureSet` (``s``hort, ``m``edium,
``l``ong); classic fixed settings (MACD 12/26/9, Bollinger 20/2) keep their usual values so
names like ``macd_hist_pct`` mean what a trader expects. Warm-ups are TA-Lib's ``lookback``
(+1 where the input is a 1-bar return, whose first value is NaN).
"""

from __future__ import annotations

import math

import numpy as np
import talib

from candor.features import indicators as ind
from candor.features.indicators import Inputs, Spec, div, lookback, rel

BB_PERIOD = 20
GK_K = 2.0 * math.log(2.0) - 1.0


def _specs(group: str, rows: list[tuple[str, int, object]]) -> list[Spec]:
    return [Spec(name, group, warmup, fn) for name, warmup, fn in rows]  # type: ignore[arg-type]


def return_periods(s: int, m: int) -> list[int]:
    """Log-return horizons: a fixed short ladder plus the short and medium periods."""
    return sorted({1, 2, 3, 5, 10, s, m})


def _candle(x: Inputs, part: str) -> np.ndarray:
    """Candle shape relative to price: range, body, wicks, close location, opening gap."""
    o, h, lo, c = x.open, x.high, x.low, x.close
    if part == "range":
        return (h - lo) / c
    if part == "body":
        return (c - o) / o
    if part == "upper":
        return (h - np.maximum(o, c)) / c
    if part == "lower":
        return (np.minimum(o, c) - lo) / c
    if part == "loc":
        return div(c - lo, h - lo, fill=0.5)
    return _gap(x)


def _gap(x: Inputs) -> np.ndarray:
    prev = np.empty_like(x.close)
    prev[0] = ind.NAN
    prev[1:] = x.close[:-1]
    return rel(x.open, prev)


def returns_specs(s: int, m: int, l: int) -> list[Spec]:
    """Returns and price position: log returns, distance to moving averages and extremes."""
    rows: list[tuple[str, int, object]] = [
        (f"ret_{k}", k, lambda x, k=k: ind.ret(x, k)) for k in return_periods(s, m)
    ]
    for p in (s, m, l):
        rows.append((f"close_sma_{p}_ratio", lookback("SMA", timeperiod=p),
                     lambda x, p=p: rel(x.close, ind.sma(x, "close", x.close, p))))
    for p in (s, m, l):
        rows.append((f"close_ema_{p}_ratio", lookback("EMA", timeperiod=p),
                     lambda x, p=p: rel(x.close, ind.ema(x, p))))
    rows.append((f"close_zscore_{m}", lookback("STDDEV", timeperiod=m),
                 lambda x: ind.zscore(x, "close", x.close, m)))
    for p in (s, m):
        rows.append((f"close_max_{p}_ratio", lookback("MAX", timeperiod=p),
                     lambda x, p=p: rel(x.close, talib.MAX(x.high, p))))
        rows.append((f"close_min_{p}_ratio", lookback("MIN", timeperiod=p),
                     lambda x, p=p: rel(x.close, talib.MIN(x.low, p))))
    for name, part in (("hl_range_pct", "range"), ("body_pct", "body"), ("upper_wick_pct", "upper"),
                       ("lower_wick_pct", "lower"), ("close_loc", "loc")):
        rows.append((name, 0, lambda x, part=part: _candle(x, part)))
    rows.append(("gap_pct", 1, _gap))
    return _specs("returns", rows)


def _vwap_ratio(x: Inputs, p: int) -> np.ndarray:
    typical = (x.high + x.low + x.close) / 3.0
    vwap = div(talib.SUM(typical * x.volume, p), ind.vol_sum(x, p), fill=ind.NAN)
    out = rel(x.close, vwap)
    out[np.isnan(out) & ~np.isnan(ind.vol_sum(x, p))] = 0.0  # no volume in window: neutral
    return out


def _cmf(x: Inputs, p: int) -> np.ndarray:
    clv = div((x.close - x.low) - (x.high - x.close), x.high - x.low)
    return div(talib.SUM(clv * x.volume, p), ind.vol_sum(x, p))


def volume_specs(s: int, m: int, l: int) -> list[Spec]:
    """Volume relative to its own history, and price-volume flow (OBV, MFI, A/D, VWAP)."""
    v = lambda x: x.volume  # noqa: E731
    rows: list[tuple[str, int, object]] = []
    for p in (s, m):
        rows.append((f"volume_ratio_{p}", lookback("SMA", timeperiod=p),
                     lambda x, p=p: rel(x.volume, ind.sma(x, "volume", v(x), p))))
    rows += [
        (f"volume_zscore_{m}", lookback("STDDEV", timeperiod=m),
         lambda x: ind.zscore(x, "volume", x.volume, m)),
        (f"volume_sma_{s}_{m}_ratio", lookback("SMA", timeperiod=m),
         lambda x: rel(ind.sma(x, "volume", x.volume, s), ind.sma(x, "volume", x.volume, m))),
        (f"obv_slope_{s}", lookback("LINEARREG_SLOPE", timeperiod=s),
         lambda x: div(talib.LINEARREG_SLOPE(ind.obv(x), s), ind.sma(x, "volume", x.volume, s))),
        (f"obv_flow_{m}", 1 + lookback("SUM", timeperiod=m),
         lambda x: div(talib.SUM(ind.signed_volume(x), m), ind.vol_sum(x, m))),
        (f"mfi_{s}", lookback("MFI", timeperiod=s),
         lambda x: talib.MFI(x.high, x.low, x.close, x.volume, s)),
        (f"cmf_{s}", lookback("SUM", timeperiod=s), lambda x: _cmf(x, s)),
        ("adosc_ratio", lookback("ADOSC", fastperiod=3, slowperiod=10),
         lambda x: div(talib.ADOSC(x.high, x.low, x.close, x.volume, 3, 10),
                       ind.sma(x, "volume", x.volume, 10))),
        (f"volume_absret_corr_{m}", 1 + lookback("CORREL", timeperiod=m),
         lambda x: talib.CORREL(np.abs(ind.ret(x, 1)), x.volume, m)),
    ]
    for p in (s, m):
        rows.append((f"vwap_{p}_ratio", lookback("SUM", timeperiod=p), lambda x, p=p: _vwap_ratio(x, p)))
    return _specs("volume", rows)


def momentum_specs(s: int, m: int, l: int) -> list[Spec]:
    """Bounded oscillators and vol-normalised momentum."""
    half, dbl = max(2, s // 2), 2 * s
    rows: list[tuple[str, int, object]] = [
        (f"rsi_{p}", lookback("RSI", timeperiod=p), lambda x, p=p: talib.RSI(x.close, p))
        for p in (half, s, dbl)
    ]
    macd_lb = lookback("MACD", fastperiod=12, slowperiod=26, signalperiod=9)
    for i, name in enumerate(("macd_pct", "macd_signal_pct", "macd_hist_pct")):
        rows.append((name, macd_lb, lambda x, i=i: 100.0 * ind.macd(x)[i] / x.close))
    stoch_lb = lookback("STOCH", fastk_period=s, slowk_period=3, slowd_period=3)
    rows += [
        ("ppo_12_26", lookback("PPO", fastperiod=12, slowperiod=26), lambda x: talib.PPO(x.close, 12, 26, 0)),
        (f"stoch_k_{s}", stoch_lb, lambda x: ind.stoch(x, s)[0]),
        (f"stoch_d_{s}", stoch_lb, lambda x: ind.stoch(x, s)[1]),
        (f"stochrsi_k_{s}", lookback("STOCHRSI", timeperiod=s, fastk_period=5, fastd_period=3),
         lambda x: talib.STOCHRSI(x.close, s, 5, 3, 0)[0]),
        (f"cci_{s}", lookback("CCI", timeperiod=s), lambda x: talib.CCI(x.high, x.low, x.close, s)),
        (f"willr_{s}", lookback("WILLR", timeperiod=s), lambda x: talib.WILLR(x.high, x.low, x.close, s)),
        (f"mom_{s}_atr", max(lookback("MOM", timeperiod=s), lookback("ATR", timeperiod=s)),
         lambda x: div(talib.MOM(x.close, s), ind.atr(x, s))),
        (f"ultosc_{half}_{s}_{dbl}", lookback("ULTOSC", timeperiod1=half, timeperiod2=s, timeperiod3=dbl),
         lambda x: talib.ULTOSC(x.high, x.low, x.close, half, s, dbl)),
        (f"cmo_{s}", lookback("CMO", timeperiod=s), lambda x: talib.CMO(x.close, s)),
        (f"trix_{s}", lookback("TRIX", timeperiod=s), lambda x: talib.TRIX(x.close, s)),
        (f"bop_{s}", lookback("SMA", timeperiod=s),
         lambda x: talib.SMA(talib.BOP(x.open, x.high, x.low, x.close), s)),
    ]
    return _specs("momentum", rows)


def _parkinson(x: Inputs, p: int) -> np.ndarray:
    hl = ind.hl_log(x)
    return np.sqrt(talib.SMA(hl * hl, p) / (4.0 * ind.LN2))


def _garman_klass(x: Inputs, p: int) -> np.ndarray:
    hl = ind.hl_log(x)
    co = np.log(x.close / x.open)
    mean = talib.SMA(0.5 * hl * hl - GK_K * co * co, p)
    return np.sqrt(np.maximum(mean, 0.0, where=~np.isnan(mean), out=mean.copy()))


def _bb(x: Inputs, part: str) -> np.ndarray:
    upper, middle, lower = ind.bbands(x, BB_PERIOD)
    if part == "pctb":
        return div(x.close - lower, upper - lower, fill=0.5)
    return div(upper - lower, middle)


def volatility_specs(s: int, m: int, l: int) -> list[Spec]:
    """Range- and return-based volatility, its regime ratios, and position in the bands."""
    rows: list[tuple[str, int, object]] = [
        (f"atr_pct_{p}", lookback("NATR", timeperiod=p),
         lambda x, p=p: 100.0 * ind.atr(x, p) / x.close) for p in (s, m)
    ]
    bb_lb = lookback("BBANDS", timeperiod=BB_PERIOD)
    rows += [
        ("tr_pct", lookback("TRANGE"), lambda x: 100.0 * talib.TRANGE(x.high, x.low, x.close) / x.close),
        (f"atr_ratio_{s}_{m}", lookback("ATR", timeperiod=m), lambda x: div(ind.atr(x, s), ind.atr(x, m))),
        (f"bb_pctb_{BB_PERIOD}", bb_lb, lambda x: _bb(x, "pctb")),
        (f"bb_width_{BB_PERIOD}", bb_lb, lambda x: _bb(x, "width")),
    ]
    rows += [(f"rvol_{p}", 1 + lookback("STDDEV", timeperiod=p), lambda x, p=p: ind.rvol(x, p)) for p in (s, m)]
    rows += [
        (f"rvol_ratio_{s}_{m}", 1 + lookback("STDDEV", timeperiod=m),
         lambda x: div(ind.rvol(x, s), ind.rvol(x, m), fill=1.0)),
        (f"parkinson_vol_{s}", lookback("SMA", timeperiod=s), lambda x: _parkinson(x, s)),
        (f"gk_vol_{s}", lookback("SMA", timeperiod=s), lambda x: _garman_klass(x, s)),
        (f"keltner_pos_{s}", max(lookback("EMA", timeperiod=s), lookback("ATR", timeperiod=s)),
         lambda x: div(x.close - ind.ema(x, s), 2.0 * ind.atr(x, s))),
        (f"ret_vol_z_{m}", 1 + lookback("STDDEV", timeperiod=m), lambda x: div(ind.ret(x, 1), ind.rvol(x, m))),
        (f"range_zscore_{m}", lookback("STDDEV", timeperiod=m),
         lambda x: ind.zscore(x, "range", (x.high - x.low) / x.close, m)),
    ]
    return _specs("volatility", rows)


def _er(x: Inputs, p: int) -> np.ndarray:
    """Kaufman efficiency ratio: net move over path length, 0 (chop) .. 1 (straight line)."""
    path = talib.SUM(np.abs(ind.lag_diff(x.close, 1)), p)
    return div(np.abs(ind.lag_diff(x.close, p)), path)


def trend_specs(s: int, m: int, l: int) -> list[Spec]:
    """Direction and strength of the trend: DMI/ADX, Aroon, SAR, regression slopes, MA stacks."""
    di_lb = lookback("PLUS_DI", timeperiod=s)
    rows: list[tuple[str, int, object]] = [
        (f"adx_{s}", lookback("ADX", timeperiod=s), lambda x: talib.ADX(x.high, x.low, x.close, s)),
        (f"plus_di_{s}", di_lb, lambda x: ind.plus_di(x, s)),
        (f"minus_di_{s}", di_lb, lambda x: ind.minus_di(x, s)),
        (f"di_diff_{s}", di_lb, lambda x: ind.plus_di(x, s) - ind.minus_di(x, s)),
        (f"aroon_down_{s}", lookback("AROON", timeperiod=s), lambda x: ind.aroon(x, s)[0]),
        (f"aroon_up_{s}", lookback("AROON", timeperiod=s), lambda x: ind.aroon(x, s)[1]),
        ("sar_dist_pct", lookback("SAR"), lambda x: 100.0 * rel(x.close, talib.SAR(x.high, x.low))),
    ]
    rows += [
        (f"linreg_slope_{p}_pct", lookback("LINEARREG_SLOPE", timeperiod=p),
         lambda x, p=p: 100.0 * talib.LINEARREG_SLOPE(x.close, p) / x.close) for p in (s, m)
    ]
    rows += [
        (f"tsf_{s}_ratio", lookback("TSF", timeperiod=s), lambda x: rel(x.close, talib.TSF(x.close, s))),
        (f"sma_{s}_{m}_ratio", lookback("SMA", timeperiod=m),
         lambda x: rel(ind.sma(x, "close", x.close, s), ind.sma(x, "close", x.close, m))),
        (f"sma_{m}_{l}_ratio", lookback("SMA", timeperiod=l),
         lambda x: rel(ind.sma(x, "close", x.close, m), ind.sma(x, "close", x.close, l))),
        (f"ema_{s}_{m}_ratio", lookback("EMA", timeperiod=m), lambda x: rel(ind.ema(x, s), ind.ema(x, m))),
        (f"close_max_{l}_ratio", lookback("MAX", timeperiod=l), lambda x: rel(x.close, talib.MAX(x.high, l))),
        (f"close_min_{l}_ratio", lookback("MIN", timeperiod=l), lambda x: rel(x.close, talib.MIN(x.low, l))),
        (f"kama_{s}_ratio", lookback("KAMA", timeperiod=s), lambda x: rel(x.close, talib.KAMA(x.close, s))),
        (f"efficiency_ratio_{s}", 1 + lookback("SUM", timeperiod=s), lambda x: _er(x, s)),
    ]
    return _specs("trend", rows)
