"""Gates: seed 004 minimums, significant edge, backtest (skipped without a backtest section)."""

from __future__ import annotations


import pytest
from registry_helpers import report

from candor.errors import ConfigError
from candor.records.backtest import BacktestSummary
from candor.registry import (
    BacktestGate, GateSpec, MinimumMetricsGate, SignificantEdgeGate, default_gates,
    run_gates,
)


def test_seed_defaults_and_validation():
    assert GateSpec() == GateSpec(0.60, 0.55, 0.50, 0.52, "oos")
    with pytest.raises(ConfigError, match=r"`min_f1` must be a number in \[0, 1\]. Got 1.5."):
        GateSpec(min_f1=1.5)
    with pytest.raises(ConfigError, match="`section` must be one of oos, holdout. Got 'train'"):
        GateSpec(section="train")
    with pytest.raises(ConfigError, match="`gates` is empty"):
        run_gates(report(), [])


def test_minimum_metrics_gate_names_every_shortfall():
    rep = report(0.58)
    rep = rep.model_copy(update={"oos": rep.oos.model_copy(update={"precision": 0.5, "recall": None})})
    result = MinimumMetricsGate().check(rep)
    assert not result.passed
    assert result.reason == ("oos accuracy 0.580 < 0.600; oos precision 0.500 < 0.550; "
                             "oos recall is missing from the report")
    assert MinimumMetricsGate().check(report(0.61)).passed
    assert not MinimumMetricsGate(GateSpec(section="holdout")).check(report(0.7, holdout=0.59)).passed


def test_significant_edge_gate():
    assert SignificantEdgeGate().check(report()).passed
    failed = SignificantEdgeGate().check(report(verdict="no significant edge"))
    assert not failed.passed and failed.reason.startswith("no significant edge over the majority baseline (lift +0.050, p = 0.400)")
    worse = SignificantEdgeGate().check(report(verdict="significantly worse than the baseline", lift=-0.04))
    assert not worse.passed and worse.reason.startswith("significantly worse than the majority baseline (lift -0.040")


def test_backtest_gate_skips_without_section_and_checks_with_one():
    skipped = BacktestGate().check(report())
    assert skipped.passed and skipped.skipped
    rep = report().model_copy(update={"backtest": BacktestSummary(sharpe=0.2, n_trades=50, deflated_sharpe=0.97)})
    result = BacktestGate().check(rep)
    assert not result.passed and result.reason == "backtest sharpe 0.200 < 0.5"
    ok = BacktestGate(GateSpec(min_backtest_sharpe=0.1, min_deflated_sharpe=None)).check(rep)
    assert ok.passed and not ok.skipped
    assert [r.gate for r in run_gates(report(), default_gates())] == ["minimum_metrics", "significant_edge", "backtest"]
