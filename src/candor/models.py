"""Model catalog: a short name → a seeded, regularised sklearn ``Pipeline``.

Every model is ``[correlation pruner, scaler, classifier]`` so that pruning and scaling are
refit inside each training fold by construction: fit once on all rows, they would carry the test
rows' statistics into training. The catalog is an explicit dict of factories, not reflection over
module paths, so an unknown name fails with the list of choices before any training starts.

The xgb / gb / gb_classic classifiers are thin sklearn wrappers (``_BalancedWrapper``) because
the underlying libraries either need labels ``0..k-1`` (XGBoost), have no ``class_weight``
(GradientBoostingClassifier), or run OpenMP threads that ignore ``n_jobs`` (HistGradientBoosting
— several processes each starting a thread per core made fits 10–20x slower). The wrappers
label-encode inside, weight samples by inverse class frequency when asked and pin OpenMP
threads to ``n_jobs``.

Defaults are deliberately shallow (depth ≤ 6, leaves of 50–100 rows, L2 on boosters, C = 0.1):
daily direction is mostly noise, and deeper defaults memorised each training fold (92–97% train
accuracy beside 37–51% out of sample) with probabilities worse than the class prior. Class
balancing is off by default (``class_weight="balanced"`` is opt-in through the ensemble's
``class_weight``): balanced training pushes predictions toward the rare classes, which cost
accuracy and log-loss on every embedded series.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from candor import arima_garch
from candor.errors import ConfigError, ModelError
from candor.features.transforms import CorrelationPruner, make_scaler

if TYPE_CHECKING:  # imported where a model is built: ~3.5 s of imports a logreg-only process never needs
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

#: Members that classify the feature matrix through ``[prune, scale, clf]``.
FEATURE_MODEL_NAMES: tuple[str, ...] = ("rf", "gb", "gb_classic", "xgb", "lgbm", "logreg")
#: Members that read the raw 1-bar log return column: pruning could drop it, scaling would change it.
RETURN_MODEL_NAMES: tuple[str, ...] = (arima_garch.NAME,)
MODEL_NAMES: tuple[str, ...] = FEATURE_MODEL_NAMES + RETURN_MODEL_NAMES


class SingleClassError(ModelError, ValueError):
    """``y`` holds one class only: nothing to discriminate (also a ValueError for sklearn)."""


def _pruner(threshold: float) -> Any:
    """Correlation pruner, fit inside the training fold (candor.features.transforms)."""
    return CorrelationPruner(threshold=threshold)


def _scaler(scaling: str | None) -> Any:
    """Scaler by name (standard / minmax / robust / none); ``None`` means none."""
    return make_scaler("none" if scaling is None else scaling)


class _BalancedWrapper(ClassifierMixin, BaseEstimator):
    """Shared fit/predict for wrapped boosters: label-encode, balance, pin threads.

    Subclasses define ``__init__`` (parameters only) and ``_build(n_classes)`` which returns
    the unfitted inner estimator trained on encoded labels ``0..k-1``.
    """

    _allow_nan = True
    _balance_by_prior = False

    def __sklearn_tags__(self):  # noqa: D105 - sklearn protocol
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._allow_nan
        return tags

    def _build(self, n_classes: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _thread_limit(self) -> int | None:
        n_jobs = getattr(self, "n_jobs", 1)
        return None if n_jobs is None or n_jobs < 1 else int(n_jobs)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BalancedWrapper:
        """Fit on labels in their original values.

        ``class_weight`` ("balanced", a dict label → weight, or None) multiplies ``sample_weight``.
        """
        nan = "allow-nan" if self._allow_nan else True
        X, y = validate_data(self, X, y, ensure_all_finite=nan)
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        if len(self.classes_) < 2:
            raise SingleClassError(
                f"`y` has only one class ({self.classes_[0]!r}); a classifier needs at least 2 "
                "classes. Fix: use a longer history or a narrower label threshold."
            )
        weight = None  # None, not ones: any weight vector slows HistGB's binning (see below)
        if sample_weight is not None:
            weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        self.prior_weights_ = np.ones(len(self.classes_))
        if self.class_weight is not None and self._balance_by_prior:
            self.prior_weights_ = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        elif self.class_weight is not None:
            balanced = compute_sample_weight(self.class_weight, y)
            weight = balanced if weight is None else weight * balanced
        self.estimator_ = self._build(len(self.classes_))
        with threadpool_limits(limits=self._thread_limit(), user_api="openmp"):
            self.estimator_.fit(X, self.label_encoder_.transform(y), sample_weight=weight)
        if hasattr(self.estimator_, "n_iter_"):
            self.n_iter_ = self.estimator_.n_iter_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self)
        nan = "allow-nan" if self._allow_nan else True
        X = validate_data(self, X, reset=False, ensure_all_finite=nan)
        with threadpool_limits(limits=self._thread_limit(), user_api="openmp"):
            proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        if self._balance_by_prior:
            proba = proba * self.prior_weights_
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class, in the original label values."""
        proba = self.predict_proba(X)  # checks fitted before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]


class XGBDirectionClassifier(_BalancedWrapper):
    """XGBoost's XGBClassifier, accepting any labels (e.g. -1/0/1) and class-balanced."""

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        tree_method: str = "hist",
        class_weight: str | dict | None = "balanced",
        random_state: int = 0,
        n_jobs: int = 1,
        device: str = "cpu",
    ) -> None:
        self.device = device
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.tree_method = tree_method
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _build(self, n_classes: int) -> XGBClassifier:
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            tree_method=self.tree_method,
            device=self.device,
            eval_metric="mlogloss" if n_classes > 2 else "logloss",
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbosity=0,
        )


class GBClassicClassifier(_BalancedWrapper):
    """sklearn's GradientBoostingClassifier (a slower reference for ``gb``), class-balanced by weights.

    Single-threaded by nature, hence no ``n_jobs``.
    """

    _allow_nan = False

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        max_depth: int = 7,
        min_samples_split: int = 10,
        min_samples_leaf: int = 5,
        min_weight_fraction_leaf: float = 0.0,
        subsample: float = 1.0,
        max_features: float | str | None = None,
        class_weight: str | dict | None = "balanced",
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.subsample = subsample
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state

    def _build(self, n_classes: int) -> GradientBoostingClassifier:
        return GradientBoostingClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_samples_split=self.min_samples_split,
            min_samples_leaf=self.min_samples_leaf,
            min_weight_fraction_leaf=self.min_weight_fraction_leaf,
            subsample=self.subsample,
            max_features=self.max_features,
            random_state=self.random_state,
        )


class HistGBDirectionClassifier(_BalancedWrapper):
    """HistGradientBoosting, class-balanced, no early stopping (deterministic), threads pinned.

    Balancing is a prior correction of the predicted probabilities (p_c · w_c, renormalised),
    not sample weights: any sample weight sends sklearn 1.9's binning down a weighted-percentile
    path that costs ~5 s per fit on 3,500 × 60 (measured: 8.7 s vs 2.0 s for 100 iterations).
    Training with class weights w_c on log loss targets the posterior ∝ w_c · p(c | x), so the
    correction reaches the same target by Bayes' rule (Elkan 2001), at no cost.
    """

    _balance_by_prior = True

    def __init__(
        self,
        learning_rate: float = 0.05,
        max_iter: int = 100,
        max_leaf_nodes: int = 15,
        max_depth: int | None = None,
        min_samples_leaf: int = 50,
        l2_regularization: float = 0.0,
        max_features: float = 1.0,
        class_weight: str | dict | None = "balanced",
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _build(self, n_classes: int) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_features=self.max_features,
            early_stopping=False,
            random_state=self.random_state,
        )


def _rf(random_state: int, n_jobs: int) -> RandomForestClassifier:
    """A forest whose depth and leaf minimums stop trees from splitting down to single noisy bars."""
    # 100 trees: at depth 6 with 50-row leaves the forest's vote is stable by then (OOS accuracy
    # unchanged from 200 on the embedded series), and its predict is most of permutation importance.
    return RandomForestClassifier(
        n_estimators=100,
        max_depth=6,
        min_samples_split=100,
        min_samples_leaf=50,
        random_state=random_state,
        n_jobs=n_jobs,
    )


def _lgbm(random_state: int, n_jobs: int) -> LGBMClassifier:
    # Small leaves and large leaf minimums: daily returns are mostly noise, and a deep default
    # tree memorises the training fold (100% train accuracy) while costing 3x the fit time.
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=7,
        min_child_samples=100,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )


def _logreg(random_state: int, n_jobs: int) -> LogisticRegression:
    # lbfgs is single-threaded; n_jobs would be ignored (and is deprecated) here.
    return LogisticRegression(C=0.1, max_iter=5000, random_state=random_state)


_CATALOG: dict[str, Callable[[int, int], BaseEstimator]] = {
    "rf": _rf,
    "gb": lambda rs, nj: HistGBDirectionClassifier(max_leaf_nodes=7, min_samples_leaf=100, l2_regularization=1.0,
                                                   random_state=rs, n_jobs=nj),
    "gb_classic": lambda rs, nj: GBClassicClassifier(max_depth=3, min_samples_leaf=50, subsample=0.8, random_state=rs),
    # Shallower than XGBoost's default depth 6, and subsampled: same reasoning as _lgbm.
    "xgb": lambda rs, nj: XGBDirectionClassifier(max_depth=3, min_child_weight=20.0, learning_rate=0.05,
                                                 subsample=0.8, colsample_bytree=0.8, random_state=rs, n_jobs=nj),
    "lgbm": _lgbm,
    "logreg": _logreg,
    arima_garch.NAME: lambda rs, nj: arima_garch.ArimaGarchClassifier(),  # deterministic, one thread
}


def check_model_name(name: str) -> str:
    """Return ``name`` if it is in the catalog, else raise a ConfigError listing the choices."""
    if name not in _CATALOG:
        raise ConfigError(f"unknown model {name!r}. Choose from: {', '.join(MODEL_NAMES)}")
    return name


def _apply_params(clf: BaseEstimator, name: str, params: Mapping[str, Any]) -> None:
    """Override hyper-parameters, naming the bad key and the valid ones on error."""
    valid = clf.get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown hyper-parameter(s) {unknown} for model {name!r}. "
            f"Valid: {', '.join(sorted(valid))}"
        )
    clf.set_params(**dict(params))


def make_model(
    name: str,
    *,
    random_state: int = 0,
    n_jobs: int = 1,
    params: Mapping[str, Any] | None = None,
    scaling: str | None = "standard",
    prune_threshold: float | None = 0.95,
    class_weight: str | None = None,
) -> Pipeline:
    """Build ``Pipeline([prune, scale, clf])`` for a catalog model, unfitted (``[clf]`` alone for
    the members in ``RETURN_MODEL_NAMES``, which read raw returns).

    ``params`` overrides classifier hyper-parameters (e.g. Optuna's best trial);
    ``prune_threshold=None`` skips correlation pruning.
    """
    clf = _CATALOG[check_model_name(name)](random_state, n_jobs)
    if "class_weight" in clf.get_params(deep=False):  # before params: a tuned set may choose its own
        clf.set_params(class_weight=class_weight)
    if params:
        _apply_params(clf, name, params)
    if name in RETURN_MODEL_NAMES:
        return Pipeline([("clf", clf)])
    steps: list[tuple[str, Any]] = []
    if prune_threshold is not None:
        steps.append(("prune", _pruner(prune_threshold)))
    steps.append(("scale", _scaler(scaling)))
    steps.append(("clf", clf))
    return Pipeline(steps)


def search_space(name: str, trial: Any) -> dict[str, Any]:
    """Sample classifier hyper-parameters for an Optuna ``trial`` (keys = ``params`` keys).

    Parameter names are not prefixed: one study tunes one model.
    """
    return _SPACES[check_model_name(name)](trial)


def _xgb_space(t: Any) -> dict[str, Any]:
    """Around XGBoost's defaults (depth 6, rate 0.1, weight 1) and the catalog's; the rate on a log scale."""
    return {
        "n_estimators": t.suggest_int("n_estimators", 50, 300),
        "max_depth": t.suggest_int("max_depth", 3, 10),
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_weight": t.suggest_int("min_child_weight", 1, 10),
        "subsample": t.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": t.suggest_float("colsample_bytree", 0.6, 1.0),
    }


def _rf_space(t: Any) -> dict[str, Any]:
    return {
        "n_estimators": t.suggest_int("n_estimators", 50, 300),
        "max_depth": t.suggest_int("max_depth", 3, 20),
        "min_samples_split": t.suggest_int("min_samples_split", 2, 20),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 20),
        "max_features": t.suggest_float("max_features", 0.1, 1.0),
    }


def _gb_space(t: Any) -> dict[str, Any]:
    return {
        "max_iter": t.suggest_int("max_iter", 50, 300),
        "max_depth": t.suggest_int("max_depth", 3, 10),
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 5, 100),
        "l2_regularization": t.suggest_float("l2_regularization", 1e-8, 10.0, log=True),
        "max_features": t.suggest_float("max_features", 0.6, 1.0),
    }


def _gb_classic_space(t: Any) -> dict[str, Any]:
    return {
        "n_estimators": t.suggest_int("n_estimators", 50, 300),
        "max_depth": t.suggest_int("max_depth", 3, 10),
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 20),
        "subsample": t.suggest_float("subsample", 0.6, 1.0),
    }


def _lgbm_space(t: Any) -> dict[str, Any]:
    return {
        "n_estimators": t.suggest_int("n_estimators", 50, 300),
        "max_depth": t.suggest_int("max_depth", 3, 10),
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": t.suggest_int("min_child_samples", 5, 100),
        "subsample": t.suggest_float("subsample", 0.6, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": t.suggest_float("colsample_bytree", 0.6, 1.0),
        "reg_lambda": t.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    }


def _logreg_space(t: Any) -> dict[str, Any]:
    return {"C": t.suggest_float("C", 1e-4, 1e2, log=True)}


_SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "rf": _rf_space,
    "gb": _gb_space,
    "gb_classic": _gb_classic_space,
    "xgb": _xgb_space,
    "lgbm": _lgbm_space,
    "logreg": _logreg_space,
    arima_garch.NAME: arima_garch.search_space,
}
