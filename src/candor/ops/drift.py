"""Late labels and the drift monitor: a sequential test of live hits against the validation baseline.

Why these choices:

* **Late labels** are made by the model's own :class:`~candor.labels.LabelSpec` (kind,
  threshold, horizon) read from its registry version (the ``label_spec`` tag, else the verified
  manifest), so "realised" means exactly what the model was trained to predict. A forecast
  resolves only once the bar ``horizon`` bars after it exists.
* **Baseline** = the champion's out-of-sample (walk-forward) accuracy from its manifest report:
  the number it was validated on. The verdict is a one-sided Bernoulli CUSUM of this champion's
  resolved forecasts (hit/miss, oldest first) against it (:mod:`candor.ops.alarms`): **drift**
  when the statistic reaches the threshold whose chance of a false alarm within a year of
  stationary forecasts is ``drift.false_alarms_per_year`` (5%), **emergency** at the threshold of
  ``drift.emergency_false_alarms_per_year`` (1%), **monitor** half-way to the drift threshold. The
  fixed accuracy bands it replaces had no stated false-alarm rate (a 60-forecast window checked
  every day crosses "−15 points" by chance far more often than anyone guessed). Forecasts whose
  label windows overlap (daily forecasts of a 5-bar horizon) are thinned to one per window: their
  outcomes are correlated, and a test that counts them as independent alarms too often. Fewer
  than ``min_samples`` tested forecasts is ``insufficient``. Abstentions are not tested.
* **Calibration drift** = ECE of the recent resolved forecasts minus the ECE of the champion on
  its own holdout rows (which it never trained on), so a model that was always a bit
  over-confident does not alarm.
* **Feature drift** (:mod:`candor.ops.feature_drift`): the PSI of the newest ``psi_window`` bars
  against the champion's span, judged against the PSIs of equally long windows inside that span
  (an empirical null that holds for autocorrelated features), flagged beyond its 99th percentile.
  **Prediction PSI**: recent forecast directions vs the champion's predicted-class mix on its
  holdout. A flagged feature, a prediction PSI above ``psi_warn`` or a calibration rise lifts
  ``normal`` to ``monitor``; only accuracy can say ``drift`` or ``emergency``. Every alert says why.
* One ``drift_monitoring`` row per symbol × timeframe × horizon × judged bar (the newest bar of the
  series when the check ran): a replay or backfill of N bars keeps N rows per horizon, and a re-run
  on the same bar replaces its row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from sqlalchemy.engine import Engine

from candor.config import Config, DriftConfig
from candor.errors import CandorError, DataError
from candor.features.catalog import time_specs
from candor.labels import CLASS_NAMES, LabelSpec, make_labels
from candor.ops.alarms import Cusum, alternative, cusum, detection_delay, threshold_for
from candor.ops.alerts import Alert, Delivery, send_alert, should_alert
from candor.ops.context import served_series
from candor.ops.feature_drift import FeatureDrift, judge_features
from candor.records.status import DriftStatus
from candor.registry.aliases import CHAMPION, PREVIOUS, champion_moved_within, current_aliases
from candor.registry.champions import Champion
from candor.registry.common import MANIFEST_SHA
from candor.registry.registry import Registry
from candor.services import Services
from candor.store import (
    Resolution, alias_events, forecasts, latest_drift_row, load_bars, resolve_forecasts, unresolved_forecasts,
    upsert_drift_row,
)

log = logging.getLogger(__name__)
_EPS = 1e-4


# ---- late labels --------------------------------------------------------------------------------
def _spec_from_registry(registry: Registry, name: str, version: str) -> LabelSpec:
    mv = registry.version(name, version)
    raw = mv.tags.get("label_spec")
    if raw:
        try:
            return LabelSpec(**json.loads(raw))
        except (TypeError, ValueError):
            pass
    return registry.verified_manifest(mv).label_spec


def resolve_forecasts_from_bars(engine: Engine, symbol: str, timeframe: str, bars: pd.DataFrame, *,
                                registry: Registry | None = None, label_specs: Mapping[tuple[str, str], LabelSpec] | None = None,
                                now: datetime | None = None) -> int:
    """Fill ``realized_direction/return`` and ``resolved_at`` of every forecast whose horizon has passed.

    Label specs come from ``label_specs[(model_name, model_version)]`` or the ``registry``; a
    forecast whose model is unknown to both is an error naming it. Returns rows newly resolved.
    """
    pending = unresolved_forecasts(engine, symbol, timeframe)
    if not pending:
        return 0
    specs, labels = dict(label_specs or {}), {}
    resolutions = []
    for row in pending:
        key = (row.model_name, row.model_version)
        if key not in specs:
            if registry is None:
                raise DataError(f"no label spec for {key[0]} v{key[1]}; pass `registry` or `label_specs`.")
            specs[key] = _spec_from_registry(registry, *key)
        if specs[key] not in labels:
            labels[specs[key]] = make_labels(bars, specs[key]) if len(bars) > specs[key].horizon + specs[key].warmup else None
        made = labels[specs[key]]
        ts = pd.Timestamp(row.bar_ts)
        if made is None or ts not in made.y.index:
            continue
        resolutions.append(Resolution(int(row.id), CLASS_NAMES[int(made.y.loc[ts])], float(made.ret.loc[ts]),
                                      now or datetime.now(UTC)))
    return resolve_forecasts(engine, resolutions)


# ---- statistics ---------------------------------------------------------------------------------
def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (quantile bins of the reference)."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1))[1:-1])
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    return share_psi(ref, cur)


def share_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two share vectors over the same categories (empty shares floored at 1e-4)."""
    ref, cur = np.maximum(np.asarray(reference, float), _EPS), np.maximum(np.asarray(current, float), _EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: |accuracy − mean confidence| per confidence bin, weighted by the bin's share."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if len(confidence) == 0:
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        mask = which == b
        total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


@dataclass(frozen=True)
class Sequential:
    """The sequential test's reading: the CUSUM, its two thresholds, and the delay it promises."""

    cusum: Cusum
    emergency_threshold: float
    delay_90: int | None  # resolved (tested) forecasts within which 90% of `detect_drop` drops alarm
    key: str = ""  # what the thresholds depend on (see sequential_status's `known`)

    def thresholds(self) -> dict[str, Any]:
        """The record a later check reuses instead of recomputing the thresholds."""
        return {"key": self.key, "threshold": self.cusum.threshold, "emergency_threshold": self.emergency_threshold,
                "delay_90": self.delay_90}

    def as_dict(self) -> dict[str, Any]:
        c = self.cusum
        return {"statistic": round(c.statistic, 6), "threshold": round(c.threshold, 6),
                "emergency_threshold": round(self.emergency_threshold, 6), "p0": c.p0, "p1": c.p1,
                "tested": c.n, "first_alarm": c.first_alarm, "delay_90": self.delay_90}


def sequential_status(hits: np.ndarray, baseline: float | None, config: DriftConfig,
                      known: Mapping[str, Any] | None = None) -> tuple[DriftStatus, Sequential | None]:
    """The CUSUM verdict on ``hits`` (1 hit, 0 miss, oldest first) against the accuracy ``baseline``.

    ``insufficient`` below ``min_samples`` tested forecasts or without a baseline inside (0, 1);
    else emergency / drift at the thresholds of the two false-alarm rates, monitor from half the
    drift threshold, normal below. ``known``: an earlier reading's :meth:`Sequential.thresholds`,
    used when it was computed for the same p0, p1, forecasts a year and false-alarm rates (the
    exact Markov chain behind them took a tenth of a second a series in every ``candor drift``).
    """
    hits = np.asarray(hits, dtype=bool)
    if baseline is None or not 0.0 < baseline < 1.0 or alternative(baseline, config.detect_drop) >= baseline:
        return DriftStatus.INSUFFICIENT, None
    p0 = round(float(baseline), 6)
    p1 = round(alternative(p0, config.detect_drop), 6)
    key = f"{p0!r}|{p1!r}|{config.forecasts_per_year}|{config.false_alarms_per_year!r}|{config.emergency_false_alarms_per_year!r}"
    if known and known.get("key") == key:
        h, h_emergency, delay = float(known["threshold"]), float(known["emergency_threshold"]), known["delay_90"]
    else:
        h = threshold_for(p0, p1, config.forecasts_per_year, config.false_alarms_per_year)
        h_emergency = threshold_for(p0, p1, config.forecasts_per_year, config.emergency_false_alarms_per_year)
        delay = detection_delay(p0, p1, h)
    reading = Sequential(cusum(hits, p0, p1, h), h_emergency, delay, key)
    if len(hits) < config.min_samples:
        return DriftStatus.INSUFFICIENT, reading
    statistic = reading.cusum.statistic
    if statistic >= h_emergency:
        return DriftStatus.EMERGENCY, reading
    if statistic >= h:
        return DriftStatus.DRIFT, reading
    return (DriftStatus.MONITOR if statistic >= h / 2 else DriftStatus.NORMAL), reading


def scored_hits(rows: list[Any], bars_index: pd.Index, horizon: int, thin: bool) -> np.ndarray:
    """Hit (1) / miss (0) of resolved forecasts, oldest first, abstentions left out; with ``thin``
    only forecasts at least ``horizon`` bars after the last one kept (disjoint label windows)."""
    kept, last = [], None
    positions = bars_index.get_indexer(pd.DatetimeIndex([pd.Timestamp(r.bar_ts) for r in rows])) if rows else []
    for row, pos in zip(rows, positions):
        if row.direction not in CLASS_NAMES.values():
            continue
        if thin and pos >= 0:
            if last is not None and pos - last < horizon:
                continue
            last = pos
        kept.append(row.direction == row.realized_direction)
    return np.array(kept, dtype=bool)


# ---- one series -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HorizonDrift:
    """The drift numbers of one symbol × timeframe × horizon on one date."""

    symbol: str
    timeframe: str
    horizon: int
    status: DriftStatus
    n: int
    accuracy: float | None
    baseline: float | None
    margin: float | None
    calibration_error: float | None = None
    calibration_reference: float | None = None
    feature_psi: dict[str, float] = field(default_factory=dict)
    prediction_psi: float | None = None
    model_name: str = ""
    model_version: str = ""
    notes: tuple[str, ...] = ()
    sequential: dict[str, Any] | None = None
    holdout_reference: dict[str, Any] | None = None  # the cached holdout numbers (see _holdout_reference)
    thresholds: dict[str, Any] | None = None  # the CUSUM thresholds, reusable (see sequential_status)

    @property
    def max_feature_psi(self) -> float | None:
        values = [v for v in self.feature_psi.values() if np.isfinite(v)]
        return max(values) if values else None


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _champion_resolved(rows: list[Any], champion: Champion) -> list[Any]:
    """The resolved forecasts of ``rows`` that *this champion* made, oldest first: judging one version
    by another's forecasts made every automatic rollback look needed again (the champion ping-ponged)."""
    return [r for r in rows if r.resolved_at is not None
            and (r.model_name, str(r.model_version)) == (champion.name, champion.version)]


def _holdout_reference(known: Mapping[str, Any], champion: Champion, bars: pd.DataFrame,
                       features: pd.DataFrame) -> tuple[float | None, np.ndarray | None, dict[str, Any] | None]:
    """(ECE, predicted-class shares) of the champion on its holdout rows, when the bars hold them,
    and the record that lets the next check reuse them.

    The numbers depend only on the model and on those rows (features and labels), so they are
    keyed by the artifact's hash and a hash of the rows, kept in the drift row's
    ``details["holdout_reference"]``, and reused while the key holds: a daily check then never
    unpickles the champion (scikit-learn's import and the unpickling were a third of ``candor drift``).
    """
    start = champion.tags.get("holdout_start")
    end = champion.tags.get("holdout_end")
    if not start:
        return None, None, None
    labels = make_labels(bars, champion.model.label_spec)
    rows = features.loc[pd.Timestamp(start):pd.Timestamp(end) if end else None].dropna()
    rows = rows.loc[rows.index.intersection(labels.y.index)]
    if len(rows) < 10:
        return None, None, None
    y = labels.y.loc[rows.index]
    digest = hashlib.sha256(str(champion.tags.get(MANIFEST_SHA, champion.version)).encode())
    digest.update(pd.util.hash_pandas_object(rows).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(y).to_numpy().tobytes())
    key = digest.hexdigest()[:32]
    if known.get("key") == key:
        return float(known["ece"]), np.asarray(known["shares"], dtype=float), known
    proba = champion.model.estimator.predict_proba(rows)
    classes = np.asarray(champion.model.estimator.classes_)
    pred = classes[proba.argmax(axis=1)]
    ece = expected_calibration_error(proba.max(axis=1), pred == y.to_numpy())
    shares = np.array([np.mean(pred == c) for c in sorted(CLASS_NAMES)])
    return ece, shares, {"key": key, "ece": float(ece), "shares": [float(v) for v in shares]}


def _feature_psi(champion: Champion, features: pd.DataFrame, config: DriftConfig) -> FeatureDrift:
    """The newest ``psi_window`` bars against the empirical null of the champion's span (the rule:
    :mod:`candor.ops.feature_drift`). The reference is every bar up to ``holdout_end`` (training and
    holdout: what the champion was validated on), cut before the live window; without the tag,
    every bar before the live window."""
    # Calendar features (month, weekday, hour) are left out: a window of a few weeks never has the
    # training span's spread of months, so their PSI is large by construction, not by drift.
    calendar = {spec.name for spec in time_specs(str(champion.model.timeframe))}
    complete = features.drop(columns=[c for c in features.columns if c in calendar]).dropna()
    live = complete.iloc[-config.psi_window:]
    reference, basis = complete.iloc[:len(complete) - len(live)], "bars before the live window"
    end = champion.tags.get("holdout_end")
    if end:
        reference, basis = reference.loc[:pd.Timestamp(end)], "the champion's span (training + holdout)"
    return judge_features(reference, live, config, basis)


def check_horizon(config: Config, *, engine: Engine, champion: Champion, bars: pd.DataFrame) -> HorizonDrift:
    """Accuracy, calibration, feature and prediction drift of one champion on recent forecasts."""
    drift = config.drift
    symbol, timeframe, horizon = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"]), champion.horizon
    served = forecasts(engine, symbol, timeframe, horizon=horizon)  # one read: resolved rows and the recent mix
    resolved = _champion_resolved(served, champion)
    called = [r for r in resolved if r.direction in CLASS_NAMES.values()]  # an abstention is no call: no miss
    recent = called[-drift.window:]
    correct = np.array([r.direction == r.realized_direction for r in recent], dtype=float)
    accuracy = float(correct.mean()) if len(recent) else None
    baseline = champion.model.manifest.report.oos.accuracy  # None when the report has no finite one
    features = champion.model.features(bars)
    last = latest_drift_row(engine, symbol, timeframe, horizon)
    kept = (last.details or {}) if last is not None else {}  # what the last check computed once
    ref_ece, ref_shares, reference = _holdout_reference(kept.get("holdout_reference") or {}, champion, bars, features)
    ece = expected_calibration_error(np.array([r.confidence for r in recent]), correct) if len(recent) else None
    judged = _feature_psi(champion, features, drift)
    feature_psi = judged.psi
    directions = np.array([r.direction for r in served[-drift.window:]])
    pred_psi = (share_psi(ref_shares, [np.mean(directions == CLASS_NAMES[c]) for c in sorted(CLASS_NAMES)])
                if ref_shares is not None and len(directions) else None)
    status, reading = sequential_status(scored_hits(resolved, bars.index, horizon, drift.thin_overlapping), baseline, drift,
                                        kept.get("thresholds"))
    notes = [f"feature PSI basis: {judged.basis}", *_set_coverage_note(resolved[-drift.window:], config.forecast.coverage)]
    if reading is not None:
        c = reading.cusum
        notes.append(f"CUSUM {c.statistic:.2f} over {c.n} tested forecasts vs threshold {c.threshold:.2f} "
                     f"(false alarms <= {drift.false_alarms_per_year:g}/year; emergency {reading.emergency_threshold:.2f})")
    status, notes = _escalate(status, notes, judged, pred_psi, ece, ref_ece, drift)
    return HorizonDrift(symbol, timeframe, horizon, status, len(recent), accuracy, baseline,
                        None if accuracy is None or baseline is None else accuracy - baseline,
                        _finite(ece), _finite(ref_ece), {k: round(v, 6) for k, v in feature_psi.items() if np.isfinite(v)},
                        _finite(pred_psi), champion.name, champion.version, tuple(notes),
                        None if reading is None else reading.as_dict(), reference,
                        None if reading is None else reading.thresholds())


def _set_coverage_note(rows: list[Any], target: float) -> list[str]:
    """The realised coverage of the conformal sets of resolved forecasts (abstentions included)."""
    judged = [r.realized_direction in r.prediction_set for r in rows if getattr(r, "prediction_set", None)]
    if not judged:
        return []
    return [f"conformal sets held the outcome {np.mean(judged):.0%} of {len(judged)} resolved forecasts "
            f"(target {target:.0%})"]


# the notes `_escalate` adds: each is a reason to monitor, and an alert quotes them
_REASONS = ("feature drift:", "prediction PSI", "calibration error")


def _escalate(status: DriftStatus, notes: list[str], features: FeatureDrift, pred_psi: float | None,
              ece: float | None, ref_ece: float | None, drift: DriftConfig) -> tuple[DriftStatus, list[str]]:
    """A flagged feature, prediction drift or a calibration rise lifts ``normal`` to ``monitor`` (never
    higher). Only the reasons added here lift it: the informational notes before them (basis, set
    coverage, CUSUM) used to count too, so nearly every ``normal`` check read ``monitor``."""
    reasons = []
    if features.reason():
        reasons.append(features.reason())
    if pred_psi is not None and pred_psi > drift.psi_warn:
        reasons.append(f"prediction PSI {pred_psi:.3f} > {drift.psi_warn}")
    if ece is not None and ref_ece is not None and ece - ref_ece > drift.calibration_warn:
        reasons.append(f"calibration error {ece:.3f} vs {ref_ece:.3f} on the holdout")
    if status == DriftStatus.NORMAL and reasons:
        status = DriftStatus.MONITOR
    return status, [*notes, *reasons]


# ---- the job --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmergencyAction:
    """What the monitor did about an emergency: rollback or retrain, and whether it worked."""

    symbol: str
    timeframe: str
    horizon: int
    action: str
    ok: bool
    detail: str


@dataclass
class DriftReport:
    """One run of the monitor: labels resolved, verdicts, alerts sent, emergency actions, skips."""

    resolved: int = 0
    results: list[HorizonDrift] = field(default_factory=list)
    alerts: list[tuple[Alert, Delivery | None]] = field(default_factory=list)
    actions: list[EmergencyAction] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    shadows: list[Any] = field(default_factory=list)  # candor.ops.shadow.ShadowComparison per shadowed model
    paper_days: int = 0  # paper ledger days newly booked (candor.ops.paper.book_ledger)


def _store_row(engine: Engine, result: HorizonDrift, bar_ts: pd.Timestamp, day: date) -> int:
    """One row per series × horizon × judged bar (migration 0005)."""
    details = {"horizon": result.horizon, "model": f"{result.model_name} v{result.model_version}",
               "feature_psi": result.feature_psi, "calibration_reference": result.calibration_reference,
               "notes": list(result.notes), "sequential": result.sequential,
               "holdout_reference": result.holdout_reference, "thresholds": result.thresholds}
    return upsert_drift_row(engine, symbol=result.symbol, timeframe=result.timeframe, horizon=result.horizon,
                            bar_ts=bar_ts, date=day, n=result.n, status=result.status, accuracy=result.accuracy,
                            baseline=result.baseline, margin=result.margin,
                            calibration_error=result.calibration_error, max_feature_psi=result.max_feature_psi,
                            prediction_psi=result.prediction_psi, details=details)


def _accuracy_state(result: HorizonDrift) -> str:
    """Where live accuracy stands: at/above or below the baseline, and what the sequential test says."""
    if result.accuracy is None or result.baseline is None:
        return f"not judged yet ({result.n} resolved forecasts, baseline {'n/a' if result.baseline is None else f'{result.baseline:.1%}'})"
    side = ("at or above the baseline" if result.accuracy >= result.baseline
            else f"{(result.baseline - result.accuracy) * 100:.1f} pts below the baseline")
    state = (f"accuracy {result.accuracy:.1%} over {result.n} resolved forecasts vs baseline {result.baseline:.1%} "
             f"({side})")
    seq = result.sequential
    if seq:
        verdict = ("past the emergency threshold" if seq["statistic"] >= seq["emergency_threshold"]
                   else "past the drift threshold" if seq["statistic"] >= seq["threshold"]
                   else "half-way to the drift threshold" if seq["statistic"] >= seq["threshold"] / 2
                   else "below half the drift threshold")
        state += (f"; CUSUM {seq['statistic']:.2f} over {seq['tested']} tested forecasts vs threshold "
                  f"{seq['threshold']:.2f} ({verdict})")
    return state


def _alert_for(result: HorizonDrift) -> Alert:
    """The alert: status, series, *why* (the reasons that lifted it, else the accuracy test) and the
    accuracy state, in one line a person can act on."""
    reasons = [n for n in result.notes if n.startswith(_REASONS)]
    seq = result.sequential or {}
    if result.status in (DriftStatus.DRIFT, DriftStatus.EMERGENCY) or (
            seq and seq["statistic"] >= seq["threshold"] / 2 and result.status == DriftStatus.MONITOR):
        reasons.insert(0, "live accuracy fell against the baseline (sequential test)")
    why = "; ".join(reasons) or f"status {result.status}"
    text = (f"candor drift {result.status.upper()}: {result.symbol}/{result.timeframe} h{result.horizon} "
            f"({result.model_name} v{result.model_version}). Why: {why}. Accuracy: {_accuracy_state(result)}.")
    details = {"horizon": result.horizon, "n": result.n, "accuracy": result.accuracy, "baseline": result.baseline,
               "margin": result.margin, "model_name": result.model_name, "model_version": result.model_version,
               "max_feature_psi": result.max_feature_psi, "prediction_psi": result.prediction_psi,
               "notes": list(result.notes), "sequential": result.sequential, "reasons": reasons}
    return Alert(result.symbol, result.timeframe, result.status, text, details)


Emergency = Callable[[HorizonDrift, pd.DataFrame], EmergencyAction]


def default_emergency(services: Services) -> Emergency:
    """The ``alerts.on_emergency`` action: roll back to ``previous``, retrain and promote, or nothing."""
    config, registry = services.config, services.registry

    def act(result: HorizonDrift, bars: pd.DataFrame) -> EmergencyAction:
        action = config.alerts.on_emergency
        seq = result.sequential or {}
        reason = (f"drift monitor: accuracy {result.accuracy:.3f} vs baseline {result.baseline:.3f}"
                  + (f", CUSUM {seq['statistic']:.2f} >= {seq['emergency_threshold']:.2f}" if seq else ""))
        try:
            if action == "rollback":
                undoing = _rollback_refusal(services, result.model_name)
                if undoing:
                    return EmergencyAction(result.symbol, result.timeframe, result.horizon, action, False, undoing)
                moved = registry.rollback(result.model_name, actor="candor drift", reason=reason, automatic=True)
                detail = f"champion of {result.model_name} is now v{moved.version}"
            else:
                # lazy: the training stack (scikit-learn, the walk-forward; 2.5 s of imports) loads only
                # for an emergency retrain, not in every daily `candor drift`
                from candor.ops.retrain import retrain_series

                version = retrain_series(services, bars, result.horizon, actor="candor drift", why=reason)
                detail = f"retrained {version.name} v{version.version}: {version.note or version.status}"
            return EmergencyAction(result.symbol, result.timeframe, result.horizon, action, True, detail)
        except CandorError as exc:
            log.error("emergency %s of %s failed: %s", action, result.model_name, exc)
            return EmergencyAction(result.symbol, result.timeframe, result.horizon, action, False, str(exc))
    return act


def _rollback_refusal(services: Services, name: str, now: datetime | None = None) -> str | None:
    """Why an automatic rollback must not run, else None.

    ``previous`` being the version the monitor itself removed last time means rolling back would
    undo its own rollback (the champion would ping-pong); a champion moved within
    ``alerts.rollback_cooldown_hours`` has not had the time to be judged on its own forecasts.
    """
    previous = current_aliases(services.registry.client, name).get(PREVIOUS)
    moves = alias_events(services.engine, name, CHAMPION)
    automatic = [e for e in moves if e.action == "auto_rollback"]
    if previous is not None and automatic and automatic[-1].from_version == previous:
        return (f"not rolled back: previous v{previous} is the version the drift monitor rolled back from; "
                "retrain (alerts.on_emergency = 'retrain') or promote a version by hand")
    cooldown = services.config.alerts.rollback_cooldown_hours
    recent = champion_moved_within(services.engine, name, cooldown, now)
    if recent is not None:
        return (f"not rolled back: the champion of {name} moved {recent[0]:.1f} h ago (cool-down "
                f"alerts.rollback_cooldown_hours = {cooldown:g})")
    return None


def _check_series(services: Services, bars: pd.DataFrame, now: datetime,
                  report: DriftReport) -> list[tuple[HorizonDrift, Champion]]:
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    engine, registry = services.store.engine, services.registry
    report.resolved += resolve_forecasts_from_bars(engine, symbol, timeframe, bars, registry=registry, now=now)
    results = []
    for horizon in services.config.forecast.horizons:
        try:
            # lazy: the estimator is unpickled only when the holdout reference must be computed
            champion = registry.champion(symbol, timeframe, horizon, now=now, lazy=True)
            results.append((check_horizon(services.config, engine=engine, champion=champion, bars=bars), champion))
        except CandorError as exc:
            report.skipped.append((symbol, timeframe, f"h{horizon}: {exc}"))
            continue
        _shadow_hook(services, champion, symbol, timeframe, report)
    return results


def _shadow_hook(services: Services, champion: Champion, symbol: str, timeframe: str, report: DriftReport) -> None:
    """The shadow challenger's paired comparison with ``champion`` (:mod:`candor.ops.shadow`), which
    promotes a significantly better shadow; a failed comparison is a skip, never the drift check's."""
    from candor.ops.shadow import check_shadow

    try:
        found = check_shadow(services, champion, symbol, timeframe)
    except CandorError as exc:
        report.skipped.append((symbol, timeframe, f"h{champion.horizon} shadow: {exc}"))
        return
    if found is not None:
        report.shadows.append(found)


def _paper_hook(services: Services, symbol: str, timeframe: str, report: DriftReport) -> None:
    """Book the paper ledger's days once labels are resolved (:func:`candor.ops.paper.book_ledger`, issue
    24); a refused booking (a forecast resolved out of order) is a skip line, never the drift check's."""
    from candor.ops.paper import book_ledger

    try:
        report.paper_days += book_ledger(services.store.engine, symbol, timeframe, config=services.config.backtest)
    except CandorError as exc:
        report.skipped.append((symbol, timeframe, f"paper: {exc}"))


def run_drift(
    services: Services,
    *,
    symbols: Iterable[str] | None = None,
    timeframes: Iterable[str] | None = None,
    bars_loader: Callable[[str, str], pd.DataFrame] | None = None,
    now: datetime | None = None,
    on_emergency: Emergency | None = None,
) -> DriftReport:
    """Resolve late labels, judge every series × horizon, store one row per horizon and judged bar, alert, act.

    ``bars_loader`` must return the full history (the feature PSI compares with the training span);
    the default reads the store. A webhook that is down never fails the job (see candor.ops.alerts).
    Champions come from the registry's one loader, so a champion too old to serve is skipped here
    too, with the reason.
    """
    now = now or datetime.now(UTC)
    config, engine = services.config, services.store.engine
    loader = bars_loader or (lambda s, tf: load_bars(engine, s, tf))
    act = on_emergency or default_emergency(services)
    report = DriftReport()
    for symbol, timeframe in served_series(services, symbols, timeframes):
        try:
            bars = loader(symbol, timeframe)
        except CandorError as exc:
            report.skipped.append((symbol, timeframe, str(exc)))
            continue
        checked = _check_series(services, bars, now, report)
        _paper_hook(services, symbol, timeframe, report)
        if not checked:
            continue
        results = [r for r, _ in checked]
        report.results += results
        report.rows += [_store_row(engine, r, bars.index[-1], now.date()) for r in results]
        _alert_and_act(config, results, bars, act, report)
    return report


def _alert_and_act(config: Config, results: list[HorizonDrift], bars: pd.DataFrame, act: Emergency,
                   report: DriftReport) -> None:
    for result in results:
        log.info("drift %s/%s h%d: %s", result.symbol, result.timeframe, result.horizon, result.status,
                 extra={"metrics": {"n": result.n, "accuracy": result.accuracy, "baseline": result.baseline,
                                    "max_feature_psi": result.max_feature_psi, "prediction_psi": result.prediction_psi}})
        if should_alert(result.status, config.alerts.min_status):
            alert = _alert_for(result)
            report.alerts.append((alert, send_alert(alert, config.alerts)))
        if result.status == DriftStatus.EMERGENCY and config.alerts.on_emergency != "none":
            report.actions.append(act(result, bars))
