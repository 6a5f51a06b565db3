"""The multi-timeframe join never uses a coarse bar before it has closed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.data.bars import make_bars
from candor.data.resample import resample
from candor.features import FeatureSet, compute_features
from candor.features.context import coarse_bars, source_rows

CONTEXT_ONLY = FeatureSet(groups=("context",), context_timeframes=("d1",))


def _hourly(days: int, start: str = "2024-03-04 00:00", extra_hours: int = 0) -> pd.DataFrame:
    """24/7 hourly bars whose close is 100 + day number on every bar of that day."""
    index = pd.date_range(start, periods=24 * days + extra_hours, freq="h", tz="UTC")
    close = 100.0 + np.arange(len(index)) // 24
    frame = pd.DataFrame({"open": close, "high": close + 0.5, "low": close - 0.5, "close": close,
                          "volume": 1000.0}, index=index)
    return make_bars(frame, "HAND", "h1", calendar="24/7")


def test_daily_bar_is_visible_only_from_its_last_hour():
    bars = _hourly(3, extra_hours=5)  # three complete days and an unfinished fourth
    ratio = compute_features(bars, CONTEXT_ONLY)["close_d1_close_ratio"].to_numpy()
    assert np.isnan(ratio[:23]).all()            # day 0 not closed yet
    assert ratio[23] == 0.0                      # 23:00 bar closes day 0: its close is day 0's close
    assert ratio[24] == 101.0 / 100.0 - 1        # day 1 starts: still sees day 0 (close 100)
    assert ratio[46] == 101.0 / 100.0 - 1        # 22:00 of day 1: day 1 not closed
    assert ratio[47] == 0.0                      # day 1 closes
    assert ratio[-1] == 103.0 / 102.0 - 1        # unfinished day 3 never appears; day 2 does


def test_source_rows_maps_each_fine_row_to_latest_closed_period():
    bars = _hourly(2, start="2024-03-04 20:00")  # starts mid-day: first (partial) day is dropped
    codes, coarse = coarse_bars(bars, "d1")
    src = source_rows(codes)
    assert list(coarse.index.strftime("%m-%d")) == ["03-05"]
    assert (src[: 4 + 23] == -1).all() and (src[4 + 23:] == 0).all()


def test_fast_coarse_bars_equal_resample(aapl_h1, sp500):
    for bars, tf in ((aapl_h1, "d1"), (sp500, "w1")):
        _, coarse = coarse_bars(bars, tf)
        pd.testing.assert_frame_equal(coarse, resample(bars, tf), check_freq=False)


def test_changing_an_unclosed_day_does_not_move_context():
    bars = _hourly(3)
    changed = bars.copy()
    changed.iloc[50:60, :4] *= 2.0  # inside day 2, before its last hour (row 71)
    changed.attrs.update(bars.attrs)
    a = compute_features(bars, CONTEXT_ONLY)["close_d1_close_ratio"].to_numpy()
    b = compute_features(changed, CONTEXT_ONLY)["close_d1_close_ratio"].to_numpy()
    np.testing.assert_array_equal(a[:50], b[:50])
    np.testing.assert_array_equal(a[60:71], b[60:71])  # same fine close, same closed day 1
