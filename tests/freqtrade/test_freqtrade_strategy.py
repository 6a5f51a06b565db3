"""The strategy's signals on a Freqtrade dataframe, its bad-input cases, and `candor freqtrade export`."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
from freqtrade_helpers import PAIR, SYMBOL, Series

from candor.backtest import BacktestConfig
from candor.backtest.replay import replay
from candor.cli import main
from candor.errors import ConfigError
from candor.features import warmup_bars
from candor.freqtrade import SignalRefused, StrategySettings, series_signals
from candor.services import open_services


def freqtrade_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """Candles as Freqtrade hands them to a strategy: a RangeIndex, ``date`` at millisecond resolution."""
    frame = bars.reset_index().rename(columns={"ts": "date"})
    frame["date"] = frame["date"].astype("datetime64[ms, UTC]")
    return frame


@pytest.fixture(scope="module")
def champion(series: Series):
    with open_services(series.config) as services:
        yield services.registry.champion(SYMBOL, "d1")


def strategy_config(series: Series, **candor) -> dict:
    section = {"symbol": SYMBOL, "timeframe": "d1", "home": str(series.home), **candor}
    return {"timeframe": "1d", "stake_currency": "USDT", "dry_run": True, "runmode": "backtest",
            "exchange": {"name": "binance", "pair_whitelist": [PAIR]}, "candor": section}


def test_signals_are_candor_backtest_positions(series, champion):
    """The strategy's position per candle is what `candor backtest` holds after that candle."""
    replay_bars = series.replay
    signals = series_signals(champion, freqtrade_frame(replay_bars), "1d", min_confidence=0.45)
    result = replay(champion.model, replay_bars, BacktestConfig(min_confidence=0.45, cost_bps=0.0))
    held = result.positions.to_numpy()  # reported two bars after its signal
    first = len(replay_bars) - len(held) - 2
    np.testing.assert_array_equal(signals.position[first:first + len(held)], held)
    assert signals.n_long > 10 and (signals.position[:series.warmup] == 0).all()
    assert set(signals.direction[series.warmup:]) <= {"BULLISH", "NEUTRAL", "BEARISH"}
    assert (signals.confidence[signals.position > 0] >= 0.45).all()
    assert signals.tag == f"{series.name} v{series.version}"


def test_a_higher_confidence_enters_less(series, champion):
    frame = freqtrade_frame(series.replay)
    loose = series_signals(champion, frame, "1d", min_confidence=0.4)
    strict = series_signals(champion, frame, "1d", min_confidence=0.6)
    assert strict.n_long < loose.n_long
    assert (strict.position <= loose.position).all()


def test_a_dataframe_shorter_than_the_warmup_is_refused(series, champion):
    short = freqtrade_frame(series.replay.iloc[:series.warmup])
    with pytest.raises(SignalRefused, match=rf"has {series.warmup} candles .* warm-up of {series.warmup}; set "
                                            rf"\"startup_candle_count\": {series.warmup}"):
        series_signals(champion, short, "1d", min_confidence=None)


@pytest.mark.parametrize("timeframe", ["1h", "4h", "30m"])
def test_another_timeframe_than_the_champions_is_refused(series, champion, timeframe):
    with pytest.raises(SignalRefused, match=rf"runs at timeframe {timeframe} but the champion .* trained on d1 bars; "
                                            r"set \"timeframe\": \"1d\""):
        series_signals(champion, freqtrade_frame(series.replay), timeframe, min_confidence=None)


def test_candles_spaced_as_another_timeframe_are_refused(series, champion):
    """Hourly candles under a 1d config: candor's bar validation names the spacing rule."""
    frame = freqtrade_frame(series.replay)
    frame["date"] = pd.date_range("2024-01-01", periods=len(frame), freq="h", tz="UTC").astype("datetime64[ms, UTC]")
    with pytest.raises(Exception, match=r"rule 'spacing'"):
        series_signals(champion, frame, "1d", min_confidence=None)


@pytest.mark.parametrize(("section", "pattern"), [
    (None, r"no `candor` section"),
    ({"symbol": "BTC-USDT"}, r"`candor.timeframe` must be set"),
    ({"symbol": "BTC/USDT", "timeframe": "d1"}, r"`symbol` must be"),
    ({"symbol": "BTC-USDT", "timeframe": "1d"}, r"`timeframe` must be one of"),
    ({"symbol": "BTC-USDT", "timeframe": "d1", "min_confidence": 1.5}, r"min_confidence` must be in \(0, 1\]"),
    ({"symbol": "BTC-USDT", "timeframe": "d1", "horizon": 0}, r"horizon` must be a whole number"),
    ({"symbol": "BTC-USDT", "timeframe": "d1", "confidence": 0.6}, r"unknown key\(s\) confidence"),
])
def test_bad_settings_name_the_key(section, pattern):
    config = {} if section is None else {"candor": section}
    with pytest.raises(ConfigError, match=pattern):
        StrategySettings.from_freqtrade(config)


# ---- the IStrategy itself, driven as Freqtrade drives it ---------------------------------------
def test_strategy_columns_and_tag(series):
    from candor.freqtrade.strategy import CandorStrategy

    strategy = CandorStrategy(strategy_config(series, min_confidence=0.45, abstain=False))
    strategy.bot_start()
    frame = strategy.populate_indicators(freqtrade_frame(series.replay), {"pair": PAIR})
    frame = strategy.populate_exit_trend(strategy.populate_entry_trend(frame, {"pair": PAIR}), {"pair": PAIR})
    enter, exit_ = frame["enter_long"].to_numpy(), frame["exit_long"].to_numpy()
    assert enter.sum() > 10 and ((enter + exit_) == 1).all()  # long or flat on every candle
    assert set(frame.loc[frame["enter_long"] == 1, "enter_tag"]) == {f"{series.name} v{series.version}"}
    assert frame.loc[frame["enter_long"] == 0, "enter_tag"].isna().all()


def test_min_confidence_defaults_to_candors_backtest_setting(series, tmp_path):
    from candor.freqtrade.strategy import CandorStrategy

    toml = tmp_path / "candor.toml"
    toml.write_text(f'home = "{series.home}"\n[backtest]\nmin_confidence = 0.55\n')
    strategy = CandorStrategy(strategy_config(series, config_file=str(toml)))
    assert strategy.candor_min_confidence == 0.55


def test_refused_dataframe_logs_one_line_and_sets_no_signal(series, caplog):
    from candor.freqtrade.strategy import CandorStrategy

    strategy = CandorStrategy(strategy_config(series))
    strategy.timeframe = "1h"  # as a Freqtrade config with "timeframe": "1h" would set it
    with caplog.at_level(logging.WARNING, logger="candor.freqtrade.strategy"):
        frame = strategy.populate_indicators(freqtrade_frame(series.replay), {"pair": PAIR})
    frame = strategy.populate_exit_trend(strategy.populate_entry_trend(frame, {"pair": PAIR}), {"pair": PAIR})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "runs at timeframe 1h" in lines[0] and lines[0].endswith("no trade.")
    assert frame["enter_long"].sum() == 0 and frame["exit_long"].sum() == 0


def test_no_champion_logs_and_trades_nothing(series, caplog):
    from candor.freqtrade.strategy import CandorStrategy

    strategy = CandorStrategy(strategy_config(series, symbol="ETH-USDT"))
    with caplog.at_level(logging.WARNING, logger="candor.freqtrade.strategy"):
        strategy.bot_start()
        frame = strategy.populate_indicators(freqtrade_frame(series.replay), {"pair": "ETH/USDT"})
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"]
    assert "no champion for ETH-USDT/d1" in caplog.records[1].getMessage()
    assert frame["candor_position"].isna().all()


def test_bad_settings_stop_freqtrade_with_one_line(series):
    from freqtrade.exceptions import OperationalException

    from candor.freqtrade.strategy import CandorStrategy

    with pytest.raises(OperationalException, match=r"^candor: the Freqtrade config has no `candor` section"):
        CandorStrategy({"timeframe": "1d"})


# ---- candor freqtrade export --------------------------------------------------------------------
def _toml(series, tmp_path):
    """A candor.toml beside the series' home (which CANDOR_HOME, as in the environment, also names)."""
    path = tmp_path / "candor.toml"
    path.write_text(f'home = "{series.home}"\n')
    return path


@pytest.fixture(autouse=True)
def series_home(series, monkeypatch):
    monkeypatch.setenv("CANDOR_HOME", str(series.home))  # the environment wins over a file's `home`


def test_export_writes_the_strategy_and_the_snippet(series, tmp_path, capsys):
    toml, user_data = _toml(series, tmp_path), tmp_path / "user_data"
    argv = ["freqtrade", "export", "--symbol", SYMBOL, "--timeframe", "d1", "--user-data", str(user_data),
            "--min-confidence", "0.5", "--config", str(toml)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{series.name} v{series.version} (warm-up {series.warmup} candles) → {PAIR}" in out
    source = (user_data / "strategies" / "CandorStrategy.py").read_text()
    assert "from candor.freqtrade.strategy import CandorStrategy as _Candor" in source
    snippet = json.loads((user_data / f"candor-{SYMBOL}-d1.json").read_text())
    assert snippet["strategy"] == "CandorStrategy" and snippet["timeframe"] == "1d"
    assert snippet["startup_candle_count"] == series.warmup and snippet["stake_currency"] == "USDT"
    # the catalog's converged warm-up of the champion's features for the exported timeframe (issue 22 item 16)
    assert snippet["startup_candle_count"] == warmup_bars(series.config.features, "d1", "24/7") > 202
    assert snippet["exchange"]["pair_whitelist"] == [PAIR]
    assert snippet["candor"] == {"symbol": SYMBOL, "timeframe": "d1", "horizon": None, "min_confidence": 0.5,
                                 "calendar": "24/7", "config_file": str(toml.resolve()), "home": str(series.home),
                                 "abstain": True}
    assert StrategySettings.from_freqtrade(snippet).min_confidence == 0.5
    assert main(argv) == 0  # the same files again: nothing to refuse


def test_export_refuses_to_replace_a_changed_file(series, tmp_path, capsys):
    toml, user_data = _toml(series, tmp_path), tmp_path / "user_data"
    argv = ["freqtrade", "export", "--symbol", SYMBOL, "--timeframe", "d1", "--user-data", str(user_data),
            "--config", str(toml)]
    assert main(argv) == 0
    snippet = user_data / f"candor-{SYMBOL}-d1.json"
    snippet.write_text("{}")
    capsys.readouterr()
    assert main(argv + ["--min-confidence", "0.6"]) == 3
    assert "exists and differs" in capsys.readouterr().err and snippet.read_text() == "{}"
    assert main(argv + ["--min-confidence", "0.6", "--force"]) == 0
    assert json.loads(snippet.read_text())["candor"]["min_confidence"] == 0.6


@pytest.mark.parametrize(("extra", "code", "pattern"), [
    (["--symbol", "ETH-USDT"], 1, r"no champion for ETH-USDT/d1"),
    (["--timeframe", "h1"], 1, r"no champion for BTC-USDT/h1"),
    (["--timeframe", "1d"], 3, r"`timeframe` must be one of"),
    (["--symbol", "SPX"], 3, r"no champion|--pair BASE/QUOTE"),
    (["--pair", "BTCUSDT"], 3, r"`pair` must be a Freqtrade pair"),
    (["--min-confidence", "0"], 3, r"min_confidence` must be in"),
    (["--calendar", "MOON"], 3, r"`calendar` must be"),
    (["--horizon", "3"], 1, r"no champion for BTC-USDT/d1 h3"),
])
def test_export_bad_input_is_one_line_and_writes_nothing(series, tmp_path, capsys, extra, code, pattern):
    toml, user_data = _toml(series, tmp_path), tmp_path / "user_data"
    base = {"--symbol": SYMBOL, "--timeframe": "d1", "--user-data": str(user_data), "--config": str(toml)}
    for flag, value in zip(extra[::2], extra[1::2]):
        base[flag] = value
    argv = ["freqtrade", "export", *[x for pair in base.items() for x in pair]]
    assert main(argv) == code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert re.search(pattern, err[0]), err[0]
    assert not user_data.exists()


def test_startup_candles_of_a_champion_saved_with_the_nominal_warmup_are_the_catalogs():
    """A champion saved before the warm-ups were measured records 202 (the nominal d1 warm-up); the
    export asks for the catalog's 392, where every feature's first value has settled."""
    from types import SimpleNamespace

    from candor.features import FeatureSet
    from candor.freqtrade.export import startup_candles

    old = SimpleNamespace(manifest=SimpleNamespace(warmup=202, feature_set=FeatureSet()), timeframe="d1")
    assert startup_candles(old, "24/7") == warmup_bars(FeatureSet(), "d1", "24/7") == 392
    longer = SimpleNamespace(manifest=SimpleNamespace(warmup=500, feature_set=FeatureSet()), timeframe="d1")
    assert startup_candles(longer, "24/7") == 500
