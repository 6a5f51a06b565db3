"""The multi-timeframe join never uses a coarse bar before it has closed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.data.bars import make_bars
from candor.data.resample import resample
from candor.features import FeatureSet, compute_features
from candor.features.context import _coarse_with_bounds, coarse_bars, source_rows

CONTEXT_ONLY = FeatureSet(groups=("context",), context_timeframes=("d1",))
N_CUTS = 40


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
    codes, coarse, ends, bar_close = _coarse_with_bounds(bars, "d1")
    src = source_rows(codes, ends, bar_close)
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


# --------------------------------------------------- missing session-end bars (issue 14, item 5)
def _without(bars: pd.DataFrame, drop: pd.Index) -> pd.DataFrame:
    kept = bars.drop(index=drop)
    kept.attrs.update(bars.attrs)
    return kept


def _session_ends_dropped(bars: pd.DataFrame, every: int) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """``bars`` without the last bar of every ``every``-th session; returns the new last rows."""
    day = bars.index.normalize()
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])[::every]
    return _without(bars, bars.index[last]), list(bars.index[last - 1])


def _cuts_around(bars: pd.DataFrame, stamps: list[pd.Timestamp], seed: int) -> list[int]:
    """The row left last in a shortened period, the row after it, and random rows."""
    pos = bars.index.get_indexer(pd.DatetimeIndex(stamps))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(pos[pos > len(bars) // 3], size=min(N_CUTS // 2, len(pos)), replace=False)
    random = rng.choice(np.arange(len(bars) // 3, len(bars) - 1), size=N_CUTS // 2, replace=False)
    return sorted({int(t) for t in np.r_[chosen, chosen + 1, random] if t < len(bars)})


def _assert_truncation_reproduces(bars: pd.DataFrame, features: FeatureSet, cuts: list[int]) -> None:
    full = compute_features(bars, features)
    assert full.shape[1] > 0 and full.iloc[-200:].notna().all().all(), "the context must really be there"
    for t in cuts:
        row = compute_features(bars.iloc[: t + 1], features).iloc[-1]
        np.testing.assert_allclose(row.to_numpy(), full.iloc[t].to_numpy(), rtol=1e-12, atol=1e-12,
                                   equal_nan=True, err_msg=f"context row {t} ({bars.index[t]}) changes when "
                                                           "later bars are cut")


def test_context_after_missing_session_end_bars_is_reproduced_by_truncation(aapl_h1):
    """aapl_h1 already stops at 12:30 on early closes; drop the last hour of every 3rd session too."""
    bars, shortened = _session_ends_dropped(aapl_h1, every=3)
    day = bars.index.normalize()
    size = pd.Series(1, index=bars.index).groupby(day).transform("size").to_numpy()
    early = list(bars.index[(size <= 3) & np.r_[day[1:] != day[:-1], True]])  # last bar of a short session
    assert early, "aapl_h1 has early-close sessions"
    both = FeatureSet(groups=("context",), context_timeframes=("d1", "w1"))
    _assert_truncation_reproduces(bars, both, _cuts_around(bars, shortened + early, 5))


def test_context_after_missing_fridays_is_reproduced_by_truncation(sp500):
    fridays = sp500.index[sp500.index.dayofweek == 4]
    bars = _without(sp500, fridays[::4])
    before = [bars.index[bars.index.searchsorted(f) - 1] for f in fridays[::4] if f > bars.index[0]]
    weekly = FeatureSet(groups=("context",), context_timeframes=("w1",))
    _assert_truncation_reproduces(bars, weekly, _cuts_around(bars, before, 6))


def test_24_7_day_without_its_last_hour_becomes_visible_on_the_next_bar():
    hourly = _hourly(3)
    bars = _without(hourly, hourly.index[[47]])  # day 1 (close 101) loses its 23:00 bar
    ratio = compute_features(bars, CONTEXT_ONLY)["close_d1_close_ratio"].to_numpy()
    assert ratio[46] == 101.0 / 100.0 - 1   # 22:00, now day 1's last bar: not known to be its last, sees day 0
    assert ratio[47] == 102.0 / 101.0 - 1   # 00:00 of day 2 closes after day 1's end: day 1 is visible
