"""ohlc_bars: idempotent import, exact round trip, range loads, refusals that write nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from store_helpers import sample_bars

from candor.errors import DataError
from candor.store import import_bars, list_series, load_bars, load_tails
from candor.store.schema import OhlcBar, Symbol


def _count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def test_import_twice_adds_nothing_the_second_time(engine: Engine) -> None:
    bars = sample_bars(60)
    assert import_bars(engine, bars) == 60
    assert import_bars(engine, bars) == 0
    assert _count(engine, OhlcBar) == 60 and _count(engine, Symbol) == 1


def test_overlapping_import_adds_only_new_bars_and_keeps_old_values(engine: Engine) -> None:
    bars = sample_bars(60)
    import_bars(engine, bars.iloc[:40])
    changed = bars.copy()
    changed["close"] = changed["close"] * 2  # a revised vendor file must not rewrite history
    changed.attrs.update(bars.attrs)
    assert import_bars(engine, changed.iloc[30:]) == 20
    loaded = load_bars(engine, "SPX", "d1")
    pd.testing.assert_series_equal(loaded["close"].iloc[:40], bars["close"].iloc[:40], check_freq=False)
    pd.testing.assert_series_equal(loaded["close"].iloc[40:], changed["close"].iloc[40:], check_freq=False)


def test_load_round_trip_equals_the_original_bars(engine: Engine) -> None:
    bars = sample_bars(200, symbol="EURUSD", timeframe="h1", calendar="24/7")
    import_bars(engine, bars)
    loaded = load_bars(engine, "EURUSD", "h1")
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False, check_exact=True)
    assert str(loaded.index.tz) == "UTC" and loaded.index.name == "ts"
    assert loaded.attrs == {"symbol": "EURUSD", "timeframe": "h1", "calendar": "24/7"}


def test_non_utc_input_is_stored_as_utc(engine: Engine) -> None:
    bars = sample_bars(5, timeframe="h1")
    shifted = bars.tz_convert("America/New_York")
    shifted.attrs.update(bars.attrs)
    import_bars(engine, shifted)
    pd.testing.assert_index_equal(load_bars(engine, "SPX", "h1").index, bars.index, exact=False)


def test_range_bounds_are_inclusive_and_naive_means_utc(engine: Engine) -> None:
    bars = sample_bars(30)
    import_bars(engine, bars)
    part = load_bars(engine, "SPX", "d1", start="2024-01-05", end=pd.Timestamp("2024-01-09", tz="UTC"))
    assert list(part.index.strftime("%m-%d")) == ["01-05", "01-06", "01-07", "01-08", "01-09"]
    assert load_bars(engine, "SPX", "d1", start="2030-01-01").empty


def test_series_are_kept_apart_and_listed(engine: Engine) -> None:
    import_bars(engine, sample_bars(10, symbol="SPX"))
    import_bars(engine, sample_bars(7, symbol="SPX", timeframe="h1"))
    import_bars(engine, sample_bars(4, symbol="AAPL", seed=1))
    series = [(s.symbol, s.timeframe, s.n_bars) for s in list_series(engine)]
    assert series == [("AAPL", "d1", 4), ("SPX", "d1", 10), ("SPX", "h1", 7)]
    first = list_series(engine)[1]
    assert first.first == pd.Timestamp("2024-01-02", tz="UTC") and first.last == pd.Timestamp("2024-01-11", tz="UTC")
    assert len(load_bars(engine, "SPX", "h1")) == 7


def test_unknown_series_names_the_import_command(engine: Engine) -> None:
    import_bars(engine, sample_bars(3))
    with pytest.raises(DataError, match=r"no SPX/h1 bars in .*candor data import --data FILE --symbol SPX --timeframe h1"):
        load_bars(engine, "SPX", "h1")
    with pytest.raises(DataError, match=r"no QQQ/d1 bars"):
        load_bars(engine, "QQQ", "d1")


def test_bad_bars_fail_before_anything_is_written(engine: Engine) -> None:
    bars = sample_bars(20)
    broken = bars.copy()
    broken.iloc[15, 0] = np.nan
    broken.attrs.update(bars.attrs)
    with pytest.raises(DataError, match=r"1 row\(s\) with NaN/inf, first at 2024-01-17"):
        import_bars(engine, broken)
    duplicated = pd.concat([bars, bars.iloc[[3]]])
    duplicated.attrs.update(bars.attrs)
    with pytest.raises(DataError, match=r"duplicate timestamp"):
        import_bars(engine, duplicated)
    assert _count(engine, OhlcBar) == 0 and _count(engine, Symbol) == 0


def test_calendar_conflict_rolls_back_the_whole_import(engine: Engine) -> None:
    import_bars(engine, sample_bars(5, calendar="XNYS"))
    crypto = sample_bars(10, calendar="24/7", start="2024-02-01")
    with pytest.raises(DataError, match=r"stored with calendar 'XNYS' but these bars say '24/7'"):
        import_bars(engine, crypto)
    assert _count(engine, OhlcBar) == 5


def test_missing_symbol_attribute_is_refused(engine: Engine) -> None:
    bars = sample_bars(3)
    bars.attrs["symbol"] = None
    with pytest.raises(DataError, match=r"no symbol attribute"):
        import_bars(engine, bars)


def test_large_import_is_chunked_and_idempotent(engine: Engine) -> None:
    bars = sample_bars(45_000, timeframe="m1", calendar="24/7")  # > 2 chunks
    assert import_bars(engine, bars) == 45_000
    assert import_bars(engine, bars.iloc[-25_000:]) == 0
    loaded = load_bars(engine, "SPX", "m1")
    assert len(loaded) == 45_000
    np.testing.assert_array_equal(loaded.to_numpy(), bars.to_numpy())


def test_session_time_zone_does_not_shift_bars(store_url: str) -> None:
    """A PostgreSQL session in Tokyo time still stores and returns UTC bar times."""
    from sqlalchemy.engine import make_url

    from candor.store import connect_store, upgrade

    url = make_url(store_url)
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"options": url.query["options"] + " -ctimezone=Asia/Tokyo"})
    upgrade(url)
    bars = sample_bars(30, timeframe="h1")
    with connect_store(url) as store:
        import_bars(store.engine, bars)
        part = load_bars(store.engine, "SPX", "h1", start="2024-01-02 05:00", end="2024-01-02 07:00")
    assert list(part.index.hour) == [5, 6, 7]
    with connect_store(store_url) as plain:  # another session, default time zone
        pd.testing.assert_frame_equal(load_bars(plain.engine, "SPX", "h1"), bars, check_freq=False)


def test_tails_of_many_series_equal_load_bars_last_for_each(engine: Engine, monkeypatch) -> None:
    """Series longer and shorter than the tail, two timeframes, calendars kept, several batches,
    an unknown symbol and a known symbol without that timeframe (both absent)."""
    import candor.store.bars as store_bars

    monkeypatch.setattr(store_bars, "TAIL_BATCH", 2)  # exercise the batching with few series
    series = [sample_bars(60, symbol="AAA", seed=1), sample_bars(8, symbol="BBB", seed=2),
              sample_bars(30, symbol="CCC", timeframe="h1", calendar="24/7", seed=3),
              sample_bars(25, symbol="DDD", seed=4), sample_bars(40, symbol="EEE", start="2023-05-01", seed=5)]
    for bars in series:
        import_bars(engine, bars)
    wanted = [("EEE", "d1"), ("AAA", "d1"), ("BBB", "d1"), ("CCC", "h1"), ("DDD", "d1"), ("NOPE", "d1"),
              ("CCC", "d1"), ("AAA", "d1")]
    tails = load_tails(engine, wanted, 20)
    assert list(tails) == [("EEE", "d1"), ("AAA", "d1"), ("BBB", "d1"), ("CCC", "h1"), ("DDD", "d1")]
    for (symbol, timeframe), frame in tails.items():
        expected = load_bars(engine, symbol, timeframe, last=20)
        pd.testing.assert_frame_equal(frame, expected, check_freq=False, check_exact=True)
        assert frame.attrs == expected.attrs
    assert len(tails[("BBB", "d1")]) == 8 and len(tails[("AAA", "d1")]) == 20


@pytest.mark.parametrize("last", [0, -1, True, 2.5])
def test_tails_refuse_a_bad_count(engine: Engine, last) -> None:
    with pytest.raises(DataError, match="positive number of bars"):
        load_tails(engine, [("AAA", "d1")], last)
