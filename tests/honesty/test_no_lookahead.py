"""The training matrix and the pipeline's windows never let the future in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.data.datasets import load_dataset
from candor.data.synthetic import planted_signal
from candor.training.matrix import build_labelled_data
from candor.training.walk import outer_folds
from candor.split import holdout_split


@pytest.fixture(scope="module")
def series():
    return {"sp500": load_dataset("sp500").iloc[:1800], "planted": planted_signal(1500, seed=11)}


@pytest.mark.parametrize("name", ["sp500", "planted"])
def test_training_rows_are_identical_when_the_future_is_cut_off(series, cheap_config, name):
    bars = series[name]
    full = build_labelled_data(bars, cheap_config.features, cheap_config.labels)
    rng = np.random.default_rng(0)
    for cut in sorted(rng.integers(len(bars) // 2, len(bars), size=12)):
        part = build_labelled_data(bars.iloc[:cut], cheap_config.features, cheap_config.labels)
        # Every row the truncated history can label must match the full history exactly.
        pd.testing.assert_frame_equal(part.X, full.X.loc[part.X.index], rtol=1e-9, atol=1e-12)
        pd.testing.assert_series_equal(part.y, full.y.loc[part.y.index])
        assert part.t1.max() <= bars.index[cut - 1]


@pytest.mark.parametrize("name", ["sp500", "planted"])
def test_no_training_label_reaches_into_its_test_fold_or_the_holdout(series, cheap_config, name):
    data = build_labelled_data(series[name], cheap_config.features, cheap_config.labels)
    ts, t1 = data.y.index, data.t1
    dev, hold = holdout_split(ts, t1, cheap_config.split.holdout, purge=cheap_config.purge)
    assert t1.iloc[dev].max() < ts[hold[0]]
    for fold in outer_folds(data, dev, cheap_config):
        train, test = fold.train, fold.test
        assert t1.iloc[train].max() < ts[test[0]]  # purged: every training label resolved before the test span
        assert train.max() < test.min()  # walk-forward: the past trains, the future tests
        assert (ts[test[0]] - ts[train.max()]) >= (ts[1] - ts[0]) * cheap_config.purge
