"""ARIMA-GARCH member: arch's own forecasts, Monte-Carlo class probabilities, causality, and the
ensemble / walk-forward / tuning / config wiring."""

from __future__ import annotations

import io

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest
from arch import arch_model
from sklearn.base import clone

from candor.arima_garch import SCALE, ArimaGarchClassifier, label_params
from candor.config import load_config
from candor.data.synthetic import random_walk
from candor.errors import ConfigError, ModelError
from candor.labels import LabelSpec
from candor.models import make_model, search_space
from candor.training.run import train
from candor.training.stacking import make_members

TRUE = {"const": 0.0005, "phi": -0.08, "omega": 2e-6, "alpha": 0.09, "beta": 0.89, "nu": 6.0}


def simulate_ar_garch(n: int, seed: int, params: dict = TRUE) -> np.ndarray:
    """Decimal log returns of AR(1)-GARCH(1,1) with standardised Student-t innovations."""
    rng = np.random.default_rng(seed)
    nu = params["nu"]
    z = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu)
    r = np.zeros(n)
    var = params["omega"] / (1 - params["alpha"] - params["beta"])
    shock = 0.0
    for t in range(n):
        var = params["omega"] + params["alpha"] * shock ** 2 + params["beta"] * var if t else var
        shock = np.sqrt(var) * z[t]
        r[t] = params["const"] + (params["phi"] * r[t - 1] if t else 0.0) + shock
    return r


def threshold_labels(r: np.ndarray, horizon: int, threshold: float) -> np.ndarray:
    """candor.labels' threshold rule on the close path exp(cumsum r); the last rows padded 0."""
    close = np.exp(np.cumsum(r))
    ret = close[horizon:] / close[:-horizon] - 1
    y = np.where(ret > threshold, 1, np.where(ret < -threshold, -1, 0))
    return np.concatenate([y, np.zeros(horizon, dtype=int)])


@pytest.fixture(scope="module")
def series():
    r = simulate_ar_garch(2600, seed=1)
    X = pd.DataFrame({"other": np.random.default_rng(2).normal(size=len(r)), "ret_1": r},
                     index=pd.date_range("2010-01-01", periods=len(r), freq="D", tz="UTC"))
    return X, threshold_labels(r, 5, 0.002)


@pytest.fixture(scope="module")
def fitted(series):
    X, y = series
    return ArimaGarchClassifier(lags=1, horizon=5).fit(X.iloc[:2000], y[:2000])


def test_fit_recovers_the_simulated_parameters(fitted):
    p = fitted.params_
    assert fitted.converged_
    assert p["y[1]"] == pytest.approx(TRUE["phi"], abs=0.06)
    assert p["alpha[1]"] == pytest.approx(TRUE["alpha"], abs=0.05)
    assert p["alpha[1]"] + p["beta[1]"] == pytest.approx(TRUE["alpha"] + TRUE["beta"], abs=0.03)
    assert 3.5 < p["nu"] < 12


def test_filter_reproduces_arch_forecasts_after_the_training_rows(series, fitted):
    """Our filter starts at the end of training; arch with the same fixed parameters runs through
    the whole series: per-step means and variances of every test origin agree."""
    X, _ = series
    moments = fitted.forecast_moments(X.iloc[2000:])
    full = arch_model(SCALE * X["ret_1"].to_numpy(), mean="AR", lags=1, vol="GARCH", p=1, q=1,
                      dist="t", rescale=False).fix(fitted.params_.to_numpy())
    expected = full.forecast(horizon=5, start=2000, reindex=False)
    np.testing.assert_allclose(moments["step_mean"], expected.mean.to_numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(moments["step_variance"], expected.variance.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(moments["mean"], expected.mean.to_numpy().sum(axis=1), rtol=1e-10, atol=1e-12)


def _monte_carlo(model: ArimaGarchClassifier, last_return: float, next_variance: float,
                 n_paths: int, seed: int) -> np.ndarray:
    """Shares of BEARISH / NEUTRAL / BULLISH among simulated label returns from one state."""
    p = model.params_
    rng = np.random.default_rng(seed)
    nu = p["nu"]
    var, lag, total = np.full(n_paths, next_variance), np.full(n_paths, last_return), np.zeros(n_paths)
    for _ in range(model.horizon):
        shock = np.sqrt(var) * rng.standard_t(nu, n_paths) * np.sqrt((nu - 2) / nu)
        step = p["Const"] + p["y[1]"] * lag + shock
        total += step
        var = p["omega"] + p["alpha[1]"] * shock ** 2 + p["beta[1]"] * var
        lag = step
    ret = np.expm1(total / SCALE)  # the simple horizon return, as candor.labels classifies it
    thr = model.threshold
    return np.array([(ret < -thr).mean(), ((ret >= -thr) & (ret <= thr)).mean(), (ret > thr).mean()])


@pytest.mark.parametrize("horizon", [1, 5, 20])
def test_class_probabilities_match_monte_carlo(series, fitted, horizon):
    X, _ = series
    model = clone(fitted).set_params(horizon=horizon).fit(X.iloc[:2000], series[1][:2000])
    rows = X.iloc[2000:2400]
    moments = model.forecast_moments(rows)
    proba = model.predict_proba(rows)
    variance = moments["step_variance"][:, 0]
    # a calm, a typical and a turbulent origin
    for i in (int(np.argmin(variance)), int(np.argsort(variance)[len(variance) // 2]), int(np.argmax(variance))):
        mc = _monte_carlo(model, SCALE * rows["ret_1"].iloc[i], variance[i], 200_000, seed=i)
        np.testing.assert_allclose(proba[i], mc, atol=0.006)  # MC s.e. ≈ 0.0011


def test_binary_labels_split_at_zero(series):
    X, y = series
    model = ArimaGarchClassifier(label="binary", horizon=5).fit(X.iloc[:2000], np.where(y[:2000] > 0, 1, -1))
    proba = model.predict_proba(X.iloc[2000:])
    assert list(model.classes_) == [-1, 1] and proba.shape == (600, 2)
    mean = model.forecast_moments(X.iloc[2000:])["mean"]
    np.testing.assert_array_equal(proba[:, 1] > 0.5, mean > 0)  # symmetric law: P(L>0) > ½ ⟺ E L > 0


def test_prediction_for_row_t_uses_rows_up_to_t_only(series, fitted):
    X, _ = series
    test = X.iloc[2000:2300]
    full = fitted.predict_proba(test)
    for t in (0, 1, 57, 299):
        np.testing.assert_allclose(fitted.predict_proba(test.iloc[: t + 1])[-1], full[t], rtol=1e-12)
    changed = test.copy()
    changed.iloc[120:, changed.columns.get_loc("ret_1")] *= -3.0  # a crash after row 119
    np.testing.assert_allclose(fitted.predict_proba(changed)[:120], full[:120], rtol=1e-12)
    assert not np.allclose(fitted.predict_proba(changed)[120:], full[120:])


def test_fit_reads_only_the_return_column_and_rows_given(series):
    X, y = series
    a = ArimaGarchClassifier().fit(X.iloc[:1500], y[:1500])
    other = X.iloc[:1500].assign(other=0.0)
    b = ArimaGarchClassifier().fit(other, y[:1500])
    later = X.iloc[1500:1600]
    np.testing.assert_allclose(a.predict_proba(later), b.predict_proba(later.assign(other=0.0)), rtol=1e-12)
    assert not np.allclose(a.params_, ArimaGarchClassifier().fit(X.iloc[:1400], y[:1400]).params_)


def test_balanced_output_times_the_training_prior_is_the_model_probability(series):
    """What the ensemble's Bayes prior correction does to a class-balanced member gives P(label = c)."""
    X, y = series
    raw = ArimaGarchClassifier().fit(X.iloc[:2000], y[:2000]).predict_proba(X.iloc[2000:])
    balanced = ArimaGarchClassifier(class_weight="balanced").fit(X.iloc[:2000], y[:2000]).predict_proba(X.iloc[2000:])
    prior = np.unique(y[:2000], return_counts=True)[1] / 2000
    corrected = balanced * prior
    np.testing.assert_allclose(corrected / corrected.sum(axis=1, keepdims=True), raw, rtol=1e-9)
    assert not np.allclose(balanced, raw)


def test_numpy_input_and_pickle_round_trip(series, fitted):
    """The forecast job passes a plain array in training column order, from a joblib artifact."""
    X, _ = series
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    with pytest.warns(UserWarning, match="feature names"):
        from_array = loaded.predict_proba(X.iloc[2000:2050].to_numpy())
    np.testing.assert_allclose(from_array, fitted.predict_proba(X.iloc[2000:2050]), rtol=1e-12)


def test_catalog_pipeline_skips_prune_and_scale_and_takes_params():
    model = make_model("arima_garch", params={"lags": 2, "dist": "normal"})
    assert [name for name, _ in model.steps] == ["clf"]
    assert (model[-1].lags, model[-1].dist) == (2, "normal")
    clone(model)  # get_params / set_params round trip
    with pytest.raises(ConfigError, match=r"unknown hyper-parameter\(s\) \['p'\] for model 'arima_garch'"):
        make_model("arima_garch", params={"p": 2})


def test_search_space_is_lags_and_distribution(series):
    X, y = series
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = [search_space("arima_garch", study.ask()) for _ in range(12)]
    assert all(0 <= p["lags"] <= 3 and p["dist"] in ("t", "normal") for p in seen)
    lags0 = make_model("arima_garch", params={"lags": 0, "dist": "normal"}).fit(X.iloc[:600], y[:600])
    assert lags0.predict_proba(X.iloc[600:700]).shape == (100, 3)


def test_config_wires_the_label_horizon_and_threshold():
    config = load_config(environ={}, overrides={"models": {"models": ("logreg", "arima_garch")},
                                                "labels": {"horizon": 3, "threshold": 0.004}})
    member = make_members(config)["arima_garch"][-1]
    assert (member.horizon, member.threshold, member.label) == (3, 0.004, "threshold")
    assert label_params(LabelSpec(kind="binary", horizon=2)) == {"horizon": 2, "threshold": 0.002, "label": "binary"}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"labels": {"kind": "volscaled"}}, r"arima_garch classifies threshold and binary labels, not 'volscaled'"),
    ({"labels": {"kind": "triple"}}, r"not 'triple'"),
    ({"features": {"groups": ("momentum", "volatility")}}, r"reads the 1-bar log return \(ret_1\)"),
])
def test_config_refuses_inputs_the_member_cannot_use(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ={}, overrides={"models": {"models": ("rf", "arima_garch")}, **overrides})


def test_bad_estimator_inputs_are_one_clear_error(series):
    X, y = series
    with pytest.raises(ModelError, match=r"reads the 1-bar log return column 'ret_1', which X does not have"):
        ArimaGarchClassifier().fit(X[["other"]], y)
    with pytest.raises(ConfigError, match=r"`dist` must be one of t, normal\. Got 'skewt'"):
        ArimaGarchClassifier(dist="skewt").fit(X, y)
    with pytest.raises(ConfigError, match=r"`lags` \(AR order\) must be an integer in 0\.\.20\. Got -1"):
        ArimaGarchClassifier(lags=-1).fit(X, y)
    with pytest.raises(ModelError, match=r"y also holds \['down', 'up'\]"):
        ArimaGarchClassifier().fit(X.iloc[:100], np.array(["up", "down"] * 50))
    with pytest.raises(ModelError, match="needs at least 51 rows"):
        ArimaGarchClassifier().fit(X.iloc[:30], y[:30])


def test_runs_in_the_walk_forward_beside_another_member():
    bars = random_walk(1400, seed=3)  # ~1,000 rows after the 392-bar warm-up
    config = load_config(environ={}, overrides={
        "models": {"models": ("logreg", "arima_garch")}, "split": {"folds": 3},
        "evaluation": {"n_boot": 200, "importance_repeats": 1},
    })
    result = train(bars, config)
    score = result.report.models["arima_garch"]
    assert 0.0 < score.oos_accuracy < 1.0
    assert set(result.weights) == {"logreg", "arima_garch"}
    assert sum(result.weights.values()) == pytest.approx(1.0)
    member = result.model.members_["arima_garch"][-1]
    assert (member.horizon, member.threshold) == (config.labels.horizon, config.labels.threshold)
    assert result.oos_proba.shape[1] == 3 and np.allclose(result.oos_proba.sum(axis=1), 1.0)


def test_nested_tuning_searches_lags_and_distribution(series):
    from candor.training.tuning import tune_params

    X, y = series
    result = tune_params(X.iloc[:1500], y[:1500], None, "arima_garch", trials=3, metric="log_loss",
                         purge=5, embargo=5, random_state=0, base_params={"horizon": 5, "threshold": 0.002})
    assert result.n_own_trials == 3
    assert {"lags", "dist", "horizon", "threshold"} <= set(result.best_params)
    assert np.isfinite(result.best_value)
