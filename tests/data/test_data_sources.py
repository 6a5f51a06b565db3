"""Loaders: column aliases and case, Adj Close, time zones, file types, SQL, and open_bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from candor.data import infer_timeframe, load_csv, load_file, load_parquet, load_sql, open_bars
from candor.errors import BarValidationError, ConfigError, DataError

ROWS = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,10,12,9,11,5.5,100
2024-01-03,11,13,10,12,6,200
2024-01-04,12,14,11,13,6.5,300
"""


def _write(tmp_path, text: str, name: str = "spy.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_aliases_case_and_adj_close_ignored(tmp_path):
    bars = load_csv(_write(tmp_path, ROWS), "SPY", "d1")
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars.index.name == "ts" and str(bars.index.tz) == "UTC"
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert bars["close"].tolist() == [11.0, 12.0, 13.0]  # Adj Close ignored by default
    assert bars.attrs == {"symbol": "SPY", "timeframe": "d1", "calendar": "XNYS"}


def test_use_adj_close_scales_the_whole_bar(tmp_path):
    bars = load_csv(_write(tmp_path, ROWS), "SPY", "d1", use_adj_close=True)
    # factor adj/close = 0.5 on every row: O/H/L/C halved, volume as traded
    assert bars.iloc[0].tolist() == [5.0, 6.0, 4.5, 5.5, 100.0]


def test_short_aliases_and_odd_spelling(tmp_path):
    text = "TIMESTAMP , o , h , l , c , Vol\n2024-01-02 10:00,1,2,0.5,1.5,7\n"
    bars = load_csv(_write(tmp_path, text), "X", "h1")
    assert bars.iloc[0].tolist() == [1.0, 2.0, 0.5, 1.5, 7.0]


def test_naive_times_read_in_tz_then_utc(tmp_path):
    text = "datetime,open,high,low,close,volume\n2024-07-01 09:30,1,2,0.5,1.5,7\n2024-12-02 09:30,1,2,0.5,1.5,7\n"
    bars = load_csv(_write(tmp_path, text), "X", "h1", tz="America/New_York")
    # 09:30 New York is 13:30 UTC in summer (EDT) and 14:30 UTC in winter (EST)
    assert list(bars.index) == [pd.Timestamp("2024-07-01 13:30", tz="UTC"),
                                pd.Timestamp("2024-12-02 14:30", tz="UTC")]


def test_aware_times_keep_their_offset(tmp_path):
    text = "time,open,high,low,close,volume\n2024-07-01T09:30:00-04:00,1,2,0.5,1.5,7\n2024-12-02T09:30:00-05:00,1,2,0.5,1.5,7\n"
    bars = load_csv(_write(tmp_path, text), "X", "h1", tz="Asia/Tokyo")  # tz only for naive times
    assert bars.index[1] == pd.Timestamp("2024-12-02 14:30", tz="UTC")


def test_epoch_seconds_and_separate_date_time_columns(tmp_path):
    text = "ts,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,7\n"
    assert load_csv(_write(tmp_path, text), "X", "h1").index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    text = "Date,Time,Open,High,Low,Close,Volume\n2024-01-02,10:00,1,2,0.5,1.5,7\n2024-01-02,11:00,1,2,0.5,1.5,7\n"
    bars = load_csv(_write(tmp_path, text, "dt.csv"), "X", "h1")
    assert bars.index[1] == pd.Timestamp("2024-01-02 11:00", tz="UTC")


def test_parquet_with_time_index_and_load_file_dispatch(tmp_path):
    frame = pd.read_csv(_write(tmp_path, ROWS), index_col="Date", parse_dates=True)
    path = tmp_path / "spy.parquet"
    frame.to_parquet(path)
    bars = load_parquet(path, "SPY", "d1")
    assert bars.equals(load_csv(tmp_path / "spy.csv", "SPY", "d1"))
    assert load_file(path, "SPY", "d1")["volume"].sum() == 600.0
    assert len(load_file(tmp_path / "spy.csv", "SPY", "d1")) == 3


def test_missing_column_names_it_and_lists_found(tmp_path):
    path = _write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match=r"missing column 'volume' \(accepted names: volume, vol, v.*found columns: Date, Open, High, Low, Close"):
        load_csv(path, "X", "d1")


def test_unparseable_date_shows_first_bad_value(tmp_path):
    path = _write(tmp_path, ROWS.replace("2024-01-03", "not-a-date"))
    with pytest.raises(DataError, match=r"cannot parse 'not-a-date' in column 'Date' as a date/time \(data row 2"):
        load_csv(path, "X", "d1")


def test_non_numeric_price(tmp_path):
    path = _write(tmp_path, ROWS.replace(",13,10,", ",abc,10,"))
    with pytest.raises(DataError, match=r"column 'high' has a non-numeric value 'abc' at data row 2"):
        load_csv(path, "X", "d1")


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_csv(tmp_path / "nope.csv", "X", "d1")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"cannot read .*bad.parquet: "):
        load_parquet(bad, "X", "d1")
    with pytest.raises(DataError, match=r"unknown file type \.xlsx"):
        load_file(tmp_path / "x.xlsx", "X", "d1")


def test_bad_tz_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"`tz` must be a time zone name.*Got 'Mars/Olympus'"):
        load_csv(_write(tmp_path, ROWS), "X", "d1", tz="Mars/Olympus")


def test_load_sql_filters_by_symbol_and_orders_by_time(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bars.db'}")
    rows = pd.DataFrame({
        "symbol": ["AAA", "BBB", "AAA"], "ts": ["2024-01-03", "2024-01-02", "2024-01-02"],
        "open": [2.0, 9.0, 1.0], "high": [3.0, 9.0, 2.0], "low": [1.5, 9.0, 0.5],
        "close": [2.5, 9.0, 1.5], "volume": [20.0, 90.0, 10.0]})
    rows.to_sql("ohlc", engine, index=False)
    bars = load_sql(engine, "ohlc", symbol="AAA", timeframe="d1")
    assert bars["open"].tolist() == [1.0, 2.0] and bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert bars.attrs["symbol"] == "AAA"
    assert len(load_sql(f"sqlite:///{tmp_path / 'bars.db'}", "ohlc", symbol="BBB", timeframe="d1")) == 1
    with pytest.raises(DataError, match="no such table"):
        load_sql(engine, "nope", symbol="AAA", timeframe="d1")
    with pytest.raises(DataError, match="no rows for symbol 'ZZZ'"):
        load_sql(engine, "ohlc", symbol="ZZZ", timeframe="d1")


def test_open_bars_needs_exactly_one_source(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of `dataset`.*Got neither"):
        open_bars()
    with pytest.raises(ConfigError, match="Got both"):
        open_bars(dataset="sp500", data=tmp_path / "x.csv")


def _hourly_file(tmp_path, n: int = 30):
    idx = pd.date_range("2024-03-01", periods=n, freq="h")
    close = 100 + np.arange(n, dtype=float)
    frame = pd.DataFrame({"Datetime": idx.strftime("%Y-%m-%d %H:%M"), "Open": close, "High": close + 1,
                          "Low": close - 1, "Close": close, "Volume": 1.0})
    path = tmp_path / "btc-usd.csv"
    frame.to_csv(path, index=False)
    return path


def test_open_bars_file_defaults_symbol_and_infers_timeframe(tmp_path):
    path = _hourly_file(tmp_path)
    bars = open_bars(data=path, calendar="24/7")
    assert bars.attrs == {"symbol": "BTC-USD", "timeframe": "h1", "calendar": "24/7"}
    assert infer_timeframe(bars.index) == "h1"
    assert open_bars(data=path, calendar="none").attrs["calendar"] is None


def test_open_bars_resamples_to_a_coarser_timeframe_and_refuses_finer(tmp_path):
    path = _hourly_file(tmp_path)
    h4 = open_bars(data=path, timeframe="h4", calendar="24/7")
    assert len(h4) == 7 and h4.attrs["timeframe"] == "h4"  # 30 hours → 7 complete 4-hour bars
    with pytest.raises(ConfigError, match=r"`timeframe` 'm15' is finer than the data, whose bars are h1"):
        open_bars(data=path, timeframe="m15", calendar="24/7")


def test_open_bars_validates_and_checks_options(tmp_path):
    with pytest.raises(BarValidationError, match="min_rows"):
        open_bars(data=_hourly_file(tmp_path), calendar="24/7", min_rows=31)
    with pytest.raises(ConfigError, match=r"`calendar` must be an exchange_calendars code.*Got 'MOON'"):
        open_bars(data=_hourly_file(tmp_path), calendar="MOON")
    with pytest.raises(ConfigError, match="`tz` applies to files only"):
        open_bars(dataset="sp500", tz="UTC")
    with pytest.raises(ConfigError, match="`timeframe` must be one of"):
        open_bars(dataset="sp500", timeframe="d2")
    assert open_bars(dataset="sp500", symbol="GSPC").attrs["symbol"] == "GSPC"
