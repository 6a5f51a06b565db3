"""`candor drift` prints the sequential test beside its threshold and each shadow comparison."""

from __future__ import annotations

from candor.cli import main
from candor.ops.drift import DriftReport, HorizonDrift
from candor.records.live import ShadowComparison
from candor.records.status import DriftStatus


def test_drift_prints_the_cusum_against_its_threshold_and_the_shadow_verdict(monkeypatch, capsys):
    result = HorizonDrift("SYN", "d1", 5, DriftStatus.MONITOR, 40, 0.48, 0.52, -0.04,
                          sequential={"statistic": 2.5, "threshold": 4.05, "emergency_threshold": 5.4, "p0": 0.52,
                                      "p1": 0.42, "tested": 40, "first_alarm": None, "delay_90": 290})
    shadow = ShadowComparison(name="candor.SYN.d1", horizon=5, champion="1", shadow="2", n=12, note="too few rows to compare")
    monkeypatch.setattr("candor.ops.drift.run_drift", lambda services, **_: DriftReport(results=[result], shadows=[shadow]))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["drift"]) == 0
    out = capsys.readouterr().out
    assert "2.50 / 4.05" in out and "monitor" in out
    assert "candor.SYN.d1 h5: shadow v2 vs champion v1 on 12 resolved rows — too few rows to compare" in out
