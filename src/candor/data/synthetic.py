"""Synthetic bar series with a known amount of predictability, for tests and honesty checks.

* :func:`random_walk` — nothing is predictable: close-to-close log returns are i.i.d. and drawn
  independently of everything visible before them. A correct pipeline must find *no* edge here.
* :func:`planted_signal` — the next bars' drift is a known, bounded function of the recent past
  return, so a correct pipeline *must* find an edge here (and a broken one that cannot learn
  from the past would not).

Both return a bar frame built with :func:`candor.data.bars.make_bars` (calendar ``"24/7"``, one
bar per ``timeframe`` period, no gaps) with realistic-looking OHLCV: the open sits near the
previous close with a small gap, high/low wrap the body, volume is lognormal and persistent.
The OHLC/volume decoration only ever uses randomness of the *same* bar, so it leaks nothing about
later returns.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from candor.data.bars import TIMEFRAMES, check_timeframe, make_bars
from candor.errors import ConfigError

#: Share of a bar's return standard deviation that happens in the opening gap.
GAP_FRACTION = 0.2
#: Scale of the wicks beyond the body, in units of ``sigma``.
WICK_SCALE = 0.5
#: Volume: base level, AR(1) persistence of log volume, its stationary sd, link to |return|.
VOLUME_BASE = 1_000_000.0
VOLUME_PHI = 0.9
VOLUME_SD = 0.35
VOLUME_ABS_RET = 0.25
#: Default planted-signal strength (see :func:`planted_signal`; calibration in its docstring).
DEFAULT_STRENGTH = 0.5
START_PRICE = 100.0


def _check_args(n: int, sigma: float, timeframe: str) -> None:
    """Reject arguments that would give an empty or degenerate series."""
    if n < 2:
        raise ConfigError(f"`n` must be >= 2 bars. Got {n}.")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ConfigError(f"`sigma` must be a positive finite number. Got {sigma}.")
    check_timeframe(timeframe)


def _index(n: int, start: str | pd.Timestamp, timeframe: str) -> pd.DatetimeIndex:
    """``n`` consecutive bar open times, one per timeframe period, UTC (a 24/7 calendar)."""
    start_ts = pd.Timestamp(start)
    start_ts = start_ts.tz_localize("UTC") if start_ts.tz is None else start_ts.tz_convert("UTC")
    room = (pd.Timestamp.max.tz_localize("UTC") - start_ts) // TIMEFRAMES[timeframe]
    if n > room:
        raise ConfigError(
            f"`n` = {n} {timeframe} bars from {start_ts.date()} run past the year 2262 that pandas"
            f" timestamps reach; use at most {room} bars or a finer `timeframe` (e.g. 'm1')."
        )
    return pd.date_range(start_ts, periods=n, freq=TIMEFRAMES[timeframe], name="ts")


def _bars_from_returns(
    log_ret: np.ndarray,
    rng: np.random.Generator,
    *,
    sigma: float,
    index: pd.DatetimeIndex,
    timeframe: str,
    symbol: str,
) -> pd.DataFrame:
    """Turn close-to-close log returns into an OHLCV bar frame.

    The opening gap ``g_t`` is drawn jointly normal with the bar's own return ``r_t`` (as if
    ``r_t = g_t + intrabar``, with ``var(g) = (GAP_FRACTION·sigma)²``); wicks and volume use
    fresh noise of bar t and ``|r_t|``. Nothing here depends on returns after bar t.
    """
    n = len(log_ret)
    f2 = GAP_FRACTION**2
    gap = f2 * log_ret + sigma * math.sqrt(f2 * (1 - f2)) * rng.standard_normal(n)
    log_close = math.log(START_PRICE) + np.cumsum(log_ret)
    prev_close = np.concatenate(([math.log(START_PRICE)], log_close[:-1]))
    log_open = prev_close + gap
    body_hi = np.maximum(log_open, log_close)
    body_lo = np.minimum(log_open, log_close)
    log_high = body_hi + WICK_SCALE * sigma * np.abs(rng.standard_normal(n))
    log_low = body_lo - WICK_SCALE * sigma * np.abs(rng.standard_normal(n))
    shocks = VOLUME_SD * math.sqrt(1 - VOLUME_PHI**2) * rng.standard_normal(n)
    persistent = lfilter([1.0], [1.0, -VOLUME_PHI], shocks)
    log_volume = math.log(VOLUME_BASE) + persistent + VOLUME_ABS_RET * (np.abs(log_ret) / sigma - 0.8)
    frame = pd.DataFrame(
        {
            "open": np.exp(log_open),
            "high": np.exp(log_high),
            "low": np.exp(log_low),
            "close": np.exp(log_close),
            "volume": np.round(np.exp(log_volume)),
        },
        index=index,
    )
    return make_bars(frame, symbol=symbol, timeframe=timeframe, calendar="24/7")


def random_walk(
    n: int = 2500,
    seed: int = 0,
    *,
    timeframe: str = "d1",
    start: str | pd.Timestamp = "2010-01-01",
    sigma: float = 0.01,
    symbol: str = "RW",
) -> pd.DataFrame:
    """A geometric random walk: close-to-close log returns i.i.d. ``N(0, sigma²)``.

    Nothing about the future is visible in the past, so any model's out-of-sample edge over the
    majority-class baseline on this series is noise; the honesty suite relies on that.
    """
    _check_args(n, sigma, timeframe)
    index = _index(n, start, timeframe)
    rng = np.random.default_rng(seed)
    log_ret = sigma * rng.standard_normal(n)
    return _bars_from_returns(
        log_ret, rng, sigma=sigma, index=index, timeframe=timeframe, symbol=symbol
    )


def _planted_returns(
    n: int, rng: np.random.Generator, sigma: float, strength: float, lookback: int
) -> np.ndarray:
    """Simulate ``r_{t+1} = -strength·sigma·tanh(z_t) + noise`` (see :func:`planted_signal`)."""
    noise_sd = sigma * math.sqrt(max(1.0 - 0.4 * strength**2, 0.25))
    eps = noise_sd * rng.standard_normal(n)
    ret = np.empty(n)
    scale = sigma * math.sqrt(lookback)
    window_sum = 0.0
    for t in range(n):
        z = window_sum / scale
        ret[t] = -strength * sigma * math.tanh(z) + eps[t]
        window_sum += ret[t]
        if t >= lookback:
            window_sum -= ret[t - lookback]
    return ret


def planted_signal(
    n: int = 2500,
    seed: int = 0,
    *,
    strength: float = DEFAULT_STRENGTH,
    horizon: int = 5,
    lookback: int | None = None,
    timeframe: str = "d1",
    start: str | pd.Timestamp = "2010-01-01",
    sigma: float = 0.01,
    symbol: str = "PLANT",
) -> pd.DataFrame:
    """A series whose next returns revert a known, bounded function of the past return.

    How the signal is planted (``r_t`` = close-to-close log return of bar t, ``k = lookback``,
    default ``4 · horizon`` = 20 bars)::

        z_t     = (r_{t-k+1} + … + r_t) / (sigma · √k)        # past k-bar return z-score, known at t
        r_{t+1} = -strength · sigma · tanh(z_t) + e_{t+1}
        e_t     ~ i.i.d. N(0, sigma² · (1 − 0.4 · strength²))

    (Before k returns exist, ``z`` sums the returns so far, starting from 0 at bar 0.) Every bar's
    drift is a bounded (|drift| ≤ ``strength · sigma``) *reversal* of the k-bar move that ended at
    the previous close, visible to returns-over-k-bars, z-score and RSI features. Because
    ``z_t`` moves slowly (k = 4 horizons), the drift persists across the label horizon: after a
    +1σ 20-bar move the expected next 5-bar log return is about ``−5 · 0.5 · tanh(1) · sigma ≈
    −1.9 sigma``, against a 5-bar noise sd of ``√5 · sigma ≈ 2.2 sigma``. The noise variance is
    cut by roughly the drift's variance (``E[tanh²(z)] ≈ 0.4``), so the per-bar return sd stays
    ≈ ``sigma`` (measured 0.0098 for sigma 0.01) with lag-1 autocorrelation ≈ −0.04. Reversal
    rather than momentum keeps the price free of self-reinforcing trends.

    Calibration (default strength 0.5, horizon 5, 20 seeds; features: log returns over
    1/5/10/20 bars; label 3-class ±0.2% over 5 bars; train on the first 70% minus a 5-bar
    purge, test on the last 30%; edge = test accuracy − accuracy of the train-majority class):

    ==========================  ==========================  ==========================
    model, n                    planted: mean / min edge    random_walk: mean / max
    ==========================  ==========================  ==========================
    logistic, 1,800             +13.5 / +8.1 pts, 20/20 ≥5  +0.2 / +6.8 pts, 1/20 ≥5
    50-tree forest, 1,800       +13.5 / +8.3 pts, 20/20 ≥5  +0.5 / +11.3 pts, 1/20 ≥5
    logistic, 1,500             +13.7 / +9.3 pts, 20/20 ≥5  −0.8 / +3.4 pts, 0/20 ≥5
    ==========================  ==========================  ==========================
    """
    _check_args(n, sigma, timeframe)
    k = 4 * horizon if lookback is None else lookback
    if horizon < 1:
        raise ConfigError(f"`horizon` must be >= 1. Got {horizon}.")
    if k < 1:
        raise ConfigError(f"`lookback` must be >= 1. Got {k}.")
    if not (0 <= strength <= 1.5):
        raise ConfigError(f"`strength` must be between 0 and 1.5 (sigma units). Got {strength}.")
    index = _index(n, start, timeframe)
    rng = np.random.default_rng(seed)
    log_ret = _planted_returns(n, rng, sigma, strength, k)
    return _bars_from_returns(
        log_ret, rng, sigma=sigma, index=index, timeframe=timeframe, symbol=symbol
    )
