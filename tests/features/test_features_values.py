"""A handful of indicators against values the test computes itself with plain numpy/pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.data.synthetic import random_walk
from candor.features import FeatureSet, compute_features, feature_specs


def _warmup(name: str) -> int:
    return next(s.warmup for s in feature_specs(FeatureSet(), "d1") if s.name == name)


@pytest.fixture(scope="module")
def bars():
    return random_walk(600, seed=11, timeframe="d1")


@pytest.fixture(scope="module")
def feats(bars):
    return compute_features(bars, FeatureSet(groups=("returns", "volume", "momentum", "volatility", "trend")))


def _wilder_rsi(close: np.ndarray, p: int) -> np.ndarray:
    """RSI with Wilder smoothing, seeded by the simple mean of the first p moves (TA-Lib's way)."""
    delta = np.diff(close)
    gain, loss = np.clip(delta, 0, None), np.clip(-delta, 0, None)
    out = np.full(len(close), np.nan)
    avg_g, avg_l = gain[:p].mean(), loss[:p].mean()
    out[p] = 100 * avg_g / (avg_g + avg_l)
    for i in range(p, len(delta)):
        avg_g = (avg_g * (p - 1) + gain[i]) / p
        avg_l = (avg_l * (p - 1) + loss[i]) / p
        out[i + 1] = 100 * avg_g / (avg_g + avg_l)
    return out


def _wilder_atr(h: np.ndarray, l: np.ndarray, c: np.ndarray, p: int) -> np.ndarray:
    prev = np.r_[np.nan, c[:-1]]
    tr = np.nanmax(np.c_[h - l, np.abs(h - prev), np.abs(l - prev)], axis=1)
    out = np.full(len(c), np.nan)
    out[p] = tr[1: p + 1].mean()
    for i in range(p + 1, len(c)):
        out[i] = (out[i - 1] * (p - 1) + tr[i]) / p
    return out


def test_rsi_matches_wilder(bars, feats):
    expected = _wilder_rsi(bars["close"].to_numpy(), 14)
    # NaN until the seed has settled (warm-up 108, not TA-Lib's first output at 14); equal after.
    warmup = _warmup("rsi_14")
    assert warmup > 14 and feats["rsi_14"].iloc[:warmup].isna().all()
    np.testing.assert_allclose(feats["rsi_14"].iloc[warmup:], expected[warmup:], rtol=1e-9)


def test_close_sma_ratio_matches_pandas(bars, feats):
    close = bars["close"]
    expected = close / close.rolling(50).mean() - 1
    np.testing.assert_allclose(feats["close_sma_50_ratio"], expected, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_bollinger_percent_b_matches_pandas(bars, feats):
    close = bars["close"]
    mid, sd = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    expected = (close - (mid - 2 * sd)) / (4 * sd)
    np.testing.assert_allclose(feats["bb_pctb_20"], expected, rtol=1e-7, atol=1e-9, equal_nan=True)


def test_atr_percent_matches_wilder(bars, feats):
    h, l, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    expected = 100 * _wilder_atr(h, l, c, 14) / c
    warmup = _warmup("atr_pct_14")
    assert warmup > 14 and feats["atr_pct_14"].iloc[:warmup].isna().all()
    np.testing.assert_allclose(feats["atr_pct_14"].iloc[warmup:], expected[warmup:], rtol=1e-9)


def test_obv_slope_matches_polyfit(bars, feats):
    close, volume = bars["close"].to_numpy(), bars["volume"].to_numpy()
    obv = np.cumsum(np.r_[volume[0], np.sign(np.diff(close)) * volume[1:]])
    for t in (20, 250, 599):
        slope = np.polyfit(np.arange(14), obv[t - 13: t + 1], 1)[0]
        expected = slope / volume[t - 13: t + 1].mean()
        assert feats["obv_slope_14"].iloc[t] == pytest.approx(expected, rel=1e-6)


def test_log_returns_and_realised_vol(bars, feats):
    logc = np.log(bars["close"])
    np.testing.assert_allclose(feats["ret_5"], logc.diff(5), rtol=1e-12, equal_nan=True)
    expected = logc.diff().rolling(14).std(ddof=0)
    np.testing.assert_allclose(feats["rvol_14"], expected, rtol=1e-6, equal_nan=True)


def test_cyclic_time_of_known_timestamps():
    index = pd.DatetimeIndex(["2024-01-01 14:30", "2024-01-03 20:00"], tz="UTC")  # Mon 09:30 NY, Wed 15:00 NY
    frame = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}, index=index)
    from candor.data.bars import make_bars

    bars = make_bars(frame, "X", "h1", calendar="XNYS")
    feats = compute_features(bars, FeatureSet(groups=("time",)))
    hour = np.arctan2(feats["hour_sin"], feats["hour_cos"]) % (2 * np.pi) / (2 * np.pi) * 24
    dow = np.round(np.arctan2(feats["dow_sin"], feats["dow_cos"]) % (2 * np.pi) / (2 * np.pi) * 7)
    np.testing.assert_allclose(hour, [9.5, 15.0], atol=1e-9)  # New York wall clock, not UTC
    np.testing.assert_allclose(dow, [0, 2])


def test_a_history_shorter_than_one_context_period_gives_nan_context_not_an_error():
    from candor.data.synthetic import random_walk
    from candor.features import compute_features

    short = random_walk(300, seed=1).iloc[:5]
    features = compute_features(short)
    assert len(features) == 5
    context = [c for c in features.columns if c.startswith("ctx_") or "w1" in c]
    assert context and features[context].isna().all().all()
