"""compute_features' two memory savings change no value: columns written straight into the
result matrix, and shared series freed after their last user."""

from __future__ import annotations

import numpy as np
import pytest

from candor.data.bars import timeframe_of
from candor.features import FeatureSet, compute_features
from candor.features.catalog import _release_plan, feature_specs
from candor.features.indicators import Inputs


def _each_column_alone(bars, feature_set):
    """Every column from its own fresh Inputs: nothing shared, nothing written in place."""
    specs = feature_specs(feature_set, timeframe_of(bars), bars.attrs.get("calendar"))
    return {spec.name: np.array(spec.fn(Inputs(bars)), dtype=float) for spec in specs}


@pytest.mark.parametrize("series", ["sp500", "aapl_h1", "walk_h1"])
def test_shared_and_in_place_columns_equal_columns_computed_alone(series, request):
    bars = request.getfixturevalue(series)
    frame = compute_features(bars, mask_warmup=False)  # the mask is tested in test_features_warmup
    alone = _each_column_alone(bars, FeatureSet())
    assert list(frame.columns) == list(alone)
    for name, values in alone.items():
        np.testing.assert_array_equal(frame[name].to_numpy(), values, err_msg=name)


@pytest.mark.parametrize("series", ["sp500", "aapl_h1"])
def test_release_plan_frees_every_shared_series_once_after_its_last_user(series, request):
    bars = request.getfixturevalue(series)
    feature_set = FeatureSet()
    timeframe, calendar = timeframe_of(bars), bars.attrs.get("calendar")
    specs = feature_specs(feature_set, timeframe, calendar)
    plan = _release_plan(feature_set, timeframe, calendar, bars)
    released = [key for keys in plan for key in keys]
    assert len(released) == len(set(released))

    x = Inputs(bars)
    for j, spec in enumerate(specs):
        x.touched = []
        spec.fn(x)
        later = {key for keys in plan[j + 1:] for key in keys}
        # a series used here is either freed now or by a later column, never before
        assert set(x.touched) <= set(plan[j]) | later, spec.name
        x.forget(plan[j])
    assert x._memo == {}
