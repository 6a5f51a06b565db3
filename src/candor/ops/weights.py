"""The weekly weights-only update: refit the champion's ensemble weights on rows it never saw.

Why this design: the champion's members are kept as they are; their probabilities on the bars
*after* the champion's training span (its holdout and every bar since — rows the members never saw,
so no inner purged split is needed) are genuinely out-of-fold. The champion's
:class:`~candor.blend.Blend` is refit on those rows (``Blend.fit``: the member weights; the class
prior and its share λ are kept from training), and the champion's members with the refit blend
are saved, logged, registered, validated and promoted through the normal registry
path. Before that, the procedure is checked on
rows its weights never saw: weights fit on the earlier two thirds of the unseen rows (purged: only
labels resolved before the check starts) are scored against the champion on the last third. Those
are the before/after accuracies recorded; when the refit scores worse, the champion is kept. Its
manifest keeps the members' ``created_at`` — the age limit is about how old the members are.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from candor.config import under_home
from candor.blend import align_proba
from candor.ensemble import BlendedEnsemble
from candor.errors import ModelError
from candor.labels import make_labels
from candor.registry.artifact import save_model
from candor.registry.champions import Champion
from candor.registry.publish import Candidate, publish
from candor.services import Services


@dataclass(frozen=True)
class WeightUpdate:
    """What the weekly update did for one series × horizon."""

    name: str
    updated: bool
    reason: str
    rows: int = 0
    old_weights: dict[str, float] = field(default_factory=dict)
    new_weights: dict[str, float] = field(default_factory=dict)
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    #: Rows the before/after accuracies are measured on (the latest third, unseen by the weights).
    check_rows: int = 0
    version: str | None = None


def _unseen_rows(champion: Champion, bars: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Features, labels and label end times of the bars from the champion's holdout start on
    (never trained on)."""
    start = champion.tags.get("holdout_start")
    if not start:
        raise ModelError(f"{champion.name} v{champion.version} has no holdout_start tag; cannot tell which bars "
                         "its members never saw — retrain it with this candor version.")
    labels = make_labels(bars, champion.model.label_spec)
    X = champion.model.features(bars).loc[pd.Timestamp(start):].dropna()
    X = X.loc[X.index.intersection(labels.y.index)]
    return X, labels.y.loc[X.index].to_numpy(), labels.t1.loc[X.index]


CHECK_SHARE = 1 / 3


def check_refit(estimator: Any, X: pd.DataFrame, y: np.ndarray, t1: pd.Series) -> tuple[float, float, int] | None:
    """Accuracy of the champion and of weights refit on earlier rows, both on the latest third.

    The refit sees only rows whose labels resolved before the checked rows start, so the
    comparison is out-of-sample for the weights. None when either part is too small to fit.
    """
    start = int(len(y) * (1 - CHECK_SHARE))
    fit = np.flatnonzero(t1.iloc[:start].to_numpy() < X.index[start])
    if len(fit) < 2 or len(np.unique(y[fit])) < 2:
        return None
    trial, _ = refit_weights(estimator, X.iloc[fit], y[fit])
    check_X, check_y = X.iloc[start:], y[start:]
    return (float(np.mean(estimator.predict(check_X) == check_y)),
            float(np.mean(trial.predict(check_X) == check_y)), len(check_y))


def refit_weights(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[BlendedEnsemble, dict[str, float]]:
    """The champion's members with its blend refit (``Blend.fit``) on their probabilities for (X, y).

    ``estimator`` is a served model (members + blend; champions saved by earlier candor load as
    one too). The class prior the blend shrinks toward, and its share λ, stay the champion's.
    """
    blend, members = estimator.blend_, estimator.members_
    proba = {n: align_proba(m.predict_proba(X), m.classes_, blend.classes_) for n, m in members.items()}
    kept = clone(blend).set_params(prior_weight=blend.prior_weight_)
    refit = kept.fit(proba, y, blend.class_prior_, classes=blend.classes_)
    return BlendedEnsemble(members, refit), dict(refit.weights_)


def _why_not_reweightable(estimator: Any) -> str | None:
    if len(getattr(estimator, "members_", {})) < 2:
        return "single-member ensemble: there are no weights to refit"
    if estimator.blend_.method != "ridge":
        return f"ensemble method {estimator.blend_.method!r}: only ridge weights are refit weekly"
    return None


def update_weights(services: Services, bars: pd.DataFrame, horizon: int, *, now: datetime | None = None,
                   min_rows: int = 60, actor: str = "candor schedule") -> WeightUpdate:
    """Refit the champion's ensemble weights on unseen recent rows; publish and promote the result."""
    now = now or datetime.now(UTC)
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    champion = services.registry.champion(symbol, timeframe, horizon, now=now)
    estimator = champion.model.estimator
    why = _why_not_reweightable(estimator)
    if why:
        return WeightUpdate(champion.name, False, why)
    X, y, t1 = _unseen_rows(champion, bars)
    checked = check_refit(estimator, X, y, t1) if len(y) >= min_rows and len(np.unique(y)) >= 2 else None
    if checked is None:
        return WeightUpdate(champion.name, False, f"{len(y)} unseen labelled rows (need {min_rows}, 2+ classes "
                            "in the rows the check refits on)", rows=len(y))
    before, after, check_rows = checked
    old = dict(estimator.weights_)
    if after < before:
        return WeightUpdate(champion.name, False, f"weights refit on earlier rows scored {after:.3f} vs the "
                            f"champion's {before:.3f} on the latest {check_rows} rows: champion kept",
                            len(y), old, {}, before, after, check_rows)
    updated, weights = refit_weights(estimator, X, y)
    version = _publish_update(services, champion, updated, now, actor,
                              {"rows": len(y), "first": str(X.index[0]), "last": str(X.index[-1]),
                               "old_weights": old, "new_weights": weights, "accuracy_before": before,
                               "accuracy_after": after, "check_rows": check_rows, "updated_at": now.isoformat()})
    return WeightUpdate(champion.name, True, "weights refit", len(y), old, weights, before, after, check_rows, version)


#: Run tags copied from the champion: the refit model has the same holdout and label.
_KEPT_TAGS = ("holdout_start", "holdout_end", "holdout_rows", "label_spec", "symbol", "timeframe")


def _publish_update(services: Services, champion: Champion, estimator: BlendedEnsemble, now: datetime, actor: str,
                    update: dict[str, Any]) -> str:
    """Save the copy (champion's manifest plus the update) and publish it through the one path."""
    manifest = champion.model.manifest.model_copy(update={"weights_update": {**update, "from_version": champion.version}})
    symbol, timeframe = manifest.symbol, manifest.timeframe
    target = under_home(services.config.home, "models", symbol, timeframe, f"weights-{now:%Y%m%dT%H%M%S%f}")
    artifact = save_model(target, estimator, manifest)
    tags = {**{k: v for k, v in champion.tags.items() if k in _KEPT_TAGS}, "candor.job": "update_weights",
            "mlflow.runName": f"{champion.name} weights"}
    version = publish(services.registry, services.tracking, Candidate(artifact, run_tags=tags), promote=True,
                      actor=actor, reason=(f"weekly weights update on {update['rows']} unseen rows (accuracy on "
                                           f"the latest {update['check_rows']}, weights fit before them: "
                                           f"{update['accuracy_before']:.3f} → {update['accuracy_after']:.3f})"),
                      margin=services.config.registry.promotion_margin)
    return version.version
