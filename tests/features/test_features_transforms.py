"""Scalers and the correlation pruner (sklearn-compatible, refit per fold)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from candor.errors import ConfigError
from candor.features import CorrelationPruner, make_scaler


@parametrize_with_checks([CorrelationPruner(), CorrelationPruner(threshold=0.5)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_drops_the_later_of_a_correlated_pair():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(500), rng.standard_normal(500)
    X = pd.DataFrame({"a": a, "b": b, "a_copy": 3 * a + 0.01 * rng.standard_normal(500), "neg_b": -b})
    pruner = CorrelationPruner(threshold=0.95).fit(X)
    assert list(pruner.get_feature_names_out()) == ["a", "b"]
    assert pruner.transform(X).shape == (500, 2)
    assert list(CorrelationPruner(threshold=1.0).fit(X).get_feature_names_out()) == list(X.columns)


def test_pruner_keeps_constant_columns_and_refits_in_a_pipeline():
    X = np.c_[np.ones(50), np.arange(50.0), np.arange(50.0) * 2]
    pipe = make_pipeline(make_scaler("standard"), CorrelationPruner()).fit(X)
    assert pipe.transform(X).shape == (50, 2)


def test_pruner_rejects_bad_threshold():
    with pytest.raises(ConfigError, match=r"`threshold` must be in \(0, 1\]. Got 1.5"):
        CorrelationPruner(threshold=1.5).fit(np.eye(3))


@pytest.mark.parametrize(("method", "cls"), [("standard", StandardScaler), ("minmax", MinMaxScaler),
                                             ("robust", RobustScaler)])
def test_make_scaler(method, cls):
    assert isinstance(make_scaler(method), cls)


def test_make_scaler_none_is_identity_and_unknown_fails():
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(make_scaler("none").fit_transform(X), X)
    with pytest.raises(ConfigError, match=r"`scaler` must be one of standard, minmax, robust, none. Got 'zscore'"):
        make_scaler("zscore")
