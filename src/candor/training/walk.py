"""The walk-forward's out-of-sample pieces, shared by ``candor train`` and ``candor research``.

One job: from a labelled matrix to its honest out-of-sample evaluation, without the production
fit. :func:`plan_labelled` checks and plans the rows (holdout split, purged and embargoed outer
folds, enough rows and classes per fold, reused tuned parameters) before anything is fitted;
:func:`stacked_outcome` blends one fold's member probabilities with a blend fit on earlier
folds only; :func:`pooled_report` pools the folds' out-of-sample rows and tests them against the
baselines (:func:`baseline_preds`) with the dependence-aware paired test.
:mod:`candor.training.run` walks a training through them (and then fits the production model);
:mod:`candor.training.search` evaluates every research cell through the very same functions.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from candor import baselines
from candor.blend import Blend
from candor.config import Config
from candor.errors import ConfigError, ModelError
from candor.evaluate import evaluate_oos
from candor.labels import CLASS_NAMES
from candor.split import Fold, PurgedWalkForward, holdout_split
from candor.training.matrix import LabelledData
from candor.training.reuse import ReusedTuning, reused_trials
from candor.training.stacking import MemberFold, blend_accuracy, blend_fold


@dataclass(frozen=True)
class FoldOutcome:
    """What one outer fold produced: out-of-sample probabilities and in/out accuracies."""

    index: int
    test: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    weights: dict[str, float]
    train_accuracy: float
    member_train_accuracy: dict[str, float]
    member_test_pred: dict[str, np.ndarray]
    seconds: float
    tuning: dict | None = None  # member -> candor.training.tuning.TuneResult when config.tune.enabled
    prior_weight: float | None = None  # λ of this fold's blend
    member_test_proba: dict[str, np.ndarray] = field(default_factory=dict)  # member -> (test rows × classes)


def outer_folds(data: LabelledData, dev: np.ndarray, config: Config) -> list[Fold]:
    """The walk-forward folds of the development rows, as positions into the whole matrix."""
    splitter = PurgedWalkForward(
        n_splits=config.split.folds, window=config.split.window,
        train_size=config.split.train_size if config.split.window == "rolling" else None,
        purge=config.purge, embargo=config.embargo,
    )
    X_dev = data.X.iloc[dev]
    return [dataclasses.replace(fold, train=dev[fold.train], test=dev[fold.test])
            for fold in splitter.folds(X_dev, t1=data.t1.iloc[dev])]


def baseline_preds(data: LabelledData, train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    y = data.y.to_numpy()
    majority = baselines.majority(y[train], len(test))
    return {
        "majority": majority,
        "persistence": baselines.persistence(
            data.y.index, y, data.t1.to_numpy("datetime64[ns]"), test, fallback=majority[0] if len(majority) else 0
        ),
        "stratified": baselines.stratified(y[train], len(test), random_state=seed),
    }


def _check_fold_classes(data: LabelledData, folds: list[Fold]) -> None:
    y = data.y.to_numpy()
    classes = np.unique(y)
    if len(classes) < 2:
        raise ModelError(
            f"every label is class {CLASS_NAMES.get(classes[0], classes[0])}: there is nothing to learn; "
            f"use a smaller --threshold or another --label."
        )
    for fold in folds:
        index, train = fold.index, fold.train
        counts = {c: int(np.sum(y[train] == c)) for c in classes}
        rare = {c: n for c, n in counts.items() if n < 5}
        if rare:
            label, count = next(iter(rare.items()))
            raise ModelError(
                f"training fold {index + 1} has {count} sample(s) of class {CLASS_NAMES.get(label, label)} "
                f"(each class needs at least 5); use fewer --folds, a longer history or a smaller --threshold."
            )


def stacked_outcome(blend: Blend, data: LabelledData, member_folds: list[MemberFold],
                     k: int, classes: np.ndarray) -> FoldOutcome:
    y = data.y.to_numpy()
    fold = member_folds[k]
    fitted = blend_fold(blend, y, member_folds, k)
    return FoldOutcome(
        index=fold.index, test=fold.test, proba=fitted.predict_proba(fold.test_proba), classes=classes,
        weights=dict(fitted.weights_), prior_weight=float(fitted.prior_weight_),
        train_accuracy=blend_accuracy(fitted, fold.train_proba, y[fold.train]),
        member_train_accuracy={name: float(np.mean(classes[p.argmax(axis=1)] == y[fold.train]))
                               for name, p in fold.train_proba.items()},
        member_test_pred={name: classes[p.argmax(axis=1)] for name, p in fold.test_proba.items()},
        member_test_proba=dict(fold.test_proba),
        seconds=fold.seconds, tuning=fold.tuning,
    )


def _check_folds_fit(n_dev: int, config: Config) -> None:
    per_fold = n_dev // (config.split.folds + 1)
    if per_fold < 2 * config.purge + 20:
        most = max(1, n_dev // (2 * config.purge + 20) - 1)
        raise ConfigError(
            f"`folds` = {config.split.folds} leaves {per_fold} rows per test fold for {n_dev} "
            f"development rows; use --folds {most} or fewer, or supply a longer history."
        )


@dataclass(frozen=True)
class RowPlan:
    """What a training will fit, checked before any fit: the labelled matrix, the development and
    holdout rows, the outer folds, and the trials of reused tuned parameters. Building it reads no
    store and fits no model, so every refusal it raises (too few rows for the folds, a label
    threshold that leaves one class, parameters tuned on these out-of-sample rows) comes before a
    caller opens anything."""

    data: LabelledData
    dev: np.ndarray
    hold: np.ndarray
    folds: list[Fold]
    extra_trials: int
    seconds: float

    @property
    def oos_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The out-of-sample rows: the first walk-forward test row and the last label's end."""
        return self.data.y.index[self.folds[0].test[0]], self.data.t1.max()


def plan_labelled(data: LabelledData, config: Config, reused: ReusedTuning | None, started: float) -> RowPlan:
    dev, hold = holdout_split(data.y.index, data.t1, config.split.holdout, purge=config.purge)
    _check_folds_fit(len(dev), config)
    folds = outer_folds(data, dev, config)
    _check_fold_classes(data, folds)
    # Before any fit: saved parameters tuned on these out-of-sample rows are refused.
    extra_trials = reused_trials(reused, data.y.index[folds[0].test[0]], data.t1.max())
    return RowPlan(data, dev, hold, folds, extra_trials, time.perf_counter() - started)


def pooled_report(data: LabelledData, folds: list[Fold], outcomes: list[FoldOutcome], config: Config):
    test = np.concatenate([o.test for o in outcomes])
    proba = np.vstack([o.proba for o in outcomes])
    classes = outcomes[0].classes
    base: dict[str, list[np.ndarray]] = {}
    y = data.y.to_numpy()
    for fold in folds:
        train, fold_test = fold.train, fold.test
        for name, pred in baseline_preds(data, train, fold_test, config.seed).items():
            base.setdefault(name, []).append(pred)
    prior = np.vstack([baselines.class_prior(y[f.train], classes, len(f.test)) for f in folds])
    train_acc = float(np.mean([o.train_accuracy for o in outcomes]))
    report = evaluate_oos(
        y[test], proba, classes,
        baseline_preds={k: np.concatenate(v) for k, v in base.items()},
        horizon=config.labels.horizon, n_boot=config.evaluation.n_boot, alpha=config.evaluation.alpha,
        random_state=config.seed, train_accuracy=train_acc, prior_proba=prior,
    )
    return report, pd.DataFrame(proba, index=data.y.index[test], columns=classes)
