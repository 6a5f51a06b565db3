"""`candor validate` and `candor datasets` through the CLI: one error line, right exit code."""

from __future__ import annotations

import pytest

from candor.cli import main

GOOD = """Date,Open,High,Low,Close,Volume
2024-03-04,10,12,9,11,100
2024-03-05,11,13,10,12,200
2024-03-06,12,14,11,13,300
2024-03-07,13,15,12,14,400
2024-03-08,14,16,13,15,500
"""

BAD = {  # name: (file text, what the one error line must say)
    "missing_column": (GOOD.replace(",Volume", "").replace(",100\n", "\n").replace(",200\n", "\n")
                       .replace(",300\n", "\n").replace(",400\n", "\n").replace(",500\n", "\n"),
                       r"missing column 'volume'.*found columns: Date, Open, High, Low, Close"),
    "bad_date": (GOOD.replace("2024-03-06", "2024-13-45"), r"cannot parse '2024-13-45' in column 'Date'"),
    "duplicate": (GOOD.replace("2024-03-06", "2024-03-05"), r"rule 'unique_ts': 1 row\(s\), first at 2024-03-05"),
    "nan": (GOOD.replace("12,14,11,13,300", "12,14,11,,300"), r"rule 'finite': 1 row\(s\), first at 2024-03-06"),
    "high_lt_low": (GOOD.replace("13,15,12,14,400", "13,11,12,14,400"), r"rule 'high_ge_low': 1 row\(s\), first at 2024-03-07"),
    "negative_volume": (GOOD.replace(",500", ",-500"), r"rule 'nonnegative_volume': 1 row\(s\), first at 2024-03-08"),
    # Structurally wrong series: an hourly row in a daily file; one session twice at two UTC offsets.
    "mixed_timeframes": (GOOD.replace("2024-03-07,", "2024-03-06 01:00,"), r"rule 'spacing'.*mixes timeframes"),
    "two_offsets": (GOOD.replace("Date,", "Datetime,").replace("2024-03-04,", "2024-03-04T00:00:00+00:00,")
                    .replace("2024-03-05,", "2024-03-04T00:00:00-05:00,"), r"rule 'spacing'"),
}


def _run(capsys, args):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_one_line_exit_1_no_output(tmp_path, capsys, case):
    text, expected = BAD[case]
    path = tmp_path / "bars.csv"
    path.write_text(text)
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--timeframe", "d1"])
    assert code == 1 and out == ""
    line = _one_error_line(err)
    assert __import__("re").search(expected, line), line


def test_too_few_rows(tmp_path, capsys):
    path = tmp_path / "bars.csv"
    path.write_text(GOOD)
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--min-rows", "50"])
    assert code == 1 and out == ""
    assert "need at least 50 rows (longest lookback + horizon), got 5" in _one_error_line(err)


def test_good_csv_prints_rows_span_rules_and_gaps(tmp_path, capsys):
    path = tmp_path / "spy.csv"
    path.write_text(GOOD)
    code, out, err = _run(capsys, ["validate", "--data", str(path)])
    assert code == 0 and err == ""
    assert "SPY d1 (calendar XNYS): 5 bars, 2024-03-04 00:00:00+00:00 → 2024-03-08" in out
    assert "timeframe d1 inferred" in out and "rules passed (11/11)" in out
    assert "gaps (XNYS, d1): 0 missing of 5 expected" in out


def test_gap_policies_through_the_cli(tmp_path, capsys):
    path = tmp_path / "spy.csv"
    path.write_text(GOOD.replace("2024-03-06,12,14,11,13,300\n", ""))
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--gaps", "refuse"])
    assert code == 1 and out == ""
    assert "1 missing bar(s) against the XNYS calendar, first at 2024-03-06" in _one_error_line(err)
    code, out, _ = _run(capsys, ["validate", "--data", str(path), "--gaps", "ffill"])
    assert code == 0 and "ffill: inserted 1 flat bar(s) (volume 0); 5 bars after filling" in out


def test_bad_option_values_exit_3(tmp_path, capsys):
    code, out, err = _run(capsys, ["validate", "--dataset", "sp500", "--gaps", "drop"])
    assert code == 3 and out == "" and "`gaps` must be one of refuse, report, ffill" in _one_error_line(err)
    code, _, err = _run(capsys, ["validate", "--dataset", "nosuch"])
    assert code == 3 and "`dataset` must be one of" in _one_error_line(err)
    code, _, err = _run(capsys, ["validate"])
    assert code == 3 and "exactly one of `dataset`" in _one_error_line(err)
    code, _, err = _run(capsys, ["validate", "--dataset", "sp500", "--timeframe", "d7"])
    assert code == 3 and "`timeframe` must be one of" in _one_error_line(err)


def test_unknown_option_is_a_usage_error_exit_3(capsys):
    # Parsed by Typer before the command runs; the CLI shell must map it to exit code 3.
    code, out, err = _run(capsys, ["validate", "--no-such-option"])
    assert code == 3 and out == ""
    assert "No such option" in _one_error_line(err)


def test_validate_dataset_and_list_datasets(capsys):
    code, out, _ = _run(capsys, ["validate", "--dataset", "aapl_m1", "--timeframe", "h1", "--gaps", "refuse"])
    assert code == 0 and "AAPL h1 (calendar XNYS): 42 bars" in out and "0 missing of 42 expected" in out
    code, out, _ = _run(capsys, ["datasets"])
    assert code == 0
    for name, rows in (("sp500", "5,031"), ("nasdaq", "5,031"), ("aapl_m1", "2,382")):
        assert any(name in line and rows in line for line in out.splitlines()), out


def test_a_boolean_volume_column_is_refused(tmp_path, capsys):
    import pandas as pd

    frame = pd.read_csv(__import__("io").StringIO(GOOD))
    frame["Volume"] = frame["Volume"] > 250
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--timeframe", "d1"])
    assert code == 1 and out == ""
    assert "column 'volume' holds bool values" in _one_error_line(err)


def _slashed(text: str, day_first: bool) -> str:
    out = []
    for line in text.splitlines():
        head, sep, rest = line.partition(",")
        if head[:4].isdigit():
            y, m, d = head.split("-")
            head = f"{d}/{m}/{y}" if day_first else f"{m}/{d}/{y}"
        out.append(head + sep + rest)
    return "\n".join(out) + "\n"


def test_day_first_dates_are_read_day_first_and_ambiguous_ones_refused(tmp_path, capsys):
    later = GOOD.replace("2024-03-0", "2024-03-1")  # days 14..18: only day-first reads them
    path = tmp_path / "bars.csv"
    path.write_text(_slashed(later, day_first=True))
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--timeframe", "d1"])
    assert code == 0, err
    assert "2024-03-14" in out and "2024-03-18" in out
    path.write_text(_slashed(GOOD, day_first=True))  # 04/03/2024: April 3rd or March 4th?
    code, out, err = _run(capsys, ["validate", "--data", str(path), "--timeframe", "d1"])
    assert code == 1 and "write ISO dates" in _one_error_line(err)


def test_tz_applies_to_the_naive_rows_of_a_mixed_file(tmp_path):
    from candor.data.sources import load_file

    text = ("Datetime,Open,High,Low,Close,Volume\n2024-03-04 09:30,10,12,9,11,100\n"
            "2024-03-04T10:30:00-05:00,11,13,10,12,200\n")
    path = tmp_path / "bars.csv"
    path.write_text(text)
    bars = load_file(path, "SPY", "h1", tz="America/New_York", calendar=None)
    assert [t.isoformat() for t in bars.index] == ["2024-03-04T14:30:00+00:00", "2024-03-04T15:30:00+00:00"]
