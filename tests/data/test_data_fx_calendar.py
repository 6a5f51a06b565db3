"""The FX calendar ``24/5`` (issue 25 item 1): Sunday 17:00 to Friday 17:00 New York, so hourly FX
validates with its gaps checked instead of ``--calendar none``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.backtest.config import infer_periods_per_year
from candor.cli import main
from candor.data.bars import make_bars
from candor.data.gaps import FX, apply_gap_policy, find_gaps, fx_bar_open, fx_last_closed, ns
from candor.data.sources import open_bars
from candor.data.validate import validate_bars
from candor.errors import DataError


def _fx_hours(start="2024-03-03", end="2024-03-23", timeframe="h1") -> pd.DataFrame:
    """Hourly EURUSD-like bars at every hour the FX week is open (a DST change on 10 March)."""
    step = pd.Timedelta(hours=1 if timeframe == "h1" else 4)
    grid = pd.date_range(start, end, freq=step, tz="UTC", inclusive="left")
    grid = grid[fx_bar_open(ns(grid), step)]
    close = 1.08 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 1e-3, len(grid))))
    frame = pd.DataFrame({"open": close, "high": close * 1.0005, "low": close * 0.9995, "close": close,
                          "volume": 0.0}, index=pd.DatetimeIndex(grid, name="ts"))
    return make_bars(frame, "EURUSD", timeframe, FX)


def test_fx_week_opens_sunday_and_closes_friday_at_five_in_new_york():
    winter, summer = _fx_hours("2024-03-01", "2024-03-09"), _fx_hours("2024-03-10", "2024-03-16")
    assert winter.index[0] == pd.Timestamp("2024-03-01 00:00", tz="UTC")
    fridays = winter.index[winter.index.dayofweek == 4]
    assert fridays[-1] == pd.Timestamp("2024-03-08 21:00", tz="UTC")  # EST: close at 22:00 UTC
    assert summer.index[0] == pd.Timestamp("2024-03-10 21:00", tz="UTC")  # EDT: open at 21:00 UTC Sunday
    assert not (winter.index.dayofweek == 5).any()


def test_hourly_fx_validates_with_its_gaps_checked():
    bars = _fx_hours()
    validate_bars(bars)
    report = find_gaps(bars)
    assert report.checked and report.count == 0 and len(report.unexpected) == 0 and report.expected == len(bars)
    holed = bars.drop(bars.index[30])
    with pytest.raises(DataError, match=r"1 missing bar\(s\) against the 24/5 calendar, first at 2024-03-05 04:00"):
        apply_gap_policy(holed, "refuse")
    saturday = pd.concat([bars, bars.iloc[[-1]].set_axis(pd.DatetimeIndex(
        [pd.Timestamp("2024-03-23 12:00", tz="UTC")], name="ts"))])
    report = find_gaps(make_bars(saturday, "EURUSD", "h1", FX))
    assert len(report.closed) == 1 and "when it is closed" in report.summary()
    h4 = _fx_hours(timeframe="h4")
    assert find_gaps(h4).count == 0


def test_fx_file_is_recognised_and_validates(tmp_path, capsys):
    path = tmp_path / "eurusd.csv"
    _fx_hours().to_csv(path)
    assert open_bars(data=path).attrs["calendar"] == FX  # Sunday-evening bars, none on Saturday
    assert open_bars(data=path, calendar="24/5").attrs["calendar"] == FX
    assert main(["validate", "--data", str(path), "--gaps", "refuse"]) == 0
    out = capsys.readouterr().out
    assert "(calendar 24/5)" in out and "gaps (24/5, h1): 0 missing" in out


def test_fx_freshness_and_annualisation():
    monday = pd.Timestamp("2024-03-18 10:30", tz="UTC")
    assert fx_last_closed("d1", monday) == pd.Timestamp("2024-03-15", tz="UTC")  # Friday's bar
    assert fx_last_closed("h1", monday) == pd.Timestamp("2024-03-18 09:00", tz="UTC")
    saturday = pd.Timestamp("2024-03-16 12:00", tz="UTC")
    assert fx_last_closed("h1", saturday) == pd.Timestamp("2024-03-15 20:00", tz="UTC")  # the last before 21:00
    assert infer_periods_per_year(_fx_hours()) == pytest.approx(365 / 7 * 5 * 24)
