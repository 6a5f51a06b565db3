"""Walk-forward stacking: the outer folds' own predictions are the blend's out-of-fold rows.

In an expanding (or rolling) walk-forward, the members fitted for fold ``j`` predict test block
``j`` having seen only rows before it. For any later fold ``k`` those blocks lie inside fold
``k``'s training data, so they are exactly the out-of-fold predictions an inner walk-forward
would produce — already paid for. Fold ``k``'s :class:`~candor.blend.Blend` is therefore fit
on the predictions of blocks ``j < k`` (restricted to rows fold ``k`` may train on, i.e. after
purging), and the production model's blend on every block. Nothing is ever weighted on rows it
scores; each member is fit once per fold. Fold 0 has no earlier block, so one warm-up block is
made inside its training rows (:func:`warmup_block`: members fit on the first half, purged,
predict the second); without it fold 0 would have no out-of-fold rows to weigh its members or
fit the class prior's share on.

Members are what :func:`make_members` builds from the config — catalog pipelines, or
:class:`~candor.training.tuning.TunedMember` wrappers that run their study on the rows each fit
is given — so a tuned run and an untuned one walk forward the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import hash as joblib_hash
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from candor import arima_garch
from candor.config import Config
from candor.blend import Blend, align_proba, class_prior
from candor.ensemble import MIN_CLASS_COUNT
from candor.models import make_model

#: MemberFold index of the warm-up block (never an outer fold; never scored in the report).
WARMUP = -1


def make_members(config: Config) -> dict[str, Any]:
    """The configured members, unfitted, by name: catalog pipelines, or tuned wrappers when
    ``config.tune.enabled`` (their study runs inside each fit, on that fit's rows only)."""
    m = config.models
    params = {name: dict(p) for name, p in m.params.items()}
    if arima_garch.NAME in m.models:  # it cuts its return forecast at the labels' horizon and threshold
        params[arima_garch.NAME] = {**params.get(arima_garch.NAME, {}), **arima_garch.label_params(config.labels)}
    kwargs = {"random_state": config.seed, "n_jobs": m.n_jobs, "scaling": m.scaling,
              "prune_threshold": m.prune_threshold,
              "class_weight": "balanced" if m.class_weight == "balanced" else None}
    if not config.tune.enabled:
        return {name: make_model(name, params=params.get(name), **kwargs) for name in m.models}
    from candor.training.tuning import TunedMember  # optuna is imported only when tuning is on

    t = config.tune
    return {name: TunedMember(name, params=params.get(name), trials=t.trials, timeout=t.timeout, metric=t.metric,
                              inner_splits=t.inner_splits, purge=config.purge, embargo=config.embargo,
                              storage=t.study_storage, study_prefix=t.study_name, **kwargs)
            for name in m.models}


def make_blend(config: Config) -> Blend:
    """The configured blend, unfitted."""
    m = config.models
    return Blend(m.ensemble, random_state=config.seed, balanced=m.class_weight == "balanced",
                 shrink_to_prior=m.shrink_to_prior)


@dataclass(frozen=True)
class MemberFold:
    """Member probabilities of one outer fold (members trained on its training rows only)."""

    index: int
    train: np.ndarray
    test: np.ndarray
    test_proba: dict[str, np.ndarray]
    train_proba: dict[str, np.ndarray]
    seconds: float
    tuning: dict | None = None  # member -> candor.training.tuning.TuneResult of tuned members


@dataclass(frozen=True)
class ProductionMembers:
    """The members fitted on every development row, as served (a tuned member's best estimator)."""

    members: dict[str, Any]
    tuning: dict | None
    seconds: float


def _fit(template: Any, X, y: np.ndarray, t1) -> Any:
    """A fresh copy of ``template`` fit on (X, y); label end times go to members that purge with them."""
    member = clone(template)
    if t1 is not None and has_fit_parameter(member, "t1"):
        return member.fit(X, y, t1=t1)
    return member.fit(X, y)


def _tuning(fitted: Mapping[str, Any]) -> dict | None:
    return {name: m.tuning_ for name, m in fitted.items() if hasattr(m, "tuning_")} or None


def _prefix_key(member: Any) -> str | None:
    """A digest of a catalog pipeline's preprocessing steps (all but the classifier), or None for a
    member that is not such a pipeline (a tuned wrapper, a lone classifier)."""
    if not isinstance(member, Pipeline) or len(member.steps) < 2:
        return None
    return joblib_hash(member[:-1])


def fit_members(members: Mapping[str, Any], X, y: np.ndarray, t1, classes: np.ndarray,
                index: int, train: np.ndarray, test: np.ndarray) -> MemberFold:
    """Fit each member on ``train``; keep its class probabilities on ``train`` and ``test``.

    Members whose preprocessing (pruner and scaler) is configured alike share one fit of it: the
    steps are fitted and applied exactly as each member's own ``Pipeline`` would (``fit_transform``
    for its fit, ``transform`` for its predictions), once instead of once per member.
    """
    started = time.perf_counter()
    X_train, X_test = X.iloc[train], X.iloc[test]
    t1_train = None if t1 is None else t1.iloc[train]
    test_proba, train_proba, fitted = {}, {}, {}
    prepared: dict[str, tuple[Any, Any, Any]] = {}  # prefix digest -> (fit rows, train rows, test rows) transformed
    for name, template in members.items():
        key = _prefix_key(template)
        if key is None:
            member = fitted[name] = _fit(template, X_train, y[train], t1_train)
            test_proba[name] = align_proba(member.predict_proba(X_test), member.classes_, classes)
            train_proba[name] = align_proba(member.predict_proba(X_train), member.classes_, classes)
            continue
        if key not in prepared:
            prefix = clone(template[:-1])
            prepared[key] = (prefix.fit_transform(X_train, y[train]), prefix.transform(X_train), prefix.transform(X_test))
        fit_rows, train_rows, test_rows = prepared[key]
        clf = clone(template[-1]).fit(fit_rows, y[train])
        test_proba[name] = align_proba(clf.predict_proba(test_rows), clf.classes_, classes)
        train_proba[name] = align_proba(clf.predict_proba(train_rows), clf.classes_, classes)
    return MemberFold(index, train, test, test_proba, train_proba, time.perf_counter() - started, _tuning(fitted))


def fit_production_members(members: Mapping[str, Any], X, y: np.ndarray, t1, rows: np.ndarray) -> ProductionMembers:
    started = time.perf_counter()
    t1_rows = None if t1 is None else t1.iloc[rows]
    fitted = {name: _fit(template, X.iloc[rows], y[rows], t1_rows) for name, template in members.items()}
    served = {name: getattr(m, "best_estimator_", m) for name, m in fitted.items()}  # no optuna in the artifact
    return ProductionMembers(served, _tuning(fitted), time.perf_counter() - started)


def warmup_block(y: np.ndarray, ts: np.ndarray, t1: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(train, test) positions splitting ``rows`` in half, the train half purged of labels that
    end at or after the test half starts; None when the train half lacks a class's minimum rows."""
    if len(rows) < 4 * MIN_CLASS_COUNT:
        return None
    cut = len(rows) // 2
    test = rows[cut:]
    train = rows[:cut][t1[rows[:cut]] < ts[test[0]]]
    found, counts = np.unique(y[train], return_counts=True)
    if len(found) < len(np.unique(y[rows])) or counts.min() < MIN_CLASS_COUNT:
        return None
    return train, test


def earlier_oof(folds: list[MemberFold], before: int, allowed: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows and member probabilities of blocks ``j < before`` that lie in ``allowed`` rows
    (every member present, with zero rows when there are none)."""
    rows, probas = [], {name: [] for name in folds[0].test_proba} if folds else {}
    for fold in folds[:before]:
        keep = np.isin(fold.test, allowed)
        rows.append(fold.test[keep])
        for name, proba in fold.test_proba.items():
            probas[name].append(proba[keep])
    if not rows:
        return np.zeros(0, dtype=np.int64), {name: np.zeros((0, p.shape[1])) for name, p in folds[0].test_proba.items()}
    return np.concatenate(rows), {name: np.vstack(chunks) for name, chunks in probas.items()}


def blend_fold(blend: Blend, y: np.ndarray, folds: list[MemberFold], k: int) -> Blend:
    """Fold ``k``'s blend, fit on earlier blocks inside its training rows (equal weights when
    they hold fewer than two rows per class), shrinking toward its training rows' class mix."""
    fold = folds[k]
    rows, oof = earlier_oof(folds, k, fold.train)
    classes, prior = class_prior(y[fold.train])
    method = blend.method if len(rows) >= 2 * len(np.unique(y)) else "equal"
    return clone(blend).set_params(method=method).fit(oof, y[rows], prior, classes=classes)


def final_blend(blend: Blend, y: np.ndarray, folds: list[MemberFold], dev: np.ndarray) -> Blend:
    """The production model's blend: every block's predictions, the development rows' class mix."""
    rows, oof = earlier_oof(folds, len(folds), dev)
    classes, prior = class_prior(y[dev])
    return clone(blend).fit(oof, y[rows], prior, classes=classes)


def blend_accuracy(blend: Blend, proba: dict[str, np.ndarray], y: np.ndarray) -> float:
    return float(accuracy_score(y, blend.predict(proba)))
