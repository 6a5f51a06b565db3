"""Conformal prediction sets and abstention for served forecasts (the forecast job and /api/predict).

Why it looks like this:

* **Calibration.** A champion's training report keeps the nonconformity scores of its
  out-of-sample rows (:class:`candor.records.report.ConformalCalibration`); the set at level
  ``1 − α_t`` holds every class with ``1 − p̂ ≤ q̂(α_t)`` (:mod:`candor.conformal`). A champion
  trained before candor kept them forecasts with a null set and a note (retrain to get sets).
* **Drift.** α_t follows adaptive conformal inference (Gibbs & Candès 2021): starting from
  ``1 − forecast.coverage``, each resolved forecast of the same model version and horizon moves
  it by ``forecast.aci_step × (α − miss)``, in bar order. The misses are read back from
  ``ml_forecasts`` (stored set vs realised direction), so the state is the table itself: a re-run,
  a restart or the API compute the same α_t. Forecasts resolve ``horizon`` bars late; ACI's
  long-run bound holds with that delay too (the update only lags).
* **Abstention.** A forecast abstains — direction ``NONE``, reason stored — when its set holds
  more than one class (or none; ``forecast.abstain_on_wide_sets = false`` keeps the set as
  information and serves the model's direction), or when ``forecast.abstain_without_edge`` and the champion's
  out-of-sample verdict is not a significant edge. Both reasons are kept when both apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.config import ForecastConfig
from candor.conformal import aci_alpha, conformal_quantile
from candor.records.report import TrainingReport
from candor.records.verdict import Verdict
from candor.store.forecasts import ABSTAIN, DIRECTIONS
from candor.store.schema import MlForecast

#: The note beside a null set.
NO_CALIBRATION = ("no conformal set: this champion was trained before candor kept calibration scores; "
                  "retrain it to get prediction sets")

#: (model name, model version, horizon) → the resolved forecasts' misses, oldest bar first.
Misses = Mapping[tuple[str, str, int], Sequence[bool]]


@dataclass(frozen=True)
class SetDecision:
    """A forecast's conformal set, the level it was built at, and why it abstains (if it does)."""

    prediction_set: tuple[str, ...] | None = None
    alpha: float | None = None
    abstain_reason: str | None = None
    note: str | None = None

    def direction(self, model_direction: str) -> str:
        return ABSTAIN if self.abstain_reason else model_direction


def set_misses(bind: Engine | Connection, model_names: Iterable[str],
               series: tuple[str, str] | None = None) -> dict[tuple[str, str, int], list[bool]]:
    """One query: for every (version, horizon) of ``model_names``, whether each resolved forecast
    that had a set missed its realised direction (oldest bar first). ``series`` (symbol,
    timeframe) narrows the read to one series' rows (the API's one-champion lookup, indexed)."""
    names = sorted(set(model_names))
    found: dict[tuple[str, str, int], list[bool]] = {}
    if not names:
        return found
    table = MlForecast.__table__
    query = (sa.select(table.c.model_name, table.c.model_version, table.c.horizon, table.c.prediction_set,
                       table.c.realized_direction)
             .where(table.c.model_name.in_(names), table.c.resolved_at.is_not(None))
             .order_by(table.c.bar_ts))
    if series is not None:
        query = query.where(table.c.symbol == series[0], table.c.timeframe == series[1])
    with (bind.connect() if isinstance(bind, Engine) else _borrowed(bind)) as connection:
        for name, version, horizon, members, realised in connection.execute(query):
            if isinstance(members, list):  # a null set (older champion) is no conformal claim
                found.setdefault((name, str(version), int(horizon)), []).append(realised not in members)
    return found


class _borrowed:
    """A caller's open connection, left open."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __enter__(self) -> Connection:
        return self.connection

    def __exit__(self, *_: Any) -> None:
        return None


def _edge_reason(report: TrainingReport) -> str | None:
    verdict = report.oos.verdict
    if verdict == Verdict.SIGNIFICANT_EDGE:
        return None
    return f"champion has no significant edge (out-of-sample verdict: {verdict or 'missing'})"


def decide(probabilities: Mapping[str, float], report: TrainingReport, settings: ForecastConfig,
           misses: Sequence[bool] = ()) -> SetDecision:
    """The set of one forecast at ACI's current level, and whether it abstains."""
    edge = _edge_reason(report) if settings.abstain_without_edge else None
    calibration = report.conformal
    if calibration is None or not calibration.scores:
        return SetDecision(abstain_reason=edge, note=NO_CALIBRATION)
    alpha = aci_alpha(1.0 - settings.coverage, misses, settings.aci_step)
    threshold = conformal_quantile(np.asarray(calibration.scores), alpha)
    members = tuple(d for d in DIRECTIONS if 1.0 - float(probabilities.get(d, 0.0)) <= threshold + 1e-12)
    level = f"{min(max(1.0 - alpha, 0.0), 1.0):.0%}"
    reasons = []
    if settings.abstain_on_wide_sets and len(members) > 1:  # off: the set is shown, the model's direction served
        reasons.append(f"the {level} conformal set holds {len(members)} classes ({', '.join(members)})")
    elif settings.abstain_on_wide_sets and not members:
        reasons.append(f"the {level} conformal set is empty (no class is plausible at this level)")
    if edge:
        reasons.append(edge)
    reason = "; ".join(reasons)[:255] or None
    return SetDecision(prediction_set=members, alpha=alpha, abstain_reason=reason)


def abstaining_rows(proba: np.ndarray, class_names: Sequence[str], report: TrainingReport,
                    settings: ForecastConfig, misses: Sequence[bool] = ()) -> np.ndarray:
    """For a matrix of forecasts (rows × ``class_names``): which abstain, by the rule of
    :func:`decide` at the current level α_t (the Freqtrade strategy scores a whole dataframe
    with the level of its newest candle; a champion with no calibration data abstains only for
    the edge rule)."""
    proba = np.asarray(proba, dtype=float)
    if settings.abstain_without_edge and _edge_reason(report):
        return np.ones(len(proba), dtype=bool)
    calibration = report.conformal
    if calibration is None or not calibration.scores or not settings.abstain_on_wide_sets:
        return np.zeros(len(proba), dtype=bool)
    threshold = conformal_quantile(np.asarray(calibration.scores),
                                   aci_alpha(1.0 - settings.coverage, misses, settings.aci_step))
    full = np.zeros((len(proba), len(DIRECTIONS)))
    for j, name in enumerate(class_names):
        full[:, DIRECTIONS.index(name)] = proba[:, j]
    return (1.0 - full <= threshold + 1e-12).sum(axis=1) != 1
