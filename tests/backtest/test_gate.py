"""The registry's backtest gate judges what the backtest actually reports, with config thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.backtest import BacktestConfig, run_backtest
from candor.config import load_config
from candor.data.bars import make_bars
from candor.errors import ConfigError
from candor.registry.gates import BacktestGate, GateSpec, default_gates
from candor.records.report import TrainingReport


def _result(n: int = 400, seed: int = 3):
    """A backtest on a random walk with alternating signals: many trades, no edge."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="ts")
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                          "volume": 1.0}, index=index)
    bars = make_bars(frame, symbol="RW", timeframe="d1")
    side = np.where((np.arange(n) // 5) % 2 == 0, 2, 0)
    proba = np.full((n, 3), 0.05)
    proba[np.arange(n), side] = 0.9
    return run_backtest(pd.DataFrame(proba, index=index, columns=[-1, 0, 1]), bars, BacktestConfig())


def _report(section: dict) -> TrainingReport:
    """A report holding only ``section`` as its stored backtest, parsed as the registry parses it."""
    return TrainingReport.model_validate({"backtest": section})


def test_gate_reads_a_bare_section():
    """A stored ``backtest`` as older candor wrote it (``BacktestResult.to_dict``) is enough:
    sharpe/n_trades nested, dsr top level."""
    result = _result()
    section = result.summary().model_dump(mode="json", exclude={"sharpe", "n_trades", "deflated_sharpe",
                                                                "equity_curve"})
    assert "sharpe" not in section and "deflated_sharpe" not in section  # the bare shape
    loose = BacktestGate(GateSpec(min_backtest_sharpe=-100.0, min_backtest_trades=1, min_deflated_sharpe=0.0))
    verdict = loose.check(_report(section))
    assert verdict.passed and not verdict.skipped, verdict.reason
    strict = BacktestGate(GateSpec(min_backtest_sharpe=100.0, min_backtest_trades=10**6, min_deflated_sharpe=1.0))
    reason = strict.check(_report(section)).reason
    assert f"backtest sharpe {result.metrics.sharpe:.3f} < 100.0" in reason
    assert f"backtest trades {result.metrics.n_trades:.3f} < 1000000" in reason
    assert f"backtest deflated_sharpe {result.sharpe.dsr:.3f} < 1.0" in reason


def test_flattened_keys_win_and_zero_is_a_value():
    """The report's flat keys take precedence; a Sharpe of exactly 0 is judged, not 'missing'."""
    section = {"sharpe": 0.0, "n_trades": 40, "deflated_sharpe": 0.5, "dsr": 0.99,
               "metrics": {"sharpe": 9.0, "n_trades": 1}}
    reason = BacktestGate(GateSpec(min_backtest_sharpe=0.5, min_backtest_trades=30, min_deflated_sharpe=0.95)).check(_report(section)).reason
    assert reason == "backtest sharpe 0.000 < 0.5; backtest deflated_sharpe 0.500 < 0.95"


def test_missing_numbers_fail_closed():
    section = {"metrics": {"sharpe": None}, "trades": "a list, not a number", "dsr": None}
    reason = BacktestGate().check(_report(section)).reason
    assert reason == ("backtest sharpe is missing; backtest trades is missing; backtest deflated_sharpe is missing")


def _backtest_thresholds(config):
    (gate,) = [g for g in default_gates(config.registry) if isinstance(g, BacktestGate)]
    t = gate.thresholds
    return t.min_backtest_sharpe, t.min_backtest_trades, t.min_deflated_sharpe


def test_thresholds_from_config():
    assert _backtest_thresholds(load_config(environ={})) == (0.5, 30, 0.95)
    off = load_config(environ={}, overrides={"registry": {"min_backtest_sharpe": None, "min_backtest_trades": None,
                                                          "min_deflated_sharpe": None}})
    assert _backtest_thresholds(off) == (None, None, None)
    assert BacktestGate(off.registry).check(_report({"x": 1})).passed
    with pytest.raises(ConfigError, match=r"`registry.min_deflated_sharpe` must be a number in \[0, 1\]. Got 1.5"):
        load_config(environ={}, overrides={"registry": {"min_deflated_sharpe": 1.5}})
    with pytest.raises(ConfigError, match=r"`registry.min_backtest_trades`.*Got -1"):
        load_config(environ={}, overrides={"registry": {"min_backtest_trades": -1}})
