"""Resampling: hand-checked OHLCV, session anchoring, complete bars only, and m1 → h1 on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.data import bar_close_times, load_dataset, make_bars, period_labels, resample
from candor.errors import ConfigError, DataError

COLS = ["open", "high", "low", "close", "volume"]


def _frame(index, rows, timeframe: str, calendar: str | None) -> pd.DataFrame:
    return make_bars(pd.DataFrame(rows, columns=COLS, index=index), "T", timeframe, calendar)


def _ny(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize("America/New_York").tz_convert("UTC")


def test_247_m15_to_h1_by_hand_and_no_partial_last_bar():
    idx = pd.date_range("2024-01-01", periods=9, freq="15min", tz="UTC")
    rows = [[10, 11, 9, 10.5, 1], [10.5, 12, 10, 11, 2], [11, 11.5, 8, 9, 3], [9, 10, 8.5, 9.5, 4],
            [9.5, 10, 9, 10, 5], [10, 13, 10, 12, 6], [12, 12.5, 11, 11.5, 7], [11.5, 12, 7, 8, 8],
            [8, 9, 7.5, 8.5, 9]]  # the 02:00 bar starts an hour the data never finishes
    h1 = resample(_frame(idx, rows, "m15", "24/7"), "h1")
    expected = pd.DataFrame([[10, 12, 8, 9.5, 10], [9.5, 13, 7, 8, 26]], columns=COLS, dtype=float,
                            index=pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00"], tz="UTC", name="ts"))
    pd.testing.assert_frame_equal(h1, expected)
    assert h1.attrs == {"symbol": "T", "timeframe": "h1", "calendar": "24/7"}


def test_xnys_hourly_is_anchored_at_the_session_open_and_complete_only():
    idx = _ny("2024-03-05 15:00", "2024-03-05 15:15", "2024-03-05 15:30", "2024-03-05 15:45",
              "2024-03-06 09:30", "2024-03-06 09:45")
    rows = [[50, 51, 49, 50.5, 100], [50.5, 52, 50, 51, 200], [51, 53, 50.5, 52, 300],
            [52, 52.5, 48, 49, 400], [49, 50, 47, 48, 500], [48, 49, 47.5, 48.5, 600]]
    bars = _frame(idx, rows, "m15", "XNYS")
    # 14:30-15:30 starts before the data; 15:30-16:00 (the session's last, half-hour bar) is
    # complete; 09:30-10:30 next day is not finished by the data's last close (10:00).
    h1 = resample(bars, "h1")
    assert list(h1.index) == list(_ny("2024-03-05 15:30"))
    assert h1.iloc[0].tolist() == [51.0, 53.0, 48.0, 49.0, 700.0]
    labels = period_labels(bars, "h1")
    assert labels.isna().tolist() == [True, True, False, False, True, True]
    assert resample(bars, "h4").empty and resample(bars, "d1").empty


def test_xnys_daily_from_hourly_labelled_at_session_date():
    idx = _ny(*[f"2024-03-0{d} {h}:30" for d in (5, 6) for h in (9, 10, 11, 12, 13, 14, 15)])
    close = 100.0 + np.arange(14)
    rows = np.column_stack([close - 0.5, close + 1, close - 1, close, np.arange(1.0, 15.0)])
    d1 = resample(_frame(idx, rows, "h1", "XNYS"), "d1")
    expected = pd.DataFrame([[99.5, 107, 99, 106, 28], [106.5, 114, 106, 113, 77]], columns=COLS,
                            dtype=float, index=pd.DatetimeIndex(["2024-03-05", "2024-03-06"], tz="UTC", name="ts"))
    pd.testing.assert_frame_equal(d1, expected)
    # The d1 bar closes at the 16:00 New York session close, not at midnight.
    assert bar_close_times(d1).iloc[0] == _ny("2024-03-05 16:00")[0]


def _daily(days: pd.DatetimeIndex) -> pd.DataFrame:
    close = 10.0 + np.arange(len(days))
    rows = np.column_stack([close, close + 1, close - 1, close, np.ones(len(days))])
    return _frame(days, rows, "d1", "XNYS")


def test_weekly_labelled_monday_and_short_weeks_complete_at_their_last_session():
    days = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08",
                             "2024-03-25", "2024-03-26", "2024-03-27", "2024-03-28"], tz="UTC")
    w1 = resample(_daily(days), "w1")
    # Good Friday (03-29) closes the exchange: the week ends with Thursday's session.
    assert list(w1.index) == list(pd.DatetimeIndex(["2024-03-04", "2024-03-25"], tz="UTC"))
    assert w1.iloc[0].tolist() == [10.0, 15.0, 9.0, 14.0, 5.0]
    assert w1.iloc[1].tolist() == [15.0, 19.0, 14.0, 18.0, 4.0]


def test_weekly_with_a_monday_holiday_is_still_labelled_monday():
    days = pd.DatetimeIndex(["2024-02-20", "2024-02-21", "2024-02-22", "2024-02-23", "2024-02-26"], tz="UTC")
    w1 = resample(_daily(days), "w1")  # 02-19 is Presidents' Day; the week of 02-26 is unfinished
    assert list(w1.index) == [pd.Timestamp("2024-02-19", tz="UTC")] and w1["volume"].iloc[0] == 4.0


def test_resample_groups_by_period_labels():
    bars = load_dataset("aapl_m1")
    labels = period_labels(bars, "m15")
    assert labels.index.equals(bars.index)
    manual = bars[labels.notna()].groupby(labels[labels.notna()])
    assert np.array_equal(manual["high"].max().to_numpy(), resample(bars, "m15")["high"].to_numpy())


def test_m1_chain_equals_direct_and_minute_sample_has_no_partial_last_bar():
    m1 = load_dataset("aapl_m1")
    direct = resample(m1, "h1")
    chained = resample(resample(resample(m1, "m5"), "m15"), "h1")
    pd.testing.assert_frame_equal(direct, chained)
    # The sample ends 10:11 New York on 2026-08-06: no 09:30 bar for that day, at any timeframe.
    assert direct.index[-1] == _ny("2026-08-05 15:30")[0]
    assert period_labels(m1, "h1").loc["2026-08-06"].isna().all()
    assert len(direct) == 6 * 7 and len(resample(m1, "d1")) == 6
    assert list(resample(m1, "h4").index[:2]) == list(_ny("2026-07-29 09:30", "2026-07-29 13:30"))


def test_m1_to_h1_matches_the_embedded_hourly_series():
    ours = resample(load_dataset("aapl_m1"), "h1")
    vendor = load_dataset("aapl_h1")
    both = ours.join(vendor, rsuffix="_v", how="inner")
    assert len(both) == len(ours) == 42  # every complete hour of the minute sample is in the hourly one
    # Prices: first/max/min/last do no arithmetic and both samples come from one vendor feed, so
    # they agree exactly (measured max difference: 0.0); 1e-9 relative only absorbs CSV parsing.
    for col in ("open", "high", "low", "close"):
        np.testing.assert_allclose(both[col], both[f"{col}_v"], rtol=1e-9, atol=0)
    # Volumes: measured equal in 41 of 42 hours; the vendor's 2026-08-04 12:30 NY hour has
    # 5,070,397 while its minutes sum to 6,480,740 (+1,410,343, 27.8%). Pin exactly that.
    differs = both.index[both["volume"] != both["volume_v"]]
    assert list(differs) == list(_ny("2026-08-04 12:30"))
    assert both.loc[differs[0], "volume"] - both.loc[differs[0], "volume_v"] == 1_410_343


def test_same_or_finer_timeframe_is_refused():
    bars = load_dataset("aapl_h1")
    with pytest.raises(ConfigError, match=r"`to_timeframe` must be coarser than the bars' timeframe h1 \(one of: h4, d1, w1\). Got 'h1'"):
        resample(bars, "h1")
    with pytest.raises(ConfigError, match="Got 'm5'"):
        period_labels(bars, "m5")


def test_bars_outside_sessions_are_an_error_not_dropped():
    idx = _ny("2024-03-05 15:45", "2024-03-05 16:00", "2024-03-05 16:15")  # after-hours bars
    rows = [[1, 2, 0.5, 1.5, 1]] * 3
    with pytest.raises(DataError, match=r"2 bar\(s\) fall outside XNYS sessions, first at 2024-03-05 21:00"):
        resample(_frame(idx, rows, "m15", "XNYS"), "h1")
