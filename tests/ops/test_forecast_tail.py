"""The forecast job's tail: only the newest ``lookback_bars`` bars are read from the store, and
features are computed once per series and feature set; the values it predicts from must be the
very numbers the full computation gives for the rows it uses."""

from __future__ import annotations

import numpy as np
import pytest

from candor.data.synthetic import planted_signal
from candor.errors import DataError
from candor.features import FeatureSet, compute_features, warmup_bars
from candor.ops.forecast import SeriesFeatures, store_loader
from candor.store import connect_store, import_bars, load_bars, upgrade

FEATURES = FeatureSet(medium=30, long=60)
LOOKBACK = warmup_bars(FEATURES, "d1") + 10  # the newest 10 rows have every feature


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'candor.db'}"
    upgrade(url)
    store = connect_store(url)
    import_bars(store.engine, planted_signal(900, seed=3, symbol="TAIL"))
    yield store.engine
    store.close()


def test_store_tail_is_the_newest_bars_of_the_full_load(engine):
    full = load_bars(engine, "TAIL", "d1")
    tail = load_bars(engine, "TAIL", "d1", last=LOOKBACK)
    assert len(full) == 900 and len(tail) == LOOKBACK
    assert tail.index.equals(full.index[-LOOKBACK:])
    assert np.array_equal(tail.to_numpy(), full.iloc[-LOOKBACK:].to_numpy())
    assert tail.attrs == full.attrs
    assert len(load_bars(engine, "TAIL", "d1", last=5000)) == 900  # fewer stored bars than asked: all


def test_tail_features_equal_the_full_computation_for_the_rows_used(engine):
    """What the job computes on the store tail equals ``compute_features`` of the whole series
    restricted to the forecast window — bit for bit, on every row a forecast may use."""
    full = load_bars(engine, "TAIL", "d1")
    feature_set = FEATURES
    expected = compute_features(full.iloc[-LOOKBACK:], feature_set)
    tail = SeriesFeatures(store_loader(engine, LOOKBACK)("TAIL", "d1"))

    class Model:  # the two attributes SeriesFeatures reads from a CandorModel
        def __init__(self, fs: FeatureSet) -> None:
            self.feature_set = fs

    first, second = tail.of(Model(feature_set)), tail.of(Model(FeatureSet(medium=30, long=60)))
    assert second is first, "a second horizon with the same feature set must reuse the computation"
    used = first.iloc[-10:]  # the newest complete rows the forecast picks from
    assert used.index.equals(expected.index[-10:]) and list(used.columns) == list(expected.columns)
    assert np.array_equal(used.to_numpy(), expected.iloc[-10:].to_numpy(), equal_nan=True)
    assert np.isfinite(used.to_numpy()).all()
    other = tail.of(Model(FeatureSet(short=10, medium=30, long=60)))
    assert other is not first and "rsi_10" in other.columns


@pytest.mark.parametrize("last", [0, -3, True, 2.5])
def test_tail_length_must_be_a_positive_count(engine, last):
    with pytest.raises(DataError, match="`last` must be a positive number of bars"):
        load_bars(engine, "TAIL", "d1", last=last)


def test_prefetched_tails_equal_one_read_per_series_and_missing_series_keep_their_error(engine):
    import pandas as pd

    import_bars(engine, planted_signal(120, seed=4, symbol="SHORT"))
    batch = store_loader(engine, LOOKBACK, [("TAIL", "d1"), ("SHORT", "d1"), ("GONE", "d1")])
    single = store_loader(engine, LOOKBACK)
    for symbol in ("TAIL", "SHORT"):
        pd.testing.assert_frame_equal(batch(symbol, "d1"), single(symbol, "d1"), check_exact=True)
    assert len(single("SHORT", "d1")) == 120
    with pytest.raises(DataError, match="no GONE/d1 bars") as batched_error:
        batch("GONE", "d1")
    with pytest.raises(DataError) as single_error:
        single("GONE", "d1")
    assert str(batched_error.value) == str(single_error.value)
