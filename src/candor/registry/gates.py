"""Promotion gates: small pluggable checks that turn a training report into validated / failed.

Why objects rather than one function: the registry runs whatever list it is given, so the
backtest gate or a project-specific gate plugs in without touching the registry. Each
gate reads the :class:`~candor.records.report.TrainingReport` stored inside the model artifact
(``manifest.report``), so a version can be re-validated later from the registry alone, without the
``TrainResult`` that produced it. A report held as JSON is parsed once, at the boundary, with
``candor.records.report.parse_report``.

Gates fail closed: a metric the report does not carry (``None`` in the record) is a failure with
a reason, never a pass. A gate whose whole input section is absent (no ``backtest`` section yet)
reports ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from candor.errors import ConfigError
from candor.records.verdict import Verdict
from candor.records.report import TrainingReport
from candor.records.evaluation import Evaluation
from candor.records.specs import GateSpec


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: ``passed`` is True for a skip, ``reason`` says why either way."""

    gate: str
    passed: bool
    reason: str
    skipped: bool = False


@runtime_checkable
class Gate(Protocol):
    """Anything with a ``name`` and ``check(report) -> GateResult`` is a gate."""

    name: str

    def check(self, report: TrainingReport) -> GateResult: ...


def _section(report: TrainingReport, name: str) -> Evaluation:
    """The evaluation a gate judges: ``oos`` or ``holdout`` (checked by :class:`GateSpec`)."""
    return report.holdout if name == "holdout" else report.oos


@dataclass(frozen=True)
class MinimumMetricsGate:
    """Accuracy / precision / recall / F1 minimums (weighted averages, as the report stores them)."""

    thresholds: GateSpec = GateSpec()
    name: str = "minimum_metrics"

    def check(self, report: TrainingReport) -> GateResult:
        t = self.thresholds
        section = _section(report, t.section)
        failures = []
        for metric, value, minimum in (("accuracy", section.accuracy, t.min_accuracy),
                                       ("precision", section.precision, t.min_precision),
                                       ("recall", section.recall, t.min_recall), ("f1", section.f1, t.min_f1)):
            if value is None:
                failures.append(f"{t.section} {metric} is missing from the report")
            elif value < minimum:
                failures.append(f"{t.section} {metric} {value:.3f} < {minimum:.3f}")
        if failures:
            return GateResult(self.name, False, "; ".join(failures))
        return GateResult(self.name, True, f"{t.section} accuracy/precision/recall/F1 meet the minimums")


@dataclass(frozen=True)
class SignificantEdgeGate:
    """The out-of-sample lift over the best baseline must be statistically significant."""

    section: str = "oos"
    name: str = "significant_edge"

    def check(self, report: TrainingReport) -> GateResult:
        section = _section(report, self.section)
        verdict = section.verdict
        if verdict == Verdict.SIGNIFICANT_EDGE:
            return GateResult(self.name, True, f"{self.section} verdict: {verdict}")
        lift, p = section.lift, section.p_value
        detail = "" if lift is None or p is None else f" (lift {lift:+.3f}, p = {p:.3f})"
        baseline = section.best_baseline or "best"
        shown = None if verdict is None else str(verdict)
        finding = (f"significantly worse than the {baseline} baseline" if verdict == Verdict.SIGNIFICANTLY_WORSE
                   else f"no significant edge over the {baseline} baseline")
        return GateResult(self.name, False, f"{finding}{detail}; verdict: {shown!r}")


@dataclass(frozen=True)
class BacktestGate:
    """Sharpe, trade count and deflated Sharpe minimums on ``report.backtest``.

    Skipped (passes, ``skipped=True``) while reports carry no backtest section. Reads the summary's
    ``sharpe`` (annualised, after costs), ``n_trades`` and ``deflated_sharpe``; which stored keys
    feed them (the bare section older candor wrote too) is
    :class:`candor.records.backtest.BacktestSummary`'s validator's business.
    """

    thresholds: GateSpec = GateSpec()
    name: str = "backtest"

    def check(self, report: TrainingReport) -> GateResult:
        section = report.backtest
        if section is None:
            return GateResult(self.name, True, "report has no backtest section; gate skipped", skipped=True)
        t = self.thresholds
        checks = (("sharpe", section.sharpe, t.min_backtest_sharpe), ("trades", section.n_trades, t.min_backtest_trades),
                  ("deflated_sharpe", section.deflated_sharpe, t.min_deflated_sharpe))
        failures = [f"backtest {key} is missing" if value is None else f"backtest {key} {value:.3f} < {minimum}"
                    for key, value, minimum in checks
                    if minimum is not None and (value is None or value < minimum)]
        if failures:
            return GateResult(self.name, False, "; ".join(failures))
        return GateResult(self.name, True, "backtest meets the Sharpe / trades / deflated Sharpe minimums")


def default_gates(spec: GateSpec = GateSpec()) -> tuple[Gate, ...]:
    """The gate list ``spec`` (``[registry]``) asks for: minimum metrics, significant edge (unless
    ``require_edge`` is off), backtest (skipped when a report has none). It decides ``candor
    train``'s exit code and the registered version's ``validated`` / ``failed`` tag alike."""
    edge = (SignificantEdgeGate(spec.section),) if spec.require_edge else ()
    return (MinimumMetricsGate(spec), *edge, BacktestGate(spec))


def run_gates(report: TrainingReport, gates: Sequence[Gate]) -> list[GateResult]:
    """Every gate's result, in order (no short-circuit: the user sees every reason at once)."""
    if not gates:
        raise ConfigError("`gates` is empty; pass at least one gate (see candor.registry.default_gates).")
    return [gate.check(report) for gate in gates]


def failure_reasons(results: Sequence[GateResult]) -> list[str]:
    return [f"{r.gate}: {r.reason}" for r in results if not r.passed]
