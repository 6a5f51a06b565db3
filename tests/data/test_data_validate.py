"""Each validation rule fed the input that breaks it; the message names rule, first bar, count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.data import RULES, make_bars, validate_bars
from candor.errors import BarValidationError, DataError


def _bars(n: int = 6) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    close = 100.0 + np.arange(n)
    frame = pd.DataFrame({"open": close - 0.5, "high": close + 1, "low": close - 1,
                          "close": close, "volume": 10.0}, index=idx)
    return make_bars(frame, "T", "h1", "24/7")


def _with(column: str, row: int, value: float) -> pd.DataFrame:
    bars = _bars()
    bars.iloc[row, bars.columns.get_loc(column)] = value
    return bars


def test_good_bars_pass_every_rule():
    assert validate_bars(_bars(), min_rows=6) is None
    assert RULES[0] == "sorted" and RULES[-1] == "min_rows" and len(RULES) == 11


def test_sorted():
    bars = _bars()
    bars = bars.iloc[[0, 1, 3, 2, 4, 5]]
    with pytest.raises(BarValidationError, match=r"rule 'sorted': 1 row\(s\), first at 2024-01-01 02:00") as err:
        validate_bars(bars)
    assert err.value.rule == "sorted" and err.value.count == 1


def test_unique_ts():
    bars = _bars()
    bars = pd.concat([bars.iloc[:3], bars.iloc[2:3], bars.iloc[3:]])
    with pytest.raises(BarValidationError, match=r"rule 'unique_ts': 1 row\(s\), first at 2024-01-01 02:00"):
        validate_bars(bars)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_finite(value):
    with pytest.raises(BarValidationError, match=r"rule 'finite': 1 row\(s\), first at 2024-01-01 04:00.*NaN"):
        validate_bars(_with("volume", 4, value))


def test_positive_prices():
    bars = _with("low", 1, 0.0)
    bars.iloc[3, 0] = -2.0
    with pytest.raises(BarValidationError, match=r"rule 'positive_prices': 2 row\(s\), first at 2024-01-01 01:00") as err:
        validate_bars(bars)
    assert err.value.first_ts == pd.Timestamp("2024-01-01 01:00", tz="UTC")


def test_high_ge_low_is_checked_before_open_close_rules():
    bars = _with("high", 2, 50.0)  # below low, open and close: high_ge_low is the rule reported
    with pytest.raises(BarValidationError, match=r"rule 'high_ge_low': 1 row\(s\), first at 2024-01-01 02:00.*high must be >= low"):
        validate_bars(bars)


def test_high_ge_open_close():
    bars = _with("high", 5, 104.9)  # close is 105, low 104: high >= low but < close
    with pytest.raises(BarValidationError, match=r"rule 'high_ge_open_close': 1 row\(s\), first at 2024-01-01 05:00"):
        validate_bars(bars)


def test_low_le_open_close():
    bars = _with("low", 0, 99.8)  # open is 99.5
    with pytest.raises(BarValidationError, match=r"rule 'low_le_open_close': 1 row\(s\), first at 2024-01-01 00:00"):
        validate_bars(bars)


def test_nonnegative_volume():
    with pytest.raises(BarValidationError, match=r"rule 'nonnegative_volume': 1 row\(s\), first at 2024-01-01 03:00"):
        validate_bars(_with("volume", 3, -1.0))


def test_min_rows_says_how_many_are_needed():
    with pytest.raises(BarValidationError, match=r"rule 'min_rows'.*need at least 7 rows \(longest lookback \+ horizon\), got 6"):
        validate_bars(_bars(), min_rows=7)


def test_order_of_rules_first_failure_wins():
    bars = _with("close", 1, np.nan)
    bars.iloc[2, bars.columns.get_loc("volume")] = -5.0
    with pytest.raises(BarValidationError, match="'finite'"):
        validate_bars(bars)


def test_not_a_bar_frame_is_a_data_error():
    with pytest.raises(DataError, match="missing column.*volume"):
        validate_bars(_bars().drop(columns="volume"))


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_bar_frames_hold_nanosecond_stamps_whatever_unit_they_came_in(unit):
    """Rules that read int64 stamps (spacing, period labels, the context join) assume ns."""
    from candor.data.bars import make_bars
    from candor.data.gaps import ns

    index = pd.date_range("2024-01-02", periods=5, freq="D", tz="UTC").as_unit(unit)
    frame = pd.DataFrame({c: [1.0, 2.0, 3.0, 4.0, 5.0] for c in ("open", "high", "low", "close", "volume")}, index=index)
    bars = make_bars(frame, "AAA", "d1")
    assert bars.index.unit == "ns" and (bars.index == index).all()
    assert (bars.index.asi8 == ns(index)).all()


@pytest.mark.parametrize("symbol", ["../x", "a/b", "..", ".hidden", ""])
def test_a_symbol_set_by_hand_in_attrs_is_held_to_the_symbol_rule(symbol):
    """The symbol names directories and models: one written into attrs directly (a --symbol over
    a dataset) is refused like make_bars refuses it, not carried into a path."""
    from candor.data.bars import make_bars
    from candor.data.validate import validate_bars
    from candor.errors import ConfigError

    index = pd.date_range("2024-01-02", periods=5, freq="D", tz="UTC")
    bars = make_bars(pd.DataFrame({c: [1.0] * 5 for c in ("open", "high", "low", "close", "volume")}, index=index),
                     "AAA", "d1", "24/7")
    bars.attrs["symbol"] = symbol
    with pytest.raises(ConfigError, match="`symbol` must be"):
        validate_bars(bars)


def _daily(stamps: list[str], timeframe: str = "d1") -> pd.DataFrame:
    idx = pd.DatetimeIndex(stamps, tz="UTC")
    close = 100.0 + np.arange(len(idx))
    frame = pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}, index=idx)
    return make_bars(frame, "T", timeframe, "24/7")


def test_alignment_refuses_two_times_of_day_and_names_two_bars():
    bars = _daily(["2024-01-01 00:00", "2024-01-03 19:00", "2024-01-05 00:00", "2024-01-07 19:00", "2024-01-09 00:00"])
    with pytest.raises(BarValidationError, match=r"rule 'alignment': 2 row\(s\), first at 2024-01-03 19:00.*"
                       r"2024-01-01 00:00:00\+00:00 and 2024-01-03 19:00:00\+00:00") as err:
        validate_bars(bars)
    assert err.value.rule == "alignment"


def test_alignment_passes_a_daylight_saving_hour_and_refuses_an_off_grid_hour():
    validate_bars(_daily(["2024-03-08 05:00", "2024-03-11 04:00", "2024-03-12 04:00"]))  # New York midnight
    validate_bars(_daily(["2024-03-08 14:30", "2024-03-08 18:30", "2024-03-11 13:30", "2024-03-11 17:30"], "h4"))
    with pytest.raises(BarValidationError, match=r"rule 'alignment'.*one h1 grid"):
        validate_bars(_daily(["2024-03-08 14:00", "2024-03-08 15:00", "2024-03-08 16:30", "2024-03-08 17:00"], "h1"))


def test_finite_refuses_values_that_overflow_the_features():
    with pytest.raises(BarValidationError, match=r"rule 'finite': 1 row\(s\), first at 2024-01-01 02:00.*high is 1e\+308"):
        validate_bars(_with("high", 2, 1e308))
