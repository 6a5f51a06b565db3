"""Warm-ups are where a feature stops depending on the series' start (issue 22 item 16).

A recursion (Wilder, EMA, KAMA, SAR) carries its seed forward; the catalog's warm-up adds the bars
the seed needs to settle and ``compute_features`` masks the bars before it. The property: on a
history that starts anywhere, the first value a model uses is within TOLERANCE (1% of the column's
full-history standard deviation) of the full-history value. ``benchmarks/feature_warmup.py``
measures the same on the real series.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from candor.data.synthetic import random_walk
from candor.features import FeatureSet, compute_features, feature_specs, warmup_bars
from candor.features.context import sma_adx, sma_atr_pct, sma_rsi
from candor.features.groups import SAR_ACCELERATION
from candor.features.indicators import DECAY, TOLERANCE, Inputs, ema_alpha, settle, wilder


def _truncated(bars: pd.DataFrame, start: int) -> pd.DataFrame:
    part = bars.iloc[start:].copy()
    part.attrs = dict(bars.attrs)
    return part


@pytest.fixture(scope="module")
def daily():
    return random_walk(1400, seed=21)  # 24/7 d1: weekly context, 7 bars a week


@pytest.fixture(scope="module")
def hourly():
    return random_walk(2200, seed=22, timeframe="h1")  # 24/7 h1: daily context, 24 bars a day


@pytest.mark.parametrize(("series", "starts"), [("daily", (420, 423, 611)), ("hourly", (720, 733))])
def test_first_used_value_of_a_truncated_history_matches_the_full_history(series, starts, request):
    bars = request.getfixturevalue(series)
    specs = feature_specs(FeatureSet(), bars.attrs["timeframe"], bars.attrs["calendar"])
    full = compute_features(bars).to_numpy()
    sd = np.nanstd(full, axis=0)
    sd[~(sd > 0)] = 1.0
    for start in starts:
        part = compute_features(_truncated(bars, start)).to_numpy()
        for j, spec in enumerate(specs):
            used = np.flatnonzero(~np.isnan(part[:, j]))
            assert used[0] <= spec.warmup, f"{spec.name}: first value at {used[0]}, warm-up {spec.warmup}"
            error = np.abs(part[used, j] - full[start + used, j]) / sd[j]
            assert error[0] <= TOLERANCE, f"{spec.name} from bar {start}: first used value {error[0]:.3f} sd off"
            assert error.max() <= TOLERANCE, f"{spec.name} from bar {start}: {error.max():.3f} sd off later"


def test_recursions_are_masked_until_their_seed_settles(daily):
    masked, raw = compute_features(daily), compute_features(daily, mask_warmup=False)
    recursions = [s for s in feature_specs(FeatureSet(), "d1", "24/7") if s.first is not None]
    assert {"rsi_14", "adx_14", "atr_pct_50", "ema_14_50_ratio", "macd_hist_pct", "kama_14_ratio",
            "sar_dist_pct"} <= {s.name for s in recursions}
    for spec in recursions:
        assert spec.warmup > spec.first, spec.name
        assert masked[spec.name].iloc[:spec.warmup].isna().all(), spec.name
        assert raw[spec.name].iloc[spec.first:spec.warmup].notna().all(), spec.name  # TA-Lib gave values there
    pd.testing.assert_frame_equal(masked.iloc[warmup_bars(FeatureSet(), "d1"):], raw.iloc[warmup_bars(FeatureSet(), "d1"):])


def test_unmasked_values_at_the_old_warmup_depend_on_the_start(daily):
    """Why the mask: at TA-Lib's first output a Wilder RSI is far from the full-history value."""
    spec = next(s for s in feature_specs(FeatureSet(), "d1") if s.name == "rsi_14")
    full = compute_features(daily, mask_warmup=False)["rsi_14"].to_numpy()
    errors = [abs(compute_features(_truncated(daily, s), mask_warmup=False)["rsi_14"].iloc[spec.first]
                  - full[s + spec.first]) / np.nanstd(full) for s in (420, 423, 611)]
    assert max(errors) > 10 * TOLERANCE


def test_settle_is_the_decay_rule():
    for p in (7, 14, 50):
        assert settle(wilder(p)) == math.ceil(math.log(DECAY) / math.log(1 - 1 / p))
    a, k = wilder(14), settle(wilder(14), wilder(14))  # two stages: the error is (1-a)^k (1 + k a)
    assert (1 - a) ** k * (1 + k * a) <= DECAY < (1 - a) ** (k - 1) * (1 + (k - 1) * a)
    assert settle(ema_alpha(26), ema_alpha(9)) > settle(ema_alpha(26))


def test_default_warmups_by_timeframe():
    fs = FeatureSet()
    assert warmup_bars(fs, "d1") == warmup_bars(fs, "d1", "XNYS") == 50 + settle(wilder(50)) == 392  # ATR 50
    assert warmup_bars(fs, "h1", "24/7") == (27 + 2) * 24 - 1  # the daily ADX over 24 bars a day, exact
    cheap = FeatureSet(medium=30, long=60)  # SAR's 0.02 acceleration is then the slowest recursion
    assert warmup_bars(cheap, "d1") == 1 + settle(SAR_ACCELERATION) == 343


def test_windowed_context_forms_match_plain_pandas():
    bars = random_walk(120, seed=23, timeframe="w1")
    x = Inputs(bars)
    h, lo, c = bars["high"], bars["low"], bars["close"]
    move = c.diff()
    gains, losses = move.clip(lower=0).rolling(14).sum(), (-move).clip(lower=0).rolling(14).sum()
    np.testing.assert_allclose(sma_rsi(x, 14), 100 * gains / (gains + losses), rtol=1e-9, equal_nan=True)
    true_range = pd.concat([h - lo, (h - c.shift()).abs(), (lo - c.shift()).abs()], axis=1).max(axis=1)
    true_range.iloc[0] = np.nan
    np.testing.assert_allclose(sma_atr_pct(x, 14), 100 * true_range.rolling(14).mean() / c, rtol=1e-9, equal_nan=True)
    up, down = h.diff(), -lo.diff()
    plus = up.where((up > down) & (up > 0), 0.0).rolling(14).sum() / true_range.rolling(14).sum()
    minus = down.where((down > up) & (down > 0), 0.0).rolling(14).sum() / true_range.rolling(14).sum()
    adx = (100 * (plus - minus).abs() / (plus + minus)).rolling(14).mean()
    adx.iloc[:27] = np.nan
    np.testing.assert_allclose(sma_adx(x, 14), adx, rtol=1e-9, equal_nan=True)
