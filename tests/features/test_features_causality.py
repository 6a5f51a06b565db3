"""Causality: features of bars[: t+1] equal row t of the full computation, context included."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.features import FeatureSet, compute_features

N_CUTS = 50


def _cut_points(bars: pd.DataFrame, seed: int) -> list[int]:
    """50 random cuts plus the rows that open and close a coarse period (where joins change)."""
    rng = np.random.default_rng(seed)
    n = len(bars)
    random = rng.choice(np.arange(30, n - 1), size=N_CUTS, replace=False)
    day = bars.index.normalize()
    boundaries = np.flatnonzero(day[1:] != day[:-1])  # last row of a day; +1 is the first of the next
    edge = rng.choice(boundaries[boundaries > n // 2], size=min(6, len(boundaries)), replace=False)
    return sorted({int(t) for t in np.r_[random, edge, edge + 1] if t < n})


def _assert_truncation_holds(bars: pd.DataFrame, seed: int) -> pd.DataFrame:
    full = compute_features(bars)
    assert any(c.startswith(("d1_", "w1_")) for c in full.columns), "context columns must be tested"
    values = full.to_numpy()
    for t in _cut_points(bars, seed):
        row = compute_features(bars.iloc[: t + 1]).to_numpy()[-1]
        np.testing.assert_allclose(row, values[t], rtol=1e-9, atol=1e-12, equal_nan=True,
                                   err_msg=f"feature row {t} changes when later bars are cut")
    return full


def test_sp500_daily_with_weekly_context_is_causal(sp500):
    full = _assert_truncation_holds(sp500, seed=1)
    assert full.filter(like="w1_").iloc[300:].notna().all().all()  # the context was really there


def test_aapl_hourly_with_daily_context_is_causal(aapl_h1):
    full = _assert_truncation_holds(aapl_h1, seed=2)
    assert full.filter(like="d1_").iloc[-500:].notna().all().all()


def test_random_walk_is_causal(walk_h1):
    _assert_truncation_holds(walk_h1, seed=3)


def test_future_bars_never_change_past_rows(walk_h1):
    """A shock in the last bars leaves every earlier row bit-for-bit the same."""
    shocked = walk_h1.copy()
    shocked.iloc[-30:, :4] *= 1.5
    shocked.attrs.update(walk_h1.attrs)
    a = compute_features(walk_h1).to_numpy()[:-30]
    b = compute_features(shocked).to_numpy()[:-30]
    np.testing.assert_array_equal(a, b)


def test_default_feature_set_includes_context_for_each_timeframe():
    assert FeatureSet().context_timeframes is None
