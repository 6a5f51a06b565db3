"""`candor features` through the CLI entry point: table, total line, exit codes."""

from __future__ import annotations

from candor.cli import main


def test_features_command_prints_table_and_total(capsys):
    assert main(["features", "--dataset", "sp500", "--groups", "returns,momentum,context"]) == 0
    out = capsys.readouterr().out
    assert "rsi_14" in out and "w1_rsi_sma_14" in out and "NaN share" in out
    assert "total: " in out and "features in 3 groups" in out


def test_features_command_bad_options_exit_3(capsys):
    assert main(["features", "--dataset", "sp500", "--groups", "returns,astrology"]) == 3
    assert "`groups`" in capsys.readouterr().err
    assert main(["features", "--dataset", "sp500", "--periods", "50,14,200"]) == 3
    assert main(["features"]) == 3  # neither --dataset nor --data


def test_features_command_help_text(capsys):
    assert main(["features", "--help"]) == 0
    assert "warm-up" in capsys.readouterr().out


def test_features_command_takes_the_calendar_of_a_file(tmp_path, capsys, caplog):
    from candor.data.synthetic import random_walk

    path = tmp_path / "coin.csv"
    random_walk(400, 3, timeframe="d1").to_csv(path)  # weekends included: not XNYS sessions
    assert main(["features", "--data", str(path)]) == 0  # weekend bars: the 24/7 calendar is inferred
    assert "weekend bars: calendar 24/7" in caplog.text
    capsys.readouterr()
    assert main(["features", "--data", str(path), "--calendar", "XNYS"]) == 1  # an explicit choice is kept
    assert "calendar='24/7'" in capsys.readouterr().err
    assert main(["features", "--data", str(path), "--calendar", "24/7"]) == 0
    assert "total: " in capsys.readouterr().out
