"""The real ``freqtrade backtesting`` trades candor's champion exactly as ``candor backtest`` does.

Both read the same bars (the champion's warm-up, then 300 bars after its training span) — Freqtrade
from a feather file in its own ``user_data/data/binance/`` layout, candor from a CSV — with no
costs, long/flat, next-open execution and one confidence threshold. Freqtrade runs offline against
a local stand-in for Binance's market list (see ``fake_exchange``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqtrade_helpers import PAIR, SYMBOL, Series
from fake_exchange import fake_binance

from candor.cli import main

MIN_CONFIDENCE = 0.45
WALLET = 1000
FREQTRADE_SECONDS = 120


def write_freqtrade_candles(bars: pd.DataFrame, datadir: Path, pair: str, timeframe: str) -> Path:
    """Bars as Freqtrade stores candles (its own data handler writes the file)."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    frame = bars.reset_index().rename(columns={"ts": "date"})[["date", "open", "high", "low", "close", "volume"]]
    datadir.mkdir(parents=True, exist_ok=True)
    get_datahandler(datadir, "feather").ohlcv_store(pair, timeframe, frame, CandleType.SPOT)
    return next(datadir.glob(f"{pair.replace('/', '_')}-{timeframe}*.feather"))


def base_config(path: Path, ccxt_config: dict) -> Path:
    """The user's own config: dry-run wallet, all-in stake, one trade at a time, the exchange."""
    path.write_text(json.dumps({
        "dry_run": True, "dry_run_wallet": WALLET, "stake_amount": "unlimited", "tradable_balance_ratio": 1.0,
        "max_open_trades": 1, "trading_mode": "spot", "dataformat_ohlcv": "feather",
        "entry_pricing": {"price_side": "same"}, "exit_pricing": {"price_side": "same"},
        "exchange": {"name": "binance", "key": "", "secret": "", "ccxt_config": ccxt_config},
    }))
    return path


def run_freqtrade(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # A wide console: freqtrade logs through Rich, which wraps lines at the terminal width (a narrow
    # one under xdist split the "serves" line the test looks for).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "freqtrade", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=FREQTRADE_SECONDS)


@pytest.fixture(scope="module")
def both_backtests(series: Series, tmp_path_factory):
    """Export, then ``freqtrade backtesting`` and ``candor backtest`` on the same bars."""
    from freqtrade.data.btanalysis import load_backtest_data

    work = tmp_path_factory.mktemp("freqtrade")
    with pytest.MonkeyPatch.context() as patch:  # the environment's CANDOR_HOME wins over the file's `home`
        patch.setenv("CANDOR_HOME", str(series.home))
        return _run_both(series, work, load_backtest_data)


def _run_both(series: Series, work: Path, load_backtest_data):
    toml = work / "candor.toml"
    toml.write_text(f'home = "{series.home}"\n')
    user_data = work / "user_data"
    assert main(["freqtrade", "export", "--symbol", SYMBOL, "--timeframe", "d1", "--user-data", str(user_data),
                 "--min-confidence", str(MIN_CONFIDENCE), "--config", str(toml)]) == 0
    snippet = user_data / f"candor-{SYMBOL}-d1.json"
    exported = json.loads(snippet.read_text())
    exported["candor"]["abstain"] = False  # parity with `candor backtest --no-abstain` below
    snippet.write_text(json.dumps(exported))
    replay = series.replay
    datadir = user_data / "data" / "binance"
    write_freqtrade_candles(replay, datadir, PAIR, "1d")
    results = work / "results"
    results.mkdir()
    with fake_binance([PAIR]) as exchange:
        done = run_freqtrade(["backtesting", "--userdir", str(user_data), "--config",
                              str(base_config(work / "config.json", exchange.ccxt_config())), "--config", str(snippet),
                              "--datadir", str(datadir), "--fee", "0", "--export", "trades", "--cache", "none",
                              "--backtest-directory", str(results)], cwd=work)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (work / "freqtrade.log").write_text(done.stdout + done.stderr)
    freqtrade_trades = load_backtest_data(results)

    csv = work / "replay.csv"
    replay.rename_axis("ts").to_csv(csv)
    trades_csv, report = work / "candor_trades.csv", work / "candor_backtest.json"
    assert main(["backtest", "--model", f"{series.name}@champion", "--data", str(csv), "--symbol", SYMBOL,
                 "--timeframe", "d1", "--calendar", "24/7", "--cost-bps", "0", "--min-confidence", str(MIN_CONFIDENCE),
                 "--no-abstain",
                 "--trades", str(trades_csv), "--output-json", str(report), "--config", str(toml)]) == 0
    candor_trades = pd.read_csv(trades_csv, parse_dates=["entry_ts", "exit_ts"])
    return freqtrade_trades, candor_trades, json.loads(report.read_text()), exchange, done.stdout + done.stderr


def test_freqtrade_made_trades_tagged_with_the_champion_version(both_backtests, series):
    freqtrade_trades, _, _, exchange, log = both_backtests
    assert len(freqtrade_trades) >= 5, log[-3000:]
    assert set(freqtrade_trades["enter_tag"]) == {f"{series.name} v{series.version}"}
    assert exchange.requests and all(r.startswith("/api/v3/exchangeInfo") for r in exchange.requests)
    assert f"candor: {series.name} v{series.version} serves {SYMBOL}/d1" in " ".join(log.split())


def test_every_trade_matches_candor_backtest(both_backtests, series):
    """Same entry bar, same exit bar, same return: Freqtrade fills at the next open, like candor's next_open."""
    freqtrade_trades, candor_trades, report, _, _ = both_backtests
    assert report["backtest"]["execution"] == "next_open"
    first_unseen = series.bars.index[len(series.bars) - len(series.replay) + series.warmup]
    assert candor_trades["entry_ts"].min() > first_unseen  # candor trades only after the training span
    ft = freqtrade_trades.assign(entry_ts=freqtrade_trades["open_date"], exit_ts=freqtrade_trades["close_date"])
    closed = candor_trades[candor_trades["closed"]]
    merged = closed.merge(ft, on=["entry_ts", "exit_ts"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", ["entry_ts", "exit_ts"]]
    np.testing.assert_allclose(merged["close_rate"] / merged["open_rate"] - 1, merged["return"], rtol=0, atol=1e-9)
    assert (merged["exit_reason"] == "exit_signal").all()
    # Beyond candor's closed trades Freqtrade may hold two more: the trade still open at the end (candor
    # values it at the last open, Freqtrade force-exits it at the last close) and one entered on the
    # last bar, from a signal candor leaves unexecuted (its period would end after the bars).
    extra = ft[~ft["entry_ts"].isin(closed["entry_ts"])]
    allowed = set(candor_trades.loc[~candor_trades["closed"], "entry_ts"]) | {series.bars.index[-1]}
    assert set(extra["entry_ts"]) <= allowed, extra


def test_same_total_return_and_trade_count(both_backtests):
    """All-in stake, no fees: Freqtrade's wallet grows exactly as candor's equity (to amount rounding)."""
    freqtrade_trades, candor_trades, report, _, _ = both_backtests
    metrics = report["backtest"]["metrics"]
    assert metrics["n_trades"] == len(candor_trades) == len(freqtrade_trades)
    assert abs(freqtrade_trades["profit_abs"].sum() / WALLET - metrics["total_return"]) < 1e-6


def test_candles_shorter_than_the_warmup_are_a_log_line_and_no_trade(series, tmp_path, monkeypatch):
    """The real Freqtrade, handed fewer candles than the champion's warm-up (startup candles set to 0)."""
    monkeypatch.setenv("CANDOR_HOME", str(series.home))
    user_data = tmp_path / "user_data"
    assert main(["freqtrade", "export", "--symbol", SYMBOL, "--timeframe", "d1", "--user-data", str(user_data)]) == 0
    datadir = user_data / "data" / "binance"
    write_freqtrade_candles(series.replay.iloc[:150], datadir, PAIR, "1d")
    no_startup = tmp_path / "no_startup.json"
    no_startup.write_text(json.dumps({"startup_candle_count": 0}))
    with fake_binance([PAIR]) as exchange:
        done = run_freqtrade(["backtesting", "--userdir", str(user_data), "--config",
                              str(base_config(tmp_path / "config.json", exchange.ccxt_config())), "--config",
                              str(user_data / f"candor-{SYMBOL}-d1.json"), "--config", str(no_startup),
                              "--datadir", str(datadir), "--fee", "0", "--export", "none", "--cache", "none"],
                             cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert log.count("candor.freqtrade.strategy - WARNING") == 2  # bot_start: startup < warm-up; the dataframe
    flat = " ".join(log.split())  # Freqtrade's console wraps long log lines
    assert (f"candor: {PAIR}: the Freqtrade dataframe has 150 candles but the champion {series.name} "
            f"v{series.version} needs more than its warm-up of {series.warmup}; set \"startup_candle_count\": "
            f"{series.warmup} and supply a longer history. — no trade.") in flat
    assert "No trades made" in log
