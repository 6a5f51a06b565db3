"""Synthetic series: valid bars, no signal in random_walk, a learnable one in planted_signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from sklearn.linear_model import LogisticRegression

from candor.data.bars import TIMEFRAMES
from candor.data.synthetic import planted_signal, random_walk
from candor.errors import ConfigError

GENERATORS = {"random_walk": random_walk, "planted_signal": planted_signal}


def log_returns(bars: pd.DataFrame) -> pd.Series:
    return np.log(bars["close"]).diff().dropna()


def ljung_box_p(x: np.ndarray, lags: int = 10) -> float:
    """Ljung–Box portmanteau p-value (written here so the test needs no statsmodels)."""
    x = x - x.mean()
    n = len(x)
    acf = np.array([np.dot(x[:-k], x[k:]) for k in range(1, lags + 1)]) / np.dot(x, x)
    q = n * (n + 2) * np.sum(acf**2 / (n - np.arange(1, lags + 1)))
    return float(chi2.sf(q, lags))


def majority_edge(bars: pd.DataFrame, horizon: int = 5, thr: float = 0.002) -> float:
    """Out-of-sample accuracy of a logistic regression on lagged returns minus the majority rate.

    Features: log returns over 1/5/10/20 bars (known at the close of t). Label: 3-class ±thr over
    ``horizon`` bars. Train on the first 70% minus ``horizon`` purged rows, test on the rest.
    """
    log_close = np.log(bars["close"])
    X = pd.DataFrame({f"r{k}": log_close.diff(k) for k in (1, 5, 10, 20)})
    fwd = bars["close"].shift(-horizon) / bars["close"] - 1
    y = np.sign(fwd.where(fwd.abs() > thr, 0.0))
    ok = (X.notna().all(axis=1) & fwd.notna()).to_numpy()
    X, y = X.to_numpy()[ok], y.to_numpy()[ok]
    cut = int(0.7 * len(y))
    model = LogisticRegression(max_iter=1000).fit(X[: cut - horizon], y[: cut - horizon])
    classes, counts = np.unique(y[: cut - horizon], return_counts=True)
    majority = classes[counts.argmax()]
    return float((model.predict(X[cut:]) == y[cut:]).mean() - (y[cut:] == majority).mean())


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("timeframe", ["m1", "h1", "d1", "w1"])
def test_bars_are_valid_and_gapless(name: str, timeframe: str) -> None:
    bars = GENERATORS[name](600, seed=3, timeframe=timeframe)
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert (bars.dtypes == "float64").all()
    assert bars.index.name == "ts" and str(bars.index.tz) == "UTC"
    assert bars.attrs["timeframe"] == timeframe and bars.attrs["calendar"] == "24/7"
    assert (np.diff(bars.index.asi8) == TIMEFRAMES[timeframe].value).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars["volume"] > 0).all() and np.isfinite(bars.to_numpy()).all()
    gap = np.log(bars["open"].iloc[1:].to_numpy() / bars["close"].iloc[:-1].to_numpy())
    assert 0 < np.abs(gap).mean() < 0.005  # open near the previous close, not equal to it


def test_same_seed_same_bars_and_seeds_differ() -> None:
    pd.testing.assert_frame_equal(random_walk(300, seed=7), random_walk(300, seed=7))
    assert not random_walk(300, seed=7)["close"].equals(random_walk(300, seed=8)["close"])
    pd.testing.assert_frame_equal(planted_signal(300, seed=7), planted_signal(300, seed=7))


def test_volume_is_persistent_lognormal() -> None:
    log_volume = np.log(random_walk(3000, seed=1)["volume"])
    assert 0.6 < log_volume.autocorr(1) < 0.99
    assert abs(log_volume.skew()) < 0.5  # log volume roughly symmetric → volume lognormal


@pytest.mark.parametrize("seed", range(5))
def test_random_walk_returns_are_white_noise(seed: int) -> None:
    bars = random_walk(2500, seed=seed)
    r = log_returns(bars)
    assert 0.009 < r.std() < 0.011
    assert abs(r.autocorr(1)) < 3 / np.sqrt(len(r))
    assert ljung_box_p(r.to_numpy()) > 0.01
    # nothing visible at bar t (body, range, volume) predicts the next close-to-close return
    nxt = r.shift(-1).dropna()
    visible = {
        "body": np.log(bars["close"] / bars["open"]),
        "range": np.log(bars["high"] / bars["low"]),
        "volume": np.log(bars["volume"]),
    }
    for name, feature in visible.items():
        corr = np.corrcoef(feature.loc[nxt.index], nxt)[0, 1]
        assert abs(corr) < 3 / np.sqrt(len(nxt)), name


def test_planted_signal_fails_the_white_noise_check() -> None:
    """The autocorrelation checks above have power: they reject the planted series."""
    r = log_returns(planted_signal(2500, seed=0))
    assert ljung_box_p(r.to_numpy()) < 0.01


def test_planted_signal_volatility_like_random_walk() -> None:
    for seed in range(3):
        planted, walk = log_returns(planted_signal(2000, seed)), log_returns(random_walk(2000, seed))
        assert abs(planted.std() / walk.std() - 1) < 0.1
        assert planted.nunique() == len(planted)


def test_planted_signal_is_learnable_and_random_walk_is_not() -> None:
    """A small version of the calibration in planted_signal's docstring (5 seeds, n=1,500)."""
    planted = [majority_edge(planted_signal(1500, seed)) for seed in range(5)]
    walk = [majority_edge(random_walk(1500, seed)) for seed in range(5)]
    assert sum(edge >= 0.05 for edge in planted) >= 4, planted
    assert np.mean(planted) > 0.08, planted
    assert np.mean(walk) < 0.03, walk


def test_planted_signal_strength_zero_is_a_random_walk() -> None:
    r = log_returns(planted_signal(2500, seed=1, strength=0.0))
    assert ljung_box_p(r.to_numpy()) > 0.01


def test_bad_arguments_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"`n` must be >= 2 bars\. Got 1\."):
        random_walk(1)
    with pytest.raises(ConfigError, match=r"`sigma` must be a positive finite number\. Got -0\.1"):
        random_walk(10, sigma=-0.1)
    with pytest.raises(ConfigError, match=r"`timeframe` must be one of .*Got 'd2'"):
        random_walk(10, timeframe="d2")
    with pytest.raises(ConfigError, match=r"`n` = 1000000 d1 bars .* at most \d+ bars"):
        random_walk(1_000_000)
    with pytest.raises(ConfigError, match=r"`strength` must be between 0 and 1\.5.*Got 2"):
        planted_signal(100, strength=2)
    with pytest.raises(ConfigError, match=r"`horizon` must be >= 1\. Got 0\."):
        planted_signal(100, horizon=0)
