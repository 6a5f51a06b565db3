"""Bad bar data, part of the bad-input corpus (issue 22 items 8 and 11): garbled series are refused
by `validate` and by `train` before any store is opened, and each data error names its real cause.

Every case: one line, the right exit code, no traceback, ``<home>`` as it was (the helpers of
:mod:`tests.wiring.test_bad_input_corpus`). Files are generated here, a few dozen rows each.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from candor.cli import main
from candor.data import RULES
from candor.features import FeatureSet, warmup_bars
from tests.wiring.homes import snapshot
from tests.wiring.test_bad_input_corpus import BAR_COMMANDS, _refused_in_one_line

HEADER = "Date,Open,High,Low,Close,Volume"


def _write(tmp_path, stamps, *, header: str = HEADER, name: str = "bars.csv", close=None, extra=None) -> str:
    """A CSV of honest OHLCV rows at ``stamps`` (written as given); ``close`` overrides one row's close."""
    lines = [header]
    for i, stamp in enumerate(stamps):
        c = 11.0 + i if close is None or close[0] != i else close[1]
        row = [stamp, 10 + i, max(12 + i, c), 9 + i, c, 100 * (i + 1)] + ([] if extra is None else [extra(i)])
        lines.append(",".join(str(v) for v in row))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _blocks(days: pd.DatetimeIndex, block: int = 5) -> np.ndarray:
    """Which block of ``block`` days each day is in, blocks two days apart: most steps stay 24 h,
    so the file's timeframe is inferred as d1, and each block can carry another time of day."""
    return np.arange(len(days)) // block


# --------------------------------------------------------------------------- item 8: garbled series
def _alternating_hours(tmp_path) -> str:
    """Daily bars, weekends included (so calendar 24/7 is inferred), blocks at 00:00 and 19:00 UTC,
    most days missing: the shape of the 1,456-day file that trained as "validated"."""
    days = pd.date_range("2024-01-01", periods=84, freq="D")
    keep = days[(np.arange(84) % 7) < 5]  # 5 days of each 7: two days apart between blocks
    hours = np.where(_blocks(keep) % 2 == 0, 0, 19)
    return _write(tmp_path, [f"{d:%Y-%m-%d} {h:02d}:00:00" for d, h in zip(keep, hours)])


def _naive_aware_mix(tmp_path) -> str:
    """Business days, blocks of naive dates (UTC) and of the same dates at -05:00 (05:00 UTC)."""
    days = pd.bdate_range("2024-01-01", periods=60)
    aware = _blocks(days) % 2 == 1
    return _write(tmp_path, [f"{d:%Y-%m-%d}T00:00:00-05:00" if a else f"{d:%Y-%m-%d}" for d, a in zip(days, aware)])


GARBLED = {
    "alternating_00_19_utc_24_7": (_alternating_hours, r"00:00:00\+00:00 and 2024-01-\d\d 19:00:00\+00:00"),
    "naive_aware_mix_05_utc": (_naive_aware_mix, r"00:00:00\+00:00 and 2024-01-\d\d 05:00:00\+00:00"),
}


@pytest.mark.parametrize("command", ["validate", "train"])
@pytest.mark.parametrize("case", sorted(GARBLED))
def test_garbled_series_are_refused_by_the_alignment_rule(case, command, home, tmp_path, capsys):
    make, bars_named = GARBLED[case]
    path = make(tmp_path)
    # train reads and validates the bars before it opens a store: the fresh home stays absent
    _refused_in_one_line([*BAR_COMMANDS[command], "--data", path], 1,
                         r"rule 'alignment': \d+ row\(s\).*must open at one time of day.*" + bars_named, home, capsys)
    assert snapshot(home) is None


@pytest.mark.parametrize("dataset", ["sp500", "nasdaq", "aapl", "aapl_h1", "aapl_m1"])
def test_real_embedded_series_still_validate(dataset, home, capsys):
    assert main(["validate", "--dataset", dataset]) == 0
    out = capsys.readouterr().out
    assert f"rules passed ({len(RULES)}/{len(RULES)})" in out and "alignment" in out


# --------------------------------------------------------------------------- item 11: the real cause
def test_header_only_file_without_a_timeframe_says_no_rows(home, tmp_path, capsys):
    path = _write(tmp_path, [])
    _refused_in_one_line(["validate", "--data", path], 1, r"no bars \(the file has a header but no rows\)",
                         home, capsys)


def test_overflowing_epochs_say_out_of_range(home, tmp_path, capsys):
    # nanoseconds past 2262: read as unsigned 64-bit they used to wrap around to 1677
    stamps = [9_223_372_036_854_000_000 + i * 86_400_000_000_000 for i in range(30)]
    path = _write(tmp_path, stamps, header="ts,open,high,low,close,volume")
    _refused_in_one_line(["validate", "--data", path], 1,
                         r"epoch time '\d+' at data row \d+ is out of range.*1677-2262", home, capsys)


def test_alternating_utc_offsets_say_mixed_offsets(home, tmp_path, capsys):
    days = pd.bdate_range("2024-03-04", periods=30)
    path = _write(tmp_path, [f"{d:%Y-%m-%d}T00:00:00{'+00:00' if i % 2 else '-05:00'}" for i, d in enumerate(days)])
    _refused_in_one_line(["validate", "--data", path], 1, r"mixed UTC offsets: the bars fall at 2 times of day",
                         home, capsys)


def test_day_first_dates_are_read_day_first_or_refused_as_ambiguous(home, tmp_path, capsys):
    days = pd.bdate_range("2024-03-11", periods=15)  # past the 12th: day-first is certain
    assert main(["validate", "--data", _write(tmp_path, [f"{d:%d-%m-%Y}" for d in days])]) == 0
    assert "2024-03-11 00:00:00+00:00 → 2024-03-29" in capsys.readouterr().out
    early = pd.bdate_range("2024-03-01", periods=8)  # 01-03 .. 12-03: day-first and month-first alike
    _refused_in_one_line(["validate", "--data", _write(tmp_path, [f"{d:%d.%m.%Y}" for d in early])], 1,
                         r"ambiguous day-first dates.*ISO dates \(YYYY-MM-DD\)", home, capsys)


def test_overflowing_price_names_the_rule_column_and_value(home, tmp_path, capsys):
    days = pd.bdate_range("2024-03-04", periods=40)
    path = _write(tmp_path, [f"{d:%Y-%m-%d}" for d in days], close=(10, 1e308))
    _refused_in_one_line([*BAR_COMMANDS["train"], "--data", path, "--calendar", "none"], 1,
                         r"rule 'finite': 1 row\(s\), first at 2024-03-18.*at most 1e\+100.*high is 1e\+308",
                         home, capsys)


def test_holiday_bars_are_counted_once_by_validate_and_by_resampling(home, tmp_path, capsys):
    # weekdays with two NYSE holidays (Juneteenth, July 4), read as New York dates: 04:00 UTC
    path = _write(tmp_path, [f"{d:%Y-%m-%d}" for d in pd.bdate_range("2024-06-03", periods=40)])
    assert main(["validate", "--data", path, "--tz", "America/New_York"]) == 0
    report = capsys.readouterr().out
    assert "40 bar(s) off the XNYS calendar: 2 when it is closed" in report
    assert "38 not at a d1 label (00:00 UTC of the session date)" in report
    _refused_in_one_line(["validate", "--data", path, "--tz", "America/New_York", "--timeframe", "w1"], 1,
                         r"^error: 2 bar\(s\) fall outside XNYS sessions, first at 2024-06-19", home, capsys)


def test_gaps_refuse_refuses_bars_off_the_calendar(home, tmp_path, capsys):
    path = _write(tmp_path, [f"{d:%Y-%m-%d}" for d in pd.bdate_range("2024-06-03", periods=40)])
    _refused_in_one_line(["validate", "--data", path, "--gaps", "refuse"], 1,
                         r"2 bar\(s\) off the XNYS calendar: 2 when it is closed, first at 2024-06-19", home, capsys)


def test_two_close_columns_are_refused(home, tmp_path, capsys):
    days = pd.bdate_range("2024-03-04", periods=20)
    path = _write(tmp_path, [f"{d:%Y-%m-%d}" for d in days], header=HEADER + ",Close", extra=lambda i: 50 + i)
    _refused_in_one_line(["validate", "--data", path], 1,
                         r"duplicate column: 2 columns hold 'close' \(Close, Close.1\)", home, capsys)


def test_a_time_zone_abbreviation_is_refused_without_a_warning(home, tmp_path, capsys):
    days = pd.bdate_range("2024-03-04", periods=20)
    path = _write(tmp_path, [f"{d:%Y-%m-%d} 16:00:00 EST" for d in days])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _refused_in_one_line(["validate", "--data", path], 1,
                             r"time zone abbreviation 'EST', which is not a UTC offset.*-05:00.*--tz", home, capsys)
    assert not [w for w in caught if "timezone" in str(w.message) or "format" in str(w.message)], caught


def test_a_truncated_ccxt_response_says_truncated(migrated_home, monkeypatch, capsys):
    import json

    import requests

    from tests.data.test_data_providers import FixtureTransport, _fixture

    body = json.dumps(_fixture("binance_klines_btcusdt_h1"))[:200]  # cut off mid-candle
    transport = FixtureTransport(klines=[], status={"/api/v3/klines": (200, body)})
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: transport)
    _refused_in_one_line(["data", "fetch", "--provider", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "h1",
                          "--period", "2d"], 1, r"response was truncated or is not valid JSON", migrated_home, capsys)


def test_freqtrade_pair_with_unsafe_characters_is_refused(home, tmp_path, capsys):
    argv = ["freqtrade", "export", "--symbol", "GOOD-USDT", "--timeframe", "d1", "--user-data", str(tmp_path / "ud"),
            "--pair", 'GOOD/USDT"}']
    _refused_in_one_line(argv, 3, r"`pair` must be a Freqtrade pair BASE/QUOTE .* of letters, digits", home, capsys)
    assert not (tmp_path / "ud").exists()


def test_features_on_too_few_bars_say_how_many_they_need(home, tmp_path, capsys):
    path = _write(tmp_path, [f"{d:%Y-%m-%d}" for d in pd.bdate_range("2024-03-04", periods=20)])
    need = warmup_bars(FeatureSet(), "d1", None) + 1  # the catalog's warm-up, with no calendar
    line = _refused_in_one_line(["features", "--data", path, "--calendar", "none"], 1,
                                r"20 d1 bar\(s\) are too few for these features", home, capsys)
    assert re.search(rf"need at least {need:,}\b", line), line
