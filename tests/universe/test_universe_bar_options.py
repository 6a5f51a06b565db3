"""Every bar option of ``candor train`` applies to every series of a universe (issue 25 item 5):
``--calendar`` and ``--tz`` reach each file, ``--timeframe`` each series, ``--symbol`` names a
universe of one source; each test loads bars only, no training."""

from __future__ import annotations

import pandas as pd
import pytest

import candor.application.universe as universe
from candor.application.universe import SeriesSpec, resolve_series
from candor.cli import main
from candor.errors import ConfigError, DataError


def _weekday_hours(path, seed: int) -> str:
    """Hourly bars around the clock on weekdays, naive New York times."""
    from candor.data.synthetic import random_walk

    bars = random_walk(300, seed=seed, timeframe="h1")
    bars = bars[bars.index.dayofweek < 5]
    bars.index = bars.index.tz_localize(None)
    bars.index.name = "ts"
    bars.to_csv(path)
    return str(path)


def _weekdays(path, seed: int) -> str:
    """Daily bars on every weekday, holidays included: a market with other holidays than XNYS's,
    so bars on New York holidays make the default calendar refuse to resample them."""
    from candor.data.synthetic import random_walk

    bars = random_walk(400, seed=seed, timeframe="d1")
    bars[bars.index.dayofweek < 5].to_csv(path)
    return str(path)


def test_calendar_and_tz_reach_every_file(tmp_path):
    files = [_weekdays(tmp_path / "rw.csv", 1), _weekdays(tmp_path / "planted.csv", 2)]
    with pytest.raises(DataError, match="pass --calendar none"):
        SeriesSpec("rw", data=files[0], timeframe="w1").load()  # the report: every series failed so
    loaded = [spec.load() for spec in resolve_series(files, ["w1"], calendar="none")]
    assert [b.attrs["symbol"] for b in loaded] == ["RW", "PLANTED"]  # named after the file
    assert all(b.attrs["calendar"] is None and b.attrs["timeframe"] == "w1" for b in loaded)
    hourly = _weekday_hours(tmp_path / "h.csv", 3)
    spec = resolve_series([hourly], tz="America/New_York", calendar="none")[0]
    first = pd.read_csv(hourly, nrows=1)["ts"][0]
    assert spec.load().index[0] == pd.Timestamp(first).tz_localize("America/New_York").tz_convert("UTC")


def test_symbol_names_a_universe_of_one_source(tmp_path):
    path = _weekday_hours(tmp_path / "rw.csv", 1)
    specs = resolve_series([path], ["h1", "h4"], symbol="EURUSD", calendar="none")
    assert {spec.load().attrs["symbol"] for spec in specs} == {"EURUSD"}
    with pytest.raises(ConfigError, match=r"`symbol` names one series, and this universe has 2"):
        resolve_series([path, "sp500"], symbol="EURUSD")


def test_cli_passes_every_bar_option_to_the_universe(tmp_path, monkeypatch, capsys):
    seen = []

    def fake_train_universe(specs, config, **kwargs):
        seen.extend(specs)
        return []

    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(universe, "train_universe", fake_train_universe)
    files = [_weekday_hours(tmp_path / "rw.csv", 1), _weekday_hours(tmp_path / "planted.csv", 2)]
    code = main(["train", "--symbols", ",".join(files), "--calendar", "none", "--tz", "America/New_York",
                 "--timeframe", "h4", "--dry-run", "--fold-jobs", "1"])
    assert code == 0, capsys.readouterr().err
    assert [(s.data, s.calendar, s.tz, s.timeframe) for s in seen] == [
        (f, "none", "America/New_York", "h4") for f in files]
