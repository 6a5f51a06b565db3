"""Members apart from the blend: the served model is fitted members plus a fitted
:class:`~candor.blend.Blend` (why the blend is fit on out-of-fold rows only, and what λ is:
:mod:`candor.blend`).

Where the out-of-fold rows come from is the caller's business: the training walk-forward
(:mod:`candor.training.stacking`) uses the earlier folds' test blocks, the weekly refit
(:mod:`candor.ops.weights`) the rows after the champion's training span, and
:class:`OutOfFoldEnsemble` an inner purged walk-forward inside the rows given to its ``fit``.
:class:`BlendedEnsemble` — fitted members and a fitted Blend — is the served model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from candor.blend import METHODS, Blend, align_proba, class_prior
from candor.errors import ConfigError, ModelError
from candor.models import MODEL_NAMES, SingleClassError, check_model_name, make_model
from candor.split import PurgedWalkForward

MIN_CLASS_COUNT = 5
_FIX = "Fix: use fewer folds (or inner_splits), a longer history, or a wider label threshold."


def _take(X: Any, idx: np.ndarray) -> Any:
    """Rows by position for DataFrames and arrays alike."""
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def _inner_splits(X: Any, y: np.ndarray, t1: Any, n_splits: int, purge: int, embargo: int):
    """Inner purged walk-forward folds as (train, test) position arrays."""
    splitter = PurgedWalkForward(n_splits=n_splits, purge=purge, embargo=embargo)
    return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups=t1)]


def _too_small(y: np.ndarray, classes: np.ndarray) -> list[tuple[Any, int]]:
    """(class, count) for classes with fewer than MIN_CLASS_COUNT rows in ``y`` (0 included)."""
    found, counts = np.unique(y, return_counts=True)
    count_of = dict(zip(found.tolist(), counts.tolist()))
    return [(c, count_of.get(c, 0)) for c in classes.tolist() if count_of.get(c, 0) < MIN_CLASS_COUNT]


def _describe(where: str, small: list[tuple[Any, int]]) -> str:
    return where + ": " + ", ".join(f"class {c!r} has {n} sample(s)" for c, n in small)


def _usable_fold(y_train: np.ndarray, classes: np.ndarray) -> list[tuple[Any, int]]:
    """Why an inner training block cannot be used ([] when it can).

    A class with 1–4 rows would be multiplied by balanced class weights of ~n/(k·count), so a
    handful of rows would drive the fit; a block with a single class teaches nothing. A class
    wholly absent is fine: members then give it probability 0 (columns aligned to ``classes``).
    """
    present = np.unique(y_train)
    rare = [(c, n) for c, n in _too_small(y_train, classes) if n > 0]
    if len(present) < 2:
        return rare or [(present[0].item() if len(present) else None, len(y_train))]
    return rare


def _blend_members(members: Mapping[str, Any], blend: Blend, X: Any) -> np.ndarray:
    """``blend`` applied to the probabilities of the members it reads on ``X``."""
    aligned = {name: align_proba(members[name].predict_proba(X), members[name].classes_, blend.classes_)
               for name in blend.needed_}
    return blend.predict_proba(aligned)


class _Blended:
    """Prediction and read-outs shared by the fitted ensembles: ``members_`` + ``blend_``."""

    @property
    def weights_(self) -> dict[str, float]:
        return self.blend_.weights_

    @property
    def prior_weight_(self) -> float:
        return self.blend_.prior_weight_

    @property
    def meta_model_(self) -> Any:
        return self.blend_.meta_model_

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class, in the original label values."""
        proba = self.predict_proba(X)  # checks fitted before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]


class BlendedEnsemble(_Blended, ClassifierMixin, BaseEstimator):
    """The served model: members already fitted and the :class:`Blend` fitted on their OOF rows.

    A prefit composite (like sklearn's ``FrozenEstimator``): ``members`` (name → fitted
    classifier) and ``blend`` are its parameters and its fitted state, so it has no ``fit``; the
    training walk-forward builds one for the production model, and the weekly refit one with a
    refit blend over the champion's members. ``predict_proba`` / ``predict`` / ``classes_`` are
    what the forecast job, the API, the drift monitor and freqtrade read; ``members_``,
    ``blend_``, ``weights_``, ``prior_weight_`` and ``class_prior_`` what reports read.
    """

    def __init__(self, members: Mapping[str, Any] | None = None, blend: Blend | None = None) -> None:
        self.members = members
        self.blend = blend

    def fit(self, X: Any = None, y: Any = None) -> BlendedEnsemble:
        """Nothing to fit (its parts come fitted, as with ``FrozenEstimator``); checks them and returns self."""
        check_is_fitted(self)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return (self.blend is not None and hasattr(self.blend, "weights_") and self.members is not None
                and set(self.blend.weights_) <= set(self.members))

    @property
    def members_(self) -> dict[str, Any]:
        check_is_fitted(self)
        return dict(self.members)

    @property
    def blend_(self) -> Blend:
        check_is_fitted(self)
        return self.blend

    @property
    def classes_(self) -> np.ndarray:
        return self.blend_.classes_

    @property
    def class_prior_(self) -> np.ndarray:
        return self.blend_.class_prior_

    def predict_proba(self, X: Any) -> np.ndarray:
        """The blend of the members' probabilities on ``X`` (columns = ``classes_``)."""
        check_is_fitted(self)
        return _blend_members(self.members, self.blend, X)


class OutOfFoldEnsemble(_Blended, ClassifierMixin, BaseEstimator):
    """Catalog members and a :class:`Blend` fit on an inner purged walk-forward of ``fit``'s rows.

    The self-contained form for library use: inside the training data passed to ``fit``, an
    inner purged walk-forward produces OOF class probabilities for every member; the blend is fit
    on those rows only, and then every member is refit on all of the training data. (The training
    pipeline gets its OOF rows from its own outer folds instead: :mod:`candor.training.stacking`.)
    Champions pickled by earlier candor are instances of this class; they load as such
    (:meth:`__setstate__` rebuilds their blend) and predict the same probabilities.

    ``members`` are catalog names (``candor.models.MODEL_NAMES``) or ``(name, estimator)``
    pairs (the estimator is cloned); ``method``, ``alpha``, ``prior_correction``, ``balanced``
    and ``shrink_to_prior`` are the blend's (:class:`Blend`). ``fit(X, y, t1=None)``: ``t1`` are
    label end times aligned with ``X`` (a DataFrame with a DatetimeIndex) so the inner folds can
    purge overlapping labels.

    Fitted: ``classes_``, ``class_prior_``, ``members_`` (name → pipeline refit on all rows),
    ``blend_`` (with ``weights_``, ``meta_model_`` and ``prior_weight_`` read through),
    ``oof_index_`` / ``oof_proba_`` / ``oof_accuracy_`` (the inner out-of-fold rows,
    probabilities and accuracy per member; empty when no inner loop is needed: one member or
    ``method="equal"`` without ``shrink_to_prior``), ``skipped_folds_`` (inner fold → reason).
    A class with < 5 rows in the training data is a ModelError; an inner fold whose training
    block has a class with 1–4 rows, or a single class, is skipped (``skipped_folds_``).
    """

    def __init__(
        self,
        members: Sequence[Any] = ("rf", "gb", "xgb", "lgbm"),
        *,
        method: str = "ridge",
        inner_splits: int = 3,
        purge: int = 0,
        embargo: int = 0,
        alpha: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 1,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        scaling: str | None = "standard",
        prune_threshold: float | None = 0.95,
        prior_correction: bool = True,
        balanced: bool = False,
        shrink_to_prior: bool = True,
    ) -> None:
        self.members = members
        self.method = method
        self.inner_splits = inner_splits
        self.purge = purge
        self.embargo = embargo
        self.alpha = alpha
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.member_params = member_params
        self.scaling = scaling
        self.prune_threshold = prune_threshold
        self.prior_correction = prior_correction
        self.balanced = balanced
        self.shrink_to_prior = shrink_to_prior

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Champions pickled before the blend was its own estimator held ``weights_``,
        ``meta_model_`` and ``prior_weight_`` themselves: they become ``blend_``, unchanged."""
        state = dict(state)
        if "blend_" not in state and "weights_" in state:
            balanced = state.setdefault("balanced", True)  # saved before balancing was optional: balanced
            blend = Blend(method=state.get("method", "ridge"), alpha=state.get("alpha", 1.0),
                          shrink_to_prior=state.get("shrink_to_prior", True),
                          prior_correction=state.get("prior_correction", True), balanced=balanced,
                          random_state=state.get("random_state", 0))
            blend.classes_ = state["classes_"]
            blend.class_prior_ = state["class_prior_"]
            blend.weights_ = state.pop("weights_")
            blend.meta_model_ = state.pop("meta_model_", None)
            blend.prior_weight_ = state.pop("prior_weight_", 0.0)
            state["blend_"] = blend
        super().__setstate__(state)

    # ---------------------------------------------------------------- configuration
    def _member_specs(self) -> list[tuple[str, Any]]:
        """(name, unfitted estimator or None for a catalog name), validated."""
        if isinstance(self.members, str) or len(self.members) == 0:
            raise ConfigError(f"`members` must be a non-empty sequence of model names. Got {self.members!r}.")
        specs = []
        for member in self.members:
            if isinstance(member, str):
                specs.append((check_model_name(member), None))
            else:
                name, estimator = member
                specs.append((str(name), estimator))
        names = [n for n, _ in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"`members` must not repeat a name. Got {names}.")
        # params for a catalog model that is not a member are ignored (a tuned set may cover more)
        unknown = set(self.member_params or {}) - set(names) - set(MODEL_NAMES)
        if unknown:
            raise ConfigError(
                f"`member_params` names {sorted(unknown)}, neither a member {names} nor a catalog model."
            )
        return specs

    def _check_params(self) -> list[tuple[str, Any]]:
        if self.method not in METHODS:
            raise ConfigError(f"`method` must be one of {', '.join(METHODS)}. Got {self.method!r}.")
        if not isinstance(self.inner_splits, int | np.integer) or self.inner_splits < 2:
            raise ConfigError(f"`inner_splits` must be an integer >= 2. Got {self.inner_splits!r}.")
        if self.alpha < 0:
            raise ConfigError(f"`alpha` (Ridge penalty) must be >= 0. Got {self.alpha!r}.")
        return self._member_specs()

    def _new_member(self, name: str, estimator: Any) -> Any:
        if estimator is not None:
            return clone(estimator)
        return make_model(
            name, random_state=self.random_state, n_jobs=self.n_jobs,
            params=(self.member_params or {}).get(name), scaling=self.scaling,
            prune_threshold=self.prune_threshold, class_weight="balanced" if self.balanced else None,
        )

    def _blend(self) -> Blend:
        return Blend(self.method, alpha=self.alpha, shrink_to_prior=self.shrink_to_prior,
                     prior_correction=self.prior_correction, balanced=self.balanced,
                     random_state=self.random_state)

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any, t1: Any = None) -> OutOfFoldEnsemble:
        """Inner OOF probabilities → :class:`Blend` → refit every member on all rows."""
        specs = self._check_params()
        X_arr, y_arr = validate_data(self, X, y)
        X = X if hasattr(X, "iloc") else X_arr
        check_classification_targets(y_arr)
        self.classes_, self.class_prior_ = class_prior(y_arr)
        if len(self.classes_) < 2:
            raise SingleClassError(
                f"`y` has only one class ({self.classes_[0]!r}); the ensemble needs at least 2. {_FIX}"
            )
        small = _too_small(y_arr, self.classes_)
        if small:
            raise ModelError(f"{_describe('training data', small)}; each class needs at least {MIN_CLASS_COUNT}. {_FIX}")
        weights_need_oof = len(specs) > 1 and self.method != "equal"
        self.oof_index_ = np.zeros(0, dtype=np.int64)
        self.oof_proba_: dict[str, np.ndarray] = {}
        self.oof_accuracy_: dict[str, float] = {}
        self.skipped_folds_: dict[int, str] = {}
        if self.shrink_to_prior or weights_need_oof:
            self._fit_out_of_fold(X, y_arr, t1, specs, required=weights_need_oof)
        empty = np.zeros((0, len(self.classes_)))
        oof = {name: self.oof_proba_.get(name, empty) for name, _ in specs}
        self.blend_ = self._blend().fit(oof, y_arr[self.oof_index_], self.class_prior_, classes=self.classes_)
        self.members_ = {name: self._new_member(name, est).fit(X, y_arr) for name, est in specs}
        return self

    def _fit_out_of_fold(self, X: Any, y: np.ndarray, t1: Any, specs: list[tuple[str, Any]],
                         required: bool = True) -> None:
        """Fill ``oof_index_``, ``oof_proba_``, ``oof_accuracy_`` and ``skipped_folds_``.

        Inner folds whose training block is unusable (see ``_usable_fold``) are skipped and
        listed in ``skipped_folds_``; if every fold is unusable that is a ModelError naming
        each fold, class and count — unless the rows are ``required`` only for the prior's share
        (one member, or equal weights), which then stays 0.
        """
        folds = _inner_splits(X, y, t1, self.inner_splits, self.purge, self.embargo)
        reasons = {k: _usable_fold(y[train], self.classes_) for k, (train, _) in enumerate(folds)}
        self.skipped_folds_ = {k: _describe(f"inner fold {k} (training rows)", r) for k, r in reasons.items() if r}
        used = [fold for k, fold in enumerate(folds) if not reasons[k]]
        if not used and not required:  # only the prior's share needed them: it stays 0
            return
        if not used:
            raise ModelError(
                "no inner fold can be used to fit the ensemble weights: "
                + "; ".join(self.skipped_folds_.values())
                + f" (each class needs at least {MIN_CLASS_COUNT}). {_FIX}"
            )
        self.oof_index_ = np.concatenate([test for _, test in used])
        y_oof = y[self.oof_index_]
        for name, est in specs:
            chunks = []
            for train, test in used:
                member = self._new_member(name, est).fit(_take(X, train), y[train])
                chunks.append(align_proba(member.predict_proba(_take(X, test)), member.classes_, self.classes_))
            self.oof_proba_[name] = np.vstack(chunks)
            pred = self.classes_[np.argmax(self.oof_proba_[name], axis=1)]
            self.oof_accuracy_[name] = float(np.mean(pred == y_oof))

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """The blend of the members' probabilities on ``X`` (columns = ``classes_``)."""
        check_is_fitted(self)
        validate_data(self, X, reset=False)
        return _blend_members(self.members_, self.blend_, X)


