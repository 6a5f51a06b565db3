"""Nested Optuna tuning: a study per member, scored only on the rows it is given.

Why nested: a hyper-parameter chosen by looking at the rows that are later reported is a
look-ahead, just slower. :class:`TunedMember` (a member wrapper in the style of sklearn's
``GridSearchCV``) runs its study inside ``fit`` on the rows it is given and then fits the best
parameters — so when the walk-forward fits one per outer training fold, each fold is tuned on its
own training rows only and the pooled out-of-sample score stays honest; the production model is
tuned once more on all development rows. The objective is an inner purged walk-forward (the same splitter as
everywhere else), reported fold by fold so the median pruner can stop hopeless trials early.

Studies live in memory by default. With an Optuna RDB storage URL (PostgreSQL in production)
several processes — ``candor tune-worker`` on several machines — add trials to one study.
Study names are derived from the data (rows, columns, labels), so a worker that loads the same
series computes the same name as ``candor train --optimize`` and joins its study.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss

from candor.config import Config, under_home
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from candor.blend import align_proba
from candor.ensemble import OutOfFoldEnsemble
from candor.errors import ConfigError, ModelError
from candor.logs import adopt_optuna
from candor.models import check_model_name, make_model, search_space
from candor.split import PurgedWalkForward, holdout_split
from candor.training.matrix import build_labelled_data
from candor.training.reuse import PROVENANCE_FORMAT
from candor.training.study_storage import open_storage

METRICS = ("f1", "accuracy", "log_loss")
_DIRECTION = {"f1": "maximize", "accuracy": "maximize", "log_loss": "minimize"}
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


@dataclass(frozen=True)
class TuneResult:
    """The outcome of one study: full parameter set of the best trial and how many were tried.

    ``n_trials`` counts every finished trial in the study (all workers, earlier runs included):
    the best was picked among all of them, which is what a Deflated Sharpe must count.
    ``n_own_trials`` counts the trials this call ran.
    """

    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    study_name: str
    metric: str = "f1"
    n_own_trials: int = 0
    n_pruned: int = 0
    best_trial: int = -1


def study_name_for(prefix: str | None, model_name: str, X: Any, y: Any) -> str:
    """``<prefix>.<model>.<rows>r.<digest>``: the same rows, columns and labels → the same name."""
    digest = hashlib.sha256()
    index = getattr(X, "index", None)
    if index is not None:
        digest.update(np.asarray(index.asi8 if hasattr(index, "asi8") else index).tobytes())
    digest.update(json.dumps([str(c) for c in getattr(X, "columns", [])]).encode())
    digest.update(np.asarray(y).astype(str).astype("U").tobytes())
    return f"{prefix or 'candor'}.{model_name}.{len(y)}r.{digest.hexdigest()[:10]}"


# ------------------------------------------------------------------------------------ objective
def _check_args(trials: int, timeout: float | None, metric: str, inner_splits: int) -> None:
    if not isinstance(trials, int | np.integer) or trials < 1:
        raise ConfigError(f"`trials` must be an integer >= 1. Got {trials!r}. Fix: pass --trials 20 or more.")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"`timeout` must be > 0 seconds or None. Got {timeout!r}.")
    if metric not in METRICS:
        raise ConfigError(f"`metric` must be one of {', '.join(METRICS)}. Got {metric!r}.")
    if inner_splits < 2:
        raise ConfigError(f"`inner_splits` must be >= 2. Got {inner_splits!r}.")


def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def _inner_folds(X: Any, y: np.ndarray, t1: Any, n_splits: int, purge: int, embargo: int) -> list:
    """Inner purged walk-forward folds whose training block has at least two classes."""
    splitter = PurgedWalkForward(n_splits=n_splits, purge=purge, embargo=embargo)
    folds = [(tr, te) for tr, te in splitter.split(X, y, groups=t1) if len(np.unique(y[tr])) >= 2]
    if not folds:
        raise ModelError(
            f"no inner tuning fold has two classes in its training rows ({len(y)} rows, "
            f"inner_splits={n_splits}). Fix: use fewer inner splits or a longer history."
        )
    return folds


def score(metric: str, model: Any, X: Any, y: np.ndarray, classes: np.ndarray) -> float:
    """One inner-fold score: weighted F1, accuracy, or log loss over every class in ``classes``."""
    if metric == "log_loss":
        proba = align_proba(model.predict_proba(X), model.classes_, classes)
        return float(log_loss(y, np.clip(proba, 1e-15, 1.0), labels=classes))
    pred = model.predict(X)
    if metric == "accuracy":
        return float(accuracy_score(y, pred))
    return float(f1_score(y, pred, average="weighted", zero_division=0))


@dataclass(frozen=True)
class _Objective:
    """Picklable objective: mean inner-fold score, reported after each fold for pruning."""

    X: Any
    y: np.ndarray
    folds: list
    model_name: str
    metric: str
    base_params: Mapping[str, Any]
    model_kwargs: Mapping[str, Any]

    def __call__(self, trial: optuna.Trial) -> float:
        params = {**self.base_params, **search_space(self.model_name, trial)}
        classes = np.unique(self.y)
        scores: list[float] = []
        for step, (train, test) in enumerate(self.folds):
            model = make_model(self.model_name, params=params, **self.model_kwargs)
            model.fit(_take(self.X, train), self.y[train])
            scores.append(score(self.metric, model, _take(self.X, test), self.y[test], classes))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))


def make_study(name: str, metric: str, *, storage: optuna.storages.BaseStorage | None, random_state: int,
               trials: int) -> optuna.Study:
    """A seeded TPE + median-pruner study, created or (in a storage) joined by name."""
    adopt_optuna()  # in a fold worker too: Optuna's lines through candor's handlers, never its own stderr one
    sampler = optuna.samplers.TPESampler(seed=random_state, n_startup_trials=max(2, min(10, trials // 3)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    study = optuna.create_study(storage=storage, study_name=name, direction=_DIRECTION[metric],
                                sampler=sampler, pruner=pruner, load_if_exists=storage is not None)
    expected = optuna.study.StudyDirection.MAXIMIZE if _DIRECTION[metric] == "maximize" else optuna.study.StudyDirection.MINIMIZE
    if study.direction != expected:
        raise ConfigError(f"study {name!r} exists with direction {study.direction.name.lower()}, but metric "
                          f"{metric!r} needs {_DIRECTION[metric]}. Fix: pass another --study name or metric.")
    return study


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=_FINISHED)


def study_result(study: optuna.Study, model_name: str, metric: str, base: Mapping[str, Any],
                 own: int = 0) -> TuneResult:
    """The study's best trial as a full parameter set (constants of the space included)."""
    done = finished_trials(study)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in done):
        raise ModelError(f"study {study.study_name!r} has no completed trial (all {len(done)} pruned "
                         "or failed). Fix: run more trials or a longer timeout.")
    best = study.best_trial
    params = {**base, **search_space(model_name, optuna.trial.FixedTrial(best.params))}
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in done)
    return TuneResult(best_params=params, best_value=float(best.value), n_trials=len(done),
                      study_name=study.study_name, metric=metric, n_own_trials=own, n_pruned=pruned,
                      best_trial=best.number)


def tune_params(
    X: Any, y: Any, t1: Any, model_name: str, *, trials: int, timeout: float | None = None,
    metric: str = "f1", inner_splits: int = 3, purge: int, embargo: int, random_state: int,
    storage: str | optuna.storages.BaseStorage | None = None, study_name: str | None = None,
    base_params: Mapping[str, Any] | None = None, n_jobs: int = 1, scaling: str | None = "standard",
    prune_threshold: float | None = 0.95, class_weight: str | None = None,
) -> TuneResult:
    """Search ``model_name``'s space on (X, y) only; score = mean inner purged walk-forward metric.

    Pass only training rows (an outer training fold, or all development rows for the final
    model): nothing else is looked at. ``storage`` (URL or storage) makes the study shareable;
    an existing study of that name is joined and ``trials`` more are added to it.
    """
    _check_args(trials, timeout, metric, inner_splits)
    check_model_name(model_name)
    y_arr = np.asarray(y)
    base = dict(base_params or {})
    objective = _Objective(X, y_arr, _inner_folds(X, y_arr, t1, inner_splits, purge, embargo),
                           model_name, metric, base,
                           {"random_state": random_state, "n_jobs": n_jobs, "scaling": scaling,
                            "prune_threshold": prune_threshold, "class_weight": class_weight})
    store = open_storage(storage) if isinstance(storage, str) else storage
    name = study_name or study_name_for(None, model_name, X, y_arr)
    study = make_study(name, metric, storage=store, random_state=random_state, trials=trials)
    own: list[int] = []  # trials this call ran (others' workers add theirs concurrently)
    study.optimize(objective, n_trials=trials, timeout=timeout, gc_after_trial=False,
                   callbacks=[lambda _study, trial: own.append(trial.number)])
    return study_result(study, model_name, metric, base, own=len(own))


def wait_for_trials(study: optuna.Study, total: int, timeout: float, poll: float = 0.5) -> int:
    """Block until the study holds ``total`` finished trials (other workers'), or ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (done := len(finished_trials(study))) < total and time.monotonic() < deadline:
        time.sleep(poll)
    return done


# ------------------------------------------------------------------------------ tuned member
class TunedMember(ClassifierMixin, BaseEstimator):
    """A catalog member that tunes itself on the rows ``fit`` is given, like ``GridSearchCV``.

    ``fit(X, y, t1=None)`` runs an Optuna study of ``model``'s search space scored by an inner
    purged walk-forward of (X, y) (``t1``: label end times aligned with ``X``, for the purge),
    then fits ``make_model(model, params=best)`` on all of (X, y). Nothing outside the given rows
    is looked at. ``params`` are the fixed base every trial starts from; ``trials``, ``timeout``,
    ``metric``, ``inner_splits`` and ``storage`` / ``study_prefix`` are the study's (see
    :func:`tune_params`); ``random_state``, ``n_jobs``, ``scaling``, ``prune_threshold`` and
    ``class_weight`` the member's.

    Fitted: ``tuning_`` (:class:`TuneResult`), ``best_params_``, ``best_estimator_`` (the
    member refit with them; what the served model keeps), ``classes_``.
    """

    def __init__(self, model: str = "lgbm", *, params: Mapping[str, Any] | None = None, trials: int = 30,
                 timeout: float | None = None, metric: str = "f1", inner_splits: int = 3, purge: int = 0,
                 embargo: int = 0, random_state: int = 0, n_jobs: int = 1, scaling: str | None = "standard",
                 prune_threshold: float | None = 0.95, class_weight: str | None = None,
                 storage: str | None = None, study_prefix: str | None = None) -> None:
        self.model = model
        self.params = params
        self.trials = trials
        self.timeout = timeout
        self.metric = metric
        self.inner_splits = inner_splits
        self.purge = purge
        self.embargo = embargo
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.scaling = scaling
        self.prune_threshold = prune_threshold
        self.class_weight = class_weight
        self.storage = storage
        self.study_prefix = study_prefix

    def fit(self, X: Any, y: Any, t1: Any = None) -> TunedMember:
        """Study on (X, y) only, then the member with the best parameters fit on (X, y)."""
        member = {"random_state": self.random_state, "n_jobs": self.n_jobs, "scaling": self.scaling,
                  "prune_threshold": self.prune_threshold, "class_weight": self.class_weight}
        self.tuning_ = tune_params(
            X, y, t1, self.model, trials=self.trials, timeout=self.timeout, metric=self.metric,
            inner_splits=self.inner_splits, purge=self.purge, embargo=self.embargo,
            storage=self.storage, study_name=study_name_for(self.study_prefix, self.model, X, y),
            base_params=self.params, **member,
        )
        self.best_params_ = self.tuning_.best_params
        self.best_estimator_ = make_model(self.model, params=self.best_params_, **member).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)


class TunedEnsemble(OutOfFoldEnsemble):
    """Champions of tuned runs pickled by earlier candor; they load and predict as before.

    New runs serve a :class:`~candor.ensemble.BlendedEnsemble` of :class:`TunedMember`'s best
    estimators; this class only keeps those older pickles loadable (its fitted ``tuning_`` and
    ``tuned_params_`` stay readable).
    """

    def fit(self, X: Any, y: Any, t1: Any = None) -> TunedEnsemble:
        raise ModelError("TunedEnsemble only loads champions saved by earlier candor; tune members with "
                         "TunedMember (candor train --optimize) instead.")


def tuning_summary(final: Mapping[str, TuneResult] | None, folds: Sequence[Mapping[str, TuneResult] | None] = (),
                   warmup: Mapping[str, TuneResult] | None = None) -> dict[str, Any] | None:
    """The report's ``tuning{...}``: production-model studies, per-fold studies, trial totals.

    ``final``: member → study of the production members; ``folds``: the same per outer fold
    (None where untuned); ``warmup``: the warm-up block's. ``n_trials_total`` counts every trial
    of every study, nested folds and the warm-up block included.
    """
    if not final:
        return None
    folds = [f for f in folds if f]
    nested = [*folds, *([warmup] if warmup else [])]
    total = sum(r.n_trials for r in final.values()) + sum(r.n_trials for f in nested for r in f.values())
    first = next(iter(final.values()))
    brief = lambda f: {name: {"best_value": r.best_value, "n_trials": r.n_trials,  # noqa: E731
                              "best_params": r.best_params, "study_name": r.study_name} for name, r in f.items()}
    return {
        "metric": first.metric,
        "final": {name: asdict(r) for name, r in final.items()},
        "folds": [brief(f) for f in folds],
        "warmup": brief(warmup) if warmup else None,
        "best_params": {name: r.best_params for name, r in final.items()},
        "n_trials_final": sum(r.n_trials for r in final.values()),
        "n_trials_total": total,
    }


# ------------------------------------------------------------------- best_hyperparameters.json
def best_params_path(home: Path | str, symbol: str, timeframe: str) -> Path:
    return under_home(Path(home), "best_hyperparameters", f"{symbol}_{timeframe}.json")


def save_best_params(result: Any, home: Path | str) -> Path | None:
    """Write the production model's tuned parameters for the series (atomically); None if untuned.

    The document records its provenance (:mod:`candor.training.reuse`): the development rows the
    production studies scored (``tuned_on``: first/last row, row count, and ``labels_before``, the
    holdout's first row, before which every one of their labels resolved), the walk-forward fold
    layout, and ``n_trials`` — every trial of every study of the run (nested folds included),
    which a run reusing the parameters adds to its Deflated Sharpe's trial count.
    """
    tuning = getattr(result, "tuning", None)
    if not tuning:
        return None
    path = best_params_path(home, result.symbol, result.timeframe)
    path.parent.mkdir(parents=True, exist_ok=True)
    span = result.data_span
    document = {
        "format": PROVENANCE_FORMAT,
        "symbol": result.symbol, "timeframe": result.timeframe, "metric": tuning["metric"],
        "params": tuning["best_params"],
        "best_value": {n: r["best_value"] for n, r in tuning["final"].items()},
        "n_trials": tuning["n_trials_total"], "n_trials_run": int(result.n_trials),
        "tuned_on": {"first_row": span.dev_start.isoformat(), "last_row": span.dev_end.isoformat(),
                     "rows": span.dev_rows, "labels_before": span.holdout_start.isoformat(),
                     "first_bar": span.first_bar.isoformat(), "data_fingerprint": result.fingerprint},
        "folds": [{"index": f.index, "train_rows": f.train_rows, "test_rows": f.test_rows,
                   "test_start": f.test_start, "test_end": f.test_end} for f in result.folds],
        "config_hash": result.config.config_hash(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    from candor.outputs import write_text_atomic

    return write_text_atomic(path, json.dumps(document, indent=2, default=str), what="best parameters")


def load_best_params_document(home: Path | str, symbol: str, timeframe: str) -> dict[str, Any] | None:
    """The saved best-parameters document of the series, or None when it was never tuned."""
    path = best_params_path(home, symbol, timeframe)
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text())
        document["params"] = {str(name): dict(params) for name, params in document["params"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{str(path)!r} is not a best_hyperparameters file ({exc}). Fix: delete it "
                          "or re-run with --optimize.") from None
    return document


# ------------------------------------------------------------------------------ tune worker
def tune_worker(bars: pd.DataFrame, config: Config, model_name: str, *, trials: int,
                storage: str | optuna.storages.BaseStorage | None,
                study_name: str | None = None, timeout: float | None = None, random_state: int | None = None,
                wait_for: int | None = None, wait_timeout: float = 600.0) -> TuneResult:
    """One worker of a shared study on the series' development rows (the holdout is never seen).

    The default study name is the one ``candor train --optimize --study-storage`` gives the
    production model's study for this series and model, so workers started beforehand feed it.
    ``random_state`` None draws a fresh seed: workers with one seed would propose the same
    first trials. ``wait_for`` blocks until the study holds that many finished trials, so every
    worker reports the study's final best.
    """
    data = build_labelled_data(bars, config.features, config.labels)
    dev, _ = holdout_split(data.y.index, data.t1, config.split.holdout, purge=config.purge)
    X, y, t1 = data.X.iloc[dev], data.y.iloc[dev], data.t1.iloc[dev]
    prefix = config.tune.study_name or f"candor.{bars.attrs['symbol']}.{bars.attrs['timeframe']}"
    base = config.models.params.get(model_name, {})
    store = open_storage(storage) if isinstance(storage, str) else storage
    seed = random_state if random_state is not None else int.from_bytes(os.urandom(4), "little")
    result = tune_params(X, y, t1, model_name, trials=trials, timeout=timeout, metric=config.tune.metric,
                         inner_splits=config.tune.inner_splits, purge=config.purge, embargo=config.embargo,
                         random_state=seed, storage=store, base_params=base, n_jobs=config.models.n_jobs,
                         study_name=study_name or study_name_for(prefix, model_name, X, y),
                         scaling=config.models.scaling, prune_threshold=config.models.prune_threshold)
    if wait_for is None:
        return result
    study = optuna.load_study(study_name=result.study_name, storage=store)
    wait_for_trials(study, wait_for, wait_timeout)
    final = study_result(study, model_name, result.metric, base, own=result.n_own_trials)
    return final
