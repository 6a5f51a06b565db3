"""Model registry on MLflow: versions, pluggable gates, champion alias with an audited, crash-safe
lifecycle, verified loading. See :mod:`candor.registry.registry` and :mod:`candor.registry.aliases`.
"""

from __future__ import annotations

from candor.registry.aliases import CHAMPION, PREVIOUS, AliasMove, ReconcileFix
from candor.registry.common import (
    ARCHIVED, FAILED, STAGED, VALIDATED, Comparison, HistoryRow, ModelSummary, RegisteredVersion,
    model_name, resolve_name,
)
from candor.registry.gates import (
    BacktestGate, Gate, GateResult, GateSpec, MinimumMetricsGate,
    SignificantEdgeGate, default_gates, run_gates,
)
from candor.registry.champions import Champion
from candor.registry.registry import Registry

__all__ = [
    "ARCHIVED", "CHAMPION", "FAILED", "PREVIOUS", "STAGED", "VALIDATED", "AliasMove", "BacktestGate",
    "Champion", "Comparison", "Gate", "GateResult", "GateSpec", "HistoryRow",
    "MinimumMetricsGate", "ModelSummary", "ReconcileFix", "RegisteredVersion", "Registry",
    "SignificantEdgeGate", "default_gates", "model_name", "resolve_name", "run_gates",
]
