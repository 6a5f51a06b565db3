"""The weekly weights-only update: refit the champion's ensemble weights on rows it never saw, and
judge the refit on later rows its weights never saw.

Why this design: the champion's members are kept as they are; their probabilities on the bars
*after* the champion's training span (its holdout and every bar since — rows the members never saw,
so no inner purged split is needed) are genuinely out-of-fold. Those unseen rows are cut in two:
the champion's :class:`~candor.blend.Blend` is refit (``Blend.fit``: the member weights; the class
prior and its share λ are kept from training) on the earlier two thirds, purged (only labels
resolved before the cut), and the refit model is evaluated on the last third — rows neither its
members nor its weights ever saw. That evaluation is the refit's own: its report's ``oos`` and
``holdout`` (baselines, paired test, a backtest of those rows), its holdout span and tags, and what
the gates judge; the registry's comparison re-scores the champion on the same rows before it
promotes. A refit that scores below the champion there is not published; one that cannot be
evaluated (too few rows after the cut) is registered ``failed`` with that reason and not
promoted. (It used to be published with the champion's report, gates and holdout accuracy, with
weights refit on those very holdout rows, and promoted on those numbers.) Its manifest keeps the
members' ``created_at`` — the age limit is about how old the members are.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from candor import baselines
from candor.backtest import run_backtest
from candor.config import Config, under_home
from candor.blend import align_proba
from candor.ensemble import BlendedEnsemble
from candor.errors import ConfigError, ModelError
from candor.evaluate import evaluate_oos
from candor.labels import make_labels
from candor.records.evaluation import Evaluation
from candor.records.manifest import Manifest
from candor.registry.artifact import STAGING, save_model
from candor.registry.champions import Champion
from candor.registry.common import STATUS, WEIGHTS_TAG, RegisteredVersion, weights_tag
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
    #: The published version's gate status (``validated`` / ``failed``) and whether it became champion.
    status: str | None = None
    promoted: bool = False
    note: str = ""


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
#: Fewest rows after the cut the refit is evaluated on; with fewer it is registered not validated.
MIN_CHECK_ROWS = 10


def split_unseen(y: np.ndarray, X: pd.DataFrame, t1: pd.Series) -> tuple[np.ndarray, int] | None:
    """(positions the weights are fit on, first checked position): the checked rows are the latest
    third; the weights see only rows whose labels resolved before it starts. None when the fit part
    is too small to fit (fewer than 2 rows or one class)."""
    start = int(len(y) * (1 - CHECK_SHARE))
    cut = X.index[start] if start < len(y) else X.index[-1] + pd.Timedelta(1, "ns")
    fit = np.flatnonzero(t1.iloc[:start].to_numpy() < cut)
    if len(fit) < 2 or len(np.unique(y[fit])) < 2:
        return None
    return fit, start


def check_refit(estimator: Any, X: pd.DataFrame, y: np.ndarray, t1: pd.Series) -> tuple[float, float, int] | None:
    """Accuracy of the champion and of weights refit on earlier rows, both on the latest third.

    The refit sees only rows whose labels resolved before the checked rows start, so the
    comparison is out-of-sample for the weights. None when either part is too small to fit.
    """
    split = split_unseen(y, X, t1)
    if split is None or split[1] >= len(y):
        return None
    fit, start = split
    trial, _ = refit_weights(estimator, X.iloc[fit], y[fit])
    check_X, check_y = X.iloc[start:], y[start:]
    return (float(np.mean(estimator.predict(check_X) == check_y)),
            float(np.mean(trial.predict(check_X) == check_y)), len(check_y))


def accuracies(champion: Any, refit: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[float, float]:
    """Accuracy of the champion and of the refit on the same rows."""
    return float(np.mean(champion.predict(X) == y)), float(np.mean(refit.predict(X) == y))


def evaluate_refit(refit: BlendedEnsemble, X: pd.DataFrame, y: np.ndarray, t1: pd.Series, fit: np.ndarray,
                   start: int, config: Config, horizon: int) -> Evaluation:
    """The refit's own out-of-sample evaluation on the rows from ``start`` on (unseen by its members
    and its weights): beside the majority, persistence and stratified baselines known at the cut,
    with the paired test and its class prior as :func:`candor.evaluate.evaluate_oos` does for a training."""
    blend = refit.blend_
    classes = np.asarray(blend.classes_)
    check = np.arange(start, len(y))
    proba = align_proba(refit.predict_proba(X.iloc[start:]), refit.classes_, classes)
    majority = baselines.majority(y[fit], len(check))
    base = {"majority": majority,
            "persistence": baselines.persistence(X.index, y, t1.to_numpy(), check, fallback=majority[0]),
            "stratified": baselines.stratified(y[fit], len(check), random_state=config.seed)}
    train_accuracy = float(np.mean(refit.predict(X.iloc[fit]) == y[fit]))
    return evaluate_oos(y[start:], proba, classes, baseline_preds=base, horizon=horizon,
                        n_boot=config.evaluation.n_boot, alpha=config.evaluation.alpha, random_state=config.seed,
                        train_accuracy=train_accuracy, prior_proba=np.tile(blend.class_prior_, (len(check), 1)))


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


def _unchanged_refit(services: Services, champion: Champion, old: dict[str, float], new: dict[str, float],
                     judged: tuple[pd.Timestamp, pd.Timestamp] | None) -> str | None:
    """Why registering this refit would change nothing, or None: its weights are the champion's, or
    the newest version of the model (a refit not promoted, e.g. ``failed`` for want of rows to judge
    it on) already holds them and was judged on the same rows (``judged``: the first and last row
    this refit would be evaluated on, None when it cannot be) — the weekly job used to register that
    same version again on every run."""
    text = weights_tag(new)
    if text == weights_tag(old):
        return f"the refit weights equal the champion's ({text}): nothing changed, no new version registered"
    latest = next((m.latest for m in services.registry.list_models() if m.name == champion.name), None)
    if latest is None or latest == champion.version:
        return None
    held = services.registry.version(champion.name, latest)
    tags = held.tags or {}
    span = None if judged is None else (judged[0].isoformat(), judged[1].isoformat())
    if tags.get(WEIGHTS_TAG) == text and (tags.get("holdout_start"), tags.get("holdout_end")) == (span or (None, None)):
        return (f"version {latest} ({tags.get(STATUS, 'staged')}) already holds these refit weights ({text}), judged "
                "on the same rows: nothing changed, no new version registered")
    return None


def _why_not_reweightable(estimator: Any) -> str | None:
    if len(getattr(estimator, "members_", {})) < 2:
        return "single-member ensemble: there are no weights to refit"
    if estimator.blend_.method != "ridge":
        return f"ensemble method {estimator.blend_.method!r}: only ridge weights are refit weekly"
    return None


def update_weights(services: Services, bars: pd.DataFrame, horizon: int, *, now: datetime | None = None,
                   min_rows: int = 60, actor: str = "candor schedule") -> WeightUpdate:
    """Refit the champion's ensemble weights on unseen rows up to a cut, evaluate the refit on the
    unseen rows after it, publish it with that evaluation and promote it if it passes (see the module
    docstring)."""
    now = now or datetime.now(UTC)
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    champion = services.registry.champion(symbol, timeframe, horizon, now=now)
    estimator = champion.model.estimator
    why = _why_not_reweightable(estimator)
    if why:
        return WeightUpdate(champion.name, False, why)
    X, y, t1 = _unseen_rows(champion, bars)
    split = split_unseen(y, X, t1) if len(y) >= min_rows and len(np.unique(y)) >= 2 else None
    if split is None:
        return WeightUpdate(champion.name, False, f"{len(y)} unseen labelled rows (need {min_rows}, 2+ classes "
                            "in the rows the weights are refit on)", rows=len(y))
    fit, start = split
    old = dict(estimator.weights_)
    refit, weights = refit_weights(estimator, X.iloc[fit], y[fit])
    check_rows = len(y) - start
    judged = (X.index[start], X.index[-1]) if check_rows >= MIN_CHECK_ROWS else None
    unchanged = _unchanged_refit(services, champion, old, weights, judged)
    if unchanged:
        return WeightUpdate(champion.name, False, unchanged, len(y), old, weights)
    if check_rows < MIN_CHECK_ROWS:
        reason = (f"not validated: {check_rows} unseen rows after the weights' last fit row (need {MIN_CHECK_ROWS}) "
                  "— nothing its weights never saw to evaluate it on")
        published = _publish_update(services, champion, refit, now, actor, X, fit, start, None, reason,
                                    {"old_weights": old, "new_weights": weights}, bars)
        return WeightUpdate(champion.name, True, reason, len(y), old, weights, None, None, check_rows,
                            published.version, published.status, published.promoted, published.note)
    before, after = accuracies(estimator, refit, X.iloc[start:], y[start:])
    if after < before:
        return WeightUpdate(champion.name, False, f"weights refit on earlier rows scored {after:.3f} vs the "
                            f"champion's {before:.3f} on the latest {check_rows} rows: champion kept",
                            len(y), old, {}, before, after, check_rows)
    evaluation = evaluate_refit(refit, X, y, t1, fit, start, services.config, champion.model.label_spec.horizon)
    published = _publish_update(services, champion, refit, now, actor, X, fit, start, evaluation, None,
                                {"old_weights": old, "new_weights": weights, "accuracy_before": before,
                                 "accuracy_after": after}, bars)
    return WeightUpdate(champion.name, True, "weights refit: " + published.note, len(y), old, weights, before, after,
                        check_rows, published.version, published.status, published.promoted, published.note)


def _refit_manifest(champion: Champion, estimator: BlendedEnsemble, X: pd.DataFrame, fit: np.ndarray, start: int,
                    evaluation: Evaluation | None, backtest: Any, update: dict[str, Any]) -> Manifest:
    """The champion's manifest with the refit's own numbers: its weights, its evaluation on the rows
    after the cut as ``oos`` and ``holdout`` (empty when it has none: the gates then fail closed), a
    backtest of those rows, and a holdout span that is those rows. Nothing of the champion's own
    evaluation (scores, calibration, backtest) is carried over."""
    manifest = champion.model.manifest
    own = evaluation if evaluation is not None else Evaluation()
    report = manifest.report.model_copy(update={
        "weights": dict(estimator.weights_), "oos": own, "holdout": own, "calibration": (), "backtest": backtest})
    span = manifest.data_span
    if span is not None and start < len(X):
        span = span.model_copy(update={"last_bar": X.index[-1], "holdout_start": X.index[start],
                                       "holdout_end": X.index[-1], "holdout_rows": len(X) - start})
    return manifest.model_copy(update={"report": report, "data_span": span, "weights_update": {
        **update, "from_version": champion.version, "fit_rows": len(fit), "fit_first": str(X.index[fit[0]]),
        "fit_last": str(X.index[fit[-1]]), "check_rows": len(X) - start,
        "check_first": str(X.index[start]) if start < len(X) else None}})


#: Run tags copied from the champion: the refit model predicts the same label of the same series.
_KEPT_TAGS = ("label_spec", "symbol", "timeframe")


def _publish_update(services: Services, champion: Champion, estimator: BlendedEnsemble, now: datetime, actor: str,
                    X: pd.DataFrame, fit: np.ndarray, start: int, evaluation: Evaluation | None,
                    not_validated: str | None, update: dict[str, Any], bars: pd.DataFrame) -> RegisteredVersion:
    """Save the refit (its own manifest: :func:`_refit_manifest`) and publish it through the one path;
    promoted only when it was evaluated, passed the gates and is not worse than the champion on the
    same rows (the comparison re-scores both on the refit's holdout)."""
    backtest = None
    if evaluation is not None:
        proba = pd.DataFrame(align_proba(estimator.predict_proba(X.iloc[start:]), estimator.classes_,
                                         estimator.blend_.classes_), index=X.index[start:],
                             columns=estimator.blend_.classes_).reindex(columns=[-1, 0, 1], fill_value=0.0)
        try:
            backtest = run_backtest(proba, bars, services.config.backtest,
                                    n_trials=champion.model.manifest.report.n_trials).summary()
        except (ConfigError, ModelError, ValueError):
            backtest = None  # too few rows to trade: the gates' backtest check is skipped, as for a training
    manifest = _refit_manifest(champion, estimator, X, fit, start, evaluation, backtest,
                               {**update, "updated_at": now.isoformat()})
    symbol, timeframe = manifest.symbol, manifest.timeframe
    target = under_home(services.config.home, "models", symbol, timeframe, f"weights-{now:%Y%m%dT%H%M%S%f}")
    # Staged under a name no reader takes for a model, renamed by publish once recorded: a kill in
    # between leaves a folder candor.registry.repair renames into place or removes, never an orphan model.
    artifact = save_model(target.with_name(f"{target.name}{STAGING}{os.getpid()}"), estimator, manifest)
    tags = {**{k: v for k, v in champion.tags.items() if k in _KEPT_TAGS}, "candor.job": "update_weights",
            "mlflow.runName": f"{champion.name} weights"}
    span = manifest.data_span
    if span is not None and evaluation is not None:
        tags.update(holdout_start=span.holdout_start.isoformat(), holdout_end=span.holdout_end.isoformat(),
                    holdout_rows=str(span.holdout_rows))
    reason = (f"weekly weights update: weights fit on {len(fit)} unseen rows, evaluated on the "
              f"{len(X) - start} after them (accuracy {update.get('accuracy_before', float('nan')):.3f} → "
              f"{update.get('accuracy_after', float('nan')):.3f})")
    try:
        return publish(services.registry, services.tracking,
                       Candidate(artifact, run_tags=tags, kept_at=target, not_validated=not_validated),
                       promote=evaluation is not None, actor=actor, reason=reason,
                       margin=services.config.registry.promotion_margin, bars=bars)
    except BaseException:
        shutil.rmtree(artifact, ignore_errors=True)
        raise
